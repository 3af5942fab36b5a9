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
    values = dict(count=2, seconds="1.5", steps=3, model="tiny")
    assert tr("ko", "gen.result_line", **values) == "2장 · 1.5초 · 3단계 · tiny"
    assert tr("en", "gen.result_line", **values) == "2 picture(s) in 1.5 s · 3 steps · tiny"
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


def test_every_choice_the_pickers_offer_has_a_name_in_both_languages():
    from editor.ad import remover_names
    from editor.ad.backgrounds import list_backdrops
    from editor.ad.formats import FORMAT_SPECS
    from editor.studio.requests import KV_CACHE_CHOICES

    for kind, names in (("remover", remover_names()), ("kv", KV_CACHE_CHOICES), ("format", FORMAT_SPECS),
                        ("backdrop", list_backdrops())):
        for name in names:
            assert f"{kind}.{name}" in EN, f"{kind} '{name}' has no text"


def test_every_stage_a_job_reports_and_every_ad_step_has_text():
    for stage in ("prepare", "load", "invert", "edit", "decode", "paste", "save", "generate", "cutout", "background",
                  "format", "done"):
        assert f"progress.{stage}" in EN
    from editor.ad import workflow

    nodes = {cls.name for cls in vars(workflow).values() if isinstance(cls, type) and isinstance(
        getattr(cls, "name", None), str) and cls.__module__ == workflow.__name__}
    assert nodes and all(f"node.{name}" in EN for name in nodes)


def test_every_notice_the_domain_gives_is_translated_with_its_values():
    import numpy as np

    from editor.ad.plausibility import check_cutout
    from editor.translate import Glossary, Translator
    from models.registry import get_spec
    from ui.i18n import notice_text

    alpha = np.zeros((100, 100), np.float32)
    notices = list(check_cutout(alpha).concerns)  # empty
    alpha[40:42, 40:42] = 1
    notices += check_cutout(alpha, method_unsure=True).concerns  # tiny, unsure
    notices += check_cutout(np.ones((100, 100), np.float32)).concerns  # whole photo
    ring = np.zeros((100, 100), np.float32)
    ring[:, :5] = ring[:, -5:] = ring[:5] = ring[-5:] = 1
    notices += check_cutout(ring).concerns  # touches all borders
    pieces = np.zeros((100, 100), np.float32)
    for i in range(5):
        pieces[10 + 18 * i:20 + 18 * i, 10:20] = 1
    notices += check_cutout(pieces).concerns  # fragments
    translation = Translator(use_marian=False, glossary=Glossary.load()).translate("쀍뛣 커피", get_spec("tiny"))
    notices += translation.notices  # word by word, left out
    codes = {n.key for n in notices}
    assert {"cutout_check.empty", "cutout_check.tiny", "cutout_check.unsure", "cutout_check.whole_photo",
            "cutout_check.touches_all_borders", "cutout_check.fragments", "translate.word_by_word",
            "translate.left_out"} <= codes
    for notice in notices:
        korean = notice_text("ko", notice)
        assert korean != notice.message and not re.search(r"[A-Za-z]{3,}", re.sub(r"\{.*?\}", "", korean)
                                                           .replace("쀍뛣", "")), korean
        for value in notice.values.values():
            assert str(value) in korean
