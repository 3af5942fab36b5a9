"""Status tab: what works on this computer and what to do about what does not, in a shop owner's
words; the operator's details (models with their folders and fetch commands, the device, the
memory plan, the settings) in a closed section below.

The operator section is sent only to browsers on this computer (loopback, not through a proxy and
not on a hosted Space): paths and commands mean nothing to a shop's customers and staff on other
devices, and are none of their business. It is closed by default even there. Everything is read
fresh on each refresh; nothing is loaded.
"""

from __future__ import annotations

import ipaddress
import os

import gradio as gr

from models.locate import download_command, locate
from models.registry import MODELS, get_spec
from models.vocabulary import KV_EDIT
from ui.app_state import Services
from ui.i18n import lang_of, t, tr
from ui.model_choice import default_model, random_weights

PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


def from_this_computer(request) -> bool:
    """True for a browser on this computer: a loopback address, no proxy in between, not a Space."""
    if request is None or os.environ.get("SPACE_ID"):
        return False
    headers = getattr(request, "headers", None) or {}
    if any(headers.get(h) for h in PROXY_HEADERS):
        return False
    host = getattr(getattr(request, "client", None), "host", None)
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


# --- the shop owner's view ------------------------------------------------------------------


def _model_line(lang: str, model: str, ok_key: str, test_key: str) -> list[str]:
    if random_weights(model):
        return [tr(lang, test_key)]
    spec = get_spec(model)
    lines = [tr(lang, ok_key, model=spec.title)]
    if not spec.commercial_use:
        lines.append(tr(lang, "status.noncommercial", model=spec.title))
    return lines


def _cutout_line(lang: str) -> str:
    from editor.ad.cutout import OFFLINE, resolve_remover

    method = resolve_remover("auto")
    return tr(lang, "status.ads_offline") if method == OFFLINE else tr(lang, "status.ads_ok", model=method)


def shown_name(spec) -> str:
    """A model as the shop owner's view names it: a real model by its title ("FLUX.2 [klein] 4B"),
    a test model by its short name (its title is an English description)."""
    return spec.name if spec.random_weights else spec.title


def _korean_line(lang: str, model: str) -> str:
    spec = get_spec(model)
    if spec.reads_korean:
        return tr(lang, "status.korean_native", model=shown_name(spec))
    if locate("opus-mt-ko-en").available:
        return tr(lang, "status.korean_translator")
    return tr(lang, "status.korean_glossary")


def works_markdown(services: Services, lang: str, problems: list) -> str:
    """The shop owner's view; `problems`: `Studio.data_problems()`, read once per refresh."""
    preferred = services.config.model
    edit_model = default_model(KV_EDIT, preferred=preferred)
    any_model = default_model(preferred=preferred)
    lines = [*_model_line(lang, edit_model, "status.edit_ok", "status.edit_test_only"),
             *_model_line(lang, any_model, "status.gen_ok", "status.gen_test_only"),
             _cutout_line(lang), _korean_line(lang, any_model)]
    loaded, _notes = services.studio.resident()
    if loaded is not None:
        lines.append(tr(lang, "status.busy", model=shown_name(get_spec(loaded))))
    if services.studio.replicas_restarting:  # served by Ray and the replicas did not answer in time
        lines.append(tr(lang, "status.replicas_restarting"))
    sections = [*_list_section(tr(lang, "status.works"), lines),
                *_list_section(tr(lang, "status.data_problems"), [_owner_line(lang, p) for p in problems])]
    return _markdown(sections)


# --- the operator's details ------------------------------------------------------------------


def model_rows(lang: str) -> list[list[str]]:
    rows = []
    for spec in MODELS.values():
        location = locate(spec.name)
        if location.available:
            state = "✓ " + tr(lang, "status.available")
            # Not the folder: this answer may go to a remote browser (issue 16).
            where = tr(lang, "status.built_in") if location.source == "built-in-code" else "—"
        else:
            state = "⚠️ " + tr(lang, "status.missing")
            where = tr(lang, "status.fetch_with", command=download_command(spec.name))
        size = f"{spec.size_bytes / 1e9:.1f} GB" if spec.size_bytes else "—"
        rows.append([spec.label, spec.kind, state, size, where])
    return rows


def device_line(services: Services) -> str:
    import torch

    wanted = services.config.device
    if torch.cuda.is_available() and wanted in (None, "cuda"):
        free, total = torch.cuda.mem_get_info()
        name = torch.cuda.get_device_name()
        return f"CUDA · {name} · {free / 2**30:.1f} / {total / 2**30:.1f} GiB free"
    return f"CPU · {os.cpu_count()} cores · torch {torch.__version__}"


def memory_line(services: Services, lang: str) -> str:
    studio = services.studio
    model = services.config.model
    plan = studio.plan_preview(model)
    line = tr(lang, "status.memory_plan", model=model, kv=plan.kv_cache or "—", offload=plan.offload,
              tiling=plan.vae_tiling, why=plan.explanation)
    loaded, notes = studio.resident()
    if loaded is not None and studio.last_plan is not None:
        line += "  \n" + tr(lang, "status.memory_in_use", model=loaded, plan=studio.last_plan["name"],
                            notes="; ".join(notes) or "—")
    return line


def status_markdown(services: Services, lang: str, problems: list) -> str:
    """The operator's details (device, memory plan, settings, why data files were skipped)."""
    cfg = services.config
    settings = tr(lang, "status.settings_line", model=cfg.model, kv=cfg.kv_cache, memory=cfg.memory_mode,
                  output=cfg.output_dir.name)  # the folder's name only: no server path to remote browsers
    sections = [
        (tr(lang, "status.device"), device_line(services)),
        (tr(lang, "status.memory"), memory_line(services, lang)),
        (tr(lang, "status.settings"), settings),
        # as each file's parser said it; the log adds the folder
        *_list_section(tr(lang, "status.data_details"), [p.line() for p in problems]),
    ]
    return _markdown(sections)


def _markdown(sections: list[tuple[str, str]]) -> str:
    """(title, body) pairs as Markdown sections."""
    return "\n\n".join(f"### {title}\n\n{body}" for title, body in sections)


# --- sections --------------------------------------------------------------------------------


def _owner_line(lang: str, problem) -> str:
    """A skipped file as the shop owner reads it: its kind and name in their language, no folder."""
    return tr(lang, "status.data_problem", kind=tr(lang, f"data.kind.{problem.kind}"), file=f"`{problem.file}`")


def _list_section(title: str, lines: list[str]) -> list[tuple[str, str]]:
    """A section of bullet lines, or none when there are no lines."""
    return [(title, "\n".join(f"- {line}" for line in lines))] if lines else []


# ------------------------------------------------------------------------------------------------


def _headers(lang: str) -> list[str]:
    keys = ("status.col_model", "status.col_kind", "status.col_state", "status.col_size", "status.col_where")
    return [tr(lang, k) for k in keys]


def build_status_tab(services: Services) -> tuple:
    """Lay out the tab; returns (refresh function, its outputs) so the page can fill it on load."""
    works = gr.Markdown(elem_id="status-works")
    refresh = gr.Button(t("status.refresh"), elem_id="status-refresh")
    with gr.Accordion(t("status.operator"), open=False, visible=False, elem_id="status-operator") as operator:
        table = gr.Dataframe(headers=_headers("en"), label=t("status.models"), interactive=False, wrap=True,
                             elem_id="status-models")
        info = gr.Markdown(elem_id="status-info")

    def read_status(request: gr.Request):
        lang = lang_of(request)
        problems = services.studio.data_problems()  # scans the data folders (and logs each problem): once
        if not from_this_computer(request):
            return works_markdown(services, lang, problems), gr.Accordion(visible=False), gr.skip(), gr.skip()
        return (works_markdown(services, lang, problems), gr.Accordion(visible=True),
                {"headers": _headers(lang), "data": model_rows(lang)}, status_markdown(services, lang, problems))

    refresh.click(read_status, None, [works, operator, table, info], api_name="status")
    return read_status, [works, operator, table, info]
