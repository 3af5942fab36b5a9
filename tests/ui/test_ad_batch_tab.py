"""The ad tab's batch runs for the browser that asked: its results are that browser's own."""

from __future__ import annotations

import numpy as np
from PIL import Image

from editor.ad.backgrounds import DEFAULT_BACKDROP
from editor.studio import AdRequest
from ui.ad_batch import batch_request, run_batch
from ui.app_state import AppConfig, ClientState, Services


class Request:
    def __init__(self, session_hash):
        self.session_hash = session_hash


def test_a_batch_is_saved_under_the_browsers_owner_tag_and_it_may_delete_it(tmp_path):
    services = Services(AppConfig(model="tiny", output_dir=tmp_path / "out", private_gallery=True))
    page, after_reload, stranger = Request("page-1"), Request("page-2"), Request("page-3")
    services.browsers.remember("page-1", "b" * 32)
    services.browsers.remember("page-2", "b" * 32)
    services.browsers.remember("page-3", "c" * 32)
    photo = np.full((96, 96, 3), 245, np.uint8)
    photo[24:72, 30:66] = (150, 60, 30)  # a brown box on white: the product
    product = tmp_path / "box.png"
    Image.fromarray(photo).save(product)
    template = AdRequest(product=None, headline="신메뉴", formats=("instagram-square",), backdrop=DEFAULT_BACKDROP,
                         remover="offline", scale=0.25)

    zip_path, outcome = run_batch(services, ClientState(), batch_request([str(product)], None, template),
                                  http_request=page)
    assert zip_path.endswith(".zip")
    assert not services.studio.delete_result(outcome.saved.id, services.owner(stranger))
    assert services.studio.delete_result(outcome.saved.id, services.owner(after_reload))


def test_the_summary_warns_about_each_product_whose_cut_out_the_checks_doubt():
    from types import SimpleNamespace

    from ui.ad_batch import batch_summary

    outcome = SimpleNamespace(
        report={"done": 2, "products": 2, "seconds": 3.0, "notes": []},
        items=[{"name": "cat", "status": "done", "cutout_doubtful": True},
               {"name": "cup", "status": "done", "cutout_doubtful": False}])
    lines = batch_summary("ko", outcome).splitlines()
    assert lines[1].startswith("- ⚠ cat") and "누끼" in lines[1]
    assert lines[2] == "- ✓ cup"
