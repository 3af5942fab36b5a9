"""The Gallery lists the Studio's saved results: newest first, readable, private when asked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from editor.storage import JobFile, readable_name
from ui.app_state import AppConfig, Services, session_owner
from ui.gallery_tab import caption, saved_entries, shown


def _services(tmp_path: Path, private: bool) -> Services:
    return Services(AppConfig(model="tiny", output_dir=tmp_path, private_gallery=private))


def _save(services: Services, value: int, task: str, caption: str, owner: str | None = None):
    picture = Image.fromarray(np.full((8, 8, 3), value, dtype=np.uint8))
    return services.studio.store.save_job({"task": task, "caption": caption, "owner": owner},
                                          [JobFile("result", readable_name(task, caption), image=picture)])


def test_newest_first_with_readable_captions_in_the_users_language(tmp_path):
    services = _services(tmp_path, private=False)
    _save(services, 1, "edit", "a cat", "a")
    _save(services, 2, "generate", "a dog", "b")
    _save(services, 1, "edit", "a cat again", "a")
    entries = saved_entries(services, owner="a")
    assert [e.caption for e in entries] == ["a cat again", "a dog", "a cat"]
    assert all(e.path.is_file() for e in entries)
    assert caption("en", entries[0]) == "Edit · a cat again" and caption("ko", entries[1]) == "생성 · a dog"
    assert entries[0].own and not entries[1].own


def test_private_gallery_shows_only_the_sessions_own_results(tmp_path):
    services = _services(tmp_path, private=True)
    _save(services, 3, "edit", "mine", "a")
    _save(services, 4, "edit", "theirs", "b")
    assert [e.caption for e in saved_entries(services, owner="a")] == ["mine"]
    assert saved_entries(services, owner=None) == []


def test_entries_whose_file_was_deleted_are_left_out(tmp_path):
    services = _services(tmp_path, private=False)
    saved = _save(services, 5, "edit", "gone", "a")
    assert services.studio.delete_result(saved.id, "a")
    assert saved_entries(services) == []


def test_displayed_details_expose_no_server_path_and_no_owner(tmp_path):
    services = _services(tmp_path, private=False)
    _save(services, 6, "ad", "신메뉴", "secret-owner")
    details = shown(saved_entries(services)[0])
    assert str(tmp_path) not in str(details) and "secret-owner" not in str(details)
    assert details["task"] == "ad" and details["caption"] == "신메뉴"


def test_session_owner_is_stable_and_does_not_reveal_the_session():
    class Request:
        session_hash = "abc123"

    assert session_owner(Request()) == session_owner(Request())
    assert "abc123" not in session_owner(Request()) and len(session_owner(Request())) == 16
    assert session_owner(None) is None


def test_gallery_is_private_by_default_whenever_others_can_reach_the_app(monkeypatch):
    import app

    monkeypatch.delenv("SPACE_ID", raising=False)
    parse = app.build_parser().parse_args
    assert app.gallery_is_private(parse([])) is False  # only this machine
    assert app.gallery_is_private(parse(["--host", "0.0.0.0"])) is True
    assert app.gallery_is_private(parse(["--share"])) is True
    assert app.gallery_is_private(parse(["--host", "0.0.0.0", "--no-private-gallery"])) is False
    monkeypatch.setenv("SPACE_ID", "shop/intact")
    assert app.gallery_is_private(parse([])) is True
