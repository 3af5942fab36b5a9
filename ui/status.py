"""Status tab: which models are on this machine (and how to fetch the missing ones), the device,
and the memory plan in use. Everything here is read fresh on each refresh; nothing is loaded."""

from __future__ import annotations

import os

import gradio as gr

from models.locate import download_command, locate
from models.registry import MODELS
from ui.app_state import Services
from ui.i18n import lang_of, t, tr


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


def status_markdown(services: Services, lang: str) -> str:
    cfg = services.config
    settings = tr(lang, "status.settings_line", model=cfg.model, kv=cfg.kv_cache, memory=cfg.memory_mode,
                  output=cfg.output_dir.name)  # the folder's name only: no server path to remote browsers
    sections = [
        (tr(lang, "status.device"), device_line(services)),
        (tr(lang, "status.memory"), memory_line(services, lang)),
        (tr(lang, "status.settings"), settings),
        *data_problems_section(services, lang),
    ]
    return "\n\n".join(f"### {title}\n\n{body}" for title, body in sections)


# --- data files skipped (issue 16) -----------------------------------------------------------


def data_problems_section(services: Services, lang: str) -> list[tuple[str, str]]:
    """A section listing the data files the Studio skipped (file names, no folders), when any."""
    problems = services.studio.data_problems()
    if not problems:
        return []
    return [(tr(lang, "status.data_problems"), "\n".join(f"- {p.line()}" for p in problems))]


# ------------------------------------------------------------------------------------------------


def _headers(lang: str) -> list[str]:
    keys = ("status.col_model", "status.col_kind", "status.col_state", "status.col_size", "status.col_where")
    return [tr(lang, k) for k in keys]


def build_status_tab(services: Services) -> tuple:
    """Lay out the tab; returns (refresh function, its outputs) so the page can fill it on load."""
    table = gr.Dataframe(headers=_headers("en"), label=t("status.models"), interactive=False, wrap=True,
                         elem_id="status-models")
    info = gr.Markdown(elem_id="status-info")
    refresh = gr.Button(t("status.refresh"))

    def read_status(request: gr.Request):
        lang = lang_of(request)
        return {"headers": _headers(lang), "data": model_rows(lang)}, status_markdown(services, lang)

    refresh.click(read_status, None, [table, info], api_name="status")
    return read_status, [table, info]
