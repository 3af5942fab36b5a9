"""What the serving client sends instead of files only this machine can read: their bytes."""

from __future__ import annotations

from editor.studio import AdBatchRequest, AdRequest
from serving.client import portable


def test_a_batch_travels_with_its_photos_and_csv_read_here(tmp_path):
    photo, csv = tmp_path / "딸기잼.png", tmp_path / "copy.csv"
    photo.write_bytes(b"\x89PNG not really")
    csv.write_text("file,headline\n딸기잼.png,봄\n", encoding="utf-8")
    request = AdBatchRequest((str(photo), ("given.png", b"given")), AdRequest(product=None, headline="x"),
                             copy_csv=str(csv))
    sent = portable(request)
    assert sent.products == (("딸기잼.png", b"\x89PNG not really"), ("given.png", b"given"))
    assert sent.copy_csv == csv.read_bytes() and sent.template == request.template


def test_what_cannot_be_read_here_stays_as_it_was_for_the_replica_to_report(tmp_path):
    text = "file,headline\na.png,봄\n"
    request = AdBatchRequest((str(tmp_path / "missing.png"),), AdRequest(product=None, headline="x"), copy_csv=text)
    sent = portable(request)
    assert sent.products == (str(tmp_path / "missing.png"),) and sent.copy_csv == text
