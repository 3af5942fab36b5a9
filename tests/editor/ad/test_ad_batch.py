"""Batch: many photos (files or a zip), one copy or a CSV per product, every format, one zip,
progress per product, a failing product reported without stopping the rest."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from PIL import Image

from editor.ad import AdRequest, AdWorkflow
from editor.ad.batch import BatchEvent, batch_items, read_copy_csv, read_products, run_batch
from editor.ad.samples import product_shot
from editor.errors import InputError


def png_bytes(colour) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(product_shot("plain", 96, 96, colour=colour).rgb).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def photos() -> dict[str, bytes]:
    return {"딸기잼.png": png_bytes((178, 34, 52)), "blueberry.png": png_bytes((40, 60, 150)),
            "matcha.jpg": png_bytes((70, 120, 60))}


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_products_come_from_files_and_zips_and_other_files_are_skipped(photos, tmp_path):
    archive = zip_of({"shop/딸기잼.png": photos["딸기잼.png"], "__MACOSX/shop/._딸기잼.png": b"junk",
                      "shop/readme.txt": b"hi", "shop/blueberry.png": photos["blueberry.png"]})
    (tmp_path / "photos.zip").write_bytes(archive)
    (tmp_path / "matcha.jpg").write_bytes(photos["matcha.jpg"])
    found = read_products([tmp_path / "photos.zip", tmp_path / "matcha.jpg"])
    assert [name for name, _ in found] == ["shop/blueberry.png", "shop/딸기잼.png", "matcha.jpg"]
    with pytest.raises(InputError) as info:
        read_products([("notes.txt", b"hello")])
    assert info.value.key == "batch_no_products"
    with pytest.raises(InputError) as info:
        read_products([("broken.zip", b"PK\x03\x04garbage")])
    assert info.value.key == "batch_bad_zip"


def test_a_korean_excel_csv_gives_copy_per_product():
    text = "파일,제목,부제,가격,정가,버튼\n딸기잼.png,봄 딸기잼,국내산 딸기 100%,\"9,900원\",\"12,000원\",구매하기\nblueberry,블루베리잼,,\"8,900원\",,\n"
    rows = read_copy_csv(text.encode("cp949"))  # what Excel saves on a Korean Windows
    assert rows[0] == {"file": "딸기잼.png", "headline": "봄 딸기잼", "subline": "국내산 딸기 100%", "price": "9,900원",
                       "old_price": "12,000원", "cta": "구매하기"}
    assert rows[1]["file"] == "blueberry" and rows[1]["headline"] == "블루베리잼"
    assert read_copy_csv(("\ufeff" + "file,headline\na.png,hi\n").encode("utf-8")) == [{"file": "a.png", "headline": "hi"}]
    with pytest.raises(InputError) as info:
        read_copy_csv("name,text\na,b\n")
    assert info.value.key == "batch_csv_columns"


def test_the_apps_own_korean_labels_are_read_as_headers_and_a_csv_file_names_the_batch(tmp_path):
    from editor.ad.batch import source_name

    rows = read_copy_csv("사진,제목,부제,가격,행동 유도 문구\na.png,신메뉴,딸기 라떼,5500원,지금 주문하기\n")
    assert rows == [{"file": "a.png", "headline": "신메뉴", "subline": "딸기 라떼", "price": "5500원",
                     "cta": "지금 주문하기"}]
    assert source_name(str(tmp_path / "봄 메뉴.csv")) == "봄 메뉴"
    assert source_name(b"file,headline\n") is None and source_name("file,headline\na,b\n") is None


def test_items_match_csv_rows_by_file_name_and_fall_back_to_the_shared_copy(photos):
    products = [(name, data) for name, data in photos.items()]
    rows = [{"file": "딸기잼.png", "headline": "봄 딸기잼"}, {"file": "ghost.png", "headline": "없음"}]
    items, notes = batch_items(products, copy={"headline": "신상 입고"}, csv_rows=rows)
    assert {i.name: i.copy["headline"] for i in items} == {"딸기잼": "봄 딸기잼", "blueberry": "신상 입고", "matcha": "신상 입고"}
    assert any("ghost.png" in n for n in notes)
    only_csv, notes = batch_items(products, csv_rows=rows)
    assert [i.name for i in only_csv] == ["딸기잼"] and any("blueberry.png" in n for n in notes)
    same_stem, _ = batch_items([("a/x.png", b"1"), ("b/x.png", b"2")], copy={"headline": "h"})
    assert [i.name for i in same_stem] == ["x", "x-2"]


def test_every_product_in_every_format_lands_in_one_zip_with_progress(photos, tmp_path):
    products = list(photos.items()) + [("broken.png", b"\x89PNG not really")]
    items, notes = batch_items(products, copy={"headline": "오늘의 신상", "price": "9,900원", "cta": "구매하기"})
    events: list[BatchEvent] = []
    template = AdRequest(product=None, headline="", formats=("square", "instagram-square", "story"), scale=0.2)
    out = io.BytesIO()  # any binary file; the Studio gives a file on disk
    result = run_batch(AdWorkflow(), items, template, out, progress=events.append, notes=notes)
    assert result.formats == ("instagram-square", "story")  # listed twice, built once
    assert [(e.index, e.name, e.state) for e in events if e.state != "started"] == [
        (0, "딸기잼", "done"), (1, "blueberry", "done"), (2, "matcha", "done"), (3, "broken", "failed")]
    assert [e.state for e in events if e.name == "broken"] == ["started", "failed"] and events[-1].error
    assert result.done == 3
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
        image = Image.open(io.BytesIO(archive.read("딸기잼/story.png")))
        layout = json.loads(archive.read("blueberry/layout.json"))
    assert {f"{p}/{f}.png" for p in ("딸기잼", "blueberry", "matcha") for f in ("instagram-square", "story")} <= names
    assert not any(n.startswith("broken/") for n in names)
    assert image.size == (216, 384)
    assert set(layout["formats"]) == {"instagram-square", "story"}
    assert manifest["formats"] == ["instagram-square", "story"]
    failed = [i for i in manifest["items"] if i["status"] == "failed"]
    assert [i["name"] for i in failed] == ["broken"] and "\n" not in failed[0]["error"]


def test_a_product_built_alone_matches_the_same_product_in_the_batch(photos, tmp_path):
    items, _ = batch_items([("딸기잼.png", photos["딸기잼.png"])], copy={"headline": "오늘의 신상"})
    out = io.BytesIO()
    run_batch(AdWorkflow(), items, AdRequest(product=None, headline="", formats=("banner",), scale=0.2), out)
    alone = AdWorkflow().run(AdRequest(product=photos["딸기잼.png"], headline="오늘의 신상", formats=("banner",), scale=0.2))
    with zipfile.ZipFile(out) as archive:
        batch_image = Image.open(io.BytesIO(archive.read("딸기잼/web-banner.png"))).convert("RGB")
    assert batch_image.tobytes() == alone.images["web-banner"].tobytes()
