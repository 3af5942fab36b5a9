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


def test_a_browsers_own_results_stay_its_own_across_page_reloads(tmp_path):
    """The owner tag follows the browser's stored id, not the page session: a reload (a new page
    session) still sees and may delete what that browser saved."""

    class Request:
        def __init__(self, session_hash):
            self.session_hash = session_hash

    services = _services(tmp_path, private=True)
    before, after_reload, stranger = Request("page-1"), Request("page-2"), Request("page-3")
    services.browsers.remember("page-1", "b" * 32)
    services.browsers.remember("page-2", "b" * 32)
    services.browsers.remember("page-3", "c" * 32)
    assert services.owner(before) == services.owner(after_reload) != services.owner(stranger)
    assert "b" * 32 not in services.owner(before)  # the stored id itself is never written out
    saved = _save(services, 7, "edit", "mine", services.owner(before))
    assert [e.caption for e in saved_entries(services, services.owner(after_reload))] == ["mine"]
    assert saved_entries(services, services.owner(stranger)) == []
    assert not services.studio.delete_result(saved.id, services.owner(stranger))
    assert services.studio.delete_result(saved.id, services.owner(after_reload))


def test_a_client_without_a_browser_id_owns_by_its_page_session(tmp_path):
    class Request:
        session_hash = "abc123"

    assert _services(tmp_path, private=False).owner(Request()) == session_owner(Request())


def test_captions_and_the_selected_line_name_formats_in_the_users_language(tmp_path):
    from ui.gallery_tab import info_line

    services = _services(tmp_path, private=False)
    picture = Image.fromarray(np.full((8, 8, 3), 9, dtype=np.uint8))
    services.studio.store.save_job({"task": "ad", "caption": "신메뉴", "owner": "a"},
                                   [JobFile("ad:instagram-square", "a.png", image=picture)])
    item = saved_entries(services)[0]
    assert caption("ko", item) == "광고 · 신메뉴 · 인스타그램 정사각형 1:1"
    assert caption("en", item) == "Ad · 신메뉴 · Instagram square 1:1"
    assert info_line("ko", item).startswith("광고 · 신메뉴") and info_line("ko", item).endswith("저장")
    assert info_line("ko", None) == "아직 저장된 결과가 없습니다."
