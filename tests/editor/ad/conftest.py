"""Shared for the ad tests: two real products, fonts, and the per-format pipeline without the
node graph (what AdWorkflow runs for one format), so a test can see the picture before and after
the text is drawn."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest
from PIL import Image

from editor.ad import AdWorkflow, grounding, templates
from editor.ad import backgrounds as bglib
from editor.ad.colour import parse_hex, to_hex
from editor.ad.composite import composite, light_direction, place_product, requested_placement, shadow_map
from editor.ad.composition import Geometry, auto_layout
from editor.ad.cutout import CutOut
from editor.ad.design import AdLayout, TextSettings
from editor.ad.fonts import FontCatalogue, pair_book
from editor.ad.layout import TextPlan, plan_text, render_text
from editor.ad.palette import Palette, accent_colour, product_palette
from editor.ad.saliency import busy_map
from editor.ad.samples import coffee_cutout, product_shot
from editor.ad.typography import Copy


@pytest.fixture(scope="session")
def catalogue() -> FontCatalogue:
    return FontCatalogue()


@pytest.fixture(scope="module")
def workflow():
    """One AdWorkflow per test module (its node cache is shared by the module's builds)."""
    return AdWorkflow()


@pytest.fixture(scope="module")
def coffee_png(coffee):
    """The coffee cut-out as the RGBA picture a user would upload (its alpha is kept)."""
    return Image.fromarray(coffee.rgba, "RGBA")


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
    book: object = None  # the type pair's FontBook the build used
    badges: tuple = ()


def build_ad(fmt, cut: CutOut, texts: dict, catalogue: FontCatalogue, backdrop: str = "product-tint",
             wanted: AdLayout | None = None, background: np.ndarray | None = None, brand=None) -> Built:
    """One format, as AdWorkflow builds it (same functions, same order), without caching: the
    best-fitting template (design 1), its type pair, the badges the copy earns, the template's
    decoration, one accent from the product, the grounded composite."""
    wanted = wanted or AdLayout()
    x0, y0, x1, y1 = cut.bbox()
    cut_size = (x1 - x0, y1 - y0)
    raw = Copy.from_texts(texts)
    template = wanted.template or templates.for_design(fmt, cut_size, len(raw.headline) + len(raw.subline), 1)
    book, _ = pair_book(catalogue, wanted.text.style or templates.get_template(template).pair, wanted.text.font)
    palette = product_palette(cut.rgba[..., :3], cut.alpha)
    look = bglib.load_backdrop(backdrop)
    camera = grounding.camera_angle(cut.alpha)
    view, _ = grounding.pick_view(look.views, camera.angle) if background is None else ("any", True)
    bg = background if background is not None else bglib.render_backdrop(look, fmt.size, palette, view)
    copy, _ = raw.without_missing(book)
    earned = copy.badge_texts()
    badges = tuple((earned[k], wanted.badge_place(k)) for k in ("new", "discount")
                   if k in earned and wanted.badge_place(k) != "none")
    pixels = bg.reshape(-1, 3)[:: max(1, bg.size // 3 // 20000)]
    accent = wanted.text.accent or (to_hex(look.accent) if look.accent else to_hex(accent_colour(palette, pixels) or palette.accent))
    mark = brand.mark(fmt) if brand is not None else None
    layout, geometry = auto_layout(fmt, cut_size, copy, book, replace(wanted, template=template), mark, busy_map(bg),
                                   TextSettings(accent=accent), badges)
    placement = requested_placement(cut_size, fmt, layout.product)
    if background is None and view in ("sweep", "tabletop"):
        bg = bglib.render_backdrop(look, fmt.size, palette, view, grounding.horizon_behind(placement, fmt.height, camera.angle))
    if geometry.decor is not None:
        fill, opacity = templates.decor_colours(geometry.decor, parse_hex(layout.text.accent or accent), palette.dominant)
        bg = templates.paint_decor(bg, geometry.decor, fill, opacity)
    layer, alpha = place_product(cut, placement, fmt.size)
    box = (placement.x, placement.y, placement.x + placement.width, placement.bottom)
    light = light_direction(bg, box, look.light_angle if background is None else None)
    glossy = look.reflection if camera.angle == grounding.EYE_LEVEL and view != "flat-lay" and background is None else 0.0
    mirror = grounding.reflection(layer, alpha, placement.height, glossy) if glossy > 0 else None
    comp = composite(bg, layer, alpha, shadow_map(alpha, placement, look.contact_shadow, look.drop_shadow, light),
                     reflection=mirror)
    plan = plan_text(comp, geometry, book, palette, layout.text.color, layout.text.accent)
    final, report = render_text(comp, alpha, plan, book, mark)
    return Built(comp, final, alpha, layout, geometry, plan, report, palette, book, badges)


@pytest.fixture(scope="session")
def build():
    return build_ad
