"""Ad tab: product photo → cut-out (fixable with a brush) → background → ad copy → formats.

Each browser session owns one `editor.ad.AdWorkflow` (in gr.State). The workflow re-runs only
the steps whose inputs changed, so editing the headline re-renders only the text. The UI turns
the brush strokes into add/remove masks, calls the workflow, saves every format to the output
store (Gallery) and offers each format and a zip of all of them for download.
"""

from __future__ import annotations

import io
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

from ui.app_state import Services, session_owner
from ui.feedback import progress_reporter, user_errors
from ui.gpu import gpu
from ui.i18n import lang_of, t, tr
from ui.imaging import checkerboard_preview, digest, dimmed_outside, strokes_by_colour
from ui.memory import job_plan
from ui.model_choice import default_model, model_choices

GPU = "gpu"
ADD_COLOUR, REMOVE_COLOUR = "#22c55e", "#ef4444"  # green paints product in, red paints it out
MASK_BRUSH = gr.Brush(colors=[ADD_COLOUR, REMOVE_COLOUR], default_color=ADD_COLOUR, color_mode="fixed")
EXAMPLE_COPY = [  # headline, sub-line, price, call to action
    ["신메뉴 출시", "봄 딸기 라떼", "5,500원", "지금 주문하기"],
    ["오늘만 20% 할인", "수제 디저트 전 품목", "", "매장에서 만나요"],
    ["New arrival", "Linen summer dress", "₩39,000", "Shop now"],
]
BACKGROUND_MODES = ("upload", "style", "preset", "around-product")


@dataclass(eq=False)
class AdState:
    """One browser session's ad workflow and the cut-out it is fixing."""

    workflow: object | None = None  # editor.ad.AdWorkflow
    cut: object | None = None  # editor.ad.CutOut of the current product (before brush fixes)
    product_key: str | None = None
    # Set on first use, not at construction: gr.State deep-copies one initial value per session,
    # so an id made here would be shared by every session.
    run_id: str | None = None


def close_ad_state(state) -> None:
    """gr.State delete callback: release the session's cut-out model."""
    if isinstance(state, AdState) and state.workflow is not None:
        state.workflow.close()


def workflow_for(services: Services, state: AdState, model: str):
    from editor.ad import AdWorkflow

    if state.workflow is None:
        state.workflow = AdWorkflow(manager=services.manager, model_name=model)
    state.workflow.model_name = model
    return state.workflow


def format_choices() -> list[tuple[str, str]]:
    from editor.ad.formats import FORMAT_SPECS

    return [(f"{spec.label} ({spec.width}×{spec.height})", name) for name, spec in FORMAT_SPECS.items()]


def backdrop_choices() -> list[tuple[str, str]]:
    from editor.ad.backgrounds import list_backdrops, load_backdrop

    return [(load_backdrop(name).label, name) for name in list_backdrops()]


def preset_choices(lang: str) -> list[tuple[str, str]]:
    from editor.presets import load_presets

    return [(preset.display_name(lang), name) for name, preset in load_presets().items()]


def _product_pixels(product: Image.Image) -> np.ndarray:
    return np.asarray(product.convert("RGBA") if "A" in product.getbands() else product.convert("RGB"))


def run_cutout(services: Services, state: AdState, product: Image.Image | None, remover: str, model: str):
    """Cut the product out; returns (editor value for fixing it, checkerboard preview, method)."""
    from editor.ad import cut_out
    from editor.errors import InputError

    if product is None:
        raise InputError("Upload a product photo first.")
    workflow = workflow_for(services, state, model)
    cut = cut_out(_product_pixels(product), remover, sessions=workflow.sessions)
    state.cut, state.product_key = cut, digest(_product_pixels(product))
    rgb = np.asarray(product.convert("RGB"))
    canvas = dimmed_outside(rgb, cut.alpha)
    return {"background": canvas, "layers": [], "composite": canvas}, checkerboard_preview(cut.rgba), cut.method


def preview_fix(state: AdState, product: Image.Image | None, mask_value):
    """The cut-out with the brush fixes applied (no model runs)."""
    from editor.ad import correct_alpha

    if state.cut is None or product is None:
        return None
    if state.product_key != digest(_product_pixels(product)):
        from editor.errors import InputError

        raise InputError("This is a new product photo: press Cut out first.")
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


def build_request(inputs: AdInputs, out_dir: Path):
    from editor.ad import AdRequest
    from editor.errors import InputError

    if inputs.product is None:
        raise InputError("Upload a product photo first.")
    if not inputs.formats:
        raise InputError("Choose at least one format.")
    add, remove = strokes_by_colour((inputs.mask_value or {}).get("layers"), inputs.product.size)
    mode = inputs.bg_mode
    if mode == "upload" and inputs.bg_image is None:
        raise InputError("Upload a background picture, or choose another kind of background.")
    return AdRequest(
        product=_product_pixels(inputs.product),
        headline=inputs.headline or "",
        subline=inputs.subline or "",
        price=inputs.price or "",
        cta=inputs.cta or "",
        formats=tuple(inputs.formats),
        background=np.asarray(inputs.bg_image.convert("RGB")) if mode == "upload" else None,
        backdrop=inputs.bg_style if mode == "style" else None,
        background_prompt=(inputs.bg_prompt or None) if mode in ("preset", "around-product") else None,
        preset=(inputs.bg_preset or None) if mode in ("preset", "around-product") else None,
        around_product=mode == "around-product",
        remover=inputs.remover,
        mask_add=add,
        mask_remove=remove,
        model=inputs.model,
        seed=int(inputs.seed or 0),
        scale=float(inputs.scale),
        out_dir=str(out_dir),
    )


def run_ad(services: Services, state: AdState, inputs: AdInputs, progress=None, owner: str | None = None):
    """Build every chosen format; returns (previews, files incl. the zip, report)."""
    if state.run_id is None:
        state.run_id = uuid.uuid4().hex[:12]
    out_dir = Path(services.config.output_dir) / "ads" / state.run_id
    request = build_request(inputs, out_dir)
    workflow = workflow_for(services, state, inputs.model)
    if inputs.bg_mode in ("preset", "around-product"):
        result = _run_with_model(services, workflow, request, inputs, progress)
    else:  # no model involved: no need to wait for the accelerator lock
        result = workflow.run(request, progress=progress)
    files = [result.paths[name] for name in request.formats if name in result.paths]
    zip_path = out_dir / "ad-formats.zip"
    _write_zip(zip_path, files)
    texts = {"headline": request.headline, "subline": request.subline, "price": request.price, "cta": request.cta}
    for name, image in result.images.items():
        services.store.save(image, {"task": "ad", "format": name, **texts,
                                    "background_kind": result.report.get("background_kind"),
                                    "cutout": result.report.get("cutout", {}).get("method"), "owner": owner})
    previews = [(result.images[name], name) for name in request.formats if name in result.images]
    return previews, [*files, str(zip_path)], result.report


def _run_with_model(services: Services, workflow, request, inputs: AdInputs, progress):
    """A background made by a diffusion model: the ad workflow run under a memory plan (applied to
    the manager, with the out-of-memory fallback), as the edit and generation workflows run."""
    from editor.planned_run import plan_report, run_planned
    from models.registry import get_spec

    manager = services.manager
    task = "kv-edit" if inputs.bg_mode == "around-product" else "generate"
    with manager.lock:
        services.switch_model(inputs.model)
        # Backgrounds are generated at most 1024 px on the long side (editor.ad.backgrounds).
        plan = job_plan(services, inputs.model, (1024, 1024), get_spec(inputs.model).default_steps, task=task,
                        mask_fraction=0.7)
        result, ran = run_planned(manager, plan, lambda _plan: workflow.run(request, progress=progress))
    services.plan_in_use = plan_report(plan, ran)
    return result


def _write_zip(path: Path, files: list[str]) -> None:
    from editor.storage import atomic_write_bytes

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:  # PNGs are compressed already
        for file in files:
            archive.write(file, arcname=Path(file).name)
    atomic_write_bytes(path, buffer.getvalue())


def build_ad_tab(services: Services) -> dict:
    flux_or_any = default_model(preferred=services.config.model)
    state = gr.State(AdState(), time_to_live=services.config.session_ttl_s, delete_callback=close_ad_state)
    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            gr.Markdown(f"### 1. {t('ad.product')}")
            with gr.Row():
                product = gr.Image(type="pil", image_mode=None, format="png", label=t("ad.product"),
                                   sources=("upload", "clipboard"), height=260, elem_id="ad-product")
                cut_preview = gr.Image(type="pil", format="png", label=t("ad.cutout_preview"), interactive=False,
                                       height=260, elem_id="ad-cut-preview")
            with gr.Row():
                remover = gr.Dropdown(_remover_choices(), value="auto", label=t("ad.remover"), scale=2)
                cut_btn = gr.Button(t("ad.cutout"), elem_id="ad-cutout", scale=1)
            mask_editor = gr.ImageEditor(
                type="pil", format="png", image_mode="RGBA", brush=MASK_BRUSH, eraser=gr.Eraser(), transforms=(),
                layers=False, sources=(), label=t("ad.cutout_editor"), height=360, elem_id="ad-mask-editor",
            )
            fix_btn = gr.Button(t("ad.fix_preview"), size="sm", elem_id="ad-fix")
            gr.Markdown(f"### 2. {t('ad.background')}")
            bg_mode = gr.Radio([(t(f"ad.bg_{m.replace('-', '_')}"), m) for m in BACKGROUND_MODES], value="style",
                               label=t("ad.bg_mode"), elem_id="ad-bg-mode")
            bg_style = gr.Dropdown(backdrop_choices(), value="studio-white", label=t("ad.bg_style_pick"))
            bg_image = gr.Image(type="pil", image_mode="RGB", format="png", label=t("ad.bg_image"), height=200,
                                sources=("upload", "clipboard"), visible=False)
            with gr.Group(visible=False) as generated:
                bg_preset = gr.Dropdown(preset_choices("en"), value=None, label=t("ad.bg_preset_pick"))
                bg_prompt = gr.Textbox(label=t("ad.bg_prompt"), lines=1)
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

    def cutout(state, product, remover, model, request: gr.Request, progress=gr.Progress()):  # noqa: B008 - gradio injects it
        lang = lang_of(request)
        progress(0, desc=tr(lang, "progress.cutout"))
        with user_errors(lang):
            value, preview, method = run_cutout(services, state, product, remover, model)
        return state, value, preview, tr(lang, "ad.cutout_done", method=method)

    def fix(state, product, mask_value, request: gr.Request):
        with user_errors(lang_of(request)):
            return preview_fix(state, product, mask_value)

    @gpu
    def build_ad(state, product, mask_value, remover, bg_mode, bg_image, bg_style, bg_preset, bg_prompt, model,
                 seed, headline, subline, price, cta, formats, scale, request: gr.Request, progress=gr.Progress()):  # noqa: B008 - gradio injects it
        lang = lang_of(request)
        inputs = AdInputs(product, mask_value, remover, bg_mode, bg_image, bg_style, bg_preset, bg_prompt, model,
                          seed, headline, subline, price, cta, list(formats or []), scale)
        with user_errors(lang):
            shown, paths, report = run_ad(services, state, inputs, progress_reporter(progress, lang),
                                          owner=session_owner(request))
        ran = ", ".join(sorted({key.split("[")[0] for key in report["nodes"]["ran"]})) or "—"
        message = tr(lang, "ad.done", count=len(shown), seconds=f"{report['seconds']:.1f}", nodes=ran)
        return state, message, shown, paths, report

    cut_btn.click(cutout, [state, product, remover, model], [state, mask_editor, cut_preview, status],
                  api_name="cutout", concurrency_id=GPU, concurrency_limit=1)
    fix_btn.click(fix, [state, product, mask_editor], [cut_preview], api_name="cutout_fix")
    build.click(build_ad,
                [state, product, mask_editor, remover, bg_mode, bg_image, bg_style, bg_preset, bg_prompt, model, seed,
                 headline, subline, price, cta, formats, scale],
                [state, status, previews, files, report_json], api_name="build_ad", concurrency_id=GPU,
                concurrency_limit=1)

    def show_background_inputs(mode):
        return (gr.Dropdown(visible=mode == "style"), gr.Image(visible=mode == "upload"),
                gr.Group(visible=mode in ("preset", "around-product")))

    bg_mode.change(show_background_inputs, [bg_mode], [bg_style, bg_image, generated], api_visibility="private")

    def new_product(state):
        state.cut, state.product_key = None, None  # strokes on the old photo no longer apply
        return state, None, None

    product.upload(new_product, [state], [state, mask_editor, cut_preview], api_visibility="private")
    product.clear(new_product, [state], [state, mask_editor, cut_preview], api_visibility="private")

    def localise(request: gr.Request):
        return gr.Dropdown(choices=preset_choices(lang_of(request)))

    return {"product": product, "localise": (localise, [], [bg_preset])}


def _remover_choices() -> list[str]:
    from editor.ad import remover_names

    return remover_names()
