"""Finding a Korean-capable font on this machine and handing out sized copies of it.

Order: `INTACT_FONT_DIR` (a folder the operator chose), fontconfig (`fc-match`), then the
known Debian paths of fonts-noto-cjk and fonts-nanum. A font only counts when it really has
Hangul glyphs, checked by rendering, because a name is no guarantee.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageFont

from editor.ad.text import missing_glyphs
from editor.errors import IntactError

WEIGHTS = ("regular", "bold")
INSTALL_HINT = "Install a Korean font: apt-get install fonts-noto-cjk (on Spaces: add fonts-noto-cjk to packages.txt)"

# (path, face index) per weight; in Debian's Noto CJK collections face 1 is the Korean one.
_DEBIAN_CANDIDATES = {
    "bold": [
        ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 1),
        ("/usr/share/fonts/truetype/nanum/NanumGothicBold.ttf", 0),
        ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 1),
        ("/usr/share/fonts/truetype/nanum/NanumGothic.ttf", 0),
    ],
    "regular": [
        ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 1),
        ("/usr/share/fonts/truetype/nanum/NanumGothic.ttf", 0),
        ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 1),
        ("/usr/share/fonts/truetype/nanum/NanumGothicBold.ttf", 0),
    ],
}
_FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")
_HANGUL_PROBE = "한글가"


class FontNotFoundError(IntactError):
    pass


@dataclass(frozen=True)
class FontSource:
    path: str
    index: int  # face inside a .ttc collection
    family: str
    style: str

    def describe(self) -> str:
        return f"{self.family} {self.style} ({Path(self.path).name}#{self.index})"


def has_hangul(font: ImageFont.FreeTypeFont) -> bool:
    return not missing_glyphs(font, _HANGUL_PROBE)


def _open_source(path: str, index: int) -> FontSource | None:
    try:
        font = ImageFont.truetype(path, 32, index=index)
    except OSError:
        return None
    if not has_hangul(font):
        return None
    family, style = font.getname()
    return FontSource(path, index, family or Path(path).stem, style or "")


def _wants(weight: str, style: str) -> bool:
    bold = any(w in style.lower() for w in ("bold", "black", "heavy"))
    return bold if weight == "bold" else not bold


def _from_font_dir(folder: Path, weight: str) -> FontSource | None:
    found: list[FontSource] = []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in _FONT_SUFFIXES):
        faces = 8 if path.suffix.lower() in (".ttc", ".otc") else 1
        for index in range(faces):
            source = _open_source(str(path), index)
            if source is not None:
                found.append(source)
    if not found:
        return None
    # Prefer the wanted weight and a Korean-named face (a CJK collection's KR member).
    found.sort(key=lambda s: (not _wants(weight, s.style), "kr" not in s.family.lower().split(), s.path, s.index))
    return found[0]


def _from_fontconfig(weight: str) -> FontSource | None:
    if shutil.which("fc-match") is None:
        return None
    pattern = f":lang=ko:weight={'bold' if weight == 'bold' else 'regular'}"
    try:
        out = subprocess.run(
            ["fc-match", "-f", "%{file}|%{index}", pattern], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    path, _, index = out.partition("|")
    if not path:
        return None
    return _open_source(path, int(index or 0))


def find_korean_font(weight: str = "bold", system: bool = True) -> FontSource:
    """A font that renders Hangul, at the wanted weight when one exists. Raises FontNotFoundError.

    `system=False` looks only in INTACT_FONT_DIR (an operator who ships their own fonts).
    """
    if weight not in WEIGHTS:
        raise IntactError(f"Font weight must be one of {', '.join(WEIGHTS)}; got '{weight}'.")
    looked: list[str] = []
    folder = os.environ.get("INTACT_FONT_DIR")
    if folder:
        looked.append(f"{folder} (INTACT_FONT_DIR)")
        if Path(folder).is_dir():
            source = _from_font_dir(Path(folder), weight)
            if source is not None:
                return source
    if not system:
        raise FontNotFoundError(f"No font with Korean (Hangul) glyphs was found. Looked in: {'; '.join(looked) or 'nowhere (INTACT_FONT_DIR is not set)'}. {INSTALL_HINT}.")
    looked.append("fontconfig (fc-match :lang=ko)")
    source = _from_fontconfig(weight)
    if source is not None and _wants(weight, source.style):
        return source
    looked.append("/usr/share/fonts/{opentype/noto,truetype/nanum}")
    for path, index in _DEBIAN_CANDIDATES[weight]:
        if Path(path).is_file():
            candidate = _open_source(path, index)
            if candidate is not None:
                return candidate
    if source is not None:  # fontconfig found Hangul, just not at this weight
        return source
    raise FontNotFoundError(f"No font with Korean (Hangul) glyphs was found. Looked in: {'; '.join(looked)}. {INSTALL_HINT}.")


class FontBook:
    """Sized fonts for one workflow. Owned by its caller (no process-wide cache)."""

    def __init__(self, sources: dict[str, FontSource] | None = None, system: bool = True):
        self._sources = dict(sources or {})
        self._system = system
        self._fonts: dict[tuple[str, int], ImageFont.FreeTypeFont] = {}

    def source(self, weight: str) -> FontSource:
        if weight not in self._sources:
            self._sources[weight] = find_korean_font(weight, self._system)
        return self._sources[weight]

    def font(self, size: int, weight: str = "bold") -> ImageFont.FreeTypeFont:
        key = (weight, int(size))
        if key not in self._fonts:
            src = self.source(weight)
            self._fonts[key] = ImageFont.truetype(src.path, int(size), index=src.index)
        return self._fonts[key]

    def fingerprint(self) -> str:
        return ";".join(f"{w}={self.source(w).path}#{self.source(w).index}" for w in WEIGHTS)
