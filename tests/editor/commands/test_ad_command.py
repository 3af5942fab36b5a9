"""`python -m editor ad` with --layout, --brand and --batch, and `python -m editor brand`."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from editor.ad.design import layouts_from_json, layouts_to_json
from editor.ad.samples import product_shot
from editor.cli import main


@pytest.fixture
def photos(tmp_path):
    paths = {}
    for name, colour in (("jam.png", (178, 34, 52)), ("blueberry.png", (40, 60, 150))):
        paths[name] = tmp_path / name
        Image.fromarray(product_shot("plain", 120, 120, colour=colour).rgb).save(paths[name])
    return paths


def test_a_build_writes_its_layout_and_an_edited_layout_is_applied(photos, tmp_path, capsys):
    out = tmp_path / "ads"
    common = ["ad", "--product", str(photos["jam.png"]), "--headline", "봄 딸기잼", "--price", "9,900원",
              "--format", "square", "--out", str(out), "--output-dir", str(tmp_path / "outputs")]
    assert main(common) == 0
    layout_file = out / "봄-딸기잼_layout.json"
    assert "--layout" in capsys.readouterr().out
    layouts = layouts_from_json(layout_file.read_text(encoding="utf-8"))
    square = layouts["instagram-square"]
    edited = {"instagram-square": replace(square, text=replace(square.text, size=60, color="#203040"))}
    (tmp_path / "mine.json").write_text(layouts_to_json(edited), encoding="utf-8")
    assert main([*common, "--layout", str(tmp_path / "mine.json"), "--report", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    text = report["formats"]["instagram-square"]["layout"]["text"]
    assert text["size"] == 60 and text["color"] == "#203040"


def test_a_bad_layout_file_is_one_line_naming_the_flag(photos, tmp_path, capsys):
    (tmp_path / "bad.json").write_text('{"formats": {"story": {"text": {"position": "middle"}}}}')
    code = main(["ad", "--product", str(photos["jam.png"]), "--headline", "세일", "--layout", str(tmp_path / "bad.json"),
                 "--out", str(tmp_path / "ads"), "--output-dir", str(tmp_path / "outputs")])
    err = capsys.readouterr().err
    assert code == 2 and "position" in err and "--layout" in err and err.count("\n") == 1


def test_brand_kits_are_saved_listed_and_applied(photos, tmp_path, capsys):
    brands = tmp_path / "brands"
    logo = np.zeros((40, 120, 4), np.uint8)
    logo[8:32, 8:112] = (20, 90, 60, 255)
    Image.fromarray(logo, "RGBA").save(tmp_path / "logo.png")
    assert main(["brand", "save", "--name", "카페 온도", "--logo", str(tmp_path / "logo.png"), "--color", "#1f6f54",
                 "--font", "nanum-gothic", "--brand-dir", str(brands)]) == 0
    assert main(["brand", "list", "--brand-dir", str(brands)]) == 0
    assert "카페 온도" in capsys.readouterr().out
    assert main(["ad", "--product", str(photos["jam.png"]), "--headline", "가을 신메뉴", "--brand", "카페 온도",
                 "--brand-dir", str(brands), "--out", str(tmp_path / "ads"), "--output-dir", str(tmp_path / "outputs"),
                 "--report", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert report["brand"] == "카페 온도"
    assert report["formats"]["instagram-square"]["layout"]["text"]["font"] == "nanum-gothic"
    assert main(["brand", "save", "--name", "x", "--font", "comic-sans", "--brand-dir", str(brands)]) == 2
    assert main(["ad", "--product", str(photos["jam.png"]), "--headline", "h", "--brand", "nobody",
                 "--brand-dir", str(brands), "--out", str(tmp_path / "ads2")]) == 2
    assert "--brand" in capsys.readouterr().err


def test_batch_builds_every_photo_from_files_and_a_zip_with_a_csv(photos, tmp_path, capsys):
    archive = tmp_path / "more.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(photos["blueberry.png"], "shop/blueberry.png")
    (tmp_path / "copy.csv").write_text("파일,제목,가격\njam.png,봄 딸기잼,\"9,900원\"\n", encoding="utf-8")
    out = tmp_path / "ads"
    code = main(["ad", "--batch", "--product", str(photos["jam.png"]), str(archive), "--copy-csv", str(tmp_path / "copy.csv"),
                 "--headline", "오늘의 신상", "--format", "square", "banner", "square", "--out", str(out),
                 "--output-dir", str(tmp_path / "outputs")])
    assert code == 0
    printed = capsys.readouterr().out
    assert "jam: built" in printed and "blueberry: built" in printed
    [zip_path] = list(out.glob("*.zip"))
    with zipfile.ZipFile(zip_path) as z:
        names = set(z.namelist())
        banner = Image.open(io.BytesIO(z.read("jam/web-banner.png")))
    assert {"jam/instagram-square.png", "blueberry/web-banner.png", "manifest.json"} <= names
    assert banner.size == (1200, 628)
    assert main(["ad", "--product", str(photos["jam.png"]), str(photos["blueberry.png"]), "--headline", "h",
                 "--out", str(out)]) == 2  # several photos need --batch


def test_design_numbers_give_different_templates_with_the_same_copy(photos, tmp_path, capsys):
    templates, texts = set(), set()
    for n in (1, 2, 3):
        report = tmp_path / f"r{n}.json"
        assert main(["ad", "--product", str(photos["jam.png"]), "--headline", "봄 딸기잼", "--price", "5,500원 → 4,500원",
                     "--format", "square", "--design", str(n), "--out", str(tmp_path / f"ads{n}"),
                     "--output-dir", str(tmp_path / "outputs"), "--report", str(report)]) == 0
        square = json.loads(report.read_text(encoding="utf-8"))["formats"]["instagram-square"]
        templates.add(square["template"])
        texts.add(tuple(sorted((e["element"], e["text"]) for e in square["elements"])))
        assert f"design {square['template']}" in capsys.readouterr().out
    assert len(templates) == 3 and len(texts) == 1
    assert main(["ad", "--product", str(photos["jam.png"]), "--headline", "h", "--design", "0",
                 "--out", str(tmp_path / "bad"), "--output-dir", str(tmp_path / "outputs")]) == 2
    assert "design number counts from 1" in capsys.readouterr().err


def test_badges_are_moved_through_the_layout_file(photos, tmp_path, capsys):
    common = ["ad", "--product", str(photos["jam.png"]), "--headline", "신메뉴 딸기잼", "--price", "5,500원 → 4,500원",
              "--format", "square", "--output-dir", str(tmp_path / "outputs")]
    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps({"formats": {"square": {"badges": {"discount": "beside", "new": "corner"}}}}),
                    encoding="utf-8")
    assert main([*common, "--out", str(tmp_path / "ads"), "--layout", str(mine), "--report", str(tmp_path / "r.json")]) == 0
    square = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["formats"]["instagram-square"]
    assert square["layout"]["badges"] == {"new": "corner", "discount": "beside"}
    places = {e["text"]: e["place"] for e in square["layout"]["elements"] if e["kind"] == "badge"}
    assert places["-18%"] == "beside" and places["NEW"] in ("corner", "above")
    mine.write_text(json.dumps({"formats": {"square": {"badges": {"discount": "sideways"}}}}), encoding="utf-8")
    capsys.readouterr()
    assert main([*common, "--out", str(tmp_path / "bad"), "--layout", str(mine)]) == 2
    err = capsys.readouterr().err
    assert "sideways" in err and "--layout" in err and err.count("\n") == 1
