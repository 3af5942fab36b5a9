"""No dead ends: what a shop owner does after a mistake, in a Korean browser (ko-KR), tiny model.

Each flow makes the mistake people make (no photo, nothing painted, no product, an empty
prompt), reads the reason on the page, fixes it and runs again: the run buttons must be usable
again and the result shown. Also a double click, cancel then run again, a reload in the middle of
a job, "continue editing", the Generate button over two runs, the Gallery (a foreign result's
delete, new results without refresh), and the same at a phone's 390×844.

One app and one Chromium for the module (CI has 2 cores; `browser` is the Korean module's fixture). How long each flow took until the
button could be used again is written to test-artifacts/recovery-timings.json; screenshots go to
test-artifacts/ (the phone ones are kept in docs/screenshots/).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.app import test_browser_korean
from tests.app.app_server import running_app
from tests.app.test_browser_e2e import ARTIFACTS, shot
from tests.app.test_browser_korean import Messages, paint, saved_jobs, upload_to_editor

pytestmark = [pytest.mark.browser, pytest.mark.slow]

browser = test_browser_korean.browser  # one Chromium for the module

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1400, "height": 1000}
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with running_app(output_dir=tmp_path_factory.mktemp("recovery") / "outputs") as running:
        yield running


@pytest.fixture(scope="module", autouse=True)
def timings():
    """The seconds each flow took, written for the notes once the module has run."""
    yield TIMINGS
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "recovery-timings.json").write_text(json.dumps(TIMINGS, indent=2, ensure_ascii=False))


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("photos") / "photo.png"
    Image.fromarray(np.random.default_rng(5).integers(0, 256, (96, 128, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture(scope="module")
def product(tmp_path_factory) -> Path:
    from editor.ad.samples import product_shot

    path = tmp_path_factory.mktemp("products") / "product.png"
    Image.fromarray(product_shot("gradient", 160, 160).rgb).save(path)
    return path


def korean_page(browser, app, viewport=DESKTOP):
    context = browser.new_context(viewport=viewport, locale="ko-KR", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(app.url)
    page.wait_for_selector("#edit-editor")
    return page


def usable(page, selector: str, timeout_ms: float = 60_000) -> None:
    page.wait_for_function("(sel) => { const b = document.querySelector(sel); return b && !b.disabled; }",
                           arg=selector, timeout=timeout_ms)


def refused(page, button: str, status: str, reason: str, name: str) -> None:
    """Press `button` with something missing: the reason stays on the status line (not a bare
    error badge), a toast says it too, and the button is usable again; the seconds that took are
    kept as the flow's timing."""
    started = time.monotonic()
    page.locator(button).click()
    try:
        # The toast first: it belongs to this click (earlier ones were closed), where the status line
        # may still hold the same words from the previous refusal until this one's answer arrives.
        page.locator(".toast-body").filter(has_text=reason).first.wait_for(timeout=60_000)
        page.locator(status).filter(has_text=reason).wait_for(timeout=60_000)
    except Exception:
        shot(page, f"failed-{name.split(':')[0].replace(' ', '-')}")
        toasts = page.locator(".toast-body").all_inner_texts()
        pytest.fail(f"{status} says {page.locator(status).inner_text()!r}, not {reason!r}; toasts: {toasts}")
    usable(page, button)
    TIMINGS[name] = round(time.monotonic() - started, 2)
    close_toasts(page)


def close_toasts(page) -> None:
    """Close the toasts read so far, as a user would (the next flow's checks fail on an error toast)."""
    for button in page.locator(".toast-close").all():
        if button.is_visible():
            button.click()
    page.locator(".toast-body").first.wait_for(state="detached", timeout=10_000)


def no_english(messages: Messages) -> None:
    assert not (english := messages.english()), "\n".join(english)


def test_edit_after_each_mistake_runs_then_cancels_reloads_and_continues(app, browser, photo):
    page = korean_page(browser, app)
    messages = Messages(page)
    refused(page, "#edit-run", "#edit-status", "먼저 사진을 올리세요", "edit: no photo -> button usable")
    upload_to_editor(page, "#edit-editor", photo)
    refused(page, "#edit-run", "#edit-status", "입력하세요", "edit: no target words -> button usable")
    page.locator("#edit-target textarea").fill("선글라스를 쓴 얼굴")
    refused(page, "#edit-run", "#edit-status", "바꿀 부분을 붓으로 먼저 칠하세요", "edit: nothing painted -> button usable")
    shot(page, "recovery-edit-1-refused")
    paint(page, "#edit-editor")
    # The model here reads English and the word list knows none of these words: never run with an
    # empty prompt; the owner writes the English in the box that shows the words left out.
    english = page.locator("#edit-target-en textarea")
    english.wait_for(state="visible")
    assert "선글라스를" in page.locator("#edit-target-note").inner_text()
    refused(page, "#edit-run", "#edit-status", "영어로 옮기지 못했습니다", "edit: untranslatable words -> button usable")
    english.fill("a face with sunglasses")
    started = time.monotonic()
    page.locator("#edit-run").dblclick()  # a double click runs one edit
    messages.wait_for("#edit-status", "완료")
    usable(page, "#edit-run")
    TIMINGS["edit: fixed -> result shown, button usable"] = round(time.monotonic() - started, 2)
    page.locator("#edit-compare img").first.wait_for()
    page.wait_for_timeout(1500)
    assert len(saved_jobs(app, "edit")) == 1
    shot(page, "recovery-edit-2-result")

    # Cancel, then run again.
    page.locator("#edit-run").click()
    page.locator("#edit-cancel").click()
    messages.wait_for("#edit-status", "취소|완료")  # the tiny model may finish before the cancel lands
    usable(page, "#edit-run")
    page.locator("#edit-target textarea").fill("모자를 쓴 얼굴")
    page.locator("#edit-run").click()
    messages.wait_for("#edit-status", "완료")
    usable(page, "#edit-run")

    # Continue editing from the result: the editor holds it within 60 s.
    started = time.monotonic()
    page.locator("#edit-continue").click()
    page.locator("#edit-status").filter(has_text="결과가 이제 편집할 이미지입니다").wait_for(timeout=60_000)
    page.locator("#edit-editor").get_by_text("사진 올리기").wait_for(state="hidden", timeout=60_000)
    page.locator("#edit-editor canvas").first.wait_for(timeout=60_000)
    TIMINGS["edit: continue editing -> result in the editor"] = round(time.monotonic() - started, 2)
    shot(page, "recovery-edit-3-continued")

    # A reload in the middle of a job: the page comes back usable and the next edit runs.
    paint(page, "#edit-editor")
    page.locator("#edit-run").click()
    page.wait_for_timeout(300)
    page.reload()
    page.wait_for_selector("#edit-editor")
    usable(page, "#edit-run")
    messages.read()
    no_english(messages)
    page.context.close()


def test_generate_keeps_its_label_and_recovers_from_an_empty_prompt(app, browser):
    page = korean_page(browser, app)
    messages = Messages(page)
    page.get_by_role("tab", name="생성").click()
    label = page.locator("#gen-run").inner_text().strip()
    refused(page, "#gen-run", "#gen-status", "프롬프트를 쓰거나 프리셋을 고르세요", "generate: empty prompt -> button usable")
    seen_off = []
    for run, words in enumerate(("딸기 케이크와 라떼", "초코 케이크와 라떼")):  # each run's line differs
        page.locator("#gen-prompt textarea").fill(words)
        before = page.locator("#gen-status").inner_text()
        started = time.monotonic()
        page.locator("#gen-run").click()
        # Off while it runs (checked every few ms until the new result line is there).
        seen_off.append(page.wait_for_function(
            """([old]) => { const b = document.querySelector('#gen-run');
                           if (b.disabled) return 'off';
                           const text = document.querySelector('#gen-status').innerText;
                           return text !== old && /장 · .*단계/.test(text) ? 'done' : false; }""",
            arg=[before], polling=20).json_value())
        page.wait_for_function("([old]) => { const t = document.querySelector('#gen-status').innerText;"
                               " return t !== old && /장 · .*단계/.test(t); }", arg=[before])
        usable(page, "#gen-run")
        TIMINGS[f"generate: run {run + 1} -> result shown, button usable"] = round(time.monotonic() - started, 2)
        assert page.locator("#gen-run").inner_text().strip() == label
    assert "off" in seen_off  # the button was off while a job ran
    page.locator("#gen-results img").first.wait_for()
    shot(page, "recovery-generate")
    no_english(messages)
    page.context.close()


def test_ad_recovers_from_a_missing_product_and_builds(app, browser, product):
    page = korean_page(browser, app)
    messages = Messages(page)
    page.get_by_role("tab", name="광고").click()
    refused(page, "#ad-cutout", "#ad-status", "먼저 상품 사진을 올리세요", "ad: cut-out without product -> usable")
    refused(page, "#ad-build", "#ad-status", "먼저 상품 사진을 올리세요", "ad: build without product -> usable")
    page.locator("#ad-product input[type=file]").set_input_files(str(product))
    page.locator("#ad-product img").first.wait_for()
    page.locator("#ad-headline textarea, #ad-headline input").first.fill("신메뉴 출시")
    started = time.monotonic()
    page.locator("#ad-build").click()
    messages.wait_for("#ad-status", "규격을 만들었습니다")
    usable(page, "#ad-build")
    usable(page, "#ad-cutout")
    TIMINGS["ad: fixed -> ad built, buttons usable"] = round(time.monotonic() - started, 2)
    page.locator("#ad-previews img").first.wait_for()
    shot(page, "recovery-ad-built")
    no_english(messages)
    page.context.close()


def test_gallery_shows_new_results_and_says_why_a_foreign_result_stays(app, browser, photo):
    assert saved_jobs(app, "edit"), "runs after the edit flow (module order)"
    stranger = korean_page(browser, app)  # another browser: its own id, not the owner of the results
    messages = Messages(stranger)
    stranger.get_by_role("tab", name="갤러리").click()
    stranger.locator("#gallery-grid img").first.wait_for(timeout=30_000)  # listed without pressing refresh
    count = stranger.locator("#gallery-grid .thumbnail-item, #gallery-grid button img").count()
    stranger.locator("#gallery-delete").click()
    stranger.locator("#gallery-status").filter(has_text="이 브라우저에서 만든 결과만 삭제할 수 있습니다").wait_for()
    assert stranger.locator("#gallery-grid img").count() >= 1  # the grid stays; no bare error badge
    assert stranger.locator("#gallery-grid .error").count() == 0
    assert stranger.locator("#gallery-grid .thumbnail-item, #gallery-grid button img").count() == count
    shot(stranger, "recovery-gallery-foreign-delete")

    # A new result made in another tab of the app shows when the Gallery is opened again.
    before = len(saved_jobs(app, "generate"))
    stranger.get_by_role("tab", name="생성").click()
    stranger.locator("#gen-prompt textarea").fill("립스틱과 향수병")
    stranger.locator("#gen-run").click()
    messages.wait_for("#gen-status", "장 · .*단계")
    assert len(saved_jobs(app, "generate")) == before + 1
    stranger.get_by_role("tab", name="갤러리").click()
    stranger.locator("#gallery-status").filter(has_text="립스틱과 향수병").wait_for(timeout=30_000)
    messages.read()
    no_english(messages)
    stranger.context.close()


def test_the_phone_layout_keeps_labels_editors_and_pictures_in_view(app, browser, photo):
    page = korean_page(browser, app, viewport=PHONE)
    messages = Messages(page)
    page.locator("#edit-model-note").filter(has_text="tiny").wait_for()  # the page-load texts are in
    refused(page, "#edit-run", "#edit-status", "먼저 사진을 올리세요", "phone edit: no photo -> button usable")
    upload_to_editor(page, "#edit-editor", photo)
    # The editor's label is shown and not under its zoom toolbar (drawn once there is a picture).
    page.locator("#edit-editor").scroll_into_view_if_needed()
    page.locator("#edit-editor .zoom-number").first.wait_for()
    label, bar = page.evaluate("""() => {
        const label = document.querySelector('#edit-editor [data-testid="block-label"]');
        let bar = document.querySelector('#edit-editor .zoom-number');
        while (bar && bar.getBoundingClientRect().width < 100) bar = bar.parentElement;
        const box = (e) => e && e.checkVisibility() ? e.getBoundingClientRect().toJSON() : null;
        return [box(label), box(bar)]; }""")
    shot(page, "phone-edit", full_page=False)
    assert label is not None and bar is not None
    assert (label["right"] <= bar["left"] or bar["right"] <= label["left"] or label["bottom"] <= bar["top"]
            or bar["bottom"] <= label["top"]), f"the label {label} lies under the toolbar {bar}"

    page.get_by_role("tab", name="광고").click()
    page.locator("#ad-product").wait_for()
    # The empty cut-out editor is folded away until there is a cut-out to fix.
    assert not page.locator("#ad-mask-editor").is_visible()
    shot(page, "phone-ad", full_page=False)
    height = page.evaluate("() => document.documentElement.scrollHeight")
    TIMINGS["phone: ad tab page height (px)"] = height

    page.get_by_role("tab", name="갤러리").click()
    picture = page.locator("#gallery-grid img").first
    picture.wait_for(timeout=30_000)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.wait_for_timeout(300)
    box = picture.bounding_box()
    assert box["y"] < PHONE["height"], f"the first picture starts at {box['y']:.0f} px, below the fold"
    shot(page, "phone-gallery", full_page=False)
    messages.read()
    no_english(messages)
    page.context.close()


def test_buttons_answered_off_the_queue_say_why_on_the_page(app, browser):
    """Continue editing, the brand kit's save and the Gallery's buttons are answered off the queue
    (they never wait behind a GPU job); Gradio shows such an event's error as a bare "Error" badge
    without its words. Each says its reason on its own line instead, in Korean."""
    page = korean_page(browser, app)
    started = time.monotonic()
    page.locator("#edit-continue").click()
    page.locator("#edit-status").filter(has_text="아직 이어서 편집할 결과가 없습니다").wait_for(timeout=60_000)
    page.get_by_role("tab", name="광고").click()
    page.locator("#ad-brand").get_by_text("브랜드 키트").first.click()
    page.locator("#ad-brand-save").click()
    page.locator("#ad-brand-message").filter(has_text="가게 이름을 입력하세요").wait_for(timeout=60_000)
    page.locator("#ad-brand-name input, #ad-brand-name textarea").first.fill("카페 온도")
    page.locator("#ad-brand-save").click()  # fixed, the same button saves
    page.locator("#ad-brand-message").filter(has_text="카페 온도").wait_for(timeout=60_000)
    TIMINGS["off-queue refusals, then the brand kit saved"] = round(time.monotonic() - started, 2)
    shot(page, "off-queue-brand-saved")
    page.context.close()
