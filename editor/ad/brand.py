"""Brand kits: a shop's name, logo, colours and font, kept on disk and applied to every ad.

Each shop has a folder under the brand root (env `INTACT_BRAND_DIR`, default `brands/`):

    <root>/<key>/brand.json   name, colours, font, where the logo goes
    <root>/<key>/logo.png     the logo, RGBA (transparent where it has no ink)

`key` is made from the shop name (letters and digits of any script, so Korean names keep their
own key; never a path). Where each browser keeps its own kits (a public app), they live under
`<root>/_private/<owner tag>/<key>/`: no shop key starts with "_", so the two never meet. Both
files are written atomically, the logo first, so a reader sees the old kit or the new one. In
an ad the brand's colours are the defaults for the text and the accent (a layout's own colours
win), its font is the default font, and the logo (or, without one, the shop name) is placed as
the format asks.
"""

from __future__ import annotations

import errno
import io
import json
import logging
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from editor.ad.colour import parse_hex, to_hex
from editor.ad.formats import AdFormat
from editor.ad.typography import BrandMark
from editor.atomic import atomic_write_bytes, atomic_write_text
from editor.errors import InputError
from editor.images import LoadedImage, load_image
from editor.validation import check_characters
from models.data_files import MAX_JSON_BYTES, DataProblem, JsonFileError, read_json_file

BRAND_VERSION = 1
MAX_LOGO_SIDE = 1024
MAX_NAME = 60
LOGO_FILE, KIT_FILE = "logo.png", "brand.json"
MAX_KIT_BYTES = MAX_JSON_BYTES  # the one reader's cap; what is inside is checked field by field
PRIVATE = "_private"  # brand_key never makes a key that starts with "_"

log = logging.getLogger(__name__)


def default_root() -> Path:
    return Path(os.environ.get("INTACT_BRAND_DIR", "brands"))


def brand_key(name: str) -> str:
    """A folder name for a shop: its letters and digits (NFC, lower case), dashes between words."""
    check_characters("brand", str(name), "shop name")
    text = unicodedata.normalize("NFC", str(name)).strip().lower()
    key = re.sub(r"[^\w]+", "-", text, flags=re.UNICODE).replace("_", "-").strip("-")
    return key[:MAX_NAME]


@dataclass(frozen=True, eq=False)
class BrandKit:
    name: str
    colors: tuple[str, ...] = ()  # "#rrggbb": the accent (price, button) first, then the text colour
    font: str | None = None  # a font family key
    logo: np.ndarray | None = None  # uint8 H×W×4
    logo_position: str = "stack"  # editor.ad.design.LOGO_POSITIONS

    def __post_init__(self):
        from editor.ad.design import LOGO_POSITIONS

        name = unicodedata.normalize("NFC", str(self.name or "")).strip()
        if not name or not brand_key(name):
            raise InputError("A brand needs a shop name with letters or digits.", key="brand_needs_name", field="brand")
        if len(name) > MAX_NAME:
            raise InputError(f"A shop name has at most {MAX_NAME} characters.", key="brand_name_too_long", field="brand",
                             limit=MAX_NAME)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "colors", tuple(to_hex(parse_hex(c)) for c in self.colors))
        if self.logo_position not in LOGO_POSITIONS:
            raise InputError(f"The logo position must be one of {', '.join(LOGO_POSITIONS)}.", key="brand_bad_logo_position",
                             field="brand")
        if self.logo is not None:
            object.__setattr__(self, "logo", _as_logo(self.logo))

    @property
    def key(self) -> str:
        return brand_key(self.name)

    @property
    def accent(self) -> str | None:
        return self.colors[0] if self.colors else None

    @property
    def text_color(self) -> str | None:
        return self.colors[1] if len(self.colors) > 1 else None

    def mark(self, fmt: AdFormat) -> BrandMark:
        return BrandMark(self.name, self.logo, fmt.logo_height)


def _reason(exc: OSError) -> str:
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "read-only"
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return "not a folder"
    return exc.strerror or type(exc).__name__


def _as_logo(source) -> np.ndarray:
    """Any image as an RGBA logo no larger than MAX_LOGO_SIDE, cropped to its visible pixels."""
    if isinstance(source, np.ndarray) and source.ndim == 3 and source.shape[2] == 4 and source.dtype == np.uint8:
        rgba = source
    else:
        loaded = source if isinstance(source, LoadedImage) else load_image(source)
        alpha = loaded.alpha if loaded.alpha is not None else np.full(loaded.rgb.shape[:2], 255, np.uint8)
        rgba = np.dstack([loaded.rgb, alpha])
    ys, xs = np.nonzero(rgba[..., 3] > 8)
    if not len(xs):
        raise InputError("The logo is fully transparent.", key="brand_logo_empty", field="logo")
    rgba = rgba[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = rgba.shape[:2]
    if max(h, w) > MAX_LOGO_SIDE:
        s = MAX_LOGO_SIDE / max(h, w)
        rgba = np.asarray(Image.fromarray(rgba, "RGBA").resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS))
    return np.ascontiguousarray(rgba)


class BrandStore:
    """The brand kits saved on this machine, one folder per shop."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_root()

    def scoped(self, owner: str | None) -> BrandStore:
        """The kits of one owner (a browser's tag) only, apart from everyone else's; None: the shared kits."""
        if owner is None:
            return self
        if not re.fullmatch(r"[0-9a-f]{8,64}", str(owner)):
            raise ValueError(f"an owner tag is hex digits, got {owner!r}")  # a programming error, never a user's
        return BrandStore(self.root / PRIVATE / owner)

    def _folder(self, name: str) -> Path:
        key = brand_key(name)
        if not key:
            raise InputError("A brand needs a shop name with letters or digits.", key="brand_needs_name", field="brand")
        return self.root / key

    def names(self) -> list[str]:
        """Shop names of the saved kits, sorted (damaged kits are left out, see `scan`)."""
        return self.scan()[0]

    def scan(self) -> tuple[list[str], list[DataProblem]]:
        """Shop names of the kits that can be offered, sorted, and the kit files skipped: not
        readable JSON, or a name the kit itself could not have been saved with (too long, no
        letters, not its folder's). Each skipped one is logged with its path."""
        if not self.root.is_dir():
            return [], []
        names, problems = [], []
        for kit in sorted(self.root.glob(f"*/{KIT_FILE}")):
            try:
                data = read_json_file(kit, MAX_KIT_BYTES)
                name = data["name"] if isinstance(data, dict) else None
                if not isinstance(name, str):
                    raise ValueError("'name' must be text.")
                name = unicodedata.normalize("NFC", name).strip()
                if len(name) > MAX_NAME:
                    raise ValueError(f"the shop name has {len(name)} characters; at most {MAX_NAME}.")
                if not brand_key(name) or brand_key(name) != kit.parent.name:
                    raise ValueError("the shop name does not match the kit's folder.")
            except (JsonFileError, ValueError, KeyError, InputError) as exc:
                detail = f"missing {exc}." if isinstance(exc, KeyError) else str(exc)
                problems.append(DataProblem("brand", f"{kit.parent.name[:MAX_NAME]}/{KIT_FILE}", detail))
                log.warning("skipping the brand file %s: %s", kit, detail)
                continue
            names.append(name)
        return sorted(names), problems

    def save(self, kit: BrandKit) -> Path:
        folder = self._folder(kit.name)
        try:
            return self._write(folder, kit)
        except OSError as exc:  # a read-only or full disk, a brand folder that is a file
            log.warning("cannot save the brand kit in %s: %s", folder, exc)
            raise InputError(f"The brand kit cannot be saved: the brand folder is not writable ({_reason(exc)}).",
                             key="brand_not_saved", field="brand", reason=_reason(exc)) from None

    def _write(self, folder: Path, kit: BrandKit) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        logo_name = None
        if kit.logo is not None:
            buffer = io.BytesIO()
            Image.fromarray(kit.logo, "RGBA").save(buffer, format="PNG")
            atomic_write_bytes(folder / LOGO_FILE, buffer.getvalue())
            logo_name = LOGO_FILE
        body = {"version": BRAND_VERSION, "name": kit.name, "colors": list(kit.colors), "font": kit.font,
                "logo": logo_name, "logo_position": kit.logo_position}
        atomic_write_text(folder / KIT_FILE, json.dumps(body, indent=2, ensure_ascii=False) + "\n")
        if kit.logo is None and (folder / LOGO_FILE).exists():
            (folder / LOGO_FILE).unlink()  # the kit no longer has a logo; brand.json already says so
        return folder

    def load(self, name: str) -> BrandKit:
        folder = self._folder(name)
        path = folder / KIT_FILE
        if not path.is_file():
            raise InputError(f"There is no saved brand called '{name}'.", key="brand_not_found", field="brand", name=str(name))
        try:
            data = read_json_file(path, MAX_KIT_BYTES)
            logo = None
            if data.get("logo"):
                # Through the image loader: a 400 MP logo is refused from its header, not decoded.
                logo = _as_logo(load_image(folder / LOGO_FILE, field="logo"))
            return BrandKit(data["name"], tuple(data.get("colors") or ()), data.get("font"), logo,
                            data.get("logo_position") or "stack")
        except InputError:
            raise
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            raise InputError(f"The saved brand '{name}' is damaged; save it again.", key="brand_damaged", field="brand",
                             name=str(name)) from None

    def delete(self, name: str) -> None:
        folder = self._folder(name)
        for file in (KIT_FILE, LOGO_FILE):  # the kit file first: a half-deleted kit is simply gone
            try:
                (folder / file).unlink()
            except FileNotFoundError:
                pass
        try:
            folder.rmdir()
        except OSError:
            pass
