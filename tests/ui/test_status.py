"""The Status tab speaks to a shop owner; operator details only reach a browser on this computer."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from ui.app_state import AppConfig, Services
from ui.status import from_this_computer, works_markdown


def request(host: str, **headers):
    return SimpleNamespace(client=SimpleNamespace(host=host), headers=headers)


@pytest.mark.parametrize(("req", "expected"), [
    (request("127.0.0.1"), True),
    (request("::1"), True),
    (request("192.168.0.7"), False),
    (request("127.0.0.1", **{"x-forwarded-for": "203.0.113.9"}), False),  # a proxy on this computer
    (None, False),
])
def test_operator_details_only_for_a_browser_on_this_computer(req, expected, monkeypatch):
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert from_this_computer(req) is expected


def test_never_on_a_hosted_space(monkeypatch):
    monkeypatch.setenv("SPACE_ID", "shop/intact")
    assert not from_this_computer(request("127.0.0.1"))


def test_what_works_is_said_without_commands_paths_or_english_in_korean(tmp_path, monkeypatch):
    monkeypatch.setenv("INTACT_MODELS_DIR", str(tmp_path / "models"))
    services = Services(AppConfig(model="tiny", output_dir=tmp_path / "outputs"))
    korean = works_markdown(services, "ko", [])
    assert "테스트용 모델" in korean and "누끼" in korean and "단어장" in korean
    assert "python" not in korean and str(tmp_path) not in korean
    latin = set(re.findall(r"[A-Za-z]+", korean)) - {"FLUX", "schnell", "u2netp"}
    assert latin == set(), latin
    assert "Photo editing runs only with the test model" in works_markdown(services, "en", [])
