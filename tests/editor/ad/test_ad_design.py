"""The layout as data: JSON round trip, clear errors, and editing it re-renders without cutting
the product out or making the background again."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from editor.ad import AdLayout, AdRequest, AdWorkflow, TextSettings, load_layouts, save_layouts
from editor.ad.composite import PlacementRequest
from editor.ad.composition import resolve
from editor.ad.design import layouts_from_json, layouts_to_json
from editor.ad.formats import get_format, scaled
from editor.ad.typography import Copy
from editor.errors import InputError

COPY = dict(headline="가을 신메뉴 출시", subline="따뜻한 한 잔의 여유", price="5,500원 → 4,500원", cta="지금 주문하기")


@pytest.fixture(scope="module")
def coffee_png(coffee, tmp_path_factory):
    path = tmp_path_factory.mktemp("design") / "coffee.png"
    Image.fromarray(coffee.rgba, "RGBA").save(path)
    return str(path)


def test_layouts_round_trip_through_json_and_a_file(tmp_path):
    layouts = {
        "instagram-square": AdLayout(TextSettings("left", "left", 96, 0.45, "nanum-gothic", "#1B1B1B", "#c0392b", "bold"),
                                     PlacementRequest(0.7, 0.9, 0.7), "top-right"),
        "story": AdLayout(TextSettings(size=120)),
    }
    text = layouts_to_json(layouts)
    assert json.loads(text)["formats"]["instagram-square"]["text"]["color"] == "#1b1b1b"  # normalised
    assert layouts_from_json(text) == layouts
    save_layouts(tmp_path / "layout.json", layouts)
    assert load_layouts(tmp_path / "layout.json") == layouts
    assert [p.name for p in tmp_path.iterdir()] == ["layout.json"]  # written atomically: no temp file left
    assert layouts_from_json('{"formats": {"square": {}}}') == {"instagram-square": AdLayout()}  # aliases


@pytest.mark.parametrize("body,detail", [
    ("not json", "not JSON"),
    ('{"formats": {"poster": {}}}', "unknown format"),
    ('{"formats": {"story": {"text": {"size": 3}}}}', "size"),
    ('{"formats": {"story": {"text": {"position": "middle"}}}}', "position"),
    ('{"formats": {"story": {"text": {"color": "red"}}}}', "colour"),
    ('{"formats": {"story": {"product": {"center_x": 0.5}}}}', "center_x, bottom_y and height"),
    ('{"formats": {"story": {"product": {"center_x": 2, "bottom_y": 0.5, "height": 0.5}}}}', "between 0 and 1"),
    ('{"formats": {"story": {"fancy": true}}}', "unknown keys"),
    ('{"version": 9, "formats": {}}', "version"),
])
def test_a_bad_layout_is_one_clear_error_naming_the_layout(body, detail):
    with pytest.raises(InputError, match=detail) as info:
        layouts_from_json(body)
    assert info.value.field in ("layout", "color") and "\n" not in str(info.value)


def test_resolving_the_layout_a_build_returned_gives_the_same_geometry(products, catalogue, build):
    fmt = scaled(get_format("instagram-square"), 0.5)
    ad = build(fmt, products["bottle"], COPY, catalogue)
    cut = products["bottle"]
    x0, y0, x1, y1 = cut.bbox()
    again = resolve(fmt, ad.layout, (x1 - x0, y1 - y0), Copy.from_texts(COPY), ad.book, badges=ad.badges)
    assert again.block_box() == ad.geometry.block_box() and again.product_box == ad.geometry.product_box
    assert again.block.lines == ad.geometry.block.lines


def test_editing_the_layout_re_renders_without_cut_out_or_background(coffee_png, tmp_path):
    wf = AdWorkflow()
    base = dict(product=coffee_png, formats=("square", "banner"), scale=0.4, out_dir=str(tmp_path), **COPY)
    first = wf.run(AdRequest(**base))
    layouts = first.layouts
    assert set(layouts) == {"instagram-square", "web-banner"}
    square = layouts["instagram-square"]
    assert None not in (square.text.position, square.text.size, square.text.font, square.text.color, square.product)
    # Same layout back: only the cheap steps rerun, and the picture is identical.
    same = wf.run(AdRequest(**base, layouts=layouts))
    assert set(k.split("[")[0] for k in same.report["nodes"]["ran"]) <= {"design", "text", "save"}
    assert np.array_equal(np.asarray(same.images["instagram-square"]), np.asarray(first.images["instagram-square"]))
    # Text size, font and colour: design and text rerun; cut-out, background and composite do not.
    edited = {**layouts, "instagram-square": replace(square, text=replace(square.text, size=square.text.size - 20,
                                                                           font="nanum-myeongjo", color="#12355b"))}
    second = wf.run(AdRequest(**base, layouts=edited))
    ran = second.report["nodes"]["ran"]
    assert "text[instagram-square]" in ran and "composite[instagram-square]" not in ran
    assert "cutout" not in ran and not any(k.startswith("background") for k in ran)
    got = second.layouts["instagram-square"].text
    assert got.size == square.text.size - 20 and got.font == "nanum-myeongjo" and got.color == "#12355b"
    assert "NanumMyeongjo" in second.report["formats"]["instagram-square"]["fonts"]["bold"]
    assert "Noto Sans CJK KR" in second.report["formats"]["web-banner"]["fonts"]["bold"]  # the other format kept its font
    # Moving the product: placement and composite rerun too, still no cut-out or background.
    p = square.product
    moved = {"instagram-square": replace(square, product=PlacementRequest(p.center_x, p.bottom_y - 0.03, p.height * 0.9))}
    third = wf.run(AdRequest(**base, layouts=moved))
    ran = third.report["nodes"]["ran"]
    assert "composite[instagram-square]" in ran and "cutout" not in ran
    assert not any(k.startswith("background") for k in ran)
    assert third.report["formats"]["instagram-square"]["placement"] != first.report["formats"]["instagram-square"]["placement"]


def test_a_user_colour_that_would_not_read_is_darkened_and_said_so(coffee_png):
    wf = AdWorkflow()
    pale = {"instagram-square": AdLayout(TextSettings(color="#fff4f0"))}  # near-white on a pale tint
    result = wf.run(AdRequest(product=coffee_png, scale=0.4, layouts=pale, **COPY))
    report = result.report["formats"]["instagram-square"]
    assert all(e["contrast_ratio"] >= 4.5 for e in report["elements"])
    assert any("adjusted" in note for note in report["layout_notes"])
    assert report["suggestions"]["colors"]["text"] and "noto-sans-cjk-kr" in report["suggestions"]["fonts"]


def test_a_position_the_format_does_not_offer_is_refused(coffee_png):
    with pytest.raises(InputError, match="story") as info:
        AdWorkflow().run(AdRequest(product=coffee_png, formats=("story",), scale=0.3,
                                   layouts={"story": AdLayout(TextSettings(position="left"))}, **COPY))
    assert info.value.key == "ad_bad_position"


def test_a_product_placed_over_the_whole_text_side_is_a_clear_error(coffee_png):
    crowded = {"web-banner": AdLayout(TextSettings(position="left"), PlacementRequest(0.3, 0.95, 0.9))}
    with pytest.raises(Exception) as info:
        AdWorkflow().run(AdRequest(product=coffee_png, formats=("banner",), scale=0.3, layouts=crowded, **COPY))
    assert getattr(info.value, "key", None) == "ad_no_room_for_text" and "no room" in str(info.value)
