"""Batch ads: many product photos (files or a zip), one copy text or a CSV of copy per product,
every chosen format for each, all in one zip, with progress per product.

    items, notes = batch_items(read_products(files), copy={"headline": ...})    # one text for all
    items, notes = batch_items(read_products(["photos.zip"]), csv_rows=read_copy_csv("copy.csv"))
    with open("ads.zip", "wb") as out:
        result = run_batch(AdWorkflow(), items, AdRequest(product=None, headline="", formats=("square", "story")),
                           out, progress=print)

The zip holds `<product>/<format>.png`, `<product>/layout.json` (the layouts, to adjust and
re-render one product later) and `manifest.json` (formats, and per product its files or the
one-line reason it failed). A format listed twice ("square" and "instagram-square") is built once.
A product that fails (an unreadable photo, copy that does not fit) is reported and the batch
goes on. The zip is written into a file the caller opened, one product at a time, so a batch of
200 products never holds its zip in memory; the caller makes it appear atomically.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable

from editor.ad.design import layouts_to_json
from editor.ad.formats import unique_formats
from editor.errors import InputError, IntactError
from models.data_files import open_regular

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")
MAX_ITEMS = 200
MAX_ARCHIVE_BYTES = 1 << 30  # uncompressed, over all members of a zip of photos
MAX_MEMBER_BYTES = 256 << 20  # one photo, unpacked: above a 40 MP 16-bit TIFF
# Photos are compressed already (PNG, JPEG, WebP): zip shrinks them little. Even an uncompressed
# BMP of a product on white stays far below 100:1; zeros reach 1000:1.
MAX_RATIO, RATIO_SLACK = 100, 1 << 20
MAX_CSV_BYTES = 16 << 20  # copy for 200 products is a few hundred kilobytes
COPY_FIELDS = ("headline", "subline", "price", "old_price", "cta")
# CSV headers a shop may use, English or Korean, per copy field.
CSV_HEADERS = {
    "file": ("file", "filename", "image", "photo", "product", "파일", "파일명", "이미지", "사진", "상품"),
    "headline": ("headline", "title", "제목", "헤드라인"),
    "subline": ("subline", "sub-line", "subtitle", "description", "부제", "부제목", "설명", "서브"),
    "price": ("price", "가격", "판매가", "할인가"),
    "old_price": ("old_price", "old price", "정가", "원가", "이전가격", "이전 가격"),
    "cta": ("cta", "call to action", "button", "버튼", "행동유도", "행동 유도 문구"),  # + the app's own labels
}


def source_name(source) -> str | None:
    """The name a file was given (its stem), for naming what is made from it; None for bytes or text."""
    if isinstance(source, os.PathLike) or (isinstance(source, str) and "\n" not in source and source.strip()):
        return Path(source).stem or None
    return None


@dataclass(frozen=True)
class BatchItem:
    name: str  # unique within the batch; the folder name in the zip
    product: Any  # bytes, a path, or an array
    copy: dict  # COPY_FIELDS -> text


@dataclass(frozen=True)
class BatchEvent:
    """Progress of one product: `state` is "started", "done" or "failed" (`error` then says why)."""

    index: int
    total: int
    name: str
    state: str
    error: str | None = None


@dataclass
class BatchResult:
    formats: tuple[str, ...]
    items: list[dict] = field(default_factory=list)  # name, status, files, error
    notes: list[str] = field(default_factory=list)

    @property
    def done(self) -> int:
        return sum(1 for item in self.items if item["status"] == "done")


def _safe_name(name: str) -> str:
    stem = unicodedata.normalize("NFC", Path(str(name).replace("\\", "/")).stem)
    return re.sub(r"[^\w.-]+", "-", stem, flags=re.UNICODE).strip("-.") or "product"


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    taken.add(candidate)
    return candidate


def _too_many() -> InputError:
    return InputError(f"A batch takes at most {MAX_ITEMS} product photos.", key="batch_too_many", field="products",
                      limit=MAX_ITEMS)


def _from_zip(data: bytes) -> list[tuple[str, bytes]]:
    """The photos in a zip, each read in chunks against its declared size, MAX_MEMBER_BYTES, the
    compression ratio a photo can have, and MAX_ARCHIVE_BYTES over all of them: a zip bomb (a
    megabyte that unpacks to a gigabyte of zeros) is refused from its directory, or while
    streaming when the directory lies, before any photo is decoded."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise InputError("The zip file is damaged or not a zip.", key="batch_bad_zip", field="products") from None
    members = [m for m in archive.infolist() if not m.is_dir() and Path(m.filename).suffix.lower() in IMAGE_SUFFIXES
               and not any(part.startswith((".", "__MACOSX")) for part in Path(m.filename).parts)]
    if len(members) > MAX_ITEMS:
        raise _too_many()
    if sum(m.file_size for m in members) > MAX_ARCHIVE_BYTES:
        raise _zip_too_large()
    for m in members:
        if m.file_size > MAX_MEMBER_BYTES or m.file_size > MAX_RATIO * m.compress_size + RATIO_SLACK:
            raise _zip_bomb(m.filename)
    out, total = [], 0
    for m in sorted(members, key=lambda m: m.filename):
        chunks, size = [], 0
        try:
            with archive.open(m) as fh:
                while chunk := fh.read(1 << 20):
                    size += len(chunk)
                    total += len(chunk)
                    if size > m.file_size or size > MAX_MEMBER_BYTES or size > MAX_RATIO * m.compress_size + RATIO_SLACK:
                        raise _zip_bomb(m.filename)
                    if total > MAX_ARCHIVE_BYTES:
                        raise _zip_too_large()
                    chunks.append(chunk)
        except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError, ValueError) as exc:
            # A bad CRC, a truncated member, an unsupported or encrypted method: the zip is damaged.
            if isinstance(exc, InputError):
                raise
            raise InputError(f"The zip file is damaged: {_short(m.filename)} cannot be unpacked.", key="batch_zip_member",
                             field="products", name=_short(m.filename)) from None
        out.append((m.filename, b"".join(chunks)))
    return out


def _short(name: str) -> str:
    return name if len(name) <= 80 else name[:79] + "…"


def _zip_too_large() -> InputError:
    return InputError(f"The photos in the zip are too large together (over {MAX_ARCHIVE_BYTES >> 20} MB unpacked).",
                      key="batch_zip_too_large", field="products")


def _zip_bomb(name: str) -> InputError:
    return InputError(f"The zip file is refused: {_short(name)} unpacks to far more than a photo (a zip bomb?).",
                      key="batch_zip_bomb", field="products", name=_short(name))


def read_products(sources: Iterable) -> list[tuple[str, bytes]]:
    """(file name, bytes) of every product photo in `sources`: image files, zips of them, or
    (name, bytes) pairs. Zips are opened here; files that are not images are skipped."""
    found: list[tuple[str, bytes]] = []
    for source in sources:
        if isinstance(source, tuple):
            name, data = source
        else:
            path = Path(source)
            try:
                with open_regular(path) as fh:  # a named pipe is refused, never waited on
                    data = fh.read()
            except OSError:
                raise InputError(f"The file {path.name} cannot be read.", key="batch_unreadable", field="products",
                                 name=path.name) from None
            name = path.name
        if str(name).lower().endswith(".zip") or data[:4] == b"PK\x03\x04":
            found.extend(_from_zip(data))
        elif Path(str(name)).suffix.lower() in IMAGE_SUFFIXES:
            found.append((str(name), data))
        if len(found) > MAX_ITEMS:
            raise _too_many()
    if not found:
        raise InputError("No product photos were found (PNG, JPEG, WebP, ...).", key="batch_no_products", field="products")
    return found


def _decode_csv(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp949"):  # Korean Excel saves CSV as CP949 unless told otherwise
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError("The CSV file is not UTF-8 or CP949 text.", key="batch_csv_encoding", field="csv")


def read_copy_csv(source) -> list[dict]:
    """Rows of copy from a CSV (path, bytes or text): a `file` column naming the photo and any of
    headline, subline, price, old_price, cta (English or Korean headers)."""
    if isinstance(source, (bytes, bytearray)):
        text = _decode_csv(bytes(source))
    elif isinstance(source, str) and "\n" in source:
        text = source
    else:
        try:
            with open_regular(source) as fh:
                data = fh.read(MAX_CSV_BYTES + 1)
        except OSError:
            raise InputError("The CSV file cannot be read.", key="batch_csv_unreadable", field="csv") from None
        if len(data) > MAX_CSV_BYTES:
            raise InputError(f"The CSV file is over {MAX_CSV_BYTES >> 20} MB.", key="batch_csv_too_large", field="csv")
        text = _decode_csv(data)
    reader = csv.reader(io.StringIO(text))
    try:
        rows = [row for row in reader if any(cell.strip() for cell in row)]
    except csv.Error:  # a field over csv.field_size_limit() (131,072 characters), a NUL byte...
        raise InputError(f"The CSV file cannot be read at line {reader.line_num}: a cell is too long or broken.",
                         key="batch_csv_broken", field="csv", line=reader.line_num) from None
    if not rows:
        raise InputError("The CSV file is empty.", key="batch_csv_empty", field="csv")
    header = [unicodedata.normalize("NFC", h).strip().lower() for h in rows[0]]
    columns: dict[str, int] = {}
    for key, names in CSV_HEADERS.items():
        for i, h in enumerate(header):
            if h in names and key not in columns:
                columns[key] = i
    if "file" not in columns or not any(k in columns for k in COPY_FIELDS):
        raise InputError("The CSV needs a 'file' column and at least a 'headline' column.", key="batch_csv_columns",
                         field="csv")
    out = []
    for row in rows[1:]:
        entry = {key: (row[i].strip() if i < len(row) else "") for key, i in columns.items()}
        if entry.get("file"):
            out.append(entry)
    return out


def batch_items(products: list[tuple[str, bytes]], copy: dict | None = None, csv_rows: list[dict] | None = None
                ) -> tuple[list[BatchItem], list[str]]:
    """One item per product with its copy (its CSV row, else the shared `copy`), and notes about
    photos without copy and CSV rows without a photo."""
    by_file: dict[str, dict] = {}
    for row in csv_rows or ():
        file = unicodedata.normalize("NFC", row["file"]).strip()
        by_file[file] = row
        by_file.setdefault(Path(file).name, row)
        by_file.setdefault(Path(file).stem, row)
    notes: list[str] = []
    items: list[BatchItem] = []
    taken: set[str] = set()
    used: set[int] = set()
    for name, data in products:
        norm = unicodedata.normalize("NFC", name)
        row = by_file.get(norm) or by_file.get(Path(norm).name) or by_file.get(Path(norm).stem)
        if row is not None:
            used.add(id(row))
            text = {k: row.get(k, "") for k in COPY_FIELDS}
        elif copy is not None:
            text = {k: str(copy.get(k) or "") for k in COPY_FIELDS}
        else:
            notes.append(f"{Path(norm).name}: no copy text for this photo; skipped")
            continue
        items.append(BatchItem(_unique(_safe_name(norm), taken), data, text))
    for row in csv_rows or ():
        if id(row) not in used:
            notes.append(f"{row['file']}: listed in the CSV but no such photo was given")
    if not items:
        raise InputError("No product photo has copy text to go with it.", key="batch_no_items", field="csv")
    return items, notes


def run_batch(runner, items: list[BatchItem], template, out: BinaryIO,
              progress: Callable[[BatchEvent], None] | None = None, notes: Iterable[str] = ()) -> BatchResult:
    """Build every format of `template` (an AdRequest: formats, background, brand, layouts, scale...)
    for every item with `runner` (anything with AdWorkflow's `run`); the item gives the product and
    its copy. The zip, with a manifest, is written to `out` (a binary file, seekable or not)."""
    from dataclasses import replace

    from editor.storage import encode_png

    names = unique_formats(template.formats)
    if not names:
        raise InputError("Pick at least one ad format.", key="ad_no_format", field="formats")
    template = replace(template, formats=names, out_dir=None)
    result = BatchResult(names, notes=list(notes))
    total = len(items)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:  # PNGs are compressed already
        for index, item in enumerate(items):
            if progress is not None:
                progress(BatchEvent(index, total, item.name, "started"))
            try:
                ad = runner.run(replace(template, product=item.product, **item.copy))
            except IntactError as exc:
                result.items.append({"name": item.name, "status": "failed", "files": [], "error": str(exc)})
                if progress is not None:
                    progress(BatchEvent(index, total, item.name, "failed", str(exc)))
                continue
            written = []
            for name in names:
                arcname = f"{item.name}/{name}.png"
                archive.writestr(arcname, encode_png(ad.images[name]))  # published: no record inside
                written.append(arcname)
            archive.writestr(f"{item.name}/layout.json", layouts_to_json(ad.layouts))
            written.append(f"{item.name}/layout.json")
            # A cut-out the checks doubt (a product left as a rectangle) is built, and said.
            doubtful = bool((ad.report.get("cutout") or {}).get("needs_review"))
            result.items.append({"name": item.name, "status": "done", "files": written, "error": None,
                                 "cutout_doubtful": doubtful})
            if progress is not None:
                progress(BatchEvent(index, total, item.name, "done"))
        manifest = {"formats": list(names), "items": result.items, "notes": result.notes}
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return result
