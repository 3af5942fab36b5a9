"""Ad tab: product photo → cut-out (fixable with a brush) → background → ad copy → formats, then
the layout adjusted per format, a brand kit, and many products at once.

A thin adapter: widgets -> `CutoutRequest` / `AdRequest` / `AdBatchRequest`, the Studio runs them
for this browser session (its ad node cache re-runs only what changed, so a build right after a
cut-out reuses it and an adjusted layout redraws only the text and the product's place), and
saves every format, the layouts and a zip as one record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import gradio as gr
import numpy as np
from PIL import Image

from editor.ad.backgrounds import DEFAULT_BACKDROP
from editor.ad.composite import PlacementRequest
from editor.ad.design import BADGE_KINDS, BADGE_PLACES, AdLayout
from editor.ad.formats import get_format
from editor.ad.templates import next_design
from editor.ad.typography import ALIGNS, EMPHASES
from editor.ad.workflow import BACKGROUND_KINDS
from editor.digests import array_digest
from editor.errors import InputError
from editor.studio import AdRequest, CutoutRequest, JobCancelled, JobContext
from editor.validation import number, whole
from ui.ad_batch import batch_request, batch_summary, run_batch
from ui.ad_brand import build_brand_panel, chosen_brand, font_choices
from ui.app_state import ClientState, Services, forget_client
from ui.controls import run_button
from ui.examples import examples_by_language
from ui.feedback import cancel_job, progress_reporter, user_error, user_errors
from ui.gpu import CUTOUT_QUEUE, GPU_QUEUE
from ui.i18n import lang_of, named, named_label, notice_text, t, tr
from ui.imaging import checkerboard_preview, dimmed_outside, read_upload, strokes_by_colour
from ui.model_choice import default_model, model_choices
from ui.numbers import Number, Slider
from ui.uploads import EDITOR_CANVAS, ImageEditorFiles, ImageFile

ADD_COLOUR, REMOVE_COLOUR = "#22c55e", "#ef4444"  # green paints product in, red paints it out
MASK_BRUSH = gr.Brush(colors=[ADD_COLOUR, REMOVE_COLOUR], default_color=ADD_COLOUR, color_mode="fixed")
EXAMPLE_COPY = {  # headline, sub-line, price, call to action; per page language
    "ko": [["신메뉴 출시", "봄 딸기 라떼", "5,500원", "지금 주문하기"],
           ["오늘만 20% 할인", "수제 디저트 전 품목", "5,500원 → 4,500원", "매장에서 만나요"],
           ["신상품 입고", "린넨 여름 원피스", "39,000원", "지금 구경하기"]],
    "en": [["New on the menu", "Spring strawberry latte", "$5.50", "Order now"],
           ["New arrival", "Linen summer dress", "$39", "Shop now"]],
}
GENERATED_KINDS = ("prompt", "around-product")


def format_choices() -> list[tuple[str, str]]:
    from editor.ad.formats import FORMAT_SPECS

    return [(named_label("format", name, spec.label) + f" ({spec.width}×{spec.height})", name)
            for name, spec in FORMAT_SPECS.items()]


def format_names(lang: str, names: list[str]) -> list[tuple[str, str]]:
    """(the format's name in `lang`, its id) for pickers of built formats."""
    return [(named(lang, "format", name), name) for name in names]


def backdrop_choices() -> list[tuple[str, str]]:
    from editor.ad.backgrounds import list_backdrops, load_backdrop

    return [(named_label("backdrop", name, load_backdrop(name).label), name) for name in list_backdrops()]


def preset_choices(studio, lang: str) -> list[tuple[str, str]]:
    return [(preset.display_name(lang), name) for name, preset in studio.presets().items()]


def _product_pixels(product: Image.Image | None):
    if product is None:
        return None
    return np.asarray(product.convert("RGBA") if "A" in product.getbands() else product.convert("RGB"))


def run_cutout(services: Services, state: ClientState, product: Image.Image | None, remover: str, request=None,
               progress=None):
    """Cut the product out; returns (editor value for fixing it, checkerboard preview, the cut-out).
    The editor shows the photo with what the cut-out left out darkened, ready for brush fixes."""
    pixels = _product_pixels(product)
    outcome = services.studio.cutout(CutoutRequest(image=pixels, remover=remover),
                                     JobContext(session=state.session_id(request), owner=services.owner(request),
                                                save=False, progress=progress))
    cut = outcome.cutout
    state.cut, state.product_key = cut, array_digest(pixels)
    rgb = np.asarray(product.convert("RGB"))
    if cut.alpha.shape != rgb.shape[:2]:  # cut on a reduced copy of a big photo
        rgb = np.asarray(product.convert("RGB").resize((cut.alpha.shape[1], cut.alpha.shape[0])))
    canvas = dimmed_outside(rgb, cut.alpha)
    return {"background": canvas, "layers": [], "composite": canvas}, checkerboard_preview(cut.rgba), cut


def cutout_message(lang: str, cut) -> str:
    """What the status line says after a cut-out: the method, or, when the checks doubt it, each
    doubt in plain words and where to fix it."""
    if not cut.needs_review:
        return tr(lang, "ad.cutout_done", method=named(lang, "remover", cut.method))
    doubts = "\n".join(f"- {notice_text(lang, concern)}" for concern in cut.verdict.concerns)
    return f"**{tr(lang, 'ad.cutout_review')}**\n\n{doubts}\n\n{tr(lang, 'ad.cutout_editor_hint')}"



def opened_by_cutout(state: ClientState) -> list:
    """What a cut-out opens: the brush editor and the preview, with its pictures in them, and the
    tap-to-select panel when the checks doubt the cut-out (tapping the product is the quick fix)."""
    doubted = state.cut is not None and state.cut.needs_review
    return [gr.update(visible=True), gr.update(visible=True), gr.update(open=True) if doubted else gr.skip()]


def preview_fix(state: ClientState, product: Image.Image | None, mask_value):
    """The cut-out with the brush fixes applied (no model runs)."""
    from editor.ad import correct_alpha

    if state.cut is None or product is None:
        return None
    if state.product_key != array_digest(_product_pixels(product)):
        raise InputError("This is a new product photo: cut it out first.", key="new_product", field="product")
    add, remove = strokes_by_colour((mask_value or {}).get("layers"), product.size)
    cut = correct_alpha(state.cut, np.asarray(product.convert("RGB")), add=add, remove=remove)
    return checkerboard_preview(cut.rgba)


@dataclass(frozen=True)
class AdInputs:
    product: Image.Image | None
    mask_value: dict | None
    remover: str
    bg_mode: str
    bg_image: Image.Image | None
    backdrop: str
    bg_preset: str
    bg_prompt: str
    model: str
    seed: int
    headline: str
    subline: str
    price: str
    cta: str
    formats: list
    scale: float
    old_price: str = ""
    brand: str = ""  # a saved brand kit's name, "" for none


# The build's inputs by name (the API's parameter names), in the order of AdInputs' fields.
BUILD_NAMES = ("product", "mask_value", "remover", "bg_mode", "bg_image", "backdrop", "bg_preset", "bg_prompt",
               "model", "seed", "headline", "subline", "price", "cta", "formats", "scale", "old_price", "brand")
# The layout controls by name, in the order `layout_from_controls` takes them.
LAYOUT_NAMES = ("position", "align", "text_size", "font", "text_colour", "accent", "emphasis", "product_size",
                "product_x", "product_y", "badges")


def ad_inputs(values: dict, product: Image.Image | None, with_mask: bool = True) -> AdInputs:
    """The ad the tab's values describe (`product`: the photo, already read; None for a batch)."""
    return AdInputs(product, values["mask_value"] if with_mask else None, values["remover"], values["bg_mode"],
                    _background_upload(values["bg_mode"], values["bg_image"]), values["backdrop"],
                    values["bg_preset"], values["bg_prompt"], values["model"], values["seed"], values["headline"],
                    values["subline"], values["price"], values["cta"], list(values["formats"] or []),
                    values["scale"], values["old_price"], values["brand"] or "")


def _background_fields(inputs: AdInputs) -> dict:
    mode = inputs.bg_mode
    if mode == "upload" and inputs.bg_image is None:
        raise InputError("Upload a background picture, or choose another kind of background.",
                         key="no_background_image", field="background")
    if mode in GENERATED_KINDS and not (inputs.bg_prompt or "").strip() and not inputs.bg_preset:
        raise InputError("A generated background needs a prompt or a preset.", key="background_needs_prompt",
                         field="background_prompt")
    return dict(background=np.asarray(inputs.bg_image.convert("RGB")) if mode == "upload" else None,
                backdrop=inputs.backdrop if mode == "backdrop" else None,
                background_prompt=(inputs.bg_prompt or None) if mode in GENERATED_KINDS else None,
                preset=(inputs.bg_preset or None) if mode in GENERATED_KINDS else None,
                around_product=mode == "around-product")


def ad_template(inputs: AdInputs, brands) -> AdRequest:
    """Everything the tab sets except the product: what a batch applies to every photo."""
    if not inputs.formats:
        raise InputError("Choose at least one format.", key="no_formats", field="formats")
    return AdRequest(product=None, headline=inputs.headline or "", subline=inputs.subline or "",
                     price=inputs.price or "", old_price=inputs.old_price or "", cta=inputs.cta or "",
                     formats=tuple(inputs.formats), **_background_fields(inputs), remover=inputs.remover,
                     brand=chosen_brand(brands, inputs.brand), model=inputs.model, seed=_whole(inputs.seed),
                     scale=inputs.scale)  # refused by the request when not numbers (NaN included)


def build_request(inputs: AdInputs, brands=None, layouts: dict | None = None) -> AdRequest:
    """The ad the tab describes; `brands` (the request's brand store) is needed only when a kit is chosen."""
    if inputs.product is None:
        raise InputError("Upload a product photo first.", key="no_product", field="product")
    add, remove = strokes_by_colour((inputs.mask_value or {}).get("layers"), inputs.product.size)
    return replace(ad_template(inputs, brands), product=_product_pixels(inputs.product), mask_add=add,
                   mask_remove=remove, layouts=layouts or None)


def run_ad(services: Services, state: ClientState, inputs: AdInputs, progress=None, request=None,
           layouts: dict | None = None):
    """Build every chosen format; returns (previews, files: formats, zip, layouts, report). The
    layouts it got are kept in the session's state for the layout controls."""
    job = build_request(inputs, services.brands(request), layouts)
    outcome = services.studio.make_ad(job, JobContext(session=state.session_id(request), owner=services.owner(request),
                                                      progress=progress))
    state.ad_layouts, state.ad_report = dict(outcome.layouts), outcome.report
    previews = [(outcome.images[name], name) for name in outcome.images]
    files = [str(path) for path in outcome.saved.files.values()]
    return previews, files, outcome.report


# --- the layout controls ---------------------------------------------------------------------

_RGB = re.compile(r"rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)")


def as_hex(value: str | None) -> str | None:
    """A colour picker's value as "#rrggbb" (pickers may answer "#rgb", "#rrggbbaa" or "rgba(...)")."""
    if not value:
        return None
    value = str(value).strip()
    match = _RGB.match(value)
    try:
        if match:
            return "#%02x%02x%02x" % tuple(min(255, round(float(v))) for v in match.groups())
    except ValueError:  # "rgba(1.2.3.4,5,6)" from a hostile client
        pass
    else:
        v = value.lstrip("#")
        if len(v) == 3:
            v = "".join(c * 2 for c in v)
        if re.fullmatch(r"[0-9a-fA-F]{6}", v[:6]):
            return "#" + v[:6].lower()
    raise InputError(f"'{value[:40]}' is not a colour; pick one with the colour picker.", key="not_a_colour",
                     field="colour", value=value[:40])


def badge_value(layout: AdLayout) -> str:
    """Where the badges go, as the one badge control shows it: the discount's place when the ad has
    one, else the NEW badge's ("above" when it has neither)."""
    places = dict(layout.badges or ())
    return next((places[k] for k in ("discount", "new") if k in places), "above")


def layout_values(layout: AdLayout) -> tuple:
    """The controls' values for a layout: position, align, size, font, colour, accent, emphasis,
    product height, product centre x, product bottom y, where the badges go."""
    text, product = layout.text, layout.product
    # The product's place as the sliders step (0.01): a slider showing 0.64537 reads as a bug.
    return (text.position, text.align, text.size, text.font, text.color, text.accent, text.price_emphasis,
            round(product.height, 2), round(product.center_x, 2), round(product.bottom_y, 2), badge_value(layout))


def layout_from_controls(previous: AdLayout, position, align, size, font, colour, accent, emphasis, height, center_x,
                         bottom_y, badges=None) -> AdLayout:
    """The layout the controls describe, over the one the format had. A new text position lets the
    composition place the product and choose the line length again for that side. A new badge
    place moves every badge there (one control for all); left as shown, each badge keeps its own."""
    moved_text = position != previous.text.position
    size = whole("text size", int(size) if isinstance(size, float) and size.is_integer() else size, 1, 2000)
    center_x, bottom_y, height = (number(n, v, 0.0, 1.0) for n, v in
                                  (("product x", center_x), ("product y", bottom_y), ("product size", height)))
    text = replace(previous.text, position=position, align=align, size=size, font=font, color=as_hex(colour),
                   accent=as_hex(accent), price_emphasis=emphasis, width=None if moved_text else previous.text.width)
    product = None if moved_text else PlacementRequest(float(center_x), float(bottom_y), float(height))
    # the design (template) stays; the badges move only when the control was changed
    if badges is None or badges == badge_value(previous):
        return replace(previous, text=text, product=product)
    kinds = [k for k, _ in previous.badges] if previous.badges else list(BADGE_KINDS)
    return replace(previous, text=text, product=product, badges=tuple((k, badges) for k in kinds))


def _suggestions_line(lang: str, report: dict | None, name: str) -> str:
    colours = ((report or {}).get("formats", {}).get(name, {}).get("suggestions") or {}).get("colors") or {}
    return tr(lang, "ad.suggested_colors", text=swatches(colours.get("text", [])),
              accent=swatches(colours.get("accent", [])))


_HEX = re.compile(r"#[0-9a-fA-F]{6}")
SAME_COLOUR = 24  # RGB distance under which two suggestions look the same ("#381100", "#381101")


def distinct_colours(hexes: list[str]) -> list[str]:
    """The suggestions without near-duplicates, in their order."""
    kept: list[tuple[int, ...]] = []
    out = []
    for value in hexes:
        if not _HEX.fullmatch(str(value)):  # drawn as HTML: nothing but a colour code gets in
            continue
        rgb = tuple(int(value.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))
        if all(sum((a - b) ** 2 for a, b in zip(rgb, other, strict=True)) ** 0.5 >= SAME_COLOUR for other in kept):
            kept.append(rgb)
            out.append(value)
    return out


def swatches(hexes: list[str]) -> str:
    """Colour squares to compare with the pickers (the code only as the square's tooltip)."""
    squares = [f'<span title="{h}" style="display:inline-block;width:1.3em;height:1.3em;vertical-align:middle;'
               f'border-radius:4px;border:1px solid #8888;background:{h}"></span>' for h in distinct_colours(hexes)]
    return " ".join(squares) or "—"


def build_ad_tab(services: Services) -> dict:
    flux_or_any = default_model(preferred=services.config.model)
    state = gr.State(ClientState(), time_to_live=services.config.session_ttl_s,
                     delete_callback=forget_client(services.studio))
    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            gr.Markdown(f"### 1. {t('ad.product')}")
            with gr.Row():
                product = ImageFile(type="filepath", image_mode=None, format="png", label=t("ad.product"),
                                   sources=("upload", "clipboard"), height=260, elem_id="ad-product")
                # Shown once there is a cut-out: an empty picture is a screen high on a phone.
                cut_preview = gr.Image(type="pil", format="png", label=t("ad.cutout_preview"), interactive=False,
                                       height=260, elem_id="ad-cut-preview", visible=False)
            with gr.Row():
                remover = gr.Dropdown(_remover_choices(), value="auto", label=t("ad.remover"), scale=2)
                cut_btn = gr.Button(t("ad.cutout"), elem_id="ad-cutout", scale=1)
            mask_editor = ImageEditorFiles(
                type="filepath", format="png", image_mode="RGBA", brush=MASK_BRUSH, eraser=gr.Eraser(), transforms=(),
                layers=False, sources=(), label=t("ad.cutout_editor"), height=360, elem_id="ad-mask-editor",
                canvas_size=EDITOR_CANVAS,  # layers from the server land on the photo (ui/uploads.py)
                visible=False,  # opened by the cut-out, with the photo to fix in it
            )
            fix_btn = gr.Button(t("ad.fix_preview"), size="sm", elem_id="ad-fix")
            from ui.ad_select import build_ad_select_panel  # built on this module's pieces: imported once they exist
            select_panel = build_ad_select_panel(services, state, product, mask_editor, cut_preview)["panel"]
            gr.Markdown(f"### 2. {t('ad.background')}")
            bg_mode = gr.Radio([(t(f"ad.bg_{m.replace('-', '_')}"), m) for m in BACKGROUND_KINDS], value="backdrop",
                               label=t("ad.bg_mode"), elem_id="ad-bg-mode")
            backdrop = gr.Dropdown(backdrop_choices(), value=DEFAULT_BACKDROP, label=t("ad.bg_backdrop_pick"),
                                   elem_id="ad-backdrop")
            bg_image = ImageFile(type="filepath", image_mode="RGB", format="png", label=t("ad.bg_image"), height=200,
                                sources=("upload", "clipboard"), visible=False)
            with gr.Group(visible=False) as generated:
                bg_preset = gr.Dropdown(preset_choices(services.studio, "en"), value=None, label=t("ad.bg_preset_pick"))
                bg_prompt = gr.Textbox(label=t("ad.bg_prompt_text"), lines=1)
                with gr.Row():
                    model = gr.Dropdown(model_choices(), value=flux_or_any, label=t("ad.bg_model"))
                    seed = Number(0, precision=0, minimum=0, label=t("common.seed"))
            brand_panel = build_brand_panel(services)
            brand = brand_panel.pick
        with gr.Column(scale=1):
            gr.Markdown(f"### 3. {t('ad.copy')}")
            headline = gr.Textbox(label=t("ad.headline"), elem_id="ad-headline")
            subline = gr.Textbox(label=t("ad.subline"), elem_id="ad-subline")
            with gr.Row():
                price = gr.Textbox(label=t("ad.price"), elem_id="ad-price")
                old_price = gr.Textbox(label=t("ad.old_price"), elem_id="ad-old-price")
            cta = gr.Textbox(label=t("ad.cta"), elem_id="ad-cta")
            examples_by_language(EXAMPLE_COPY, [headline, subline, price, cta], "ad-examples",
                                 lambda row: " · ".join(filter(None, row)))
            gr.Markdown(f"### 4. {t('ad.formats')}")
            formats = gr.CheckboxGroup(format_choices(), value=["instagram-square"], label=t("ad.formats"),
                                       elem_id="ad-formats")
            scale = Slider(0.1, 1.0, value=1.0, step=0.05, label=t("ad.scale"), info=t("ad.scale_info"))
            with gr.Row():
                build = gr.Button(t("ad.build"), variant="primary", elem_id="ad-build", scale=3)
                cancel_btn = gr.Button(t("common.cancel"), variant="stop", elem_id="ad-cancel", scale=1)
            status = gr.Markdown(elem_id="ad-status")
            previews = gr.Gallery(label=t("ad.previews"), columns=2, height=420, format="png", interactive=False,
                                  object_fit="contain", elem_id="ad-previews")
            other_design_btn = gr.Button(t("ad.other_design"), elem_id="ad-other-design")
            files = gr.File(label=t("ad.files"), file_count="multiple", interactive=False, elem_id="ad-files")
            with gr.Accordion(t("ad.adjust"), open=False, elem_id="ad-adjust"):
                gr.Markdown(t("ad.adjust_info"))
                # Choices come with each build (and the format's positions with the format); the domain
                # checks the values, so the API may pass them without a build in this page first.
                adjust_format = gr.Dropdown([], value=None, label=t("ad.adjust_format"), elem_id="ad-adjust-format",
                                            allow_custom_value=True)
                with gr.Row():
                    position = gr.Dropdown([], value=None, label=t("ad.position"), elem_id="ad-position",
                                           allow_custom_value=True)
                    align = gr.Radio([(t(f"ad.align_{a}"), a) for a in ALIGNS], value="left", label=t("ad.align"))
                with gr.Row():
                    text_size = Slider(8, 400, value=96, step=1, label=t("ad.text_size"), elem_id="ad-text-size")
                    font = gr.Dropdown(font_choices(), value=None, label=t("ad.font"), elem_id="ad-font")
                with gr.Row():
                    text_colour = gr.ColorPicker(label=t("ad.text_color"), elem_id="ad-text-colour")
                    accent = gr.ColorPicker(label=t("ad.accent_color"), elem_id="ad-accent")
                suggestions = gr.Markdown(elem_id="ad-suggestions", sanitize_html=False)  # our own squares only
                emphasis = gr.Radio([(t(f"ad.emphasis_{e}"), e) for e in EMPHASES], value="accent",
                                    label=t("ad.emphasis"))
                product_size = Slider(0.05, 1.0, value=0.6, step=0.01, label=t("ad.product_size"))
                with gr.Row():
                    product_x = Slider(0.0, 1.0, value=0.5, step=0.01, label=t("ad.product_x"))
                    product_y = Slider(0.0, 1.0, value=0.9, step=0.01, label=t("ad.product_y"))
                badges = gr.Dropdown([(t(f"ad.badges_{p}"), p) for p in BADGE_PLACES], value="above",
                                     label=t("ad.badges"), elem_id="ad-badges")
                apply = gr.Button(t("ad.apply"), variant="primary", elem_id="ad-apply")
            with gr.Accordion(t("ad.batch"), open=False, elem_id="ad-batch"):
                gr.Markdown(t("ad.batch_info"))
                batch_files = gr.File(label=t("ad.batch_products"), file_count="multiple",
                                      file_types=["image", ".zip"], elem_id="ad-batch-files")
                batch_csv = gr.File(label=t("ad.batch_csv"), file_count="single", file_types=[".csv"],
                                    elem_id="ad-batch-csv")
                batch_run = gr.Button(t("ad.batch_run"), elem_id="ad-batch-run")
                batch_status = gr.Markdown(elem_id="ad-batch-status")
                batch_zip = gr.File(label=t("ad.batch_zip"), interactive=False, elem_id="ad-batch-zip")
            with gr.Accordion(t("common.details"), open=False):
                report_json = gr.JSON(label=t("edit.report"))

    build_fields = [product, mask_editor, remover, bg_mode, bg_image, backdrop, bg_preset, bg_prompt, model, seed,
                    headline, subline, price, cta, formats, scale, old_price, brand]
    layout_controls = [position, align, text_size, font, text_colour, accent, emphasis, product_size, product_x,
                       product_y, badges]

    def cutout(v: dict, request: gr.Request, progress) -> tuple:
        lang, state = lang_of(request), v["state"]
        progress(0, desc=tr(lang, "progress.cutout"))
        with user_errors(lang):
            picture = read_upload(v["product"], "product")
        try:
            with user_errors(lang):
                value, preview, cut = run_cutout(services, state, picture, v["remover"], request,
                                                 progress_reporter(progress, lang))
        except gr.Error as exc:
            if picture is None:
                raise
            # The photo still opens in the brush editor: the user can paint the product by hand.
            photo = picture.convert("RGB")
            state.cut, state.product_key = None, None
            return (state, {"background": photo, "layers": [], "composite": photo}, None,
                    tr(lang, "ad.cutout_failed", reason=exc.message))
        return state, value, preview, cutout_message(lang, cut)

    def fix(state, product, mask_value, request: gr.Request):
        with user_errors(lang_of(request)):
            return preview_fix(state, read_upload(product, "product"), mask_value)

    def _finish(state, lang, pictures, paths, report):
        message = ad_message(lang, report, len(pictures))
        built = list(state.ad_layouts)
        chosen = built[0] if built else None
        captioned = [(image, named(lang, "format", name)) for image, name in pictures]
        return state, message, captioned, paths, report, gr.Dropdown(choices=format_names(lang, built), value=chosen)

    def build_ad(v: dict, request: gr.Request, progress) -> tuple:
        lang, state = lang_of(request), v["state"]
        with user_errors(lang):  # a new build starts from the automatic layout
            inputs = ad_inputs(v, read_upload(v["product"], "product"))
            try:
                shown, paths, report = run_ad(services, state, inputs, progress_reporter(progress, lang), request)
            except JobCancelled:
                return state, tr(lang, "common.cancelled"), *(gr.skip() for _ in range(4))
        return _finish(state, lang, shown, paths, report)

    def apply_layout(v: dict, request: gr.Request, progress) -> tuple:
        lang, state, name = lang_of(request), v["state"], v["name"]
        if not name or name not in state.ad_layouts:
            raise user_error(lang, tr(lang, "ad.build_first"), print_exception=False)
        layouts = dict(state.ad_layouts)
        with user_errors(lang):  # the controls' values come from the client: a NaN size is a message, not a trace
            layouts[name] = layout_from_controls(layouts[name], *(v[key] for key in LAYOUT_NAMES))
            finished = rebuild(v, lang, request, progress, layouts)
        # the format picker keeps the adjusted format (also after a cancel: it is the one shown)
        return (*finished[:-1], gr.Dropdown(choices=format_names(lang, list(state.ad_layouts)), value=name))

    def other_design(v: dict, request: gr.Request, progress) -> tuple:
        """"다른 디자인": every format again with the next layout template; the copy stays."""
        lang, state = lang_of(request), v["state"]
        if not state.ad_layouts or not state.ad_report:
            raise user_error(lang, tr(lang, "ad.build_first"), print_exception=False)
        reported = state.ad_report.get("formats", {})
        layouts = {name: next_design(layout, reported[name]["design_order"]) if "design_order" in reported.get(name, {})
                   else layout for name, layout in state.ad_layouts.items()}
        with user_errors(lang):
            return rebuild(v, lang, request, progress, layouts)

    def rebuild(v: dict, lang: str, request, progress, layouts: dict) -> tuple:
        """Every format again with `layouts` and the form's copy (adjusted layouts, another design)."""
        state = v["state"]
        inputs = ad_inputs(v, read_upload(v["product"], "product"))
        try:
            shown, paths, report = run_ad(services, state, inputs, progress_reporter(progress, lang), request, layouts)
        except JobCancelled:
            return state, tr(lang, "common.cancelled"), *(gr.skip() for _ in range(4))
        return _finish(state, lang, shown, paths, report)

    def show_layout(state, name, request: gr.Request):
        """The chosen format's layout in the controls, with the positions it offers and the
        product colours that read where its text is."""
        lang = lang_of(request)
        layout = state.ad_layouts.get(name) if name else None
        if layout is None:
            return (gr.Dropdown(), *(gr.skip() for _ in layout_controls[1:]), "")
        values = layout_values(layout)
        positions = [(tr(lang, f"ad.position_{p}"), p) for p in get_format(name).positions]
        return (gr.Dropdown(choices=positions, value=values[0]), *values[1:],
                _suggestions_line(lang, state.ad_report, name))

    def build_batch(v: dict, request: gr.Request, progress) -> tuple:
        lang, state = lang_of(request), v["state"]
        with user_errors(lang):
            job = batch_request(v["products"], v["csv_file"],
                                ad_template(ad_inputs(v, None, with_mask=False), services.brands(request)))
            try:
                zip_path, outcome = run_batch(services, state, job, progress_reporter(progress, lang), request)
            except JobCancelled:
                return state, tr(lang, "common.cancelled"), gr.skip()
        return state, batch_summary(lang, outcome), zip_path

    def cancel(state, request: gr.Request):
        return cancel_job(services.studio, state.session, lang_of(request))

    # The cut-out models run on the CPU: their own queue, never behind a GPU job. Its progress and
    # errors show on the status line, never as badges over the (then empty) brush editor.
    running = [cut_btn, build, apply, other_design_btn, batch_run]  # off while any of them runs
    queued = dict(concurrency_id=GPU_QUEUE, concurrency_limit=services.gpu_slots)
    # The inputs by name: the names are the API's parameters (the State is not sent by clients).
    build_inputs = {"state": state, **dict(zip(BUILD_NAMES, build_fields, strict=True))}
    # The brush editor and the preview, folded until now, open with the cut-out's pictures in them
    # (and the tap panel when the cut-out is doubted: opened_by_cutout).
    run_button(cut_btn, cutout, {"state": state, "product": product, "remover": remover},
               [state, mask_editor, cut_preview, status], status=status, buttons=running, on_gpu=False,
               after=lambda _request, client: opened_by_cutout(client), after_inputs=[state],
               after_outputs=[mask_editor, cut_preview, select_panel], api_name="cutout",
               concurrency_id=CUTOUT_QUEUE, concurrency_limit=2, show_progress_on=[status])
    fix_btn.click(fix, [state, product, mask_editor], [cut_preview], api_name="cutout_fix", show_progress_on=[status])
    outputs = [state, status, previews, files, report_json, adjust_format]
    run_button(build, build_ad, build_inputs, outputs, status=status, buttons=running, api_name="build_ad",
               show_progress_on=[status], **queued)
    run_button(apply, apply_layout,
               {**build_inputs, "name": adjust_format, **dict(zip(LAYOUT_NAMES, layout_controls, strict=True))},
               outputs, status=status, buttons=running, api_name="apply_layout", show_progress_on=[status], **queued)
    run_button(other_design_btn, other_design, build_inputs, outputs, status=status, buttons=running,
               api_name="other_design", show_progress_on=[status], **queued)
    run_button(batch_run, build_batch, {**build_inputs, "products": batch_files, "csv_file": batch_csv},
               [state, batch_status, batch_zip], status=batch_status, buttons=running, api_name="build_ad_batch",
               show_progress_on=[batch_status], **queued)
    cancel_btn.click(cancel, [state], [status], api_name="cancel_ad", show_progress="hidden")
    adjust_format.change(show_layout, [state, adjust_format], [*layout_controls, suggestions],
                         api_visibility="private")

    def show_background_inputs(mode):
        return (gr.Dropdown(visible=mode == "backdrop"), gr.Image(visible=mode == "upload"),
                gr.Group(visible=mode in GENERATED_KINDS))

    bg_mode.change(show_background_inputs, [bg_mode], [backdrop, bg_image, generated], api_visibility="private")

    def new_product(state):
        state.cut, state.product_key = None, None  # strokes on the old photo no longer apply
        return state, gr.update(value=None, visible=False), gr.update(value=None, visible=False)

    product.upload(new_product, [state], [state, mask_editor, cut_preview], api_visibility="private")
    product.clear(new_product, [state], [state, mask_editor, cut_preview], api_visibility="private")

    def localise(request: gr.Request):
        return gr.Dropdown(choices=preset_choices(services.studio, lang_of(request))), brand_panel.localise(request)

    return {"product": product, "localise": (localise, [], [bg_preset, brand])}


def ad_message(lang: str, report: dict, count: int) -> str:
    """How many formats were made and which steps ran again (the others came from the cache)."""
    ran = [named(lang, "node", name) for name in sorted({key.split("[")[0] for key in report["nodes"]["ran"]})]
    return (tr(lang, "ad.built", count=count, seconds=f"{report['seconds']:.1f}") + " "
            + tr(lang, "ad.reran", nodes=", ".join(ran) or "—"))


def _remover_choices() -> list[tuple]:
    from editor.ad import remover_names

    return [(named_label("remover", name), name) for name in remover_names()]


def _background_upload(mode: str, source):
    """The uploaded background, read (header first) only when the ad uses it."""
    return read_upload(source, "background") if mode == "upload" else None


def _whole(value):
    """The seed widget's float as an int; empty as 0; anything else as it is, for the request to refuse."""
    if value in (None, ""):
        return 0
    return int(value) if isinstance(value, float) and value.is_integer() else value
