"""Ad sizes, and where each one puts the product by default and anchors its text.

The layout is recomputed for every format (a story is not a cropped square): the product
region and the text anchor below are starting points for the layout engine, which then
looks for calm space on the actual composite.
"""

from __future__ import annotations

from dataclasses import dataclass

from editor.errors import InputError


@dataclass(frozen=True)
class AdFormat:
    name: str
    width: int
    height: int
    label: str
    product_region: tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of the canvas
    text_align: str  # "left" (text beside the product) or "center" (text above it)
    safe_margins: tuple[float, float, float, float]  # left, top, right, bottom, fractions

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height


_SPECS = [
    AdFormat("instagram-square", 1080, 1080, "Instagram square 1:1", (0.46, 0.14, 0.95, 0.92), "left", (0.06, 0.06, 0.06, 0.06)),
    AdFormat("instagram-portrait", 1080, 1350, "Instagram portrait 4:5", (0.18, 0.45, 0.82, 0.93), "center", (0.06, 0.05, 0.06, 0.05)),
    # Stories: Instagram covers about the top and bottom 13% with its own controls.
    AdFormat("story", 1080, 1920, "Instagram / Kakao story 9:16", (0.14, 0.48, 0.86, 0.86), "center", (0.07, 0.13, 0.07, 0.13)),
    AdFormat("web-banner", 1200, 628, "Web banner 1200×628", (0.56, 0.08, 0.96, 0.94), "left", (0.05, 0.08, 0.05, 0.08)),
]
FORMAT_SPECS: dict[str, AdFormat] = {spec.name: spec for spec in _SPECS}
FORMATS: dict[str, tuple[int, int]] = {spec.name: spec.size for spec in _SPECS}
ALIASES = {"square": "instagram-square", "portrait": "instagram-portrait", "instagram-story": "story", "banner": "web-banner"}


def get_format(name: str) -> AdFormat:
    key = ALIASES.get(name, name)
    if key not in FORMAT_SPECS:
        raise InputError(f"Unknown ad format '{name}'. Choose from: {', '.join(FORMAT_SPECS)}.")
    return FORMAT_SPECS[key]


def scaled(fmt: AdFormat, scale: float) -> AdFormat:
    """The same format at a fraction of its size (previews and fast tests); layout is size-relative."""
    if scale == 1.0:
        return fmt
    w, h = max(64, round(fmt.width * scale)), max(64, round(fmt.height * scale))
    return AdFormat(fmt.name, w, h, fmt.label, fmt.product_region, fmt.text_align, fmt.safe_margins)
