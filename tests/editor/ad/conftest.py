"""Shared for the ad tests: two real products, fonts, and the per-format pipeline without the
node graph (what AdWorkflow runs for one format), so a test can see the picture before and after
the text is drawn."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from editor.ad import backgrounds as bglib
from editor.ad.composite import composite, light_direction, place_product, requested_placement, shadow_map
from editor.ad.composition import Geometry, auto_layout
from editor.ad.cutout import CutOut
from editor.ad.design import AdLayout, TextSettings
from editor.ad.fonts import FontCatalogue
from editor.ad.layout import TextPlan, plan_text, render_text
from editor.ad.palette import Palette, product_palette
from editor.ad.saliency import busy_map
from editor.ad.samples import coffee_cutout, product_shot
from editor.ad.typography import Copy


@pytest.fixture(scope="session")
def catalogue() -> FontCatalogue:
    return FontCatalogue()


@pytest.fixture(scope="session")
def coffee() -> CutOut:
    """The cup and saucer from scikit-image's coffee photograph, cut out (half size, for speed)."""
    return coffee_cutout(scale=0.5)


@pytest.fixture(scope="session")
def bottle() -> CutOut:
    """The procedural bottle from editor.ad.samples, with its known alpha."""
    shot = product_shot("plain", 200, 200)
    return CutOut(np.dstack([shot.product, np.round(shot.alpha * 255).astype(np.uint8)]), shot.alpha, "known")


@pytest.fixture(scope="session")
def products(coffee, bottle) -> dict[str, CutOut]:
    return {"coffee": coffee, "bottle": bottle}


@dataclass
class Built:
    composite: np.ndarray  # before the text
    final: np.ndarray
    product_alpha: np.ndarray
    layout: AdLayout
    geometry: Geometry
    plan: TextPlan
    report: list
    palette: Palette


def build_ad(fmt, cut: CutOut, texts: dict, catalogue: FontCatalogue, backdrop: str = "product-tint",
             wanted: AdLayout | None = None, background: np.ndarray | None = None, brand=None) -> Built:
    """One format, as AdWorkflow builds it (same functions, same order), without caching."""
    book = catalogue.book((wanted.text.font if wanted else None) or None)
    palette = product_palette(cut.rgba[..., :3], cut.alpha)
    look = bglib.load_backdrop(backdrop)
    bg = background if background is not None else bglib.render_backdrop(look, fmt.size, palette)
    copy, _ = Copy.from_texts(texts).without_missing(book)
    x0, y0, x1, y1 = cut.bbox()
    mark = brand.mark(fmt) if brand is not None else None
    layout, geometry = auto_layout(fmt, (x1 - x0, y1 - y0), copy, book, wanted, mark, busy_map(bg), TextSettings())
    placement = requested_placement((x1 - x0, y1 - y0), fmt, layout.product)
    layer, alpha = place_product(cut, placement, fmt.size)
    box = (placement.x, placement.y, placement.x + placement.width, placement.bottom)
    light = light_direction(bg, box, look.light_angle if background is None else None)
    comp = composite(bg, layer, alpha, shadow_map(alpha, placement, look.contact_shadow, look.drop_shadow, light))
    plan = plan_text(comp, geometry, book, palette, layout.text.color, layout.text.accent)
    final, report = render_text(comp, alpha, plan, book, mark)
    return Built(comp, final, alpha, layout, geometry, plan, report, palette)


@pytest.fixture(scope="session")
def build():
    return build_ad
