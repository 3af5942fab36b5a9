"""Korean-aware text handling: normalisation, glyph coverage, wrapping by pixel width, drawing.

Hangul typed on different systems can arrive decomposed (NFD jamo) and would then render as
loose letters, so everything is NFC-normalised first. Lines break between words (eojeol, the
space-separated units of Korean) and fall back to single characters only when one word is
wider than the line. Characters the font lacks are left out and reported, never drawn as boxes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from PIL import ImageDraw, ImageFont

# A code point no font maps (the last private-use plane's last character): it renders as .notdef.
_NOTDEF_PROBE = "\U0010fffd"
_SPACE_RE = re.compile(r"[ \t\u00a0\u3000]+")


def normalise(text: str | None) -> str:
    """NFC, no control characters, single spaces; explicit line breaks are kept."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", str(text)).replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    text = "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch) not in ("Cc", "Cs", "Co"))
    lines = [_SPACE_RE.sub(" ", line).strip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line)


def _glyph_signature(font: ImageFont.FreeTypeFont, ch: str) -> tuple:
    mask = font.getmask(ch)
    return mask.size, bytes(mask)


def _needs_glyph(ch: str) -> bool:
    # Spaces, joiners and combining marks have no visible glyph of their own to check.
    return not (ch.isspace() or unicodedata.category(ch) in ("Mn", "Me", "Cf", "Zs"))


def missing_glyphs(font: ImageFont.FreeTypeFont, text: str) -> list[str]:
    """Characters of `text` the font has no glyph for, in order of first appearance.

    FreeType draws an unmapped character with the font's .notdef glyph (the tofu box), so a
    character whose rendering equals the .notdef rendering is missing from the font.
    """
    notdef = _glyph_signature(font, _NOTDEF_PROBE)
    missing: list[str] = []
    for ch in dict.fromkeys(text):
        if _needs_glyph(ch) and _glyph_signature(font, ch) == notdef:
            missing.append(ch)
    return missing


def drop_missing(font: ImageFont.FreeTypeFont, text: str) -> tuple[str, list[str]]:
    missing = missing_glyphs(font, text)
    if not missing:
        return text, []
    kept = "".join(ch for ch in text if ch not in missing)
    return normalise(kept), missing


def text_width(font: ImageFont.FreeTypeFont, text: str) -> float:
    return font.getlength(text)


def _break_word(font: ImageFont.FreeTypeFont, word: str, max_width: float) -> list[str]:
    pieces: list[str] = []
    current = ""
    for ch in word:
        if current and text_width(font, current + ch) > max_width:
            pieces.append(current)
            current = ch
        else:
            current += ch
    if current:
        pieces.append(current)
    return pieces


def wrap(font: ImageFont.FreeTypeFont, text: str, max_width: float) -> list[str]:
    """Greedy line filling at word (eojeol) boundaries; characters only for over-long words."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for word in paragraph.split(" "):
            if not word:
                continue
            candidate = f"{current} {word}" if current else word
            if text_width(font, candidate) <= max_width:
                current = candidate
                continue
            if current:
                lines.append(current)
            if text_width(font, word) <= max_width:
                current = word
            else:
                *full, current = _break_word(font, word, max_width)
                lines.extend(full)
        if current:
            lines.append(current)
    return lines


@dataclass(frozen=True)
class TextBlock:
    lines: tuple[str, ...]
    width: int  # ink-inclusive size of the block, pixels
    height: int
    line_height: int
    top_offset: int  # distance from the block's top to where the first line is drawn


def line_height(font: ImageFont.FreeTypeFont, spacing: float = 1.2) -> int:
    ascent, descent = font.getmetrics()
    return max(1, round((ascent + descent) * spacing))


def measure(font: ImageFont.FreeTypeFont, lines: list[str] | tuple[str, ...], spacing: float = 1.2, stroke: int = 0) -> TextBlock:
    """The block's pixel size as drawn by `draw_block` (font metrics, so Hangul never clips)."""
    ascent, descent = font.getmetrics()
    lh = line_height(font, spacing)
    width = max((text_width(font, line) for line in lines), default=0)
    height = lh * (len(lines) - 1) + ascent + descent if lines else 0
    return TextBlock(tuple(lines), int(round(width)) + 2 * stroke, int(height) + 2 * stroke, lh, stroke)


def draw_block(
    draw: ImageDraw.ImageDraw,
    xy: tuple[int, int],
    block: TextBlock,
    font: ImageFont.FreeTypeFont,
    fill,
    align: str = "left",
    stroke_width: int = 0,
    stroke_fill=None,
) -> None:
    x0, y0 = xy
    inner_w = block.width - 2 * block.top_offset
    for i, line in enumerate(block.lines):
        lw = text_width(font, line)
        dx = {"left": 0.0, "center": (inner_w - lw) / 2, "right": inner_w - lw}[align]
        draw.text(
            (x0 + block.top_offset + dx, y0 + block.top_offset + i * block.line_height),
            line,
            font=font,
            fill=fill,
            anchor="la",
            stroke_width=stroke_width,
            stroke_fill=stroke_fill,
        )
