"""The Ad tab's brand kit panel: choose the shop's saved kit for the ad, or save / delete one.

A thin adapter over the Studio's brand store: widgets -> `BrandKit`, saved per shop on the
server's disk; the chosen kit's name goes with every build and batch. Each request sees the store
`Services.brands` gives it: with a private gallery only its own browser's kits.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from editor.ad.design import LOGO_POSITIONS
from ui.feedback import said_on_page, user_errors
from ui.i18n import lang_of, t, tr
from ui.uploads import ImageFile

NO_BRAND = ""


def brand_choices(brands, lang: str | None = None) -> list[tuple]:
    """The saved kits, after "none"; `lang` for an update sent from an event (static labels otherwise)."""
    none = tr(lang, "ad.brand_none") if lang else t("ad.brand_none")
    return [(none, NO_BRAND)] + [(name, name) for name in (brands.names() if brands is not None else ())]


def font_choices() -> list[tuple[str, str]]:
    from editor.ad.fonts import FontCatalogue

    return [(family.name, key) for key, family in FontCatalogue().families().items()]


def chosen_brand(brands, name: str | None):
    """The saved kit the user picked for this ad, or None."""
    return brands.load(name) if name else None


def save_brand(brands, name: str, logo, accent: str | None, text_colour: str | None, font: str | None,
               logo_position: str):
    from editor.ad.brand import BrandKit

    colours = tuple(c for c in (accent, text_colour) if c)
    # The uploaded file as it is: the kit reads it with our loader (header first, one-line errors).
    kit = BrandKit(name, colours, font or None, logo, logo_position or "stack")
    brands.save(kit)
    return kit


@dataclass(frozen=True)
class BrandPanel:
    pick: gr.Dropdown  # the kit applied to builds and batches
    localise: object  # request -> the pick's choices for that browser (run on page load)


def build_brand_panel(services) -> BrandPanel:
    # The page is the same for every browser: with private kits, each browser's list comes on page load.
    shared = None if services.config.private_gallery else services.studio.brands
    with gr.Accordion(t("ad.brand"), open=False, elem_id="ad-brand"):
        pick = gr.Dropdown(brand_choices(shared), value=NO_BRAND, label=t("ad.brand_pick"), elem_id="ad-brand-pick")
        with gr.Group():
            gr.Markdown(f"**{t('ad.brand_edit')}**")
            name = gr.Textbox(label=t("ad.brand_name"), elem_id="ad-brand-name")
            logo = ImageFile(type="filepath", image_mode="RGBA", format="png", label=t("ad.brand_logo"), height=140,
                            sources=("upload", "clipboard"), elem_id="ad-brand-logo")
            with gr.Row():
                accent = gr.ColorPicker(value="#b3261e", label=t("ad.brand_accent"))
                text_colour = gr.ColorPicker(value="#1f1a17", label=t("ad.brand_text"))
            with gr.Row():
                font = gr.Dropdown(font_choices(), value=None, label=t("ad.font"))
                logo_position = gr.Dropdown([(t(f"ad.logo_{p.replace('-', '_')}"), p) for p in LOGO_POSITIONS],
                                            value="stack", label=t("ad.brand_logo_position"))
            with gr.Row():
                save = gr.Button(t("ad.brand_save"), size="sm", elem_id="ad-brand-save")
                delete = gr.Button(t("ad.brand_delete"), size="sm", variant="stop")
            message = gr.Markdown(elem_id="ad-brand-message")

    @said_on_page(1, 2)
    def on_save(name, logo, accent, text_colour, font, logo_position, request: gr.Request):
        lang = lang_of(request)
        with user_errors(lang):
            brands = services.brands(request)
            kit = save_brand(brands, name, logo, accent, text_colour, font, logo_position)
        return gr.Dropdown(choices=brand_choices(brands, lang), value=kit.name), tr(lang, "ad.brand_saved", name=kit.name)

    @said_on_page(1, 2)
    def on_delete(chosen, request: gr.Request):
        lang = lang_of(request)
        if not chosen:
            return gr.Dropdown(), ""
        with user_errors(lang):
            brands = services.brands(request)
            brands.delete(chosen)
        return gr.Dropdown(choices=brand_choices(brands, lang), value=NO_BRAND), tr(lang, "ad.brand_deleted", name=chosen)

    save.click(on_save, [name, logo, accent, text_colour, font, logo_position], [pick, message], api_name="brand_save")
    delete.click(on_delete, [pick], [pick, message], api_name="brand_delete")

    def localise(request: gr.Request):
        return gr.Dropdown(choices=brand_choices(services.brands(request), lang_of(request)))

    return BrandPanel(pick, localise)
