"""The Gallery reads the output store's history: newest first, de-duplicated, private when asked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ui.app_state import AppConfig, Services, session_owner
from ui.gallery_tab import caption, saved_entries, shown


def _services(tmp_path: Path, private: bool) -> Services:
    return Services(AppConfig(model="tiny", output_dir=tmp_path, private_gallery=private))


def _picture(value: int) -> Image.Image:
    return Image.fromarray(np.full((8, 8, 3), value, dtype=np.uint8))


def test_newest_first_and_each_picture_once(tmp_path):
    services = _services(tmp_path, private=False)
    services.store.save(_picture(1), {"task": "edit", "target_prompt": "a cat", "owner": "a"})
    services.store.save(_picture(2), {"task": "text2img", "prompt": "a dog", "owner": "b"})
    services.store.save(_picture(1), {"task": "edit", "target_prompt": "a cat again", "owner": "a"})
    entries = saved_entries(services, owner="a")
    assert [e["params"].get("target_prompt") or e["params"].get("prompt") for e in entries] == ["a cat again", "a dog"]
    assert all(Path(e["path"]).is_file() for e in entries)
    assert caption(entries[0]) == "edit · a cat again"


def test_private_gallery_shows_only_the_sessions_own_results(tmp_path):
    services = _services(tmp_path, private=True)
    services.store.save(_picture(3), {"task": "edit", "target_prompt": "mine", "owner": "a"})
    services.store.save(_picture(4), {"task": "edit", "target_prompt": "theirs", "owner": "b"})
    assert [e["params"]["target_prompt"] for e in saved_entries(services, owner="a")] == ["mine"]
    assert saved_entries(services, owner=None) == []


def test_entries_whose_file_was_deleted_are_left_out(tmp_path):
    services = _services(tmp_path, private=False)
    saved = services.store.save(_picture(5), {"task": "edit"})
    saved.path.unlink()
    assert saved_entries(services) == []


def test_displayed_parameters_do_not_expose_the_server_path(tmp_path):
    services = _services(tmp_path, private=False)
    services.store.save(_picture(6), {"task": "edit"})
    entry = saved_entries(services)[0]
    assert "path" not in shown(entry) and shown(entry)["file"].startswith("images/")


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
