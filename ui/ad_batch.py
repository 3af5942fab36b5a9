"""The Ad tab's batch panel: many product photos (or a zip), the copy above or a CSV per product,
every chosen format for each, one zip; a progress bar per product and a line per product after.

A thin adapter: uploads -> `AdBatchRequest` (its template is the ad the tab would build, without
a product), the Studio runs it for this browser session and saves the zip as one record.
"""

from __future__ import annotations

from pathlib import Path

from editor.studio import AdBatchRequest, JobContext
from ui.i18n import tr


def batch_request(files, csv_file, template) -> AdBatchRequest:
    """Uploaded files (paths from gr.File) and the tab's ad settings as a batch request."""
    products = tuple(str(Path(getattr(f, "name", f))) for f in (files or []))
    csv = None if csv_file is None else str(Path(getattr(csv_file, "name", csv_file)))
    return AdBatchRequest(products, template, copy_csv=csv)


def run_batch(services, state, request: AdBatchRequest, progress=None, http_request=None):
    """(zip path, outcome) of the batch, run for this browser session."""
    outcome = services.studio.make_ads_batch(request, JobContext(session=state.session_id(http_request),
                                                                 owner=services.owner(http_request),
                                                                 progress=progress))
    return str(outcome.saved.files["zip"]), outcome


def batch_summary(lang: str, outcome) -> str:
    """One line per product (built, or why not) under a total, in the user's language."""
    report = outcome.report
    lines = [tr(lang, "ad.batch_done", done=report["done"], total=report["products"], seconds=f"{report['seconds']:.1f}")]
    for item in outcome.items:
        key = "ad.batch_item_done" if item["status"] == "done" else "ad.batch_item_failed"
        if item["status"] == "done" and item.get("cutout_doubtful"):
            key = "ad.batch_item_check"
        lines.append("- " + tr(lang, key, name=item["name"], error=item.get("error") or ""))
    lines += [f"- {note}" for note in report["notes"]]
    return "\n".join(lines)
