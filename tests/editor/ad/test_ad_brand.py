"""Brand kits: saved per shop (atomically, Korean names, no path tricks) and applied to every ad."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from editor.ad import AdRequest, AdWorkflow, BrandKit, BrandStore
from editor.ad.brand import brand_key
from editor.ad.formats import get_format, scaled
from editor.errors import InputError

COPY = dict(headline="가을 신메뉴 출시", subline="따뜻한 한 잔의 여유", price="4,500원", cta="지금 주문하기")


def logo_rgba(w: int = 240, h: int = 90) -> np.ndarray:
    """A two-colour wordmark-like logo with a transparent surround and soft edges."""
    img = Image.new("RGBA", (w * 4, h * 4), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((8, 8, w * 4 - 8, h * 4 - 8), radius=h * 2 - 8, fill=(20, 70, 50, 255))
    d.ellipse((40, 40, h * 4 - 40, h * 4 - 40), fill=(240, 200, 60, 255))
    return np.asarray(img.resize((w, h), Image.LANCZOS))


def test_a_kit_round_trips_with_its_logo_and_a_korean_name(tmp_path):
    store = BrandStore(tmp_path)
    kit = BrandKit("카페 온도", ("#C0392B", "#1b1b1b"), "nanum-gothic", logo_rgba(), "stack")
    folder = store.save(kit)
    assert folder == tmp_path / "카페-온도"
    assert sorted(p.name for p in folder.iterdir()) == ["brand.json", "logo.png"]  # no temp files left
    back = store.load("카페 온도")
    assert (back.name, back.colors, back.font, back.logo_position) == ("카페 온도", ("#c0392b", "#1b1b1b"), "nanum-gothic", "stack")
    assert np.array_equal(back.logo, kit.logo) and back.logo.shape[2] == 4
    assert store.names() == ["카페 온도"]
    store.save(BrandKit("카페 온도", ("#2255aa",)))  # saved again without a logo: the old logo goes
    assert store.load("카페 온도").logo is None and not (folder / "logo.png").exists()
    store.delete("카페 온도")
    assert store.names() == [] and not folder.exists()


def test_names_never_become_paths_and_bad_kits_are_clear_errors(tmp_path):
    assert brand_key("../../etc/passwd") == "etc-passwd"
    assert brand_key("Bean & Leaf  Café") == "bean-leaf-café"
    store = BrandStore(tmp_path)
    for bad in ("", "   ", "!!!"):
        with pytest.raises(InputError) as info:
            BrandKit(bad)
        assert info.value.key == "brand_needs_name"
    with pytest.raises(InputError, match="colour"):
        BrandKit("shop", ("blue",))
    with pytest.raises(InputError) as info:
        store.load("nobody")
    assert info.value.key == "brand_not_found"
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "brand.json").write_text("{not json")
    with pytest.raises(InputError) as info:
        store.load("broken")
    assert info.value.key == "brand_damaged"
    assert store.names() == []  # a damaged kit is not listed


def test_an_owners_kits_are_apart_from_the_shared_ones_and_from_other_owners(tmp_path):
    shared = BrandStore(tmp_path)
    shared.save(BrandKit("카페 온도", ("#2255aa",)))
    mine, theirs = shared.scoped("a" * 16), shared.scoped("b" * 16)
    assert shared.scoped(None) is shared
    mine.save(BrandKit("카페 온도", ("#c0392b",)))  # the same shop name, another browser's kit
    assert mine.names() == ["카페 온도"] and theirs.names() == [] and shared.names() == ["카페 온도"]
    assert mine.load("카페 온도").accent == "#c0392b" and shared.load("카페 온도").accent == "#2255aa"
    shared.save(BrandKit("_private"))  # a shop name that looks like the owners' folder gets its own key
    assert shared.names() == ["_private", "카페 온도"] and mine.names() == ["카페 온도"]
    theirs.delete("카페 온도")  # deleting what one does not have touches nobody else's
    assert mine.names() == ["카페 온도"] and shared.load("카페 온도").accent == "#2255aa"
    for bad in ("../x", "", "A" * 16):
        with pytest.raises(ValueError):
            shared.scoped(bad)


def test_a_logo_without_transparency_is_kept_whole_and_an_empty_one_refused():
    opaque = np.full((40, 80, 3), 200, np.uint8)
    assert BrandKit("shop", logo=opaque).logo.shape == (40, 80, 4)
    with pytest.raises(InputError) as info:
        BrandKit("shop", logo=np.zeros((40, 80, 4), np.uint8))
    assert info.value.key == "brand_logo_empty"


@pytest.mark.parametrize("format_name", ["instagram-square", "story", "web-banner"])
def test_the_brand_is_applied_to_every_ad_logo_colours_and_font(coffee, catalogue, build, format_name):
    fmt = scaled(get_format(format_name), 0.5)
    kit = BrandKit("카페 온도", ("#1f6f54", "#102a43"), "nanum-square", logo_rgba())
    from editor.ad.design import AdLayout, TextSettings

    ad = build(fmt, coffee, COPY, catalogue, brand=kit, wanted=AdLayout(TextSettings(font=kit.font, color=kit.text_color,
                                                                                      accent=kit.accent)))
    logo = ad.geometry.block.logo
    assert logo is not None
    x0, y0 = ad.geometry.axis + logo.left, ad.geometry.top + logo.top
    x1, y1 = ad.geometry.axis + logo.right, ad.geometry.top + logo.bottom
    # The logo is drawn there: its yellow dot and green body, on the text's axis, above the headline.
    patch = ad.final[y0:y1, x0:x1].astype(int)
    assert (np.abs(patch - (240, 200, 60)).sum(axis=2) < 60).mean() > 0.05
    assert (np.abs(patch - (20, 70, 50)).sum(axis=2) < 60).mean() > 0.2
    headline = next(e for e in ad.report if e["element"] == "headline")
    assert y1 <= headline["box"][1]
    if ad.geometry.align == "left":
        assert abs(x0 - headline["box"][0]) <= 2
    assert headline["color"] == "#102a43"  # the brand's text colour reads here as it is
    assert next(e for e in ad.report if e["element"] == "cta")["button_color"] == "#1f6f54"
    assert not (ad.product_alpha[y0:y1, x0:x1] > 0.02).any()


def test_the_workflow_applies_a_brand_and_its_shop_name_without_a_logo(coffee, tmp_path):
    Image.fromarray(coffee.rgba, "RGBA").save(tmp_path / "coffee.png")
    kit = BrandKit("카페 온도", ("#1f6f54",), logo_position="stack")
    result = AdWorkflow().run(AdRequest(product=str(tmp_path / "coffee.png"), formats=("square", "story"), scale=0.4,
                                        brand=kit, **COPY))
    for name in ("instagram-square", "story"):
        report = result.report["formats"][name]
        brand = [e for e in report["elements"] if e["element"] == "brand"]
        assert brand and brand[0]["text"] == "카페 온도" and brand[0]["contrast_ratio"] >= 4.5
        assert result.layouts[name].text.accent == "#1f6f54"
    assert result.report["brand"] == "카페 온도"


def test_a_corner_logo_goes_where_asked_or_is_left_out_with_a_note(coffee, catalogue, build):
    from editor.ad.design import AdLayout

    fmt = scaled(get_format("instagram-square"), 0.5)
    kit = BrandKit("shop", logo=logo_rgba(), logo_position="top-right")
    ad = build(fmt, coffee, COPY, catalogue, brand=kit, wanted=AdLayout(logo="top-right"))
    if ad.geometry.logo_box is not None:
        lx0, ly0, lx1, ly1 = ad.geometry.logo_box
        assert lx1 == fmt.live_area()[2] and ly0 == fmt.live_area()[1]
        assert not (ad.product_alpha[ly0:ly1, lx0:lx1] > 0.02).any()
    else:
        assert any("logo" in n for n in ad.geometry.notes)
    assert ad.geometry.block.logo is None  # not stacked as well
