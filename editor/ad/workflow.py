"""The ad pipeline as a chain of typed nodes, recomputed per format and rerun only where inputs
changed:

    cut-out → palette → background → design (layout) → placement → composite → text → save

So a new headline reruns the design, the text and the save for each format, while the cut-out,
the palette and the (possibly generated) background come from the graph's cache; an edited
layout (text size, font, colours, position) does the same, and moving the product adds only
placement and composite. The layout each format got comes back in the result as data
(`editor.ad.design.AdLayout`), ready to be edited and sent back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
from PIL import Image

from editor.ad import backgrounds as bglib
from editor.ad import grounding
from editor.ad import templates as tpl
from editor.ad.brand import BrandKit
from editor.ad.colour import parse_hex, to_hex
from editor.ad.composite import (
    Placement,
    PlacementRequest,
    composite,
    light_direction,
    place_product,
    requested_placement,
    shadow_map,
    upscale_factor,
)
from editor.ad.composition import Geometry, auto_layout
from editor.ad.cutout import AUTO, CutOut, RembgSessions, correct_alpha, cut_out, resolve_remover
from editor.ad.design import AdLayout, TextSettings
from editor.ad.fonts import FontBook, FontCatalogue, family_key, pair_book
from editor.ad.formats import POSITIONS, AdFormat, get_format, scaled, unique_formats
from editor.ad.layout import describe_elements, plan_text, render_text
from editor.ad.nodes import Graph, Node
from editor.ad.palette import Palette, accent_colour, product_palette, suggest_colours
from editor.ad.saliency import busy_map
from editor.ad.typography import ROLES, BrandMark, Copy, missing_notes
from editor.errors import InputError, IntactError
from editor.images import as_mask, load_image
from models.vocabulary import KV_EDIT, TEXT2IMG

Progress = Callable[[str, int, int], None]
BACKGROUND_KINDS = ("upload", "backdrop", "prompt", "around-product")
FORMAT_NOUNS = {"instagram-square": "an Instagram square", "instagram-portrait": "an Instagram portrait",
                "story": "a story", "web-banner": "a web banner"}
ELEMENT_ORDER = ("brand", *ROLES)


@dataclass(frozen=True, eq=False)
class AdRequest:
    product: Any  # path, bytes, PIL image or array; a transparent PNG is used as its own cut-out
    headline: str
    subline: str = ""
    price: str = ""
    cta: str = ""
    old_price: str = ""  # struck through before the price (or write the price as "5,500원 → 4,500원")
    formats: tuple[str, ...] = ("instagram-square",)
    background: Any = None  # an uploaded photo
    background_prompt: str | None = None  # generate the background from this text
    backdrop: str | None = None  # a procedural backdrop from assets/backdrops
    around_product: bool = False  # generate the scene around the product with KV-Edit
    preset: str | None = None  # a shop preset (editor.presets) that styles the generated background
    remover: str = AUTO
    mask_add: Any = None  # brush strokes (H×W in [0, 1] or a mask image) that paint product in
    mask_remove: Any = None  # ... and out, applied to the cut-out before composing
    placement: PlacementRequest | None = None  # the product's place in every format (a layout's own wins)
    layouts: Mapping[str, AdLayout] | None = None  # per format: what the user set after a build
    brand: BrandKit | None = None
    accent: str | None = None  # "#rrggbb" for the price and the button; default from the brand or product
    model: str | None = None  # diffusion model for generated backgrounds
    seed: int = 0
    steps: int | None = None
    scale: float = 1.0  # render every format at this fraction of its size (previews, tests)
    design: int | None = None  # design number: 1 = the best-fitting template, 2 = the next... (same copy)
    out_dir: str | None = None  # where the PNGs go; None keeps them in memory only

    def __post_init__(self):
        from editor.ad.request_checks import check_ad_request

        check_ad_request(self)  # refused when made, like every Studio request


@dataclass
class AdResult:
    images: dict[str, Image.Image]
    report: dict
    cutout: CutOut | None = None
    paths: dict[str, str] = field(default_factory=dict)
    layouts: dict[str, AdLayout] = field(default_factory=dict)  # every field set: edit and send back


@dataclass(frozen=True)
class BackgroundSource:
    kind: str  # one of BACKGROUND_KINDS
    image: np.ndarray | None = None
    backdrop: str = bglib.DEFAULT_BACKDROP
    prompt: str = ""
    model: str = ""
    seed: int = 0
    steps: int | None = None


@dataclass(frozen=True)
class Background:
    rgb: np.ndarray
    report: dict


@dataclass(frozen=True)
class Shadows:
    contact: float
    drop: float
    light_angle: float | None  # None: measured on the background
    reflection: float = 0.0  # a faint mirror image on glossy surfaces


@dataclass(frozen=True)
class Design:
    layout: AdLayout
    geometry: Geometry


@dataclass(frozen=True)
class Composite:
    rgb: np.ndarray
    product_alpha: np.ndarray  # where the product is on this canvas
    light: tuple[float, float]
    shadow_gap: float = 0.0  # pixels of light between the product's base and its contact shadow


@dataclass(frozen=True)
class RenderedAd:
    rgb: np.ndarray
    elements: tuple[dict, ...]
    text_color: str
    accent: str
    notes: tuple[str, ...]
    suggested_colors: dict


@dataclass(frozen=True)
class SavedAd:
    path: str


# ------------------------------------------------------------------------------------ nodes

class CutoutNode(Node):
    name = "cutout"
    inputs = {"image": np.ndarray, "alpha": (np.ndarray, type(None)), "remover": str,
              "add": (np.ndarray, type(None)), "remove": (np.ndarray, type(None))}
    output = CutOut

    def __init__(self, sessions: RembgSessions):
        self.sessions = sessions

    def compute(self, image, alpha, remover, add, remove):
        source = image if alpha is None else np.dstack([image, alpha])
        cut = cut_out(source, remover, sessions=self.sessions)
        if add is not None or remove is not None:
            cut = correct_alpha(cut, image, add=add, remove=remove)
        return cut


class PaletteNode(Node):
    name = "palette"
    inputs = {"cutout": CutOut}
    output = Palette

    def compute(self, cutout):
        return product_palette(cutout.rgba[..., :3], cutout.alpha)


class BackgroundNode(Node):
    """Uploaded, procedural or prompt-generated backgrounds (independent of the product, except
    backdrops made from its palette)."""

    name = "background"
    inputs = {"format": AdFormat, "source": BackgroundSource, "palette": (Palette, type(None)), "view": str,
              "horizon": (float, type(None))}
    output = Background

    def __init__(self, manager, progress: Progress | None = None):
        self.manager, self.progress = manager, progress

    def compute(self, format, source, palette, view, horizon):
        if source.kind == "upload":
            return Background(bglib.fit_cover(source.image, format.size), {"kind": "upload"})
        if source.kind == "backdrop":
            rgb = bglib.render_backdrop(bglib.load_backdrop(source.backdrop), format.size, palette, view, horizon)
            report = {"kind": "backdrop", "backdrop": source.backdrop, "view": view}
            if horizon is not None:
                report["horizon"] = round(horizon, 4)
            return Background(rgb, report)
        rgb = bglib.generate_from_prompt(self.manager, source.model, source.prompt, format.size, source.seed, source.steps,
                                         progress=self.progress)
        return Background(rgb, {"kind": "prompt", "prompt": source.prompt, "model": source.model, "seed": source.seed})


class SceneAroundProductNode(Node):
    """KV-Edit: the placed product is preserved, the rest of the picture is generated around it."""

    name = "background-around-product"
    inputs = {"format": AdFormat, "source": BackgroundSource, "cutout": CutOut, "placement": Placement,
              "palette": Palette}
    output = Background

    def __init__(self, manager, progress: Progress | None = None):
        self.manager, self.progress = manager, progress

    def compute(self, format, source, cutout, placement, palette):
        neutral = bglib.render_backdrop(bglib.load_backdrop(source.backdrop), format.size, palette)
        layer, alpha = place_product(cutout, placement, format.size)
        canvas = composite(neutral, layer, alpha, harmonise=0.0)
        rgb, report = bglib.generate_around_product(self.manager, source.model, canvas, alpha, source.prompt, source.seed,
                                                    source.steps, progress=self.progress)
        return Background(rgb, {"kind": "around-product", "prompt": source.prompt, "model": source.model,
                                "seed": source.seed, "kv_edit": report})


class DesignNode(Node):
    """The layout: the user's fields kept, the rest chosen by the composition (calm areas of the
    background when there is one yet)."""

    name = "design"
    inputs = {"format": AdFormat, "cut_size": tuple, "copy": Copy, "wanted": AdLayout, "defaults": TextSettings,
              "brand": (BrandMark, type(None)), "background": (Background, type(None)), "fonts_id": str,
              "badges": tuple}
    output = Design

    def __init__(self, fonts: FontBook):
        self.fonts = fonts

    def compute(self, format, cut_size, copy, wanted, defaults, brand, background, fonts_id, badges):
        busy = busy_map(background.rgb) if background is not None else None
        layout, geometry = auto_layout(format, cut_size, copy, self.fonts, wanted, brand, busy, defaults, badges)
        return Design(layout, geometry)


class DecorNode(Node):
    """The template's shape behind the text (a colour field, a card, a band), painted on the
    background before the product goes on."""

    name = "decor"
    inputs = {"background": Background, "decor": (tpl.Decor, type(None)), "accent": str, "dominant": tuple}
    output = Background

    def compute(self, background, decor, accent, dominant):
        if decor is None:
            return background
        fill, opacity = tpl.decor_colours(decor, parse_hex(accent), dominant)
        return Background(tpl.paint_decor(background.rgb, decor, fill, opacity),
                          {**background.report, "decor": decor.kind})


class PlacementNode(Node):
    name = "placement"
    inputs = {"cutout": CutOut, "format": AdFormat, "request": PlacementRequest}
    output = Placement

    def compute(self, cutout, format, request):
        x0, y0, x1, y1 = cutout.bbox()
        return requested_placement((x1 - x0, y1 - y0), format, request)


class CompositeNode(Node):
    name = "composite"
    inputs = {"background": Background, "cutout": CutOut, "placement": Placement, "shadows": Shadows}
    output = Composite

    def compute(self, background, cutout, placement, shadows):
        size = (background.rgb.shape[1], background.rgb.shape[0])
        layer, alpha = place_product(cutout, placement, size)
        box = (placement.x, placement.y, placement.x + placement.width, placement.bottom)
        light = light_direction(background.rgb, box, shadows.light_angle)
        shadow = shadow_map(alpha, placement, shadows.contact, shadows.drop, light)
        mirror = grounding.reflection(layer, alpha, placement.height, shadows.reflection) if shadows.reflection > 0 else None
        return Composite(composite(background.rgb, layer, alpha, shadow, reflection=mirror), alpha, light,
                         grounding.shadow_gap(alpha, shadow))


class TextNode(Node):
    name = "text"
    inputs = {"composite": Composite, "design": Design, "palette": Palette, "colors": tuple,
              "brand": (BrandMark, type(None)), "fonts_id": str}
    output = RenderedAd

    def __init__(self, fonts: FontBook):
        self.fonts = fonts

    def compute(self, composite, design, palette, colors, brand, fonts_id):
        text_hex, accent_hex = colors
        plan = plan_text(composite.rgb, design.geometry, self.fonts, palette, text_hex, accent_hex)
        rgb, elements = render_text(composite.rgb, composite.product_alpha, plan, self.fonts, brand)
        x0, y0, x1, y1 = plan.panel_box or design.geometry.block_box()
        under = composite.rgb[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)]
        return RenderedAd(rgb, tuple(elements), to_hex(plan.colours.text), to_hex(plan.colours.button), plan.notes,
                          suggest_colours(palette, under.reshape(-1, 3)[:: max(1, under.size // 3 // 20000)]))


class SaveNode(Node):
    name = "save"
    inputs = {"ad": RenderedAd, "path": str, "params": dict}
    output = SavedAd

    def compute(self, ad, path, params):
        from editor.atomic import atomic_write_bytes
        from editor.storage import encode_png

        atomic_write_bytes(Path(path), encode_png(Image.fromarray(ad.rgb), params))
        return SavedAd(path)

    def still_valid(self, value) -> bool:
        return Path(value.path).is_file()


# ------------------------------------------------------------------------------------ workflow



class AdWorkflow:
    """Runs ad requests; keeps its node cache, fonts and rembg session between runs (one per user).

    `manager` (models.manager.ModelManager) is only needed for generated backgrounds; without it
    uploaded and procedural backgrounds work and asking for a generated one is a clear error.
    """

    def __init__(self, manager=None, model_name: str | None = None, fonts: FontCatalogue | None = None):
        self.manager = manager
        self.model_name = model_name
        self.fonts = fonts or FontCatalogue()
        self.sessions = RembgSessions()
        self.graph = Graph()
        self._progress: Progress | None = None

    def close(self) -> None:
        """Free the rembg session (the node cache stays usable; cut-outs rerun on demand)."""
        self.sessions.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _model(self, req: AdRequest) -> str:
        from editor.studio.catalog import resolve_model_name

        task = KV_EDIT if req.around_product else TEXT2IMG
        return resolve_model_name(req.model or self.model_name, task)

    def _background_source(self, req: AdRequest) -> tuple[BackgroundSource, list[str]]:
        notes: list[str] = []
        chosen = [kind for kind, given in (("upload", req.background is not None),
                                           ("prompt", bool(req.background_prompt)),
                                           ("backdrop", bool(req.backdrop)),
                                           ("around-product", req.around_product)) if given]
        if req.background is not None and len(chosen) > 1:
            raise InputError(f"Choose one background: {', '.join(chosen)} were all given.", key="one_background",
                             field="background", given=", ".join(chosen))
        if req.background is not None:
            if req.preset:
                raise InputError("A preset styles a generated background; it cannot be used with an uploaded background.",
                                 key="preset_with_upload", field="preset")
            return BackgroundSource("upload", image=load_image(req.background).rgb), notes
        generated = req.around_product or bool(req.background_prompt) or bool(req.preset)
        backdrop = req.backdrop or bglib.DEFAULT_BACKDROP
        bglib.load_backdrop(backdrop)  # unknown names fail before any work
        if not generated:
            return BackgroundSource("backdrop", backdrop=backdrop), notes
        if req.backdrop and not req.around_product:
            raise InputError("Choose one background: a backdrop, or a prompt/preset for a generated one.",
                             key="one_background", field="backdrop", given="backdrop, prompt")
        if self.manager is None:
            raise IntactError("Generated backgrounds need a diffusion model, and none is available here. "
                              "Upload a background photo or pick a backdrop instead.",
                              key="no_generation_model", field="background_prompt")
        model = self._model(req)
        from editor.translate import translate_prompt
        from models.registry import get_spec

        spec = get_spec(model)
        translation = translate_prompt(req.background_prompt or "", spec)
        prompt = translation.text
        notes.extend(getattr(translation, "notes", ()))
        if req.preset:
            from editor.presets import get_preset

            prompt = get_preset(req.preset).render(prompt)
        if not prompt.strip():
            raise InputError("A generated background needs a prompt or a preset.", key="background_needs_prompt",
                             field="background_prompt")
        kind = "around-product" if req.around_product else "prompt"
        return BackgroundSource(kind, backdrop=backdrop, prompt=prompt, model=model, seed=int(req.seed), steps=req.steps), notes

    def cutout(self, product, remover: str = AUTO, mask_add=None, mask_remove=None,
               progress: Progress | None = None) -> CutOut:
        """Cut the product out (brush strokes applied) through the node cache, so the next build
        with the same photo, method and strokes reuses this cut-out instead of running it again."""
        self._progress = progress
        try:
            return self._cutout_output(product, remover, mask_add, mask_remove).value
        finally:
            self._progress = None

    def _cutout_output(self, product, remover: str, mask_add, mask_remove):
        resolve_remover(remover)
        loaded = load_image(product)
        add, remove = (None if m is None else as_mask(m, loaded.size)[0] for m in (mask_add, mask_remove))
        self._tick("cutout", 0, 1)
        out = self.graph.run(CutoutNode(self.sessions), image=loaded.rgb, alpha=loaded.alpha, remover=remover,
                             add=add, remove=remove)
        self._tick("cutout", 1, 1)
        return out

    def _tick(self, stage: str, i: int, n: int) -> None:
        if self._progress is not None:
            self._progress(stage, i, n)

    def _wanted(self, req: AdRequest, name: str) -> AdLayout:
        layouts = {get_format(k).name: v for k, v in (req.layouts or {}).items()}
        wanted = layouts.get(name) or AdLayout()
        if not isinstance(wanted, AdLayout):
            raise InputError("A layout must be an AdLayout.", key="ad_bad_layout", field="layout", detail="type")
        wanted = replace(wanted, elements=())  # what a build drew is never an input
        if wanted.product is None and req.placement is not None:
            wanted = replace(wanted, product=req.placement)
        if wanted.text.position is not None and wanted.text.position not in get_format(name).positions:
            raise InputError(f"The {name} format puts text {' or '.join(get_format(name).positions)} of the product, "
                             f"not {wanted.text.position}.", key="ad_bad_position", field="layout", format=name,
                             position=wanted.text.position)
        return wanted

    def run(self, req: AdRequest, progress: Progress | None = None) -> AdResult:
        started = time.perf_counter()
        self._progress = progress
        if not req.formats:
            raise InputError("Pick at least one ad format.", key="ad_no_format", field="formats")
        if req.design is not None and (isinstance(req.design, bool) or not isinstance(req.design, int) or req.design < 1):
            raise InputError(f"The design number counts from 1; got {req.design!r}.", key="ad_bad_design", field="design")
        if not 0.05 <= float(req.scale) <= 1.0:
            raise InputError(f"scale must be between 0.05 and 1; got {req.scale}.", key="ad_bad_scale", field="scale")
        formats = [scaled(get_format(name), float(req.scale)) for name in unique_formats(req.formats)]
        texts = {"headline": req.headline or "", "subline": req.subline or "", "price": req.price or "",
                 "old_price": req.old_price or "", "cta": req.cta or ""}
        copy = Copy.from_texts(texts, keep_together=(req.brand.name,) if req.brand else ())
        if not any((copy.headline, copy.subline, copy.price, copy.cta)):
            raise InputError("An ad needs at least a headline.", key="ad_needs_text", field="headline")
        resolve_remover(req.remover)
        source, notes = self._background_source(req)
        backdrop = bglib.load_backdrop(source.backdrop)
        brand = req.brand
        accent_default = req.accent or (brand.accent if brand else None) or (to_hex(backdrop.accent) if backdrop.accent else None)
        if accent_default:
            accent_default = to_hex(parse_hex(accent_default))
        defaults = TextSettings(font=brand.font if brand else None, color=brand.text_color if brand else None,
                                accent=accent_default)
        events_before = len(self.graph.events)
        g = self.graph
        cut = self._cutout_output(req.product, req.remover, req.mask_add, req.mask_remove)
        x0, y0, x1, y1 = cut.value.bbox()
        cut_size = (x1 - x0, y1 - y0)
        camera = grounding.camera_angle(cut.value.alpha)
        view, fits = grounding.pick_view(backdrop.views, camera.angle) if source.kind == "backdrop" else ("any", True)
        if not fits:
            notes.append(f"the photo looks taken {'from above' if camera.angle == grounding.TOP_DOWN else 'at ' + camera.angle}"
                         f", but the {backdrop.name} backdrop is a {view}: they disagree; a flat surface or a plain "
                         "colour would suit this photo better")
        glossy = backdrop.reflection if camera.angle == grounding.EYE_LEVEL and view != "flat-lay" else 0.0
        shadows = Shadows(backdrop.contact_shadow, backdrop.drop_shadow,
                          backdrop.light_angle if source.kind == "backdrop" else None, glossy)
        palette = g.run(PaletteNode(), cutout=cut)
        images: dict[str, Image.Image] = {}
        paths: dict[str, str] = {}
        layouts: dict[str, AdLayout] = {}
        per_format: dict[str, dict] = {}
        for i, fmt in enumerate(formats):
            self._tick("format", i, len(formats))
            wanted = self._wanted(req, fmt.name)
            template = wanted.template or tpl.for_design(fmt, cut_size, len(copy.headline) + len(copy.subline), req.design or 1)
            style = wanted.text.style or tpl.get_template(template).pair
            text_family = wanted.text.font or defaults.font
            book, type_notes = pair_book(self.fonts, style, text_family)
            font_key = text_family or family_key(book.source("regular").family)
            drawn, missing = copy.without_missing(book)
            earned = drawn.badge_texts()
            badges = tuple((earned[k], wanted.badge_place(k)) for k in ("new", "discount")
                           if k in earned and wanted.badge_place(k) != "none")
            mark = brand.mark(fmt) if brand is not None else None
            bg = None
            if source.kind != "around-product":
                bg = g.run(BackgroundNode(self.manager, progress), fmt.name, format=fmt, source=source,
                           palette=palette if backdrop.from_product and source.kind == "backdrop" else None,
                           view=view, horizon=None)
                if accent_default is None:  # one accent for every format: the product's, readable here
                    pixels = bg.value.rgb.reshape(-1, 3)[:: max(1, bg.value.rgb.size // 3 // 20000)]
                    accent_default = to_hex(accent_colour(palette.value, pixels) or palette.value.accent)
                    defaults = replace(defaults, accent=accent_default)
            elif accent_default is None:
                accent_default = to_hex(palette.value.accent)
                defaults = replace(defaults, accent=accent_default)
            wanted_with_logo = wanted if wanted.logo or brand is None else replace(wanted, logo=brand.logo_position)
            wanted_with_logo = replace(wanted_with_logo, template=template)
            order = tpl.ranked(fmt, cut_size, len(copy.headline) + len(copy.subline))
            fallbacks = [] if wanted.template else [t for t in dict.fromkeys(order[order.index(template) + 1 :] + order)
                                                    if t != template]
            design_notes: list[str] = []
            while True:
                try:
                    design = g.run(DesignNode(book), fmt.name, format=fmt, cut_size=cut_size, copy=drawn,
                                   wanted=wanted_with_logo, defaults=replace(defaults, font=font_key, style=style),
                                   brand=mark, background=bg, fonts_id=book.fingerprint(), badges=badges)
                    break
                except IntactError as exc:
                    # A design that needs more room than this format has gives way to the next one
                    # (unless the owner chose it): the ad is still made, and the notes say so.
                    if exc.key != "ad_no_room_for_text" or not fallbacks:
                        raise
                    chosen_next = fallbacks.pop(0)
                    design_notes.append(f"the {template} design has no room for this text in the {fmt.name} format; "
                                        f"used the {chosen_next} design")
                    template = chosen_next
                    style = wanted.text.style or tpl.get_template(template).pair
                    book, type_notes = pair_book(self.fonts, style, text_family)
                    font_key = text_family or family_key(book.source("regular").family)
                    wanted_with_logo = replace(wanted_with_logo, template=template)
            placement = g.run(PlacementNode(), fmt.name, cutout=cut, format=fmt, request=design.value.layout.product)
            horizon = grounding.horizon_behind(placement.value, fmt.height, camera.angle) if view in ("sweep", "tabletop") else None
            if bg is not None and horizon is not None and source.kind == "backdrop":
                # The floor line (or the table's far edge) passes behind the product where its
                # photo's camera height says it should.
                bg = g.run(BackgroundNode(self.manager, progress), fmt.name, format=fmt, source=source,
                           palette=palette if backdrop.from_product else None, view=view, horizon=horizon)
            if source.kind == "around-product":
                bg = g.run(SceneAroundProductNode(self.manager, progress), fmt.name, format=fmt, source=source, cutout=cut,
                           placement=placement, palette=palette)
            chosen = design.value.layout.text
            bg = g.run(DecorNode(), fmt.name, background=bg, decor=design.value.geometry.decor,
                       accent=chosen.accent or accent_default,
                       dominant=tuple(palette.value.dominant))
            comp = g.run(CompositeNode(), fmt.name, background=bg, cutout=cut, placement=placement, shadows=shadows)
            rendered = g.run(TextNode(book), fmt.name, composite=comp, design=design, palette=palette,
                             colors=(chosen.color, chosen.accent), brand=mark, fonts_id=book.fingerprint())
            ad = rendered.value
            geometry = design.value.geometry
            p = placement.value
            shadow_box = (p.x, p.bottom - round(0.03 * p.height), p.x + p.width, min(fmt.height, p.bottom + round(0.1 * p.height)))
            elements = describe_elements(geometry, book, geometry.logo_box, shadow_box)
            layout = replace(design.value.layout, text=replace(chosen, font=font_key, color=ad.text_color, accent=ad.accent),
                             badges=tuple((k, wanted.badge_place(k)) for k in ("new", "discount") if k in earned),
                             elements=tuple(elements))
            layouts[fmt.name] = layout
            images[fmt.name] = Image.fromarray(ad.rgb)
            factor = upscale_factor(cut.value, p)
            small = grounding.resolution_note(cut_size, factor, FORMAT_NOUNS.get(fmt.name, fmt.name))
            per_format[fmt.name] = {
                "size": [fmt.width, fmt.height],
                "placement": {"x": p.x, "y": p.y, "width": p.width, "height": p.height},
                "background": bg.value.report,
                "light": [round(v, 3) for v in comp.value.light],
                "grounding": {"camera": camera.to_dict(), "view": view, "view_fits_photo": fits,
                              "contact_shadow_gap_px": round(comp.value.shadow_gap, 1), "upscale": round(factor, 3),
                              "product_pixels": list(cut_size), "reflection": glossy > 0},
                "elements": [{**e, "missing_glyphs": missing.get(e["element"], []) + (missing.get("old_price", [])
                                                                                      if e["element"] == "price" else [])}
                             for e in ad.elements],
                "block": {"box": list(geometry.block_box()), "align": geometry.align, "axis": geometry.axis,
                          "column_width": round(layout.text.width * fmt.width), "headline_lines": list(geometry.block.headline_lines())},
                "layout": layout.to_dict(),
                "template": geometry.template,
                "design_order": tpl.ranked(fmt, cut_size, len(copy.headline) + len(copy.subline)),
                "badges": dict(zip(("new", "discount"), [earned.get("new"), earned.get("discount")])),
                "fonts": {w: book.source(w).describe() for w in ("display", "regular", "bold")},
                "type_style": style,
                "suggestions": {"positions": list(fmt.positions), "fonts": list(self.fonts.families()),
                                "colors": ad.suggested_colors},
                "layout_notes": missing_notes(missing) + list(geometry.notes) + list(ad.notes) + ([small] if small else [])
                                + list(type_notes) + design_notes,
            }
            if req.out_dir:
                path = str(Path(req.out_dir) / f"ad-{fmt.name}.png")
                params = {"kind": "ad", "format": fmt.name, "texts": texts, "background": bg.value.report,
                          "cutout": cut.value.method, "layout": layout.to_dict(), "elements": list(ad.elements)}
                g.run(SaveNode(), fmt.name, ad=rendered, path=path, params=params)
                paths[fmt.name] = path
                per_format[fmt.name]["path"] = path
        self._tick("done", 1, 1)
        self._progress = None
        this_run = g.events[events_before:]
        report = {
            "formats": per_format,
            "cutout": {**cut.value.report(), "needs_review": cut.value.needs_review},
            "palette": palette.value.to_dict(),
            "background_kind": source.kind,
            "brand": brand.name if brand else None,
            "notes": notes,
            "nodes": {"ran": [k for k, e in this_run if e == "ran"], "cached": [k for k, e in this_run if e == "cached"]},
            "seconds": round(time.perf_counter() - started, 3),
        }
        return AdResult(images, report, cut.value, paths, layouts)


__all__ = ["AdLayout", "AdRequest", "AdResult", "AdWorkflow", "BACKGROUND_KINDS", "ELEMENT_ORDER", "POSITIONS",
           "PlacementRequest"]
