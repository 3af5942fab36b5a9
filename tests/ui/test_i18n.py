"""Korean and English UI text: every key exists in both languages, and every key the UI uses exists."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from ui.i18n import EN, KO, lang_of, preferred_lang, t, tr

UI_DIR = Path(__file__).resolve().parents[2] / "ui"


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_korean_and_english_have_the_same_keys():
    assert set(EN) == set(KO)


@pytest.mark.parametrize("key", sorted(EN))
def test_both_languages_fill_the_same_placeholders(key):
    assert EN[key].strip() and KO[key].strip()
    assert _fields(EN[key]) == _fields(KO[key])


def test_every_key_used_in_the_ui_code_exists():
    used = set()
    for path in UI_DIR.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'\bt\(\s*"([a-z_]+\.[a-z0-9_]+)"', source))
        used |= set(re.findall(r'\btr\(\s*\w+\s*,\s*"([a-z_]+\.[a-z0-9_]+)"', source))
    assert len(used) > 50  # the scan really found the UI's keys
    assert sorted(used - set(EN)) == []


def test_progress_stages_of_every_workflow_have_text():
    for stage in ("invert", "edit", "generate", "background", "cutout", "format", "done"):
        assert f"progress.{stage}" in EN


def test_unknown_key_is_a_programming_error():
    with pytest.raises(KeyError):
        t("no.such_key")


def test_run_time_messages_are_formatted_in_the_requested_language():
    assert tr("ko", "gen.done", count=2, seconds="1.5", model="tiny") == "tiny(으)로 1.5초 만에 2장을 만들었습니다."
    assert tr("en", "gen.done", count=2, seconds="1.5", model="tiny") == "2 picture(s) in 1.5 s with tiny."
    assert tr("fr", "tab.edit") == "Edit"  # other languages fall back to English


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", "ko"),
        ("en-US,en;q=0.9,ko;q=0.8", "en"),
        ("ja-JP,ko;q=0.5,en;q=0.4", "ko"),
        ("en;q=0.3, ko;q=0.8", "ko"),
        ("fr-FR,de;q=0.9", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_korean_browsers_get_korean_messages(header, expected):
    assert preferred_lang(header) == expected


def test_language_of_a_request_without_headers_is_english():
    assert lang_of(None) == "en"
