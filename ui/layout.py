"""The whole app: the tabs assembled into one gr.Blocks, and the launch options it needs."""

from __future__ import annotations

import secrets

import gradio as gr

from ui.ad_tab import build_ad_tab
from ui.app_state import Services
from ui.edit_tab import build_edit_tab
from ui.examples import examples_css
from ui.gallery_tab import build_gallery_tab
from ui.generate_tab import build_generate_tab
from ui.i18n import I18N, t
from ui.model_choice import default_model, random_weights
from ui.status import build_status_tab

CSS = """
#app-title p { font-size: 1.9em; font-weight: 700; margin: 0; }
#edit-status, #status-info, #ad-status, #gen-status, #gallery-status { min-height: 3.5em; }
.tiny-warning { border-left: 4px solid #e0a000; padding-left: .6em; }
/* Gradio titles its toasts with their type in English ("Error"); Korean pages say it in Korean. */
html:lang(ko) .toast-title { font-size: 0; visibility: hidden; }
html:lang(ko) .toast-title::before { font-size: var(--text-md); visibility: visible; }
html:lang(ko) .toast-title.error::before { content: "오류"; }
html:lang(ko) .toast-title.warning::before { content: "주의"; }
html:lang(ko) .toast-title.info::before { content: "알림"; }
html:lang(ko) .toast-title.success::before { content: "완료"; }
"""
# On a phone the brush editors' canvas was drawn over their labels: there the label takes its own
# line, above the canvas.
CSS += """
@media (max-width: 640px) {
  #edit-editor [data-testid="block-label"], #ad-mask-editor [data-testid="block-label"] {
    position: relative; z-index: 10; margin-bottom: var(--size-2); white-space: normal; }
}
"""
CSS += examples_css(["edit-examples", "gen-examples", "ad-examples"])
# The page's language is the browser's (gradio leaves <html lang> empty), so CSS can follow it; and
# the two words gradio's progress display writes in English ("queue: 2/3 |", "processing |") are
# written in Korean on Korean pages.
HEAD = """<script>
(() => {
  const lang = (navigator.language || "en").split("-")[0];
  document.documentElement.lang = lang;
  if (lang !== "ko") return;
  const words = [[/^processing \|/, "처리 중 |"], [/^queue: /, "대기 순서: "]];
  const fix = (node) => {
    for (const [pattern, korean] of words) {
      if (pattern.test(node.nodeValue)) node.nodeValue = node.nodeValue.replace(pattern, korean);
    }
  };
  new MutationObserver((changes) => {
    for (const change of changes) {
      if (change.type === "characterData") fix(change.target);
      for (const added of change.addedNodes || []) {
        if (added.nodeType === Node.TEXT_NODE) fix(added);
        else if (added.nodeType === Node.ELEMENT_NODE) {
          const walker = document.createTreeWalker(added, NodeFilter.SHOW_TEXT);
          while (walker.nextNode()) fix(walker.currentNode);
        }
      }
    }
  }).observe(document.documentElement, {childList: true, subtree: true, characterData: true});
})();
</script>"""


def build_app(services: Services) -> gr.Blocks:
    with gr.Blocks(title="Intact", analytics_enabled=False, delete_cache=(3600, 24 * 3600)) as demo:
        gr.Markdown(t("app.title"), elem_id="app-title")
        gr.Markdown(t("app.subtitle"), elem_id="app-subtitle")
        if random_weights(default_model(preferred=services.config.model)):
            gr.Markdown(t("app.tiny_warning"), elem_classes="tiny-warning", elem_id="tiny-warning")
        with gr.Tabs() as tabs:
            with gr.Tab(t("tab.edit"), id="edit", elem_id="tab-edit"):
                edit = build_edit_tab(services)
            with gr.Tab(t("tab.ad"), id="ad", elem_id="tab-ad"):
                ad = build_ad_tab(services)
            with gr.Tab(t("tab.generate"), id="generate", elem_id="tab-generate"):
                generate = build_generate_tab(services)
            with gr.Tab(t("tab.gallery"), id="gallery", elem_id="tab-gallery") as gallery_tab:
                list_saved, gallery_outputs = build_gallery_tab(services, tabs, edit["editor"], generate["init_image"],
                                                                 edit["status"], edit["state"])
            with gr.Tab(t("tab.status"), id="status", elem_id="tab-status"):
                read_status, status_outputs = build_status_tab(services)
        # Opening the Gallery lists what was saved since: new results show without "refresh".
        gallery_tab.select(list_saved, None, gallery_outputs, api_visibility="private",
                           show_progress_on=[gallery_outputs[2]])
        # The browser's own id (kept in its storage across page reloads) is known first: saved
        # results stay this browser's own, and each tab restores what the browser left there.
        client = gr.BrowserState({}, storage_key="intact-client")
        known = demo.load(remember_browser(services), [client], [client], api_visibility="private", queue=False)
        # Texts composed on the server follow the browser's language from the first page load.
        for tab in (edit, ad, generate):
            fn, inputs, outputs = tab["localise"]
            known.then(fn, inputs, outputs, api_visibility="private")
        known.then(read_status, None, status_outputs, api_visibility="private")
        known.then(list_saved, None, gallery_outputs, api_visibility="private")
    return demo


def remember_browser(services: Services):
    """Page load: the browser's random id (made on its first visit), tied to this page session."""

    def remember(saved, request: gr.Request):
        saved = saved if isinstance(saved, dict) else {}
        browser = saved.get("id") if isinstance(saved.get("id"), str) and len(saved["id"]) == 32 else None
        browser = browser or secrets.token_hex(16)
        services.browsers.remember(getattr(request, "session_hash", None), browser)
        return {**saved, "id": browser}

    return remember


def launch_options() -> dict:
    """Keyword arguments for `demo.launch` that belong to the UI (gradio 6 takes them there)."""
    # No browser-side run history: it would keep every photo of every run in the browser's storage
    # (shared shop computers); the Gallery and the Edit tab's reload restore cover what is needed.
    return {"i18n": I18N, "css": CSS, "head": HEAD, "theme": gr.themes.Soft(), "run_history": False,
            "footer_links": ["api", "gradio", "settings"]}

