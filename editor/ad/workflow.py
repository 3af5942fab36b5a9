"""The ad pipeline as a chain of typed nodes: cut-out → placement → background → composite →
layout → text → save, recomputed per format and rerun only where inputs changed.

So a new headline reruns layout, text and save for each format, while the cut-out, the
placement and the (possibly generated) background come from the graph's cache.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image

from editor.ad import backgrounds as bglib
from editor.ad.composite import (
    Placement,
    PlacementRequest,
    auto_placement,
    composite,
    place_product,
    requested_placement,
    shadow_map,
)
from editor.ad.cutout import AUTO, CutOut, RembgSessions, correct_alpha, cut_out, resolve_remover
from editor.ad.fonts import FontBook
from editor.ad.formats import AdFormat, get_format, scaled
from editor.ad.layout import ELEMENT_ORDER, LayoutPlan, plan_layout, render_layout
from editor.ad.nodes import Graph, Node
from editor.errors import InputError, IntactError
from editor.images import as_mask, load_image
from models.vocabulary import KV_EDIT, TEXT2IMG

Progress = Callable[[str, int, int], None]
BACKGROUND_KINDS = ("upload", "style", "prompt", "around-product")


@dataclass(frozen=True, eq=False)
class AdRequest:
    product: Any  # path, bytes, PIL image or array; a transparent PNG is used as its own cut-out
    headline: str
    subline: str = ""
    price: str = ""
    cta: str = ""
    formats: tuple[str, ...] = ("instagram-square",)
    background: Any = None  # an uploaded photo
    background_prompt: str | None = None  # generate the background from this text
    background_style: str | None = None  # a procedural style from assets/ad_styles
    around_product: bool = False  # generate the scene around the product with KV-Edit
    preset: str | None = None  # a shop preset (editor.presets) that styles the generated background
    remover: str = AUTO
    mask_add: Any = None  # brush strokes (H×W in [0, 1] or a mask image) that paint product in
    mask_remove: Any = None  # ... and out, applied to the cut-out before composing
    placement: PlacementRequest | None = None
    accent: str | None = None  # "#rrggbb" for the price and the button; default from the style
    model: str | None = None  # diffusion model for generated backgrounds
    seed: int = 0
    steps: int | None = None
    scale: float = 1.0  # render every format at this fraction of its size (previews, tests)
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


@dataclass(frozen=True)
class BackgroundSource:
    kind: str  # one of BACKGROUND_KINDS
    image: np.ndarray | None = None
    style: str = bglib.DEFAULT_STYLE
    prompt: str = ""
    model: str = ""
    seed: int = 0
    steps: int | None = None


@dataclass(frozen=True)
class Background:
    rgb: np.ndarray
    report: dict


@dataclass(frozen=True)
class Composite:
    rgb: np.ndarray
    product_alpha: np.ndarray  # where the product is on this canvas


@dataclass(frozen=True)
class RenderedAd:
    rgb: np.ndarray
    elements: tuple[dict, ...]


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


class PlacementNode(Node):
    name = "placement"
    inputs = {"cutout": CutOut, "format": AdFormat, "floor_line": (float, type(None)), "request": (PlacementRequest, type(None))}
    output = Placement

    def compute(self, cutout, format, floor_line, request):
        x0, y0, x1, y1 = cutout.bbox()
        if request is not None:
            return requested_placement((x1 - x0, y1 - y0), format, request)
        return auto_placement((x1 - x0, y1 - y0), format, floor_line)


class BackgroundNode(Node):
    """Uploaded, procedural or prompt-generated backgrounds (independent of the product)."""

    name = "background"
    inputs = {"format": AdFormat, "source": BackgroundSource}
    output = Background

    def __init__(self, manager, progress: Progress | None = None):
        self.manager, self.progress = manager, progress

    def compute(self, format, source):
        if source.kind == "upload":
            return Background(bglib.fit_cover(source.image, format.size), {"kind": "upload"})
        if source.kind == "style":
            return Background(bglib.render_style(bglib.load_style(source.style), format.size), {"kind": "style", "style": source.style})
        rgb = bglib.generate_from_prompt(self.manager, source.model, source.prompt, format.size, source.seed, source.steps,
                                         progress=self.progress)
        return Background(rgb, {"kind": "prompt", "prompt": source.prompt, "model": source.model, "seed": source.seed})


class SceneAroundProductNode(Node):
    """KV-Edit: the placed product is preserved, the rest of the picture is generated around it."""

    name = "background-around-product"
    inputs = {"format": AdFormat, "source": BackgroundSource, "cutout": CutOut, "placement": Placement}
    output = Background

    def __init__(self, manager, progress: Progress | None = None):
        self.manager, self.progress = manager, progress

    def compute(self, format, source, cutout, placement):
        neutral = bglib.render_style(bglib.load_style(source.style), format.size)
        layer, alpha = place_product(cutout, placement, format.size)
        canvas = composite(neutral, layer, alpha, harmonise=0.0)
        rgb, report = bglib.generate_around_product(self.manager, source.model, canvas, alpha, source.prompt, source.seed,
                                                    source.steps, progress=self.progress)
        return Background(rgb, {"kind": "around-product", "prompt": source.prompt, "model": source.model,
                                "seed": source.seed, "kv_edit": report})


class CompositeNode(Node):
    name = "composite"
    inputs = {"background": Background, "cutout": CutOut, "placement": Placement, "style": bglib.Style}
    output = Composite

    def compute(self, background, cutout, placement, style):
        size = (background.rgb.shape[1], background.rgb.shape[0])
        layer, alpha = place_product(cutout, placement, size)
        shadow = shadow_map(alpha, placement, style.contact_shadow, style.drop_shadow)
        return Composite(composite(background.rgb, layer, alpha, shadow), alpha)


class LayoutNode(Node):
    name = "layout"
    inputs = {"composite": Composite, "texts": dict, "format": AdFormat, "accent": tuple, "fonts_id": str}
    output = LayoutPlan

    def __init__(self, fonts: FontBook):
        self.fonts = fonts

    def compute(self, composite, texts, format, accent, fonts_id):
        return plan_layout(composite.rgb, composite.product_alpha, texts, format, self.fonts, accent)


class TextNode(Node):
    name = "text"
    inputs = {"composite": Composite, "plan": LayoutPlan, "fonts_id": str}
    output = RenderedAd

    def __init__(self, fonts: FontBook):
        self.fonts = fonts

    def compute(self, composite, plan, fonts_id):
        rgb, elements = render_layout(composite.rgb, composite.product_alpha, plan, self.fonts)
        return RenderedAd(rgb, tuple(elements))


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

def _hex(colour: tuple[int, int, int]) -> str:
    return "#%02x%02x%02x" % tuple(colour)


class AdWorkflow:
    """Runs ad requests; keeps its node cache and its rembg session between runs (one per user).

    `manager` (models.manager.ModelManager) is only needed for generated backgrounds; without it
    uploaded and procedural backgrounds work and asking for a generated one is a clear error.
    """

    def __init__(self, manager=None, model_name: str | None = None, fonts: FontBook | None = None):
        self.manager = manager
        self.model_name = model_name
        self.fonts = fonts or FontBook()
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
                                           ("style", bool(req.background_style)),
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
        style = req.background_style or bglib.DEFAULT_STYLE
        bglib.load_style(style)  # unknown style names fail before any work
        if not generated:
            return BackgroundSource("style", style=style), notes
        if req.background_style and not req.around_product:
            raise InputError("Choose one background: a style, or a prompt/preset for a generated one.",
                             key="one_background", field="background_style", given="style, prompt")
        if self.manager is None:
            raise IntactError("Generated backgrounds need a diffusion model, and none is available here. "
                              "Upload a background photo or pick a background style instead.",
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
        return BackgroundSource(kind, style=style, prompt=prompt, model=model, seed=int(req.seed), steps=req.steps), notes

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

    def run(self, req: AdRequest, progress: Progress | None = None) -> AdResult:
        started = time.perf_counter()
        self._progress = progress
        if not req.formats:
            raise InputError("Pick at least one ad format.")
        if not 0.05 <= float(req.scale) <= 1.0:
            raise InputError(f"scale must be between 0.05 and 1; got {req.scale}.")
        formats = [scaled(get_format(name), float(req.scale)) for name in dict.fromkeys(req.formats)]
        texts = {"headline": req.headline or "", "subline": req.subline or "", "price": req.price or "", "cta": req.cta or ""}
        if not any(t.strip() for t in texts.values()):
            raise InputError("An ad needs at least a headline.")
        resolve_remover(req.remover)
        source, notes = self._background_source(req)
        style = bglib.load_style(source.style)
        accent = bglib.parse_hex(req.accent) if req.accent else style.accent
        events_before = len(self.graph.events)
        g = self.graph
        cut = self._cutout_output(req.product, req.remover, req.mask_add, req.mask_remove)
        fonts_id = self.fonts.fingerprint()
        images: dict[str, Image.Image] = {}
        paths: dict[str, str] = {}
        per_format: dict[str, dict] = {}
        for i, fmt in enumerate(formats):
            self._tick("format", i, len(formats))
            floor = style.floor_line if source.kind == "style" else None
            placement = g.run(PlacementNode(), fmt.name, cutout=cut, format=fmt, floor_line=floor, request=req.placement)
            if source.kind == "around-product":
                bg = g.run(SceneAroundProductNode(self.manager, progress), fmt.name, format=fmt, source=source, cutout=cut, placement=placement)
            else:
                bg = g.run(BackgroundNode(self.manager, progress), fmt.name, format=fmt, source=source)
            comp = g.run(CompositeNode(), fmt.name, background=bg, cutout=cut, placement=placement, style=style)
            plan = g.run(LayoutNode(self.fonts), fmt.name, composite=comp, texts=texts, format=fmt, accent=tuple(accent), fonts_id=fonts_id)
            rendered = g.run(TextNode(self.fonts), fmt.name, composite=comp, plan=plan, fonts_id=fonts_id)
            images[fmt.name] = Image.fromarray(rendered.value.rgb)
            p = placement.value
            per_format[fmt.name] = {
                "size": [fmt.width, fmt.height],
                "placement": {"x": p.x, "y": p.y, "width": p.width, "height": p.height},
                "background": bg.value.report,
                "elements": list(rendered.value.elements),
                "layout_notes": list(plan.value.notes),
            }
            if req.out_dir:
                path = str(Path(req.out_dir) / f"ad-{fmt.name}.png")
                params = {"kind": "ad", "format": fmt.name, "texts": texts, "background": bg.value.report,
                          "cutout": cut.value.method, "elements": list(rendered.value.elements)}
                g.run(SaveNode(), fmt.name, ad=rendered, path=path, params=params)
                paths[fmt.name] = path
                per_format[fmt.name]["path"] = path
        self._tick("done", 1, 1)
        self._progress = None
        this_run = g.events[events_before:]
        report = {
            "formats": per_format,
            "cutout": {**cut.value.report(), "needs_review": cut.value.needs_review},
            "fonts": {w: self.fonts.source(w).describe() for w in ("regular", "bold")},
            "background_kind": source.kind,
            "accent": _hex(accent),
            "notes": notes,
            "nodes": {"ran": [k for k, e in this_run if e == "ran"], "cached": [k for k, e in this_run if e == "cached"]},
            "seconds": round(time.perf_counter() - started, 3),
        }
        return AdResult(images, report, cut.value, paths)


__all__ = ["AdRequest", "AdResult", "AdWorkflow", "BACKGROUND_KINDS", "ELEMENT_ORDER", "PlacementRequest"]
