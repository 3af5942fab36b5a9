"""In a real headless Chromium: a text file uploaded as the ad's product photo gets our one line, in
Korean for a Korean browser, as a notification (never Gradio's "Could not preprocess ... <path>")."""

from __future__ import annotations

import pytest

from tests.app.app_server import running_app
from tests.app.test_browser_e2e import browser, open_page, shot  # noqa: F401 - `browser` is a fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def app():
    with running_app() as running:
        yield running


@pytest.mark.parametrize("locale, tab, expected", [
    ("ko-KR", "광고", "'notes.png'은(는) 읽을 수 있는 이미지가 아닙니다"),
    ("en-US", "Ad", "'notes.png' is not an image Intact can read"),
])
def test_a_text_file_as_the_product_photo_gets_our_message_in_the_browsers_language(app, browser, tmp_path,  # noqa: F811
                                                                                     locale, tab, expected):
    bad = tmp_path / "notes.png"
    bad.write_text("this is a text file, not a picture")
    page = open_page(browser, app, locale=locale)
    page.get_by_role("tab", name=tab).click()
    page.locator("#ad-product input[type=file]").set_input_files(str(bad))
    page.wait_for_timeout(1500)
    page.locator("#ad-cutout").click()
    toast = page.locator(".toast-body.error").first
    toast.wait_for(timeout=60_000)
    text = toast.inner_text()
    shot(page, f"bad-upload-{locale}")
    assert expected in text, text
    assert "preprocess" not in text and "/tmp" not in text
    page.context.close()
