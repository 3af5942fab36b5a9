"""Finding Korean-capable fonts on this machine and handing out sized copies of them.

The default font: `INTACT_FONT_DIR` (a folder the operator chose), fontconfig (`fc-match`), then
the known Debian paths of fonts-noto-cjk and fonts-nanum. The families a user can pick from
(`FontCatalogue`): every installed family with Hangul, regular and bold faces paired. A font only
counts when it really has Hangul glyphs, checked by rendering, because a name is no guarantee.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from editor.ad.text import missing_glyphs
from editor.errors import InputError, IntactError

WEIGHTS = ("regular", "bold")
DISPLAY = "display"  # the headline's face in a type pair; a book without one uses its bold
PAIRS_FILE = Path(__file__).resolve().parents[2] / "assets" / "fonts" / "pairs.json"
# Which installed style stands for each weight when a family has many (fonts-noto-cjk-extra
# installs Thin to Black): the first one present wins.
_STYLE_RANK = {"regular": ("regular", "book", "medium", "demilight", "light"),
               "bold": ("bold", "semibold", "extrabold", "black", "heavy")}
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


def ink_box(font: ImageFont.FreeTypeFont, text: str) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the pixels at least half covered when `text` is drawn with
    anchor "ls" at (0, 0): where the eye sees its edges. (0, 0, 0, 0) for no ink."""
    x0, y0, x1, y1 = font.getbbox(text, anchor="ls")  # contains the ink; pad for anti-aliasing
    pad = 2
    img = Image.new("L", (max(1, x1 - x0 + 2 * pad), max(1, y1 - y0 + 2 * pad)), 0)
    ImageDraw.Draw(img).text((pad - x0, pad - y0), text, font=font, fill=255, anchor="ls")
    box = img.point(lambda v: 255 if v >= 128 else 0).getbbox()
    if box is None:
        return 0, 0, 0, 0
    return box[0] - pad + x0, box[1] - pad + y0, box[2] - pad + x0, box[3] - pad + y0


class FontBook:
    """Sized fonts for one workflow, and the ink boxes measured with them. Owned by its caller
    (no process-wide cache)."""

    def __init__(self, sources: dict[str, FontSource] | None = None, system: bool = True):
        self._sources = dict(sources or {})
        self._system = system
        self._fonts: dict[tuple[str, int], ImageFont.FreeTypeFont] = {}
        self._ink: dict[tuple[str, int, str], tuple[int, int, int, int]] = {}
        self._length: dict[tuple[str, int, str], float] = {}

    def length(self, size: int, weight: str, text: str) -> float:
        """The advance width of `text`, pixels (measured once per size, weight and text)."""
        key = (weight, int(size), text)
        if key not in self._length:
            self._length[key] = self.font(size, weight).getlength(text)
        return self._length[key]

    def ink(self, size: int, weight: str, text: str) -> tuple[int, int, int, int]:
        key = (weight, int(size), text)
        if key not in self._ink:
            self._ink[key] = ink_box(self.font(size, weight), text)
        return self._ink[key]

    def source(self, weight: str) -> FontSource:
        if weight == DISPLAY and DISPLAY not in self._sources:
            return self.source("bold")
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
        return ";".join(f"{w}={self.source(w).path}#{self.source(w).index}" for w in (*WEIGHTS, DISPLAY))


# ------------------------------------------------------------------ the families a user can pick

_SKIP_FAMILY = re.compile(r"mono|coding", re.IGNORECASE)  # fixed-width faces are for code, not ads
# A modern sans first when it is there; otherwise whatever `find_korean_font` settles on.
PREFERRED_FAMILIES = ("noto-sans-cjk-kr", "nanum-barun-gothic", "nanum-gothic")
_CJK_NOT_KOREAN = re.compile(r"\bCJK (JP|SC|TC|HK)\b")


def family_key(name: str) -> str:
    """A stable, file-name-safe key: "Noto Sans CJK KR" -> "noto-sans-cjk-kr", "NanumGothic" -> "nanum-gothic"."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)
    return re.sub(r"[^a-z0-9]+", "-", spaced.lower()).strip("-") or "font"


@dataclass(frozen=True)
class FontFamily:
    key: str
    name: str
    regular: FontSource
    bold: FontSource

    def sources(self) -> dict[str, FontSource]:
        return {"regular": self.regular, "bold": self.bold}


def _fc_list_faces() -> list[tuple[str, str, str, int]]:
    """(family, style, path, index) of every face fontconfig says covers Korean."""
    if shutil.which("fc-list") is None:
        return []
    try:
        out = subprocess.run(["fc-list", ":lang=ko", "-f", "%{family[0]}|%{style[0]}|%{file}|%{index}\n"],
                             capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    faces = []
    for line in out.splitlines():
        parts = line.split("|")
        if len(parts) == 4 and parts[2]:
            faces.append((parts[0].strip(), parts[1].strip(), parts[2], int(parts[3] or 0)))
    return faces


def _dir_faces(folder: Path) -> list[tuple[str, str, str, int]]:
    faces = []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in _FONT_SUFFIXES):
        for index in range(8 if path.suffix.lower() in (".ttc", ".otc") else 1):
            source = _open_source(str(path), index)
            if source is not None:
                faces.append((source.family, source.style, source.path, index))
    return faces


class FontCatalogue:
    """The Korean font families installed here, by key, and one `FontBook` per family in use.

    Owned by its caller (an ad workflow); the font scan runs once, on first use.
    """

    def __init__(self, system: bool = True):
        self._system = system
        self._families: dict[str, FontFamily] | None = None
        self._faces: dict[tuple[str, str], tuple[str, int]] = {}  # (family, style) lower case -> file, index
        self._books: dict[str, FontBook] = {}
        self._pairs: dict[tuple[str, str | None], tuple[FontBook, tuple[str, ...]]] = {}

    def families(self) -> dict[str, FontFamily]:
        if self._families is None:
            faces: list[tuple[str, str, str, int]] = []
            folder = os.environ.get("INTACT_FONT_DIR")
            if folder and Path(folder).is_dir():
                faces += _dir_faces(Path(folder))
            if self._system:
                faces += _fc_list_faces()
            grouped: dict[str, dict[str, tuple[str, int]]] = {}
            names: dict[str, str] = {}
            for family, style, path, index in faces:
                if _SKIP_FAMILY.search(family) or _CJK_NOT_KOREAN.search(family):
                    continue
                key = family_key(family)
                names.setdefault(key, family)
                self._faces[(family.lower(), style.lower())] = (path, index)
                weight = "bold" if _wants("bold", style) else "regular"
                rank = _style_rank(weight, style)
                kept = grouped.setdefault(key, {}).get(weight)
                if kept is None or rank < kept[0]:
                    grouped[key][weight] = (rank, path, index)
            families: dict[str, FontFamily] = {}
            for key in sorted(grouped):
                faces_by_weight = {w: _open_source(path, index) for w, (_, path, index) in grouped[key].items()}
                faces_by_weight = {w: s for w, s in faces_by_weight.items() if s is not None}
                if not faces_by_weight:
                    continue
                regular = faces_by_weight.get("regular") or faces_by_weight["bold"]
                bold = faces_by_weight.get("bold") or regular
                families[key] = FontFamily(key, names[key], regular, bold)
            self._families = families
        return self._families

    def default_key(self) -> str:
        families = self.families()
        folder = os.environ.get("INTACT_FONT_DIR")
        if folder:  # the operator's own fonts come first
            own = [k for k, f in families.items() if Path(f.bold.path).is_relative_to(Path(folder))]
            if own:
                return own[0]
        for key in PREFERRED_FAMILIES:
            if key in families:
                return key
        return family_key(find_korean_font("bold", self._system).family)

    def book(self, key: str | None = None) -> FontBook:
        """Sized fonts of family `key`; None is the default family."""
        default = key is None
        if default:
            key = self.default_key()
        if key not in self._books:
            family = self.families().get(key)
            if family is not None:
                self._books[key] = FontBook(family.sources(), system=self._system)
            elif default:  # a default font found outside fontconfig's list (no fc-list here)
                self._books[key] = FontBook(system=self._system)
            else:
                raise InputError(f"The font '{key}' is not installed. Choose from: {', '.join(self.families()) or 'none'}.",
                                 key="ad_unknown_font", field="font", font=key)
        return self._books[key]


def _style_rank(weight: str, style: str) -> int:
    words = style.lower().replace("-", " ").split()
    ranks = _STYLE_RANK[weight]
    for i, name in enumerate(ranks):
        if name in words or style.lower() == name:
            return i
    return len(ranks) + 1


def load_pairs(path: Path | None = None) -> dict[str, dict]:
    """The type pairs (assets/fonts/pairs.json): style -> display, text and bold candidates."""
    import json

    data = json.loads((path or PAIRS_FILE).read_text(encoding="utf-8"))
    return data["pairs"]


PAIR_STYLES = tuple(load_pairs())


def pair_book(catalogue: FontCatalogue, style: str, text_family: str | None = None) -> tuple[FontBook, tuple[str, ...]]:
    """A FontBook for a type pair: the style's display face for headlines, its text faces for the
    rest (or `text_family`'s, when a brand or the user chose one). Returns the book and notes for
    faces that are not installed (their stand-ins are named)."""
    key = (style, text_family)
    if key in catalogue._pairs:
        return catalogue._pairs[key]
    pairs = load_pairs()
    if style not in pairs:
        raise InputError(f"Unknown type style '{style}'. Choose from: {', '.join(pairs)}.", key="ad_unknown_type_style",
                         field="font", style=style)
    catalogue.families()  # fills the face index
    notes: list[str] = []

    def first(role: str) -> FontSource | None:
        for family, face in pairs[style][role]:
            where = catalogue._faces.get((family.lower(), face.lower()))
            if where is not None:
                source = _open_source(*where)
                if source is not None:
                    return source
        return None

    base = catalogue.book(text_family) if text_family else None
    sources: dict[str, FontSource] = {}
    for role, weight in (("text", "regular"), ("bold", "bold")):
        found = base.source(weight) if base is not None else first(role)
        if found is None:
            found = catalogue.book().source(weight)
            wanted = " or ".join(f"{f} {s}" for f, s in pairs[style][role])
            notes.append(f"type: {wanted} is not installed; {found.family} {found.style} stands in "
                         "(install fonts-nanum-extra and fonts-noto-cjk-extra)")
        sources[weight] = found
    display = first("display")
    if display is None:
        wanted = " or ".join(f"{f} {s}" for f, s in pairs[style]["display"])
        notes.append(f"type: the headline face ({wanted}) is not installed; {sources['bold'].family} "
                     f"{sources['bold'].style} stands in (install fonts-nanum-extra and fonts-noto-cjk-extra)")
        display = sources["bold"]
    sources[DISPLAY] = display
    result = (FontBook(sources, system=catalogue._system), tuple(notes))
    catalogue._pairs[key] = result
    return result
