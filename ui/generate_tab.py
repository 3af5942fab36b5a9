"""Generate tab: text-to-image and image-to-image with shop presets and LoRA styles.

A thin adapter: widgets -> `GenerateRequest`, the Studio runs and saves it, the outcome -> the
gallery, the files and the report (with the prompt actually sent after Korean translation).
"""

from __future__ import annotations

import gradio as gr

from editor.studio import GenerateRequest, JobContext
from models.registry import get_spec
from ui.app_state import Services, session_owner
from ui.feedback import progress_reporter, user_errors
from ui.gpu import gpu
from ui.i18n import lang_of, t, tr
from ui.memory import plan_line
from ui.model_choice import default_model, model_choices, model_note
from ui.uploads import ImageFile

GPU = "gpu"
EXAMPLES = [  # (prompt, preset); never run at start-up
    ["딸기 케이크와 라떼", "cafe"],
    ["a steaming bowl of ramen", "restaurant"],
    ["립스틱과 향수병", "cosmetics"],
]
NONE = ""  # dropdown value for "no preset" / "no style"


def preset_choices(studio, lang: str) -> list[tuple[str, str]]:
    choices = [(tr(lang, "gen.no_preset"), NONE)]
    for name, preset in studio.presets().items():
        choices.append((preset.display_name(lang), name))
    return choices


def style_choices(studio, lang: str, model: str) -> list[tuple[str, str]]:
    """Every LoRA style; the ones that cannot be used with `model` or are not installed say why."""
    spec = get_spec(model)
    choices = [(tr(lang, "gen.no_lora"), NONE)]
    for name, style in studio.styles().items():
        label = style.display_name
        if not style.available:
            label += " — " + tr(lang, "gen.lora_not_installed")
        elif not style.fits(spec):
            label += " — " + tr(lang, "gen.lora_other_model", base=style.base_model)
        choices.append((label, name))
    return choices


def run_generate(services: Services, model: str, prompt: str, preset: str, negative: str, style: str,
                 style_weight: float, init_image, strength: float, width, height, steps, guidance, seed,
                 count: int, progress=None, request=None):
    """Generate (the Studio saves every picture); returns (images, saved paths, report)."""
    job = GenerateRequest(
        prompt=prompt or "",
        model=model,
        preset=preset or None,
        image=init_image,
        strength=_number(strength),
        style=style or None,
        style_weight=_number(style_weight) if style else None,
        seed=_optional_whole(seed),
        steps=_optional_whole(steps),
        guidance=_number(guidance) if guidance not in (None, "") else None,
        width=_optional_whole(width),
        height=_optional_whole(height),
        negative_prompt=negative or None,
        num_images=_optional_whole(count) or 1,
    )
    outcome = services.studio.generate(job, JobContext(owner=session_owner(request), progress=progress))
    paths = [str(path) for path in outcome.saved.files.values()]
    return outcome.images, paths, outcome.report


def _number(value):
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _optional_whole(value):
    """Empty or 0 means "use the preset's or the model's value"; other values go to the request
    as they are (it refuses what is not a whole number, NaN included)."""
    if value in (None, "") or value == 0:
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def build_generate_tab(services: Services) -> dict:
    model0 = default_model(preferred=services.config.model)
    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            model = gr.Dropdown(model_choices(), value=model0, label=t("common.model"), elem_id="gen-model")
            note = gr.Markdown(model_note(model0))
            prompt = gr.Textbox(label=t("gen.prompt"), placeholder=t("gen.prompt_ph"), lines=2, elem_id="gen-prompt")
            preset = gr.Dropdown(preset_choices(services.studio, "en"), value=NONE, label=t("gen.preset"), elem_id="gen-preset")
            gr.Examples(EXAMPLES, [prompt, preset], label=t("common.examples"), cache_examples=False,
                        example_labels=[f"{text} ({name})" for text, name in EXAMPLES])
            with gr.Row():
                lora = gr.Dropdown(style_choices(services.studio, "en", model0), value=NONE, label=t("gen.lora"), elem_id="gen-lora")
                lora_weight = gr.Slider(-2, 2, value=0.8, step=0.05, label=t("gen.lora_scale"))
            init_image = ImageFile(type="filepath", image_mode="RGB", format="png", label=t("gen.init_image"),
                                  sources=("upload", "clipboard"), height=240, elem_id="gen-init")
            strength = gr.Slider(0.05, 1.0, value=0.6, step=0.05, label=t("gen.strength"))
            with gr.Accordion(t("common.advanced"), open=False):
                negative = gr.Textbox(label=t("gen.negative"), lines=1)
                with gr.Row():
                    width = gr.Number(None, precision=0, minimum=0, maximum=2048, step=16, label=t("gen.width"),
                                      info=t("gen.auto_info"))
                    height = gr.Number(None, precision=0, minimum=0, maximum=2048, step=16, label=t("gen.height"),
                                       info=t("gen.auto_info"))
                with gr.Row():
                    steps = gr.Number(None, precision=0, minimum=0, maximum=100, label=t("common.steps"),
                                      info=t("gen.auto_info"))
                    guidance = gr.Number(None, minimum=0, maximum=20, label=t("common.guidance"),
                                         info=t("gen.auto_info"))
                with gr.Row():
                    seed = gr.Number(None, precision=0, minimum=0, label=t("common.seed"), info=t("gen.seed_info"))
                    count = gr.Slider(1, 4, value=1, step=1, label=t("gen.count"))
            run = gr.Button(t("gen.run"), variant="primary", elem_id="gen-run")
        with gr.Column(scale=1):
            status = gr.Markdown(elem_id="gen-status")
            gallery = gr.Gallery(label=t("gen.results"), columns=2, height=480, format="png", interactive=False,
                                 object_fit="contain",
                                 elem_id="gen-results")
            files = gr.File(label=t("gen.download"), file_count="multiple", interactive=False, elem_id="gen-files")
            with gr.Accordion(t("edit.report"), open=False):
                report_json = gr.JSON()

    @gpu
    def generate_images(model, prompt, preset, negative, lora, lora_weight, init_image, strength, width, height,
                        steps, guidance, seed, count, request: gr.Request, progress=gr.Progress()):  # noqa: B008 - gradio injects it
        lang = lang_of(request)
        with user_errors(lang):
            images, paths, report = run_generate(
                services, model, prompt, preset, negative, lora, lora_weight, init_image, strength, width, height,
                steps, guidance, seed, count, progress_reporter(progress, lang), request)
        message = tr(lang, "gen.done", count=len(images), seconds=f"{report['seconds']:.1f}",
                     model=report["model_label"])
        message += "  \n" + tr(lang, "gen.prompt_used") + f": `{report['prompt_sent']}`"
        message += "  \n" + plan_line(lang, report["memory_plan"])
        return message, images, paths, report

    def on_model(name, request: gr.Request):
        lang = lang_of(request)
        return model_note(name, lang), gr.Dropdown(choices=style_choices(services.studio, lang, name), value=NONE)

    def localise(name, request: gr.Request):
        lang = lang_of(request)
        return (model_note(name, lang), gr.Dropdown(choices=preset_choices(services.studio, lang)),
                gr.Dropdown(choices=style_choices(services.studio, lang, name)))

    run.click(generate_images,
              [model, prompt, preset, negative, lora, lora_weight, init_image, strength, width, height, steps,
               guidance, seed, count],
              [status, gallery, files, report_json], api_name="generate", concurrency_id=GPU, concurrency_limit=services.gpu_slots)
    model.change(on_model, [model], [note, lora], api_visibility="private")
    return {"init_image": init_image, "localise": (localise, [model], [note, preset, lora])}
