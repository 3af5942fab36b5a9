"""Generate tab: text-to-image and image-to-image with shop presets and LoRA styles.

A thin adapter: widgets -> `GenerateRequest`, the Studio runs and saves it, the outcome -> the
gallery, the files and the report (with the prompt actually sent after Korean translation).
"""

from __future__ import annotations

import gradio as gr

from editor.options import GENERATE_OPTIONS
from editor.studio import GenerateRequest, JobCancelled, JobContext
from models.registry import get_spec
from models.vocabulary import EXACT, TEXT2IMG
from ui.app_state import Services
from ui.controls import preview, run_button
from ui.examples import examples_by_language
from ui.feedback import cancel_job, progress_reporter, user_errors
from ui.gpu import GPU_QUEUE
from ui.i18n import lang_of, t, tr
from ui.memory import plan_line
from ui.model_choice import default_model, model_choices, model_note
from ui.option_controls import option_controls
from ui.prompts import english_for, english_preview
from ui.uploads import ImageFile

EXAMPLES = {  # (prompt, preset), per page language; never run at start-up
    "ko": [["딸기 케이크와 라떼", "cafe"], ["김이 나는 라멘 한 그릇", "restaurant"], ["립스틱과 향수병", "cosmetics"]],
    "en": [["strawberry cake and a latte", "cafe"], ["a steaming bowl of ramen", "restaurant"],
           ["a lipstick and a perfume bottle", "cosmetics"]],
}
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
                 count: int, progress=None, request=None, prompt_english: str | None = None, speed: str = EXACT):
    """Generate (the Studio saves every picture); returns (images, saved paths, report)."""
    job = GenerateRequest(
        prompt=prompt or "",
        prompt_english=prompt_english,
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
        speed=speed or EXACT,
    )
    session = getattr(request, "session_hash", None)  # the Cancel button reaches the job by it
    outcome = services.studio.generate(job, JobContext(session=session, owner=services.owner(request),
                                                       progress=progress))
    paths = [str(path) for path in outcome.saved.files.values()]
    return outcome.images, paths, outcome.report


def result_message(lang: str, report: dict, count: int) -> str:
    """The short line after a run: how many, how long, the steps that ran (as the progress bar
    counted them), the model; the prompt the model got; the memory used."""
    model = report.get("model", "")
    if report.get("random_weights"):
        model += " — " + tr(lang, "model.tag.random")
    line = "**" + tr(lang, "gen.result_line", count=count, seconds=f"{report['seconds']:.1f}",
                     steps=report.get("denoise_steps", report.get("steps")), model=model) + "**"
    line += "  \n" + tr(lang, "gen.prompt_used") + f": `{report['prompt_sent']}`"
    memory = plan_line(lang, report.get("memory_plan"))
    return line + ("  \n" + memory if memory else "")


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
            # Written in the browser's language on page load (never an English line first).
            note = gr.Markdown("", elem_id="gen-model-note")
            prompt = gr.Textbox(label=t("gen.prompt"), placeholder=t("gen.prompt_ph"), lines=2, elem_id="gen-prompt")
            prompt_en = gr.Textbox(label=t("prompt.english"), lines=2, visible=False, elem_id="gen-prompt-en")
            prompt_note = gr.Markdown(elem_id="gen-prompt-note")
            made_from = gr.State("")  # the Korean the English box was made from
            preset = gr.Dropdown(preset_choices(services.studio, "en"), value=NONE, label=t("gen.preset"), elem_id="gen-preset")
            examples_by_language(EXAMPLES, [prompt, preset], "gen-examples", lambda row: row[0])
            lora = gr.Dropdown(style_choices(services.studio, "en", model0), value=NONE, label=t("gen.lora"),
                               elem_id="gen-lora")
            init_image = ImageFile(type="filepath", image_mode="RGB", format="png", label=t("gen.init_image"),
                                  sources=("upload", "clipboard"), height=240, elem_id="gen-init")
            # The options as editor/options.py declares them; the style's strength is an expert one.
            with gr.Accordion(t("common.advanced"), open=False, elem_id="gen-advanced"):
                negative = gr.Textbox(label=t("gen.negative"), lines=1)
                controls = option_controls(GENERATE_OPTIONS, {"style_weight": 0.8}, "gen")
            strength, width, height, steps, guidance, seed, count, speed, lora_weight = (
                controls[name] for name in ("strength", "width", "height", "steps", "guidance", "seed", "num_images",
                                            "speed", "style_weight"))
            with gr.Row():
                run = gr.Button(t("gen.run"), variant="primary", elem_id="gen-run", scale=3)
                cancel_btn = gr.Button(t("common.cancel"), variant="stop", elem_id="gen-cancel", scale=1)
        with gr.Column(scale=1):
            status = gr.Markdown(elem_id="gen-status")
            gallery = gr.Gallery(label=t("gen.results"), columns=2, height=480, format="png", interactive=False,
                                 object_fit="contain",
                                 elem_id="gen-results")
            files = gr.File(label=t("gen.download"), file_count="multiple", interactive=False, elem_id="gen-files")
            with gr.Accordion(t("common.details"), open=False):
                report_json = gr.JSON(label=t("edit.report"))

    def generate_images(v: dict, request: gr.Request, progress) -> tuple:
        lang = lang_of(request)
        with user_errors(lang):
            try:
                images, paths, report = run_generate(
                    services, v["model"], v["prompt"], v["preset"], v["negative"], v["lora"], v["lora_weight"],
                    v["init_image"], v["strength"], v["width"], v["height"], v["steps"], v["guidance"], v["seed"],
                    v["count"], progress_reporter(progress, lang), request,
                    english_for(v["prompt"], v["prompt_english"], v["made_from"]), v["speed"])
            except JobCancelled:
                return tr(lang, "common.cancelled"), gr.skip(), gr.skip(), gr.skip()
        return result_message(lang, report, len(images)), [preview(image) for image in images], paths, report

    def cancel(request: gr.Request):
        return cancel_job(services.studio, request.session_hash or None, lang_of(request))

    def on_prompt(text, name, request: gr.Request):
        return english_preview(services.studio, lang_of(request), text, name, TEXT2IMG)

    def on_model(name, request: gr.Request):
        lang = lang_of(request)
        return model_note(name, lang), gr.Dropdown(choices=style_choices(services.studio, lang, name), value=NONE)

    def localise(name, request: gr.Request):
        lang = lang_of(request)
        return (model_note(name, lang), gr.Dropdown(choices=preset_choices(services.studio, lang)),
                gr.Dropdown(choices=style_choices(services.studio, lang, name)))

    # The inputs by name: the names are the API's parameters.
    inputs = {"made_from": made_from, "model": model, "prompt": prompt, "preset": preset, "negative": negative,
              "lora": lora, "lora_weight": lora_weight, "init_image": init_image, "strength": strength,
              "width": width, "height": height, "steps": steps, "guidance": guidance, "seed": seed, "count": count,
              "speed": speed, "prompt_english": prompt_en}
    run_button(run, generate_images, inputs, [status, gallery, files, report_json], status=status, buttons=[run],
               defaults={"speed": EXACT, "prompt_english": None},
               api_name="generate", concurrency_id=GPU_QUEUE, concurrency_limit=services.gpu_slots,
               show_progress_on=[status])
    cancel_btn.click(cancel, None, [status], api_name="cancel_generate", show_progress="hidden")
    model.change(on_model, [model], [note, lora], api_visibility="private")
    for trigger in (prompt.change, model.change):
        trigger(on_prompt, [prompt, model], [prompt_en, prompt_note, made_from], api_visibility="private",
                trigger_mode="always_last", show_progress="hidden", concurrency_id="translate", concurrency_limit=2)
    return {"init_image": init_image, "localise": (localise, [model], [note, preset, lora])}
