"""Badges the owner moves: above the headline, beside the price, or a sticker at the product's
corner; wherever they go they stay in the live area, off the product, and the copy stays."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from editor.ad import AdLayout, AdRequest, composition
from editor.ad.badges import place_sticker
from editor.ad.design import BADGE_PLACES, layouts_from_json
from editor.ad.fonts import FontCatalogue, pair_book
from editor.ad.formats import FORMAT_SPECS, scaled
from editor.ad.samples import bottle_cutout
from editor.errors import InputError

COPY = dict(headline="가을 신메뉴 출시", subline="따뜻한 한 잔의 여유", price="5,500원 → 4,500원", cta="지금 주문하기")
PLACED = ("above", "beside", "corner")


def _build(workflow, product, place, template=None, **extra):
    layouts = {name: AdLayout(template=template, badges={"discount": place, "new": place}) for name in FORMAT_SPECS}
    return workflow.run(AdRequest(product=product, scale=0.3, formats=tuple(FORMAT_SPECS), layouts=layouts,
                                  backdrop="studio-white", **{**COPY, **extra}))


def _boxes_overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.fixture(scope="module")
def builds(workflow, coffee_png):
    return {place: _build(workflow, coffee_png, place) for place in PLACED}


@pytest.mark.parametrize("place", PLACED)
def test_every_badge_place_keeps_the_badges_inside_the_live_area_and_off_the_product(builds, place):
    result = builds[place]
    for name, layout in result.layouts.items():
        lx0, ly0, lx1, ly1 = scaled(FORMAT_SPECS[name], 0.3).live_area()
        product = next(e["box"] for e in layout.elements if e["kind"] == "product")
        badges = [e for e in layout.elements if e["kind"] == "badge"]
        assert sorted(e["text"] for e in badges) == ["-18%", "NEW"], name
        for e in badges:
            x0, y0, x1, y1 = e["box"]
            assert lx0 <= x0 and ly0 <= y0 and x1 <= lx1 and y1 <= ly1, (name, e)
            assert not _boxes_overlap(e["box"], product), (name, e, product)
        report = result.report["formats"][name]
        drawn = next(e for e in report["elements"] if e["element"] == "badge")
        assert drawn["product_overlap_pixels"] == 0
        assert drawn["contrast_ratio"] >= 4.5
        # Drawn where asked; a corner sticker without a free corner goes above the headline and says so.
        places = {e["place"] for e in badges}
        if places != {place}:
            assert place == "corner" and places == {"above"}, (name, places)
            assert any("no free corner" in note for note in report["layout_notes"]), name


def test_a_tall_bottle_keeps_its_badges_in_the_live_area_and_off_it_wherever_they_go(workflow):
    bottle = Image.fromarray(bottle_cutout(150, 300).rgba, "RGBA")
    for place in PLACED:
        result = _build(workflow, bottle, place)
        for name, layout in result.layouts.items():
            lx0, ly0, lx1, ly1 = scaled(FORMAT_SPECS[name], 0.3).live_area()
            product = next(e["box"] for e in layout.elements if e["kind"] == "product")
            badges = [e for e in layout.elements if e["kind"] == "badge"]
            assert len(badges) == 2, (place, name)
            for e in badges:
                x0, y0, x1, y1 = e["box"]
                assert lx0 <= x0 and ly0 <= y0 and x1 <= lx1 and y1 <= ly1, (place, name, e)
                assert not _boxes_overlap(e["box"], product), (place, name, e, product)


def test_a_corner_sticker_is_drawn_in_a_corner_in_most_formats_and_never_on_the_text(builds):
    result = builds["corner"]
    in_corner = 0
    for name, layout in result.layouts.items():
        stickers = [e["box"] for e in layout.elements if e["kind"] == "badge" and e["place"] == "corner"]
        in_corner += bool(stickers)
        text = [e["box"] for e in layout.elements if e["kind"] in ("headline", "subline", "price", "old_price", "cta")]
        for sticker in stickers:
            assert not any(_boxes_overlap(sticker, box) for box in text), (name, sticker)
    assert in_corner >= 3, "the product is made a little smaller where that frees a corner"


def test_badges_beside_the_price_share_its_row_or_sit_right_under_it(builds):
    for name, layout in builds["beside"].layouts.items():
        price = next(e["box"] for e in layout.elements if e["kind"] == "price")
        for badge in (e["box"] for e in layout.elements if e["kind"] == "badge"):
            same_row = badge[1] < price[3] and price[1] < badge[3] and badge[0] >= price[2]
            under = 0 <= badge[1] - price[3] <= (price[3] - price[1]) * 1.5
            assert same_row or under, (name, badge, price)
        headline = next(e["box"] for e in layout.elements if e["kind"] == "headline")
        assert all(e["box"][1] > headline[3] for e in layout.elements if e["kind"] == "badge"), name


def test_moving_the_badges_keeps_the_copy(builds):
    def words(result):
        return {name: [(e["kind"], e.get("text")) for e in layout.elements
                       if e["kind"] in ("headline", "subline", "price", "old_price", "cta")]
                for name, layout in result.layouts.items()}

    above = words(builds["above"])
    assert words(builds["beside"]) == above and words(builds["corner"]) == above
    for result in builds.values():  # the layout file says where the owner put them, for the next build
        assert all(dict(layout.badges) == dict(result.layouts["instagram-square"].badges) for layout in result.layouts.values())


def test_a_badge_left_out_is_not_drawn_and_the_other_keeps_its_place(workflow, coffee_png):
    layouts = {"instagram-square": AdLayout(badges={"discount": "corner", "new": "none"})}
    result = workflow.run(AdRequest(product=coffee_png, scale=0.3, layouts=layouts, **COPY))
    badges = [e for e in result.layouts["instagram-square"].elements if e["kind"] == "badge"]
    assert [e["text"] for e in badges] == ["-18%"]
    assert badges[0]["place"] in ("corner", "above")


def test_with_no_price_a_badge_asked_beside_it_goes_above_the_headline(workflow, coffee_png):
    layouts = {"instagram-square": AdLayout(badges={"new": "beside"})}
    result = workflow.run(AdRequest(product=coffee_png, scale=0.3, layouts=layouts, headline="가을 신메뉴 출시",
                                    subline="따뜻한 한 잔의 여유"))
    layout = result.layouts["instagram-square"]
    badge = next(e for e in layout.elements if e["kind"] == "badge")
    headline = next(e["box"] for e in layout.elements if e["kind"] == "headline")
    assert badge["text"] == "NEW" and badge["place"] == "above" and badge["box"][3] <= headline[1]


def test_a_sticker_with_no_free_corner_is_drawn_above_the_headline_with_a_note(monkeypatch, coffee):
    from editor.ad.typography import Copy

    monkeypatch.setattr(composition, "place_sticker", lambda *args, **kwargs: None)  # every corner taken
    fmt = scaled(FORMAT_SPECS["instagram-square"], 0.3)
    book, _ = pair_book(FontCatalogue(), "modern", None)
    x0, y0, x1, y1 = coffee.bbox()
    layout, g = composition.auto_layout(fmt, (x1 - x0, y1 - y0), Copy.from_texts(COPY), book,
                                        badges=(("NEW", "corner"), ("-18%", "corner")))
    assert g.sticker is None and g.block.badge_places == ("above", "above")
    assert any("no free corner" in note for note in g.notes)


def test_a_sticker_never_leaves_the_live_area_or_touches_what_it_must_avoid():
    book, _ = pair_book(FontCatalogue(), "modern", None)
    sizes = {"cta": 20}
    live = (40, 40, 560, 560)
    product = (200, 240, 400, 520)
    sticker = place_sticker(("NEW",), book, sizes, live, product, [], "left", 24)
    x0, y0, x1, y1 = sticker.box()
    assert live[0] <= x0 and live[1] <= y0 and x1 <= live[2] and y1 <= live[3]
    assert not _boxes_overlap(sticker.box(), product)
    assert x1 - x0 == y1 - y0  # one short tag: a round sticker
    assert abs((x0 + x1) / 2 - product[2]) < x1 - x0 and y1 <= product[1]  # at the product's top corner, away from the text
    # With the live area filled by what it must avoid, there is no place: the caller falls back.
    assert place_sticker(("NEW",), book, sizes, live, product, [(40, 40, 560, 240), (40, 240, 200, 560),
                                                                (400, 240, 560, 560)], "left", 24) is None


def test_the_layout_file_takes_every_badge_place_and_refuses_others():
    for place in BADGE_PLACES:
        text = json.dumps({"formats": {"square": {"badges": {"discount": place, "new": place}}}})
        assert dict(layouts_from_json(text)["instagram-square"].badges) == {"discount": place, "new": place}
    with pytest.raises(InputError) as caught:
        layouts_from_json(json.dumps({"formats": {"square": {"badges": {"discount": "sideways"}}}}))
    assert "corner" in str(caught.value) and "sideways" in str(caught.value)
