"""Tap to select, under the Edit tab's brush editor: tap the thing to change instead of painting it.

The panel shows the editor's photo; each tap on it adds a point ("this", or "not this" while the
toggle is on) and the Studio's selection (`Studio.select`) comes back as a tinted overlay with the
taps marked. Undo takes the last tap back; grow/shrink, feather and "select the rest" adjust the
mask; "Use as mask" puts it into the editor's brush layer, where the brush and eraser correct it.

The selection runs on the picture the editor holds (a phone photo is there as its screen-size copy,
`ui.photo`), which is larger than the selection's ~1 MP work copy anyway; the edit later scales the
brush layer to the full photo as it does for painted masks. The panel's state (the picture, the
taps, the last mask) lives in the session, on the server.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr
import numpy as np
from PIL import Image, ImageDraw

from editor.images import load_image
from editor.select.request import SelectRequest
from editor.studio import JobContext
from ui.feedback import user_errors
from ui.i18n import lang_of, t, tr
from ui.imaging import overlay_mask

BRUSH_RGB = (0xFF, 0x28, 0x78)  # the Edit tab's brush colour: the mask reads as painted strokes
DOT_RADIUS = 0.012  # share of the picture's shorter side
VIEW_HEIGHT = 420  # CSS pixels: the picture's box


@dataclass
class SelectState:
    picture: np.ndarray | None = None  # RGB uint8: the editor's photo when the panel took it
    taps: list = field(default_factory=list)  # (x, y, positive), picture pixels
    mask: np.ndarray | None = None  # float32 at the picture's size


def with_taps(picture: np.ndarray, mask: np.ndarray | None, taps: list) -> Image.Image:
    """The picture with the selection tinted and outlined, "this" taps as green dots, "not this" red."""
    image = Image.fromarray(picture)
    if mask is not None:
        image = overlay_mask(image, mask)
    draw = ImageDraw.Draw(image)
    r = max(4, round(DOT_RADIUS * min(picture.shape[:2])))
    for x, y, positive in taps:
        colour = (40, 200, 90) if positive else (230, 40, 40)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour, outline=(255, 255, 255), width=max(1, r // 4))
    return image


def view_scale(picture: np.ndarray) -> float:
    """How much larger than the picture the panel sends it: at least the box's height.

    Why: Gradio 6's image (ImagePreview) turns a click into image pixels assuming the picture is
    never drawn larger than its own size (its scale is capped at 1), so on a picture smaller than
    the box every click maps off by the enlargement, and one outside the picture's own size from the
    centre is dropped without a request: the "second tap gets no answer". A picture at least the
    box's height is never enlarged, so clicks map exactly; taps are divided back by this scale."""
    return max(1.0, VIEW_HEIGHT / picture.shape[0])


def shown_picture(picture: np.ndarray, mask: np.ndarray | None, taps: list) -> Image.Image:
    """`with_taps` at the size the panel shows it (`view_scale`)."""
    image = with_taps(picture, mask, taps)
    scale = view_scale(picture)
    if scale > 1.0:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR)
    return image


def tap_on_picture(picture: np.ndarray, index) -> tuple[float, float]:
    """The tap's position on the picture from the shown picture's pixel `index`."""
    scale = view_scale(picture)
    height, width = picture.shape[:2]
    return min(index[0] / scale, width - 1.0), min(index[1] / scale, height - 1.0)


def mask_layer(mask: np.ndarray) -> Image.Image:
    """The mask as a brush layer: the brush's colour, opaque where selected."""
    h, w = mask.shape
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[..., :3] = BRUSH_RGB
    rgba[..., 3] = np.clip(mask * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(rgba, "RGBA")


def editor_value(picture: np.ndarray, mask: np.ndarray) -> dict:
    """The brush editor's value with the selection painted in: the editor's own background (same size
    and pixels: the edit finds the full-size photo by them), the selection as its one brush layer at
    that size, and the composite as the editor draws them."""
    background = Image.fromarray(picture)
    layer = mask_layer(mask)
    composite = background.convert("RGBA")
    composite.alpha_composite(layer)
    return {"background": background, "layers": [layer], "composite": composite}


def take_photo(value) -> np.ndarray | None:
    if not value or value.get("background") is None:
        return None
    return load_image(value["background"], field="image").rgb


def run_selection(studio, session: str | None, state: SelectState, grow: int, feather: int, invert: bool) -> str:
    """Select with the state's taps (the Studio checks them); the mask goes into the state.
    Returns the status line's report part."""
    points = [(x, y) for x, y, positive in state.taps if positive]
    negatives = [(x, y) for x, y, positive in state.taps if not positive]
    if not points:
        state.mask = None
        return ""
    outcome = studio.select(SelectRequest(state.picture, points=points, negatives=negatives, grow_px=int(grow),
                                          feather_px=int(feather), invert=bool(invert)),
                            JobContext(session=session, save=False))
    state.mask = outcome.mask
    return f"{outcome.report['coverage']:.0%} · {outcome.report['seconds']:.1f}s"


def build_select_panel(services, editor, client_state) -> dict:
    """The panel, inside the current layout; wires itself to `editor` (the brush editor)."""
    state = gr.State(SelectState())
    with gr.Accordion(t("select.title"), open=False, elem_id="select-panel"):
        start = gr.Button(t("select.start"), size="sm", elem_id="select-start")
        view = gr.Image(type="pil", format="jpeg", label=t("select.view"), interactive=False, elem_id="select-view",
                        height=VIEW_HEIGHT)
        status = gr.Markdown(t("select.hint"), elem_id="select-status")
        negative = gr.Checkbox(False, label=t("select.negative"), elem_id="select-negative")
        with gr.Row():
            undo = gr.Button(t("select.undo"), size="sm", elem_id="select-undo")
            clear = gr.Button(t("select.clear"), size="sm", elem_id="select-clear")
            use = gr.Button(t("select.use"), size="sm", variant="primary", elem_id="select-use")
        grow = gr.Slider(-50, 50, value=0, step=1, label=t("select.grow"), elem_id="select-grow")
        feather = gr.Slider(0, 50, value=0, step=1, label=t("select.feather"), elem_id="select-feather")
        invert = gr.Checkbox(False, label=t("select.invert"), elem_id="select-invert")
    adjust = [grow, feather, invert]

    def session_of(client, request=None) -> str | None:
        """The browser session's id (its taps and the preparation go to the same replica by it)."""
        if request is not None and hasattr(client, "session_id"):
            return client.session_id(request)
        return getattr(client, "session", None)

    def shown(state: SelectState, lang: str, line: str):
        if state.picture is None:
            return state, None, tr(lang, "select.no_photo")
        text = tr(lang, "select.done", points=len(state.taps), report=line) if state.mask is not None \
            else tr(lang, "select.hint")
        return state, shown_picture(state.picture, state.mask, state.taps), text

    def on_start(state, value, request: gr.Request):
        lang = lang_of(request)
        with user_errors(lang):
            picture = take_photo(value)
        state = SelectState(picture)
        return shown(state, lang, "")

    def on_prepare(state, client, request: gr.Request):
        """Right after the photo is shown: prepare it, so the first tap answers like the next ones
        (a tap meanwhile waits for this preparation instead of repeating it); under serving, on the
        replica that will answer this session's taps."""
        if state.picture is not None:
            services.studio.prepare_select(state.picture, session_of(client, request))

    def on_tap(state, client, is_negative, grow, feather, invert, evt: gr.SelectData, request: gr.Request):
        lang = lang_of(request)
        if state.picture is None:
            return shown(state, lang, "")
        x, y = tap_on_picture(state.picture, evt.index)
        state.taps.append((float(x), float(y), not is_negative))
        try:
            with user_errors(lang):
                line = run_selection(services.studio, session_of(client, request), state, grow, feather, invert)
        except gr.Error:
            state.taps.pop()  # a refused tap leaves the selection as it was
            raise
        return shown(state, lang, line)

    def on_change(state, client, grow, feather, invert, request: gr.Request, undo_last: bool = False,
                  clear_all: bool = False):
        lang = lang_of(request)
        if state.picture is None:
            return shown(state, lang, "")
        if clear_all:
            state.taps.clear()
        elif undo_last and state.taps:
            state.taps.pop()
        with user_errors(lang):
            line = run_selection(services.studio, session_of(client, request), state, grow, feather, invert)
        return shown(state, lang, line)

    def on_undo(state, client, grow, feather, invert, request: gr.Request):
        return on_change(state, client, grow, feather, invert, request, undo_last=True)

    def on_clear(state, client, grow, feather, invert, request: gr.Request):
        return on_change(state, client, grow, feather, invert, request, clear_all=True)

    def on_use(state, value, request: gr.Request):
        lang = lang_of(request)
        if state.picture is None or state.mask is None:
            return gr.skip(), tr(lang, "select.nothing")
        return editor_value(state.picture, state.mask), tr(lang, "select.used")

    outputs = [state, view, status]
    start.click(on_start, [state, editor], outputs, api_visibility="private").then(
        on_prepare, [state, client_state], None, api_visibility="private", show_progress="hidden")
    # Every tap counts (a tap during a running selection waits for it, then runs).
    view.select(on_tap, [state, client_state, negative, *adjust], outputs, api_visibility="private",
                trigger_mode="multiple")
    undo.click(on_undo, [state, client_state, *adjust], outputs, api_visibility="private")
    clear.click(on_clear, [state, client_state, *adjust], outputs, api_visibility="private")
    # Sliders answer when let go (not at every step of a drag); the toggle when clicked.
    for slider in (grow, feather):
        slider.release(on_change, [state, client_state, *adjust], outputs, api_visibility="private")
    invert.input(on_change, [state, client_state, *adjust], outputs, api_visibility="private")
    use.click(on_use, [state, editor], [editor, status], api_visibility="private")
    return {"panel_state": state, "view": view}
