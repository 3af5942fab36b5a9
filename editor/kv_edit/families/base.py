"""What the KV-Edit engine asks of a model family, and the parts most families share.

The engine's loops (inversion, cached-KV denoising, inversion-free) only move latents along a
schedule and call the model; everything that depends on the architecture goes through an adapter:

- geometry and latents: the VAE's normalisation of latents, how latent pixels are packed into
  tokens, and the position ids (RoPE) of each token;
- prompts: how text is encoded, how long it may be, and what the unconditional prompt is;
- the schedule: the sigma shift the family's pipeline uses for a given size and step count;
- guidance: a model input ("embedded"), true CFG (two passes, mixed), or none;
- the model call, returning the flow velocity dx/dsigma (sigma 1 = noise, 0 = clean);
- attention: which processors to wrap, and where the image rows sit in each layer's sequence
  (the processors themselves subclass `editor.kv_edit.attention.KVProcessor`).

An adapter is built for one pipeline and model name; it holds no state beyond them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, ClassVar

import numpy as np
import torch
from diffusers import FlowMatchEulerDiscreteScheduler
from diffusers.pipelines.flux.pipeline_flux import calculate_shift
from torch import Tensor

from editor.kv_edit.attention import KVLayer
from editor.kv_edit.masks import TokenMask
from models.families import FAMILIES, Family
from models.memory.prompt_cache import encode_cached
from models.registry import MODELS
from models.vocabulary import CFG, GuidanceKind


@dataclass(frozen=True)
class Canvas:
    """Geometry of one working-size image: the VAE latent grid, and tokens of 2×2 latent pixels
    (every family here packs or patchifies 2×2)."""

    width: int  # working size (multiple of 2 × vae scale factor)
    height: int
    latent_h: int
    latent_w: int
    channels: int  # VAE latent channels (16 for FLUX.1 and Z-Image, 32 for FLUX.2, 4 for the tiny models)

    @property
    def tokens(self) -> int:
        return (self.latent_h // 2) * (self.latent_w // 2)

    @property
    def grid(self) -> tuple[int, int]:
        """Tokens per column and per row."""
        return self.latent_h // 2, self.latent_w // 2


@dataclass(frozen=True)
class Prompt:
    """A prompt encoded for the transformer. `embeds` is what the text stream reads; `pooled` and
    `text_ids` exist where the family has them (FLUX.1: both; FLUX.2: text_ids; Z-Image: neither)."""

    text: str
    embeds: Tensor
    pooled: Tensor | None = None
    text_ids: Tensor | None = None

    @property
    def length(self) -> int:
        return int(self.embeds.shape[-2])


@dataclass(frozen=True)
class BlockInputs:
    """How a pass can switch from the foreground's rows to all image rows at a given layer (the
    elastic refresh's depth-aware recomputation): the blocks in run order, block i holding KV layer
    i; the keyword carrying a block's image rows; the keyword carrying the rotary embedding, and
    that embedding for the text plus a given set of image-row ids."""

    blocks: tuple[torch.nn.Module, ...]
    image_kwarg: str
    rotary_kwarg: str
    rotary: Callable[[Tensor], object]


class FamilyAdapter(ABC):
    """One model family, seen by the KV-Edit engine. Subclasses set the class attributes and
    implement the abstract methods; the rest has shared defaults."""

    family: ClassVar[str]  # the registry's family name ("flux", ...)
    transformer_class: ClassVar[str]  # the diffusers transformer class this adapter drives
    image_first: ClassVar[bool] = False  # the joint sequence is [image, text] (else [text, image])
    unconditional_prompt: ClassVar[str] = ""  # what the second CFG pass reads, as the family's pipelines

    def __init__(self, pipe, model_name: str = ""):
        self.pipe = pipe
        self.model_name = model_name
        spec = MODELS.get(model_name)
        self.spec = spec if spec is not None and spec.family == self.family else None

    @property
    def models_family(self) -> Family:
        return FAMILIES[self.family]

    # -- geometry and latents ------------------------------------------------------------------

    def canvas(self, width: int, height: int) -> Canvas:
        scale = self.pipe.vae_scale_factor
        if width % (2 * scale) or height % (2 * scale):
            raise ValueError(f"working size {width}×{height} must be a multiple of {2 * scale}")
        return Canvas(width, height, height // scale, width // scale, self.pipe.vae.config.latent_channels)

    @abstractmethod
    def pack(self, latent: Tensor) -> Tensor:
        """[1, C, latent_h, latent_w] -> [1, tokens, 4C] in the order the transformer reads."""

    @abstractmethod
    def unpack(self, packed: Tensor, canvas: Canvas) -> Tensor:
        """The inverse of `pack`."""

    def normalise(self, latent: Tensor) -> Tensor:
        """The VAE's latent distribution mode [1, C, h, w] -> packed, normalised model latent.
        By default `(z - shift_factor) * scaling_factor` (FLUX.1's VAE, which Z-Image shares)."""
        config = self.pipe.vae.config
        return self.pack((latent - config.shift_factor) * config.scaling_factor)

    def denormalise(self, packed: Tensor, canvas: Canvas) -> Tensor:
        """Packed model latent -> what the VAE decoder reads, [1, C, h, w]."""
        config = self.pipe.vae.config
        return self.unpack(packed, canvas) / config.scaling_factor + config.shift_factor

    @abstractmethod
    def image_ids(self, canvas: Canvas, device) -> Tensor:
        """Position ids of every row of a full pass's image block: one per token (in packed order),
        then any padding rows the family adds. A foreground pass reads the rows of its tokens."""

    def encode_image(self, rgb: np.ndarray, canvas: Canvas, device) -> Tensor:
        """RGB uint8 at working size -> packed clean latent, float32 [1, tokens, C * 4].
        The distribution's mode, not a sample: the same image always gives the same latent."""
        vae = self.pipe.vae
        x = torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1)[None].to(device=device, dtype=vae.dtype)
        x = x / 127.5 - 1.0
        with torch.no_grad():
            latent = vae.encode(x).latent_dist.mode()
        return self.normalise(latent.float())

    def decode(self, packed: Tensor, canvas: Canvas) -> np.ndarray:
        """Packed latent -> RGB uint8 at working size."""
        vae = self.pipe.vae
        latent = self.denormalise(packed.float(), canvas)
        with torch.no_grad():
            image = vae.decode(latent.to(dtype=vae.dtype), return_dict=False)[0]
        image = ((image.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return image[0].permute(1, 2, 0).cpu().numpy()

    def pixel_mask(self, mask: TokenMask, canvas: Canvas, device) -> Tensor:
        """The latent-pixel mask in the packed layout [1, tokens, C * 4]: 1 where a latent pixel may change."""
        latent = torch.from_numpy(mask.latent.astype(np.float32))[None, None].expand(1, canvas.channels, -1, -1)
        return self.pack(latent.contiguous()).to(device)

    # -- prompts -------------------------------------------------------------------------------

    def text_length(self) -> int:
        """Text tokens the model was trained with: the registry's value when the model is known,
        else what the family's pipeline allows (`default_text_length`)."""
        return self.spec.max_sequence_length if self.spec is not None else self.default_text_length()

    @abstractmethod
    def default_text_length(self) -> int:
        """The text length for a model the registry does not know (a fine-tune of the family)."""

    @abstractmethod
    def make_prompt(self, text: str, encoded: tuple, dtype: torch.dtype) -> Prompt:
        """A Prompt from the family encoder's tensors (`models.families`)."""

    def encode_prompt(self, text: str, device, dtype, *, cache=None, encode_device=None) -> Prompt:
        """Encode `text` for the transformer. The text encoders visit `encode_device` (default:
        `device`) only for this call; with a `PromptEmbeddingCache` a prompt seen before runs no
        encoder at all."""
        encoded = encode_cached(
            self.pipe, self.models_family.encode, text, self.text_length(), device,
            cache=cache, model_name=self.model_name or self.family, encode_device=encode_device,
        )
        return self.make_prompt(text, encoded, dtype)

    # -- schedule ------------------------------------------------------------------------------

    def sigmas(self, steps: int, image_tokens: int, device) -> list[float]:
        """The sigma schedule the family's pipeline uses for this many steps and image tokens,
        with the final 0. Uses a private scheduler, so the pipeline's own is never touched (other
        users may be running it)."""
        scheduler = FlowMatchEulerDiscreteScheduler.from_config(self.pipe.scheduler.config)
        sigmas = None if getattr(scheduler.config, "use_flow_sigmas", False) else np.linspace(1.0, 1 / steps, steps)
        scheduler.set_timesteps(sigmas=sigmas, device=device, mu=self.shift(image_tokens, steps))
        return [float(s) for s in scheduler.sigmas.cpu().tolist()]

    @abstractmethod
    def shift(self, image_tokens: int, steps: int) -> float:
        """The `mu` the family's pipeline gives a dynamically shifting scheduler."""

    # -- guidance ------------------------------------------------------------------------------

    @property
    def guidance_kind(self) -> GuidanceKind:
        if self.spec is not None:
            return self.spec.guidance_kind
        return self.default_guidance_kind()

    @abstractmethod
    def default_guidance_kind(self) -> GuidanceKind:
        """How a model the registry does not know takes guidance (read from its config)."""

    def cfg_active(self, guidance: float) -> bool:
        """Whether `guidance` runs a second, unconditional pass."""
        above = self.models_family.cfg_above
        return self.guidance_kind == CFG and above is not None and float(guidance) > above

    def combine(self, conditional: Tensor, unconditional: Tensor, guidance: float) -> Tensor:
        """The guided velocity from both passes, as the family's pipelines mix them."""
        return unconditional + guidance * (conditional - unconditional)

    def embedded_guidance(self, guidance: float, device) -> Tensor | None:
        """The guidance model input for guidance-distilled transformers (diffusers' `guidance_embeds`);
        None where guidance is not a model input (e.g. FLUX.1 [schnell])."""
        if not getattr(self.pipe.transformer.config, "guidance_embeds", False):
            return None
        return torch.full((1,), float(guidance), device=device, dtype=torch.float32)

    # -- the model -----------------------------------------------------------------------------

    @abstractmethod
    def predict(self, latents: Tensor, ids: Tensor, prompt: Prompt, sigma: float, guidance: float) -> Tensor:
        """One transformer pass on the rows `ids` (all of them, or the foreground's): the flow
        velocity dx/dsigma for `latents` [1, n, C * 4], in float32. No gradients."""

    def block_inputs(self, prompt: Prompt) -> BlockInputs | None:
        """What a pass needs to start recomputing all image rows mid-way (see BlockInputs), or None
        when the family's blocks do not allow it (an elastic refresh then recomputes every layer)."""
        return None

    @classmethod
    @abstractmethod
    def kv_layers(cls, transformer) -> dict[str, KVLayer]:
        """The attention modules KV-Edit replaces the processors of: module name -> KVLayer (the
        module, its layer number in run order, the KVProcessor subclass with the replaced
        processor's call signature). Found once per engine; installing processors reads this map."""


def resolution_shift(config, image_tokens: int) -> float:
    """FluxPipeline's `mu`: linear in the image tokens between the scheduler's base and max shift
    (FLUX.1's and Z-Image's pipelines use the same)."""
    return calculate_shift(
        image_tokens,
        config.get("base_image_seq_len", 256),
        config.get("max_image_seq_len", 4096),
        config.get("base_shift", 0.5),
        config.get("max_shift", 1.15),
    )
