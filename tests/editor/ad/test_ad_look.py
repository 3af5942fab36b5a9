"""What makes an ad look designed: a product that stands on its backdrop (a shadow touching its
base, a view that fits the photo's camera angle), materials that read as materials, type pairs,
badges, several layout templates and the next design on demand."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from editor.ad import AdLayout, AdRequest, grounding
from editor.ad import backgrounds as bglib
from editor.ad.colour import parse_hex, to_lab
from editor.ad.composite import PlacementRequest, place_product, requested_placement, shadow_map
from editor.ad.design import layouts_from_json, layouts_to_json
from editor.ad.fonts import FontCatalogue, pair_book
from editor.ad.formats import FORMAT_SPECS, get_format, scaled
from editor.ad.samples import bottle_cutout, cake_cutout
from editor.ad.templates import TEMPLATES, next_design
from editor.ad.typography import Copy

COPY = dict(headline="가을 신메뉴 출시", subline="따뜻한 한 잔의 여유", price="5,500원 → 4,500원", cta="지금 주문하기")
TEXT_KINDS = ("headline", "subline", "price", "old_price", "badge", "cta", "logo", "brand")


def _placed(cut, fmt_name="instagram-square", height=0.5):
    fmt = scaled(get_format(fmt_name), 0.4)
    x0, y0, x1, y1 = cut.bbox()
    placement = requested_placement((x1 - x0, y1 - y0), fmt, PlacementRequest(0.5, 0.85, height))
    layer, alpha = place_product(cut, placement, fmt.size)
    return placement, layer, alpha


# ------------------------------------------------------------------------------ grounding

@pytest.mark.parametrize("which", ["bottle", "coffee"])
def test_the_contact_shadow_touches_the_products_footprint(which, coffee):
    cut = bottle_cutout(150, 210) if which == "bottle" else coffee
    placement, _, alpha = _placed(cut)
    dark = shadow_map(alpha, placement, contact=0.6, drop=0.0)
    cols, base = grounding.footprint(alpha)
    middle = slice(len(cols) // 10, len(cols) - len(cols) // 10)
    # Right under every column of the base (the straight bottle bottom, the curved saucer rim)
    # the surface is in shadow: no sliver of light between the product and its shadow.
    under = dark[np.minimum(base[middle] + 1, alpha.shape[0] - 1), cols[middle]]
    assert under.min() > 0.3
    assert grounding.shadow_gap(alpha, dark) == 0
    # ...and the shadow hugs the base: a few pixels further down it has faded.
    far = dark[np.minimum(base[middle] + round(0.2 * placement.height), alpha.shape[0] - 1), cols[middle]]
    assert far.mean() < 0.5 * under.mean()


def test_a_shadow_that_floats_below_the_product_is_measured_as_a_gap(coffee):
    placement, _, alpha = _placed(bottle_cutout(150, 210))
    dark = shadow_map(alpha, placement, contact=0.6, drop=0.0)
    floating = dark.copy()  # the old kind: an oval that starts a few pixels under the base
    cols, base = grounding.footprint(alpha)
    for c, b in zip(cols, base):
        floating[b + 1 : b + 7, c] = 0.0
    assert grounding.shadow_gap(alpha, floating) >= 5


def test_the_camera_angle_is_read_from_the_cut_out(coffee):
    assert grounding.camera_angle(bottle_cutout().alpha).angle == grounding.EYE_LEVEL
    assert grounding.camera_angle(cake_cutout().alpha).angle == grounding.EYE_LEVEL
    assert grounding.camera_angle(coffee.alpha).angle != grounding.EYE_LEVEL  # a cup seen from above its rim


def test_the_backdrop_view_follows_the_photo_or_the_report_says_they_disagree(workflow, coffee_png):
    eye_level = Image.fromarray(bottle_cutout(150, 210).rgba, "RGBA")
    on_wood = workflow.run(AdRequest(product=eye_level, headline="녹차 오일", backdrop="oak-table", scale=0.3))
    square = on_wood.report["formats"]["instagram-square"]
    assert square["grounding"]["view"] == "tabletop" and square["grounding"]["view_fits_photo"]
    from_above = workflow.run(AdRequest(product=coffee_png, headline="커피", backdrop="oak-table", scale=0.3))
    assert from_above.report["formats"]["instagram-square"]["grounding"]["view"] == "flat-lay"
    on_sweep = workflow.run(AdRequest(product=coffee_png, headline="커피", backdrop="studio-white", scale=0.3))
    assert not on_sweep.report["formats"]["instagram-square"]["grounding"]["view_fits_photo"]
    assert any("disagree" in n for n in on_sweep.report["notes"])


def test_glossy_tile_shows_a_faint_reflection_under_an_eye_level_product():
    placement, layer, alpha = _placed(bottle_cutout(150, 210))
    colours, mirror = grounding.reflection(layer, alpha, placement.height, 0.16)
    cols, base = grounding.footprint(alpha)
    below = mirror[int(base.max()) + 2 : int(base.max()) + 10]
    assert 0.02 < below.max() <= 0.16 and mirror[: int(base.min())].max() == 0


def test_an_enlarged_small_photo_is_sharpened_and_the_report_says_how_small(workflow):
    tiny = Image.fromarray(bottle_cutout(90, 126).rgba, "RGBA")
    result = workflow.run(AdRequest(product=tiny, headline="녹차 오일", formats=("story",), backdrop="paper-sweep"))
    story = result.report["formats"]["story"]
    assert story["grounding"]["upscale"] > 1.5
    assert any("photo is small for a story" in n and "enlarged" in n for n in story["layout_notes"])


# ------------------------------------------------------------------------------ materials

def test_wood_grain_runs_along_the_planks_not_in_rings():
    wood = bglib.render_backdrop(bglib.load_backdrop("oak-table"), (400, 400), view="flat-lay").astype(float).mean(axis=2)
    along = np.abs(np.diff(wood, axis=1)).mean()  # planks lie along x: little change along them
    across = np.abs(np.diff(wood, axis=0)).mean()
    assert across > 1.5 * along


@pytest.mark.parametrize("name", ["terrazzo", "kraft-paper", "white-tile", "grey-concrete", "pastel-mesh", "paper-sweep"])
def test_new_materials_are_seeded_resolution_independent_and_calm(name):
    backdrop = bglib.load_backdrop(name)
    small = bglib.render_backdrop(backdrop, (200, 200)).astype(float)
    big = bglib.render_backdrop(backdrop, (400, 400)).astype(float)
    # The same pattern at twice the pixels: the big one averaged down matches the small one.
    down = big.reshape(200, 2, 200, 2, 3).mean(axis=(1, 3))
    assert np.abs(down - small).mean() < 6
    assert small.std(axis=(0, 1)).max() > 1.0  # not a flat colour


# ------------------------------------------------------------------------------ type and badges

def test_the_discount_badge_is_computed_from_the_two_prices():
    assert Copy.from_texts({"price": "5,500원 → 4,500원"}).discount() == "-18%"
    assert Copy.from_texts({"price": "4,500원", "old_price": "5,500원"}).discount() == "-18%"
    assert Copy.from_texts({"price": "4,500원"}).discount() is None
    assert Copy.from_texts({"price": "5,500원 → 6,000원"}).discount() is None  # not a discount
    assert Copy.from_texts({"headline": "가을 신메뉴 출시"}).badge_texts() == {"new": "NEW"}
    assert Copy.from_texts({"headline": "메뉴 안내"}).badge_texts() == {}  # "뉴" inside "메뉴" is not new


def test_badges_are_drawn_and_can_be_removed_in_the_layout(workflow, coffee_png):
    built = workflow.run(AdRequest(product=coffee_png, scale=0.3, **COPY))
    layout = built.layouts["instagram-square"]
    badges = [e["text"] for e in layout.elements if e["kind"] == "badge"]
    assert badges == ["NEW", "-18%"]
    off = AdLayout(template=layout.template, badges=(("discount", "none"), ("new", "above")))
    again = workflow.run(AdRequest(product=coffee_png, scale=0.3, layouts={"instagram-square": off}, **COPY))
    assert [e["text"] for e in again.layouts["instagram-square"].elements if e["kind"] == "badge"] == ["NEW"]


def test_headlines_use_the_display_face_of_the_templates_type_pair(workflow, coffee_png):
    built = workflow.run(AdRequest(product=coffee_png, scale=0.3, design=2, **COPY))
    square = built.report["formats"]["instagram-square"]
    layout = built.layouts["instagram-square"]
    headline = next(e for e in layout.elements if e["kind"] == "headline")
    subline = next(e for e in layout.elements if e["kind"] == "subline")
    assert square["fonts"]["display"].startswith(f"{headline['font']['family']} {headline['font']['style']}")
    assert (headline["font"]["family"], headline["font"]["style"]) != (subline["font"]["family"], subline["font"]["style"])


def test_a_missing_display_face_falls_back_to_the_text_bold_and_says_so(tmp_path, monkeypatch):
    import json

    from editor.ad import fonts

    pairs = {"pairs": {"modern": {"display": [["No Such Face", "Heavy"]], "text": [["No Such Face", "Regular"]],
                                  "bold": [["No Such Face", "Bold"]]}}}
    (tmp_path / "pairs.json").write_text(json.dumps(pairs), encoding="utf-8")
    monkeypatch.setattr(fonts, "PAIRS_FILE", tmp_path / "pairs.json")
    book, notes = pair_book(FontCatalogue(), "modern")
    assert book.source("display") == book.source("bold")
    assert any("No Such Face Heavy" in n and "not installed" in n and "fonts-nanum-extra" in n for n in notes)


def test_a_shop_name_in_the_copy_never_breaks_between_its_words():
    copy = Copy.from_texts({"headline": "카페 온도 가을 신메뉴 출시"}, keep_together=("카페 온도",))
    from editor.ad.linebreak import units

    assert "카페\u00a0온도" in units(copy.headline)


# ------------------------------------------------------------------------------ templates

def test_three_designs_give_three_templates_with_the_same_copy(workflow, coffee_png):
    seen = {}
    for design in (1, 2, 3):
        result = workflow.run(AdRequest(product=coffee_png, scale=0.3, design=design, **COPY))
        square = result.report["formats"]["instagram-square"]
        texts = {e["element"]: e["text"].replace("\u00a0", " ") for e in square["elements"]}
        seen[square["template"]] = (texts["subline"], texts["price"], texts["cta"])
    assert len(seen) == 3
    assert len(set(seen.values())) == 1  # the copy did not change


def test_every_format_offers_at_least_three_templates():
    from editor.ad.templates import ranked

    for fmt in FORMAT_SPECS.values():
        assert len(set(ranked(fmt, (300, 400), 20))) >= 3


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_no_element_overlaps_the_product_or_leaves_the_safe_area(workflow, coffee_png, template):
    layouts = {name: AdLayout(template=template) for name in FORMAT_SPECS}
    result = workflow.run(AdRequest(product=coffee_png, scale=0.3, formats=tuple(FORMAT_SPECS), layouts=layouts,
                                    backdrop="white-marble", **COPY))
    for name, layout in result.layouts.items():
        fmt = scaled(FORMAT_SPECS[name], 0.3)
        lx0, ly0, lx1, ly1 = fmt.live_area()
        product = next(e["box"] for e in layout.elements if e["kind"] == "product")
        assert layout.template == template
        for e in layout.elements:
            if e["kind"] not in TEXT_KINDS:
                continue
            x0, y0, x1, y1 = e["box"]
            assert lx0 - 1 <= x0 and ly0 - 1 <= y0 and x1 <= lx1 + 1 and y1 <= ly1 + 1, (name, e)
            px0, py0, px1, py1 = product
            assert x1 <= px0 or px1 <= x0 or y1 <= py0 or py1 <= y0, (name, e, product)
        assert all(e["product_overlap_pixels"] == 0 for e in result.report["formats"][name]["elements"])


def test_the_layout_file_names_the_template_and_lists_every_element(workflow, coffee_png):
    result = workflow.run(AdRequest(product=coffee_png, scale=0.3, design=3, **COPY))
    text = layouts_to_json(result.layouts)
    square = layouts_from_json(text)["instagram-square"]
    assert square.template == result.report["formats"]["instagram-square"]["template"]
    import json

    listed = json.loads(text)["formats"]["instagram-square"]["elements"]
    kinds = {e["kind"] for e in listed}
    assert {"headline", "subline", "price", "old_price", "badge", "cta", "product", "shadow"} <= kinds
    assert all(len(e["box"]) == 4 for e in listed)
    assert all("family" in e["font"] for e in listed if e["kind"] in ("headline", "subline", "price", "cta"))


def test_the_next_design_keeps_the_copy_and_moves_to_the_following_template(workflow, coffee_png):
    first = workflow.run(AdRequest(product=coffee_png, scale=0.3, **COPY))
    square = first.report["formats"]["instagram-square"]
    following = next_design(first.layouts["instagram-square"], square["design_order"])
    assert following.template == square["design_order"][1]
    again = workflow.run(AdRequest(product=coffee_png, scale=0.3, layouts={"instagram-square": following}, **COPY))
    assert again.report["formats"]["instagram-square"]["template"] == square["design_order"][1]


def test_the_story_keeps_the_accent_price_colour_like_every_other_format(workflow, coffee_png):
    result = workflow.run(AdRequest(product=coffee_png, scale=0.3, formats=tuple(FORMAT_SPECS), accent="#c0392b",
                                    backdrop="studio-white", **COPY))
    colours = {name: next(e["color"] for e in r["elements"] if e["element"] == "price")
               for name, r in result.report["formats"].items()}
    # The accent in every format (at most a small lightness step where a pixel under it needs it:
    # the report says so), never another colour such as brown.
    accent = to_lab(np.array(parse_hex("#c0392b"), float))
    for name, colour in colours.items():
        assert np.linalg.norm(to_lab(np.array(parse_hex(colour), float)) - accent) < 6, (name, colour)
    # Without a chosen accent the product's accent is picked once and used in every format too.
    auto = workflow.run(AdRequest(product=coffee_png, scale=0.3, formats=tuple(FORMAT_SPECS), **COPY))
    auto_colours = [to_lab(np.array(parse_hex(next(e["color"] for e in r["elements"] if e["element"] == "price")), float))
                    for r in auto.report["formats"].values()]
    assert max(np.linalg.norm(c - auto_colours[0]) for c in auto_colours) < 6


def test_the_logo_is_sized_by_format_and_badges_take_the_brand_colour(workflow, coffee_png):
    from editor.ad import BrandKit

    logo = np.zeros((60, 180, 4), np.uint8)
    logo[..., :3], logo[..., 3] = (30, 90, 60), 255
    kit = BrandKit("카페 온도", colors=("#1f6f54", "#202020"), logo=logo)
    result = workflow.run(AdRequest(product=coffee_png, scale=0.5, brand=kit, **COPY))
    layout = result.layouts["instagram-square"]
    fmt = scaled(FORMAT_SPECS["instagram-square"], 0.5)
    x0, y0, x1, y1 = next(e["box"] for e in layout.elements if e["kind"] == "logo")
    assert y1 - y0 >= 0.08 * fmt.short_side
    badge = next(e for e in result.report["formats"]["instagram-square"]["elements"] if e["element"] == "badge")
    assert badge["button_color"] == "#1f6f54"


def test_a_design_without_room_in_a_format_gives_way_to_the_next_and_says_so(workflow, coffee_png, monkeypatch):
    import dataclasses

    from editor.ad import templates

    order = templates.ranked(FORMAT_SPECS["web-banner"], (300, 270), 20)
    greedy = dataclasses.replace(templates.TEMPLATES[order[0]], gap_scale=40.0)  # wants more air than a banner has
    monkeypatch.setitem(templates.TEMPLATES, order[0], greedy)
    result = workflow.run(AdRequest(product=coffee_png, scale=0.3, formats=("web-banner",), **COPY))
    banner = result.report["formats"]["web-banner"]
    assert banner["template"] != order[0]
    assert any(f"the {order[0]} design has no room" in n for n in banner["layout_notes"])
    # Chosen by the owner, it is not swapped: the error says there is no room.
    from editor.errors import IntactError

    with pytest.raises(IntactError, match="no room"):
        workflow.run(AdRequest(product=coffee_png, scale=0.3, formats=("web-banner",),
                               layouts={"web-banner": AdLayout(template=order[0])}, **COPY))
