"""Korean text: a real Hangul font, NFC, eojeol wrapping, missing glyphs reported not drawn."""

from __future__ import annotations

import shutil
import unicodedata

import numpy as np
import pytest
from PIL import Image, ImageDraw

from editor.ad import text as textlib
from editor.ad.fonts import FontBook, FontNotFoundError, find_korean_font

SENTENCE = "국내산 유기농 딸기로 만든 수제 딸기잼, 오늘만 20% 할인!"


@pytest.fixture(scope="module")
def fonts():
    return FontBook()


def test_a_korean_font_is_found_in_both_weights_and_renders_hangul(fonts):
    bold, regular = fonts.source("bold"), fonts.source("regular")
    assert "bold" in bold.style.lower() and "bold" not in regular.style.lower()
    font = fonts.font(40, "bold")
    assert textlib.missing_glyphs(font, SENTENCE) == []
    canvas = Image.new("L", (400, 60), 0)
    ImageDraw.Draw(canvas).text((0, 0), "한글", font=font, fill=255)
    ink = np.asarray(canvas) > 0
    assert ink.sum() > 200
    # Not two tofu boxes: the glyphs differ from each other and from the font's .notdef.
    assert bytes(font.getmask("한")) != bytes(font.getmask("글"))
    assert bytes(font.getmask("한")) != bytes(font.getmask("\U0010fffd"))


def test_characters_the_font_lacks_are_reported_and_left_out(fonts):
    font = fonts.font(32, "regular")
    text = "신상 입고 \u0e01 \U0001f353"  # a Thai letter and a strawberry emoji Noto Sans CJK does not have
    assert textlib.missing_glyphs(font, text) == ["\u0e01", "\U0001f353"]
    kept, missing = textlib.drop_missing(font, text)
    assert kept == "신상 입고" and missing == ["\u0e01", "\U0001f353"]


def test_decomposed_hangul_is_normalised_to_nfc():
    decomposed = unicodedata.normalize("NFD", "딸기잼 특가")
    assert len(decomposed) > len("딸기잼 특가")
    assert textlib.normalise(decomposed) == "딸기잼 특가"
    assert textlib.normalise("  봄\t\t세일 \u0000\n\n 오늘만  ") == "봄 세일\n오늘만"


def test_wrapping_breaks_between_eojeol_and_respects_the_pixel_width(fonts):
    font = fonts.font(30, "regular")
    width = 260
    lines = textlib.wrap(font, SENTENCE, width)
    assert len(lines) > 1
    assert " ".join(lines) == SENTENCE  # nothing lost, and every break was at a space
    assert all(font.getlength(line) <= width for line in lines)


def test_a_word_wider_than_the_line_breaks_between_characters(fonts):
    font = fonts.font(30, "regular")
    long_word = "초특가유기농수제딸기잼세트"
    lines = textlib.wrap(font, f"오늘 {long_word}", 150)
    assert "".join(lines) == f"오늘{long_word}"
    assert all(font.getlength(line) <= 150 for line in lines)
    assert lines[0] == "오늘"


def test_a_font_folder_without_hangul_gives_the_install_hint(tmp_path, monkeypatch):
    shutil.copy("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", tmp_path / "DejaVuSans.ttf")
    monkeypatch.setenv("INTACT_FONT_DIR", str(tmp_path))
    with pytest.raises(FontNotFoundError, match="apt-get install fonts-noto-cjk") as info:
        find_korean_font("bold", system=False)
    assert str(tmp_path) in str(info.value)


def test_intact_font_dir_overrides_the_system_fonts(tmp_path, monkeypatch):
    shutil.copy("/usr/share/fonts/truetype/nanum/NanumGothicBold.ttf", tmp_path / "NanumGothicBold.ttf")
    monkeypatch.setenv("INTACT_FONT_DIR", str(tmp_path))
    source = find_korean_font("bold")
    assert source.path == str(tmp_path / "NanumGothicBold.ttf")
    assert "Nanum" in source.family
