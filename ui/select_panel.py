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
from ui.feedback import said_on_page, user_errors
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

    def take(self, picture: np.ndarray | None) -> bool:
        """Hold `picture`; whether that changed anything. Another photo starts a new selection;
        the same one keeps the taps, so taking it again (opening the panel and pressing its button
        at once: two events answered side by side) never loses a tap made meanwhile. The state is
        changed in place for that."""
        if picture is not None and self.picture is not None and np.array_equal(picture, self.picture):
            return False
        self.picture, self.mask = picture, None
        self.taps.clear()
        return True


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
    and pixels: the edit finds the full-size photo by them) and the selection as its one brush layer
    at that size.

    No composite: Gradio 6's editor draws a value's composite, when there is one, as its background
    picture, so a composite with the layer drawn in would bake the pink into the photo (shown twice,
    never erasable, and the edit would no longer recognise the photo)."""
    return {"background": Image.fromarray(picture), "layers": [mask_layer(mask)], "composite": None}


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


@dataclass(frozen=True)
class PanelText:
    """The i18n keys a tap panel shows where its job differs (the Edit tab's by default; the Ad
    tab's product panel, `ui.ad_select`, has its own)."""

    title: str = "select.title"
    start: str = "select.start"
    view: str = "select.view"
    hint: str = "select.hint"
    use: str = "select.use"
    no_photo: str = "select.no_photo"
    done: str = "select.done"
    used: str = "select.used"


def build_select_panel(services, editor, client_state) -> dict:
    """The Edit tab's panel, inside the current layout; wires itself to `editor` (the brush editor)."""

    def take(value):
        return take_photo(value)

    def use(state: SelectState, value):
        return editor_value(state.picture, state.mask)

    return build_tap_panel(services, client_state, take=(take, [editor]), use=(use, [editor], [editor]))


def build_tap_panel(services, client_state, *, take: tuple, use: tuple, text: PanelText = PanelText(),
                    prefix: str = "select") -> dict:
    """A tap-to-select panel inside the current layout.

    take = (fn, inputs): `fn(*values)` returns the picture to select on (RGB uint8) or None, and
    may raise what `user_errors` shows. use = (fn, inputs, outputs): `fn(state, *values)` returns
    the outputs' values for the selection in `state` (called only with a mask), or raises.
    Elements are named `{prefix}-…`. Returns the panel (its accordion), its state, picture, and
    the "use" event (for steps after it)."""
    take_fn, take_inputs = take
    use_fn, use_inputs, use_outputs = use
    state = gr.State(SelectState())
    with gr.Accordion(t(text.title), open=False, elem_id=f"{prefix}-panel") as panel:
        start = gr.Button(t(text.start), size="sm", elem_id=f"{prefix}-start")
        view = gr.Image(type="pil", format="jpeg", label=t(text.view), interactive=False, elem_id=f"{prefix}-view",
                        height=VIEW_HEIGHT)
        status = gr.Markdown(t(text.hint), elem_id=f"{prefix}-status")
        negative = gr.Checkbox(False, label=t("select.negative"), elem_id=f"{prefix}-negative")
        with gr.Row():
            undo = gr.Button(t("select.undo"), size="sm", elem_id=f"{prefix}-undo")
            clear = gr.Button(t("select.clear"), size="sm", elem_id=f"{prefix}-clear")
            use_btn = gr.Button(t(text.use), size="sm", variant="primary", elem_id=f"{prefix}-use")
        grow = gr.Slider(-50, 50, value=0, step=1, label=t("select.grow"), elem_id=f"{prefix}-grow")
        feather = gr.Slider(0, 50, value=0, step=1, label=t("select.feather"), elem_id=f"{prefix}-feather")
        invert = gr.Checkbox(False, label=t("select.invert"), elem_id=f"{prefix}-invert")
    adjust = [grow, feather, invert]

    def session_of(client, request=None) -> str | None:
        """The browser session's id (its taps and the preparation go to the same replica by it)."""
        if request is not None and hasattr(client, "session_id"):
            return client.session_id(request)
        return getattr(client, "session", None)

    def shown(state: SelectState, lang: str, line: str):
        if state.picture is None:
            return state, None, tr(lang, text.no_photo)
        words = tr(lang, text.done, points=len(state.taps), report=line) if state.mask is not None \
            else tr(lang, text.hint)
        return state, shown_picture(state.picture, state.mask, state.taps), words

    # The panel's events are answered off the queue (app.answer_cheap_events_directly): a refusal
    # goes to the panel's own line (said_on_page), the picture and the taps stay as they were.
    on_panel_line = said_on_page(status=2, outputs=3)

    # The take/use inputs come as a set: gradio hands them over as one {component: value} dict.
    # Opening the panel (by hand, or the Ad tab's doubted cut-out) takes the photo in too: one press less.
    @on_panel_line
    def on_start(values: dict, request: gr.Request):
        lang, selection = lang_of(request), values[state]
        with user_errors(lang):
            picture = take_fn(*(values[c] for c in take_inputs))
        if not selection.take(picture):  # the same photo, already shown: a tap's answer may be on its way
            return gr.skip(), gr.skip(), gr.skip()
        return shown(selection, lang, "")

    def on_prepare(state, client, request: gr.Request):
        """Right after the photo is shown: prepare it, so the first tap answers like the next ones
        (a tap meanwhile waits for this preparation instead of repeating it); under serving, on the
        replica that will answer this session's taps."""
        if state.picture is not None:
            services.studio.prepare_select(state.picture, session_of(client, request))

    @on_panel_line
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

    @on_panel_line
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

    @said_on_page(status=len(use_outputs), outputs=len(use_outputs) + 1)
    def on_use(values: dict, request: gr.Request):
        lang, selection = lang_of(request), values[state]
        if selection.picture is None or selection.mask is None:
            return *(gr.skip() for _ in use_outputs), tr(lang, "select.nothing")
        with user_errors(lang):
            answer = use_fn(selection, *(values[c] for c in use_inputs))
        answer = answer if len(use_outputs) > 1 else (answer,)
        return *answer, tr(lang, text.used)

    outputs = [state, view, status]
    for took in (start.click(on_start, {state, *take_inputs}, outputs, api_visibility="private"),
                 panel.expand(on_start, {state, *take_inputs}, outputs, api_visibility="private")):
        took.then(on_prepare, [state, client_state], None, api_visibility="private", show_progress="hidden")
    # Every tap counts (a tap during a running selection waits for it, then runs).
    view.select(on_tap, [state, client_state, negative, *adjust], outputs, api_visibility="private",
                trigger_mode="multiple")
    undo.click(on_undo, [state, client_state, *adjust], outputs, api_visibility="private")
    clear.click(on_clear, [state, client_state, *adjust], outputs, api_visibility="private")
    # Sliders answer when let go (not at every step of a drag); the toggle when clicked.
    for slider in (grow, feather):
        slider.release(on_change, [state, client_state, *adjust], outputs, api_visibility="private")
    invert.input(on_change, [state, client_state, *adjust], outputs, api_visibility="private")
    used = use_btn.click(on_use, {state, *use_inputs}, [*use_outputs, status], api_visibility="private")
    return {"panel": panel, "panel_state": state, "view": view, "used": used}
