"""Ad tab: product photo → cut-out (fixable with a brush) → background → ad copy → formats.

A thin adapter: widgets -> `CutoutRequest` / `AdRequest`, the Studio runs them for this browser
session (its ad node cache re-runs only what changed, so a build right after a cut-out reuses it
and a new headline re-renders only the text), and saves every format and a zip as one record.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import numpy as np
from PIL import Image

from editor.ad.workflow import BACKGROUND_KINDS
from editor.digests import array_digest
from editor.errors import InputError
from editor.studio import AdRequest, CutoutRequest, JobContext
from ui.app_state import ClientState, Services, forget_client, session_owner
from ui.feedback import progress_reporter, user_errors
from ui.gpu import gpu
from ui.i18n import lang_of, t, tr
from ui.imaging import checkerboard_preview, dimmed_outside, read_upload, strokes_by_colour
from ui.model_choice import default_model, model_choices
from ui.uploads import ImageEditorFiles, ImageFile

GPU = "gpu"
ADD_COLOUR, REMOVE_COLOUR = "#22c55e", "#ef4444"  # green paints product in, red paints it out
MASK_BRUSH = gr.Brush(colors=[ADD_COLOUR, REMOVE_COLOUR], default_color=ADD_COLOUR, color_mode="fixed")
EXAMPLE_COPY = [  # headline, sub-line, price, call to action
    ["신메뉴 출시", "봄 딸기 라떼", "5,500원", "지금 주문하기"],
    ["오늘만 20% 할인", "수제 디저트 전 품목", "", "매장에서 만나요"],
    ["New arrival", "Linen summer dress", "₩39,000", "Shop now"],
]
GENERATED_KINDS = ("prompt", "around-product")


def format_choices() -> list[tuple[str, str]]:
    from editor.ad.formats import FORMAT_SPECS

    return [(f"{spec.label} ({spec.width}×{spec.height})", name) for name, spec in FORMAT_SPECS.items()]


def style_choices() -> list[tuple[str, str]]:
    from editor.ad.backgrounds import list_styles, load_style

    return [(load_style(name).label, name) for name in list_styles()]


def preset_choices(studio, lang: str) -> list[tuple[str, str]]:
    return [(preset.display_name(lang), name) for name, preset in studio.presets().items()]


def _product_pixels(product: Image.Image | None):
    if product is None:
        return None
    return np.asarray(product.convert("RGBA") if "A" in product.getbands() else product.convert("RGB"))


def run_cutout(services: Services, state: ClientState, product: Image.Image | None, remover: str, request=None):
    """Cut the product out; returns (editor value for fixing it, checkerboard preview, method)."""
    pixels = _product_pixels(product)
    outcome = services.studio.cutout(CutoutRequest(image=pixels, remover=remover),
                                     JobContext(session=state.session_id(request), owner=session_owner(request),
                                                save=False))
    cut = outcome.cutout
    state.cut, state.product_key = cut, array_digest(pixels)
    rgb = np.asarray(product.convert("RGB"))
    canvas = dimmed_outside(rgb, cut.alpha)
    return {"background": canvas, "layers": [], "composite": canvas}, checkerboard_preview(cut.rgba), cut.method


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
    bg_style: str
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


def build_request(inputs: AdInputs) -> AdRequest:
    if inputs.product is None:
        raise InputError("Upload a product photo first.", key="no_product", field="product")
    if not inputs.formats:
        raise InputError("Choose at least one format.", key="no_formats", field="formats")
    add, remove = strokes_by_colour((inputs.mask_value or {}).get("layers"), inputs.product.size)
    mode = inputs.bg_mode
    if mode == "upload" and inputs.bg_image is None:
        raise InputError("Upload a background picture, or choose another kind of background.",
                         key="no_background_image", field="background")
    if mode in GENERATED_KINDS and not (inputs.bg_prompt or "").strip() and not inputs.bg_preset:
        raise InputError("A generated background needs a prompt or a preset.", key="background_needs_prompt",
                         field="background_prompt")
    return AdRequest(
        product=_product_pixels(inputs.product),
        headline=inputs.headline or "",
        subline=inputs.subline or "",
        price=inputs.price or "",
        cta=inputs.cta or "",
        formats=tuple(inputs.formats),
        background=np.asarray(inputs.bg_image.convert("RGB")) if mode == "upload" else None,
        background_style=inputs.bg_style if mode == "style" else None,
        background_prompt=(inputs.bg_prompt or None) if mode in GENERATED_KINDS else None,
        preset=(inputs.bg_preset or None) if mode in GENERATED_KINDS else None,
        around_product=mode == "around-product",
        remover=inputs.remover,
        mask_add=add,
        mask_remove=remove,
        model=inputs.model,
        seed=_whole(inputs.seed),
        scale=inputs.scale,  # refused by the request when it is not a number (NaN included)
    )


def run_ad(services: Services, state: ClientState, inputs: AdInputs, progress=None, request=None):
    """Build every chosen format; returns (previews, files incl. the zip, report)."""
    job = build_request(inputs)
    outcome = services.studio.make_ad(job, JobContext(session=state.session_id(request), owner=session_owner(request),
                                                      progress=progress))
    names = list(dict.fromkeys(job.formats))
    previews = [(outcome.images[name], name) for name in names if name in outcome.images]
    files = [str(path) for path in outcome.saved.files.values()]
    return previews, files, outcome.report


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
                cut_preview = gr.Image(type="pil", format="png", label=t("ad.cutout_preview"), interactive=False,
                                       height=260, elem_id="ad-cut-preview")
            with gr.Row():
                remover = gr.Dropdown(_remover_choices(), value="auto", label=t("ad.remover"), scale=2)
                cut_btn = gr.Button(t("ad.cutout"), elem_id="ad-cutout", scale=1)
            mask_editor = ImageEditorFiles(
                type="filepath", format="png", image_mode="RGBA", brush=MASK_BRUSH, eraser=gr.Eraser(), transforms=(),
                layers=False, sources=(), label=t("ad.cutout_editor"), height=360, elem_id="ad-mask-editor",
            )
            fix_btn = gr.Button(t("ad.fix_preview"), size="sm", elem_id="ad-fix")
            gr.Markdown(f"### 2. {t('ad.background')}")
            bg_mode = gr.Radio([(t(f"ad.bg_{m.replace('-', '_')}"), m) for m in BACKGROUND_KINDS], value="style",
                               label=t("ad.bg_mode"), elem_id="ad-bg-mode")
            bg_style = gr.Dropdown(style_choices(), value="studio-white", label=t("ad.bg_style_pick"))
            bg_image = ImageFile(type="filepath", image_mode="RGB", format="png", label=t("ad.bg_image"), height=200,
                                sources=("upload", "clipboard"), visible=False)
            with gr.Group(visible=False) as generated:
                bg_preset = gr.Dropdown(preset_choices(services.studio, "en"), value=None, label=t("ad.bg_preset_pick"))
                bg_prompt = gr.Textbox(label=t("ad.bg_prompt_text"), lines=1)
                with gr.Row():
                    model = gr.Dropdown(model_choices(), value=flux_or_any, label=t("ad.bg_model"))
                    seed = gr.Number(0, precision=0, minimum=0, label=t("common.seed"))
        with gr.Column(scale=1):
            gr.Markdown(f"### 3. {t('ad.copy')}")
            headline = gr.Textbox(label=t("ad.headline"), elem_id="ad-headline")
            subline = gr.Textbox(label=t("ad.subline"), elem_id="ad-subline")
            with gr.Row():
                price = gr.Textbox(label=t("ad.price"), elem_id="ad-price")
                cta = gr.Textbox(label=t("ad.cta"), elem_id="ad-cta")
            gr.Examples(EXAMPLE_COPY, [headline, subline, price, cta], label=t("common.examples"),
                        cache_examples=False, example_labels=[" · ".join(filter(None, row)) for row in EXAMPLE_COPY])
            gr.Markdown(f"### 4. {t('ad.formats')}")
            formats = gr.CheckboxGroup(format_choices(), value=["instagram-square"], label=t("ad.formats"),
                                       elem_id="ad-formats")
            scale = gr.Slider(0.1, 1.0, value=1.0, step=0.05, label=t("ad.scale"), info=t("ad.scale_info"))
            build = gr.Button(t("ad.build"), variant="primary", elem_id="ad-build")
            status = gr.Markdown(elem_id="ad-status")
            previews = gr.Gallery(label=t("ad.previews"), columns=2, height=420, format="png", interactive=False,
                                  object_fit="contain",
                                  elem_id="ad-previews")
            files = gr.File(label=t("ad.files"), file_count="multiple", interactive=False, elem_id="ad-files")
            with gr.Accordion(t("edit.report"), open=False):
                report_json = gr.JSON()

    def cutout(state, product, remover, request: gr.Request, progress=gr.Progress()):  # noqa: B008 - gradio injects it
        lang = lang_of(request)
        progress(0, desc=tr(lang, "progress.cutout"))
        with user_errors(lang):
            value, preview, method = run_cutout(services, state, read_upload(product, "product"), remover, request)
        return state, value, preview, tr(lang, "ad.cutout_done", method=method)

    def fix(state, product, mask_value, request: gr.Request):
        with user_errors(lang_of(request)):
            return preview_fix(state, read_upload(product, "product"), mask_value)

    @gpu
    def build_ad(state, product, mask_value, remover, bg_mode, bg_image, bg_style, bg_preset, bg_prompt, model,
                 seed, headline, subline, price, cta, formats, scale, request: gr.Request, progress=gr.Progress()):  # noqa: B008 - gradio injects it
        lang = lang_of(request)
        with user_errors(lang):
            background = read_upload(bg_image, "background") if bg_mode == "upload" else None
            inputs = AdInputs(read_upload(product, "product"), mask_value, remover, bg_mode, background, bg_style,
                              bg_preset, bg_prompt, model, seed, headline, subline, price, cta, list(formats or []),
                              scale)
            shown, paths, report = run_ad(services, state, inputs, progress_reporter(progress, lang), request)
        ran = ", ".join(sorted({key.split("[")[0] for key in report["nodes"]["ran"]})) or "—"
        message = tr(lang, "ad.done", count=len(shown), seconds=f"{report['seconds']:.1f}", nodes=ran)
        return state, message, shown, paths, report

    # The cut-out models run on the CPU: their own queue, never behind a GPU job.
    cut_btn.click(cutout, [state, product, remover], [state, mask_editor, cut_preview, status],
                  api_name="cutout", concurrency_id="cutout", concurrency_limit=2)
    fix_btn.click(fix, [state, product, mask_editor], [cut_preview], api_name="cutout_fix")
    build.click(build_ad,
                [state, product, mask_editor, remover, bg_mode, bg_image, bg_style, bg_preset, bg_prompt, model, seed,
                 headline, subline, price, cta, formats, scale],
                [state, status, previews, files, report_json], api_name="build_ad", concurrency_id=GPU,
                concurrency_limit=1)

    def show_background_inputs(mode):
        return (gr.Dropdown(visible=mode == "style"), gr.Image(visible=mode == "upload"),
                gr.Group(visible=mode in GENERATED_KINDS))

    bg_mode.change(show_background_inputs, [bg_mode], [bg_style, bg_image, generated], api_visibility="private")

    def new_product(state):
        state.cut, state.product_key = None, None  # strokes on the old photo no longer apply
        return state, None, None

    product.upload(new_product, [state], [state, mask_editor, cut_preview], api_visibility="private")
    product.clear(new_product, [state], [state, mask_editor, cut_preview], api_visibility="private")

    def localise(request: gr.Request):
        return gr.Dropdown(choices=preset_choices(services.studio, lang_of(request)))

    return {"product": product, "localise": (localise, [], [bg_preset])}


def _whole(value):
    """The seed widget's float as an int; empty as 0; anything else as it is, for the request to refuse."""
    if value in (None, ""):
        return 0
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _remover_choices() -> list[str]:
    from editor.ad import remover_names

    return remover_names()
