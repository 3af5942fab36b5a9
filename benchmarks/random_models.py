"""Random-weight transformers of each model family, and a plain generation loop over them.

    model = build("flux", "mid", torch.device("cpu"), torch.float32)
    x = model.noise(512, seed=0)
    out = generate(model, x, shifted_sigmas(28))

Scales: "tiny" (seconds on a CPU, for dry runs and tests), "mid" (FLUX.1's shape scaled down so a
2-core CPU runs a step in a fraction of a second) and "full" (the released architecture, from
`models.memory.model_configs`, for a GPU: the first registered model of the family that has one).
Weights are drawn from a seed: timing and bytes do not depend on them, and nothing drawn means
anything. The loop calls the transformer the way the family's diffusers pipeline does (inputs,
timestep convention, velocity sign), one Euler step per sigma, with no text encoder or VAE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from models.memory.model_configs import ARCHITECTURES

# Scaled-down configs. "mid" keeps FLUX.1's proportions (double then single blocks, head dim 64).
SCALED = {
    "flux": {
        "tiny": dict(num_layers=1, num_single_layers=2, attention_head_dim=16, num_attention_heads=2,
                     joint_attention_dim=32, pooled_projection_dim=32, in_channels=16, axes_dims_rope=(4, 6, 6),
                     guidance_embeds=True),
        "mid": dict(num_layers=2, num_single_layers=4, attention_head_dim=64, num_attention_heads=8,
                    joint_attention_dim=512, pooled_projection_dim=256, in_channels=64, axes_dims_rope=(16, 24, 24),
                    guidance_embeds=True),
    },
    "flux2": {
        "tiny": dict(num_layers=1, num_single_layers=2, attention_head_dim=16, num_attention_heads=2,
                     joint_attention_dim=32, in_channels=16, timestep_guidance_channels=32,
                     axes_dims_rope=(4, 4, 4, 4), guidance_embeds=False),
        "mid": dict(num_layers=2, num_single_layers=4, attention_head_dim=64, num_attention_heads=8,
                    joint_attention_dim=512, in_channels=64, timestep_guidance_channels=256,
                    axes_dims_rope=(16, 16, 16, 16), guidance_embeds=False),
    },
    "z-image": {
        "tiny": dict(dim=32, n_layers=2, n_refiner_layers=1, n_heads=2, n_kv_heads=2, cap_feat_dim=32,
                     in_channels=16, axes_dims=(4, 6, 6), axes_lens=(256, 128, 128)),
        "mid": dict(dim=512, n_layers=6, n_refiner_layers=1, n_heads=8, n_kv_heads=8, cap_feat_dim=256,
                    in_channels=16, axes_dims=(16, 24, 24), axes_lens=(1024, 512, 512)),
    },
}
TRANSFORMER_CLASSES = {"flux": "FluxTransformer2DModel", "flux2": "Flux2Transformer2DModel", "z-image": "ZImageTransformer2DModel"}
TEXT_TOKENS = {"tiny": 16, "mid": 128}
LATENT_FACTOR = 8  # pixels per latent pixel (the VAEs of all three families)


def families_with_full_config() -> dict[str, str]:
    """family -> the registered model whose real transformer config we have (first one wins)."""
    out: dict[str, str] = {}
    for model, parts in ARCHITECTURES.items():
        for family, class_name in TRANSFORMER_CLASSES.items():
            if parts["transformer"][1] == class_name:
                out.setdefault(family, model)
    return out


def config_for(family: str, scale: str) -> dict:
    if scale == "full":
        model = families_with_full_config().get(family)
        if model is None:
            raise KeyError(f"no full-size config for the {family} family yet")
        return dict(ARCHITECTURES[model]["transformer"][3])
    return dict(SCALED[family][scale])


def _random_init(module: torch.nn.Module, seed: int) -> None:
    generator = torch.Generator(device="cpu").manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.ndim == 1 and "norm" in name:
                p.fill_(1.0)
            else:
                p.copy_(torch.randn(p.shape, generator=generator).mul_(0.02))


@dataclass
class RandomModel:
    family: str
    scale: str
    transformer: torch.nn.Module
    config: dict
    text_tokens: int
    device: torch.device
    dtype: torch.dtype
    prompt: object = None  # family-specific prompt inputs, drawn once

    @property
    def latent_channels(self) -> int:
        """VAE latent channels: FLUX.1 and FLUX.2 take 2×2 latent pixels per input token, Z-Image the latent."""
        c = self.config["in_channels"]
        return c // 4 if self.family in ("flux", "flux2") else c

    def noise(self, size: int, seed: int) -> torch.Tensor:
        """Starting latents for a size² image, float32, in the layout the loop uses."""
        g = torch.Generator().manual_seed(seed)
        h = w = size // LATENT_FACTOR
        if self.family == "flux":
            return torch.randn(1, (h // 2) * (w // 2), self.config["in_channels"], generator=g).to(self.device)
        if self.family == "flux2":
            return torch.randn(1, (h // 2) * (w // 2), self.config["in_channels"], generator=g).to(self.device)
        return torch.randn(self.config["in_channels"], 1, h, w, generator=g).to(self.device)

    def velocity(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        """d x / d sigma at (x, sigma): the Euler step is x + (sigma_next - sigma) * velocity."""
        t = self.transformer
        with torch.no_grad():
            if self.family == "flux":
                emb, pooled, txt_ids = self.prompt
                side = int(round(x.shape[1] ** 0.5))
                from diffusers.pipelines.flux.pipeline_flux import FluxPipeline

                img_ids = FluxPipeline._prepare_latent_image_ids(1, side, side, self.device, torch.float32)
                out = t(hidden_states=x.to(self.dtype), encoder_hidden_states=emb, pooled_projections=pooled,
                        timestep=torch.full((1,), sigma, device=self.device, dtype=self.dtype), img_ids=img_ids,
                        txt_ids=txt_ids, guidance=torch.full((1,), 3.5, device=self.device), return_dict=False)[0]
                return out.float()
            if self.family == "flux2":
                emb, txt_ids = self.prompt
                side = int(round(x.shape[1] ** 0.5))
                img_ids = torch.cartesian_prod(torch.arange(1), torch.arange(side), torch.arange(side), torch.arange(1))
                out = t(hidden_states=x.to(self.dtype), encoder_hidden_states=emb,
                        timestep=torch.full((1,), sigma, device=self.device, dtype=self.dtype),
                        img_ids=img_ids[None].to(self.device), txt_ids=txt_ids, guidance=None, return_dict=False)[0]
                return out.float()
            (caption,) = self.prompt
            out = t([x.to(self.dtype)], torch.full((1,), 1.0 - sigma, device=self.device, dtype=self.dtype),
                    [caption], return_dict=False)[0]
            return -out[0].float()  # Z-Image predicts the negative velocity


def build(family: str, scale: str, device: torch.device, dtype: torch.dtype, seed: int = 0) -> RandomModel:
    """A random-weight transformer of `family` at `scale`, in eval mode, plus a drawn prompt."""
    import diffusers

    cfg = config_for(family, scale)
    cls = getattr(diffusers, TRANSFORMER_CLASSES[family])
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device("meta"):
            transformer = cls(**cfg)
    finally:
        torch.set_default_dtype(default)
    transformer = transformer.to_empty(device=device)
    if device.type == "cuda":  # drawing 12B numbers on the CPU takes minutes; the GPU takes a second
        with torch.no_grad():
            torch.manual_seed(seed)
            for name, p in transformer.named_parameters():
                p.fill_(1.0) if (p.ndim == 1 and "norm" in name) else p.normal_(0.0, 0.02)
    else:
        _random_init(transformer, seed)
    transformer.eval()
    text = TEXT_TOKENS.get(scale, 512)
    model = RandomModel(family, scale, transformer, cfg, text, device, dtype)
    g = torch.Generator().manual_seed(seed + 1)
    if family == "flux":
        model.prompt = (torch.randn(1, text, cfg["joint_attention_dim"], generator=g).to(device, dtype),
                        torch.randn(1, cfg["pooled_projection_dim"], generator=g).to(device, dtype),
                        torch.zeros(text, 3, device=device))
    elif family == "flux2":
        txt_ids = torch.cartesian_prod(torch.arange(1), torch.arange(1), torch.arange(1), torch.arange(text))
        model.prompt = (torch.randn(1, text, cfg["joint_attention_dim"], generator=g).to(device, dtype),
                        txt_ids[None].to(device))
    else:
        model.prompt = (torch.randn(text, cfg["cap_feat_dim"], generator=g).to(device, dtype),)
    return model


def kv_prompt(model: RandomModel, name: str = "source", embeds: torch.Tensor | None = None):
    """The model's drawn prompt as the KV-Edit engine reads it (`editor.kv_edit.families.Prompt`),
    optionally with other text embeddings of the same shape."""
    from editor.kv_edit.engine import Prompt

    embeds = model.prompt[0] if embeds is None else embeds
    if model.family == "flux":
        return Prompt(name, embeds, model.prompt[1], model.prompt[2])
    if model.family == "flux2":
        return Prompt(name, embeds, None, model.prompt[1])
    return Prompt(name, embeds)


def kv_pipe(model: RandomModel):
    """What a family adapter reads of a pipeline: the transformer (and, for FLUX.2, that the model
    is step-distilled, so no CFG pass is ever implied)."""
    from types import SimpleNamespace

    return SimpleNamespace(transformer=model.transformer, config=SimpleNamespace(is_distilled=True))


def kv_edit_setup(model: RandomModel, size: int, mask=0.25):
    """A KV-Edit engine on a random model of any family for a size² image: `mask` is a
    latent-resolution array, or the fraction a centred rectangle covers. Also a source and a
    target conditioning (the target's text drawn from another seed) and a clean latent (packed)."""
    from types import SimpleNamespace

    from benchmarks.kv_edit_bench import fraction_mask
    from editor.kv_edit.engine import Canvas, Conditioning, KVEditEngine
    from editor.kv_edit.masks import token_mask

    latent = size // LATENT_FACTOR
    canvas = Canvas(size, size, latent, latent, model.latent_channels)
    grid = fraction_mask(canvas, mask) if isinstance(mask, float) else mask
    engine = KVEditEngine(kv_pipe(model), canvas, token_mask(grid, latent, latent), model.device)
    emb = model.prompt[0]
    other = torch.randn(emb.shape, generator=torch.Generator().manual_seed(5)).to(emb.device, emb.dtype)
    clean = model.noise(size, seed=3)
    if clean.ndim != 3:  # Z-Image's loop layout [C, 1, h, w]: the engine reads packed tokens
        clean = engine.family.pack(clean[:, 0][None])
    return SimpleNamespace(engine=engine, source=Conditioning(kv_prompt(model, "source")),
                           target=Conditioning(kv_prompt(model, "target", other)), clean=clean)


def shifted_sigmas(steps: int, shift: float = 3.0) -> list[float]:
    """1 ... 0 in `steps` intervals, time-shifted like the flow-matching schedulers of these models."""
    t = np.linspace(1.0, 0.0, steps + 1)
    return [float(s) for s in shift * t / (1 + (shift - 1) * t)]


def generate(model: RandomModel, x: torch.Tensor, sigmas: list[float],
             on_step: Callable[[int], None] | None = None) -> torch.Tensor:
    """Plain Euler flow-matching generation from `x` (noise at sigmas[0]); returns the final latent."""
    for i in range(len(sigmas) - 1):
        x = x + (sigmas[i + 1] - sigmas[i]) * model.velocity(x, sigmas[i])
        if on_step is not None:
            on_step(i)
    return x
