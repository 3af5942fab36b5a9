"""Z-Image (Turbo and fine-tunes) on diffusers' ZImageTransformer2DModel, a single-stream DiT.

- Latents: 16 channels (4 in the tiny model), `(z - shift) * scale` like FLUX.1, patchified 2×2
  inside the transformer with the channels last in each token (not FLUX's order).
- The transformer's own forward takes whole images, so this adapter runs its modules on token
  rows itself (`ZImageAdapter.predict`): embed the tokens, the noise refiner over the image rows,
  the context refiner over the caption, the main layers over [image, caption], the final layer.
  A full pass pads the image rows to a multiple of 32 with the model's pad token at position
  (0, 0, 0), as the transformer does; those padding rows are background.
- Positions (frame, row, column) per token; the caption sits just before the image on the frame
  axis. The transformer puts the caption at 1…C and the image at C + 1, so the image position would
  move with the prompt's length; here the image is always at P = (text length rounded up to 32) + 1
  and the caption at P − C … P − 1. RoPE sees only differences, so every prompt meets the same
  image positions and the recorded background keys stay valid for any target prompt.
- Text: the Qwen3 encoder's second-to-last layer, real tokens only (no padding).
- Guidance: true CFG above 0, pred = cond + g · (cond − uncond); Turbo's default is 0 (one pass).
- Model output is the negative flow velocity; the time input is 1 − sigma.
- Attention: `ZSingleStreamAttnProcessor` of the noise refiner and the main layers (the context
  refiner sees only the caption, so it is left alone); the image rows come first.
"""

from __future__ import annotations

import re

import torch
from torch import Tensor

from editor.kv_edit.attention import KVLayer, KVProcessor, attention_modules
from editor.kv_edit.diffusers_private import place_offloaded
from editor.kv_edit.families.base import Canvas, FamilyAdapter, Prompt, resolution_shift
from models.vocabulary import CFG, GuidanceKind

SEQUENCE_MULTIPLE = 32  # the transformer pads image and caption rows to a multiple of this
PATCH = "2-1"  # the patch size (2) and frame patch size (1) every Z-Image checkpoint uses


def rotate(x: Tensor, freqs: Tensor) -> Tensor:
    """Z-Image's RoPE: pairs of channels as complex numbers times the position's phases."""
    with torch.amp.autocast("cuda", enabled=False):
        pairs = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
        return torch.view_as_real(pairs * freqs.unsqueeze(2)).flatten(3).type_as(x)


class ZImageKVProcessor(KVProcessor):
    """ZSingleStreamAttnProcessor, step for step, with the KV-Edit attention in the middle."""

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, freqs_cis=None):
        query = attn.to_q(hidden_states).unflatten(-1, (attn.heads, -1))
        key = attn.to_k(hidden_states).unflatten(-1, (attn.heads, -1))
        value = attn.to_v(hidden_states).unflatten(-1, (attn.heads, -1))
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)
        if freqs_cis is not None:
            query, key = rotate(query, freqs_cis), rotate(key, freqs_cis)
        if attention_mask is not None and attention_mask.ndim == 2:
            attention_mask = attention_mask[:, None, None, :]
        out = self.attend(query, key.to(query.dtype), value, attention_mask).flatten(2, 3).to(query.dtype)
        out = attn.to_out[0](out)
        return attn.to_out[1](out) if len(attn.to_out) > 1 else out


# The context refiner's attention sees only caption rows: it is left alone.
_REFINER_AND_MAIN = re.compile(r"^(noise_refiner|layers)\.(\d+)\.attention$")


def padded(n: int) -> int:
    return n + (-n) % SEQUENCE_MULTIPLE


class ZImageAdapter(FamilyAdapter):
    family = "z-image"
    transformer_class = "ZImageTransformer2DModel"
    image_first = True

    # -- latents and positions -------------------------------------------------------------------

    def pack(self, latent: Tensor) -> Tensor:
        _, channels, height, width = latent.shape
        tokens = latent[0].view(channels, height // 2, 2, width // 2, 2).permute(1, 3, 2, 4, 0)
        return tokens.reshape(1, (height // 2) * (width // 2), 4 * channels)

    def unpack(self, packed: Tensor, canvas: Canvas) -> Tensor:
        rows, columns = canvas.grid
        tokens = packed[0].view(rows, columns, 2, 2, canvas.channels).permute(4, 0, 2, 1, 3)
        return tokens.reshape(1, canvas.channels, canvas.latent_h, canvas.latent_w)

    @property
    def image_frame(self) -> int:
        """The frame-axis position of every image token (P in the module docstring)."""
        return padded(self.text_length()) + 1

    def image_ids(self, canvas: Canvas, device) -> Tensor:
        rows, columns = canvas.grid
        grid = torch.meshgrid(torch.arange(rows), torch.arange(columns), indexing="ij")
        tokens = torch.stack([torch.full_like(grid[0], self.image_frame), *grid], dim=-1).reshape(-1, 3)
        padding = torch.zeros(padded(len(tokens)) - len(tokens), 3, dtype=tokens.dtype)
        return torch.cat([tokens, padding]).to(device=device, dtype=torch.int32)

    # -- prompts, schedule, guidance -------------------------------------------------------------

    def default_text_length(self) -> int:
        # The pipelines' default, within the positions the frame axis has room for (caption, then image).
        frames = self.pipe.transformer.config.axes_lens[0]
        return min(512, (frames - 2) // SEQUENCE_MULTIPLE * SEQUENCE_MULTIPLE)

    def make_prompt(self, text: str, encoded: tuple, dtype: torch.dtype) -> Prompt:
        return Prompt(text, encoded[0].to(dtype=dtype))

    def shift(self, image_tokens: int, steps: int) -> float:
        return resolution_shift(self.pipe.scheduler.config, image_tokens)

    def default_guidance_kind(self) -> GuidanceKind:
        return CFG

    def combine(self, conditional: Tensor, unconditional: Tensor, guidance: float) -> Tensor:
        return conditional + guidance * (conditional - unconditional)

    # -- the model -------------------------------------------------------------------------------

    def predict(self, latents: Tensor, ids: Tensor, prompt: Prompt, sigma: float, guidance: float) -> Tensor:
        model = self.pipe.transformer
        place_offloaded(model)  # model CPU offload moves it in a hook on its forward, which this bypasses
        with torch.no_grad():
            out = self._forward(model, latents, ids, prompt.embeds, 1.0 - sigma, self.image_frame)
        return -out.float()  # the model predicts the velocity from image to noise

    @staticmethod
    def _forward(model, tokens: Tensor, positions: Tensor, caption: Tensor, time: float, image_frame: int) -> Tensor:
        """ZImageTransformer2DModel.forward for one picture given as token rows: `tokens`
        [1, n, 4C] (a subset of the image's tokens, or all of them), `positions` [n + pads, 3]
        (pads: padding rows appended), `caption` [C, D] placed just before `image_frame`.
        Returns [1, n, 4C]."""
        dtype, device = model.dtype, tokens.device
        n = tokens.shape[1]
        pads = len(positions) - n
        t = torch.full((1,), time, device=device, dtype=torch.float32)
        adaln = model.t_embedder(t * model.t_scale).to(dtype)

        image = model.all_x_embedder[PATCH](tokens[0].to(dtype))
        image = torch.cat([image, model.x_pad_token.to(dtype).expand(pads, -1)])[None]
        image_freqs = model.rope_embedder(positions)[None]
        for layer in model.noise_refiner:
            image = layer(x=image, attn_mask=None, freqs_cis=image_freqs, adaln_input=adaln)

        text = model.cap_embedder(caption.to(dtype))
        text_rows = padded(len(text))
        text = torch.cat([text, model.cap_pad_token.to(dtype).expand(text_rows - len(text), -1)])[None]
        start = image_frame - text_rows
        text_positions = torch.zeros(text_rows, 3, dtype=positions.dtype, device=device)
        text_positions[:, 0] = torch.arange(start, image_frame, device=device, dtype=positions.dtype)
        text_freqs = model.rope_embedder(text_positions)[None]
        for layer in model.context_refiner:
            text = layer(x=text, attn_mask=None, freqs_cis=text_freqs)

        joint = torch.cat([image, text], dim=1)
        freqs = torch.cat([image_freqs, text_freqs], dim=1)
        for layer in model.layers:
            joint = layer(x=joint, attn_mask=None, freqs_cis=freqs, adaln_input=adaln)
        return model.all_final_layer[PATCH](x=joint, c=adaln)[:, :n]

    @classmethod
    def kv_layers(cls, transformer) -> dict[str, KVLayer]:
        n_refiner = len(transformer.noise_refiner)
        layers = {}
        for name, (module, match) in attention_modules(transformer, _REFINER_AND_MAIN).items():
            index = int(match.group(2))
            layers[name] = KVLayer(module, index if match.group(1) == "noise_refiner" else n_refiner + index,
                                   ZImageKVProcessor)
        return layers
