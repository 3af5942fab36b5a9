"""How many bytes each part of a diffusion run needs, computed from the real model architecture.

The models are built from their configs (`model_configs.py`) on the meta device, so parameters
have shapes but no storage: counting them is exact and needs no weights. `tiny` is built from
`models/tiny.py` the same way. Everything else (activations, VAE working memory) is an estimate
from the tensor shapes the code creates; the formulas are next to each function.

Units are bytes; GB in messages means 10^9 bytes.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

from models.families import family_of
from models.registry import get_spec

GB = 1_000_000_000

DTYPE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "int8": 1}
TORCH_DTYPE_NAMES = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}

# Bytes per quantized Linear weight. NF4 (bitsandbytes): 4 bits plus one fp32 absmax per block of
# 64 weights; torchao int8 weight-only: 1 byte plus a per-row scale (negligible per weight).
WEIGHT_QUANT_BYTES = {"nf4": 0.5 + 4 / 64, "int8": 1.0}

# Peak live width of one transformer block, in multiples of tokens x hidden: FLUX's single-stream
# block holds its input, the norm output, q/k/v (3), the attention output, the MLP hidden and its
# activation (4 + 4), their concatenation (5) and the output (1).
BLOCK_WORKSPACE_WIDTHS = 20
# With feature chunking (models/memory/chunking.py) the MLP branch runs over token slices after
# attention: the peak is the larger of the attention phase and what stays alive through the MLP
# phase (input, norm output, attention output, the output being filled) plus one slice of the
# MLP's widths. Split measured on CPU with live-tensor accounting (benchmarks/chunking_bench.py):
# 2 slices keep 0.71 of the unchunked peak, 4 or more 0.67, where the attention phase dominates.
BLOCK_ATTENTION_WIDTHS = 13.5
BLOCK_MLP_CARRIED_WIDTHS = 8.5
FEATURE_CHUNKS = 4  # token slices the planner uses when it chunks: where the attention phase takes over


def block_workspace_widths(feature_chunks: int = 1) -> float:
    """Peak live width of one block, in multiples of tokens x hidden, with the MLP in that many slices."""
    if feature_chunks <= 1:
        return BLOCK_WORKSPACE_WIDTHS
    mlp = BLOCK_WORKSPACE_WIDTHS - BLOCK_MLP_CARRIED_WIDTHS
    return max(BLOCK_ATTENTION_WIDTHS, BLOCK_MLP_CARRIED_WIDTHS + mlp / feature_chunks)


def dtype_name(dtype: torch.dtype | str) -> str:
    if isinstance(dtype, str):
        if dtype not in DTYPE_BYTES:
            raise ValueError(f"unknown dtype '{dtype}'; known: {', '.join(DTYPE_BYTES)}")
        return dtype
    try:
        return TORCH_DTYPE_NAMES[dtype]
    except KeyError:
        raise ValueError(f"unsupported compute dtype {dtype}") from None


def dtype_bytes(dtype: torch.dtype | str) -> int:
    return DTYPE_BYTES[dtype_name(dtype)]


@dataclass(frozen=True)
class ComponentSize:
    """Parameter counts of one pipeline component (transformer, text encoders, VAE)."""

    name: str
    class_name: str
    parameters: int
    quantizable: int  # weights of nn.Linear layers inside repeated blocks: what weight quantizers convert
    buffers: int  # buffer elements (stored in the compute dtype too)
    largest_block: int  # parameters of the biggest repeated block (what group offload keeps on the device)
    outside_blocks: int  # parameters not in repeated blocks (embedders, norms: resident under group offload)
    # Weight quantization applies to the transformer and the biggest text encoder only: CLIP and
    # the VAE are small and precision-sensitive.
    quantized_by_plans: bool = False

    def weight_bytes(self, dtype: torch.dtype | str = "bf16", quantization: str | None = None) -> int:
        per = dtype_bytes(dtype)
        if quantization is None or not self.quantized_by_plans:
            return (self.parameters + self.buffers) * per
        rest = self.parameters - self.quantizable + self.buffers
        return int(self.quantizable * WEIGHT_QUANT_BYTES[quantization]) + rest * per

    def group_resident_bytes(self, dtype: torch.dtype | str = "bf16", quantization: str | None = None) -> int:
        """On the device under block-level group offload with a stream: the parameters outside the
        blocks, the block that runs and the one being prefetched."""
        scale = self.weight_bytes(dtype, quantization) / max(1, self.parameters + self.buffers)
        return int((self.outside_blocks + self.buffers + 2 * self.largest_block) * scale)


@dataclass(frozen=True)
class TextEncoderShape:
    name: str
    hidden: int
    ffn: int
    heads: int
    tokens: int


@dataclass(frozen=True)
class ModelFootprint:
    """What the planner needs to know about one model, all from its architecture."""

    model: str
    family: str
    components: tuple[ComponentSize, ...]
    attention_layers: int  # layers whose background keys/values KV-Edit records
    heads: int
    head_dim: int
    text_tokens: int  # T5 / Qwen tokens in the joint sequence (the registry's max_sequence_length)
    token_pixels: int  # image pixels per side of one transformer token (VAE factor x patch size)
    vae_channels: tuple[int, ...]  # VAE block_out_channels
    vae_sample_size: int
    text_encoders: tuple[TextEncoderShape, ...]

    @property
    def hidden(self) -> int:
        return self.heads * self.head_dim

    def component(self, name: str) -> ComponentSize:
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(name)

    def has(self, name: str) -> bool:
        return any(c.name == name for c in self.components)

    @property
    def text_encoder_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.components if c.name.startswith("text_encoder"))

    @property
    def parameters(self) -> int:
        return sum(c.parameters for c in self.components)


# --- building on the meta device -------------------------------------------------------------


def _build_on_meta(library: str, class_name: str, config_class: str | None, config: dict) -> torch.nn.Module:
    with torch.device("meta"):
        if library == "diffusers":
            import diffusers

            return getattr(diffusers, class_name)(**dict(config))
        import transformers

        return getattr(transformers, class_name)(getattr(transformers, config_class)(**dict(config)))


def _repeated_blocks(module: torch.nn.Module) -> list[torch.nn.Module]:
    """Every element of every ModuleList in the module (the repeated transformer/encoder blocks)."""
    blocks = []
    for sub in module.modules():
        if isinstance(sub, torch.nn.ModuleList) and len(sub) > 1:
            blocks.extend(sub)
    # Nested lists (e.g. VAE up_blocks containing resnets): keep only the outermost ones.
    inner = {id(m) for b in blocks for m in b.modules() if m is not b}
    return [b for b in blocks if id(b) not in inner]


def count_component(name: str, module: torch.nn.Module, quantized_by_plans: bool = False) -> ComponentSize:
    params = {id(p): p.numel() for p in module.parameters()}
    blocks = _repeated_blocks(module)
    in_blocks: set[int] = set()
    largest = 0
    quantizable = 0
    for block in blocks:
        ids = {id(p) for p in block.parameters()}
        in_blocks |= ids
        largest = max(largest, sum(params[i] for i in ids))
        quantizable += sum(m.weight.numel() for m in block.modules() if isinstance(m, torch.nn.Linear))
    total = sum(params.values())
    return ComponentSize(
        name=name,
        class_name=type(module).__name__,
        parameters=total,
        quantizable=quantizable,
        buffers=sum(b.numel() for b in module.buffers()),
        largest_block=largest,
        outside_blocks=total - sum(params[i] for i in in_blocks),
        quantized_by_plans=quantized_by_plans,
    )


def _text_shape(name: str, module: torch.nn.Module, tokens: int) -> TextEncoderShape:
    cfg = module.config
    hidden = getattr(cfg, "d_model", None) or cfg.hidden_size
    ffn = getattr(cfg, "d_ff", None) or cfg.intermediate_size
    heads = getattr(cfg, "num_heads", None) or cfg.num_attention_heads
    if "CLIP" in type(module).__name__:
        tokens = cfg.max_position_embeddings  # CLIP always runs 77 tokens
    return TextEncoderShape(name, hidden, ffn, heads, tokens)


def footprint_from_components(model: str, components: dict[str, object]) -> ModelFootprint:
    """Count a model from its modules (meta or real): used for every model, and for live pipelines."""
    spec = get_spec(model)
    modules = {k: v for k, v in components.items() if isinstance(v, torch.nn.Module)}
    text_names = [k for k in modules if k.startswith("text_encoder")]
    biggest_text = max(text_names, key=lambda k: sum(p.numel() for p in modules[k].parameters()), default=None)
    sizes = tuple(count_component(k, modules[k], k in ("transformer", biggest_text)) for k in sorted(modules))
    layers, heads, head_dim = family_of(spec).attention_shape(modules["transformer"].config)
    patch = 2  # every family makes a token of 2x2 latent pixels (packed, patchified)
    vae = modules["vae"]
    vae_factor = 2 ** (len(vae.config.block_out_channels) - 1)
    text = tuple(
        _text_shape(k, modules[k], spec.max_sequence_length) for k in sorted(modules) if k.startswith("text_encoder")
    )
    return ModelFootprint(
        model=model,
        family=spec.family,
        components=sizes,
        attention_layers=layers,
        heads=heads,
        head_dim=head_dim,
        text_tokens=spec.max_sequence_length,
        token_pixels=vae_factor * patch,
        vae_channels=tuple(vae.config.block_out_channels),
        vae_sample_size=int(vae.config.sample_size),
        text_encoders=text,
    )


@functools.cache
def model_footprint(model: str) -> ModelFootprint:
    """The footprint of a registered diffusion model, from its architecture on the meta device.

    Memoized: the result is immutable and depends only on the name (building FLUX on meta takes
    a few seconds)."""
    from models.memory.model_configs import ARCHITECTURES

    spec = get_spec(model)
    if spec.kind != "diffusion":
        raise ValueError(f"'{model}' is a {spec.kind} model; memory plans are for image generators.")
    if model in ARCHITECTURES:
        components = {
            name: _build_on_meta(*architecture) for name, architecture in ARCHITECTURES[model].items()
        }
    elif spec.random_weights:
        from models.tiny import tiny_components

        with torch.device("meta"):
            components = tiny_components(model)
    else:
        raise ValueError(f"No architecture known for '{model}'.")
    return footprint_from_components(model, components)


# --- sizes of one run ------------------------------------------------------------------------


def image_tokens(fp: ModelFootprint, width: int, height: int) -> int:
    """Transformer image tokens for an image (the pipelines round sizes down to whole tokens)."""
    return (height // fp.token_pixels) * (width // fp.token_pixels)


def background_tokens(fp: ModelFootprint, width: int, height: int, mask_fraction: float) -> int:
    """Image tokens outside the edited region: the only ones whose keys/values are cached."""
    if not 0.0 <= mask_fraction <= 1.0:
        raise ValueError(f"mask fraction must be between 0 and 1; got {mask_fraction}")
    n = image_tokens(fp, width, height)
    return n - int(round(n * mask_fraction))


def kv_bytes_per_step(fp: ModelFootprint, n_background: int, element_bytes: float) -> int:
    """Keys + values of the background for one step: tokens x layers x 2 x hidden x bytes."""
    return int(n_background * fp.attention_layers * 2 * fp.hidden * element_bytes)


def kv_scale_bytes_per_step(fp: ModelFootprint, n_background: int, mode: str) -> int:
    """fp32 scales of the quantized stores: one per head for fp8, one per head and token for int8."""
    if mode == "fp8":
        return fp.attention_layers * 2 * fp.heads * 4
    if mode == "int8":
        return fp.attention_layers * 2 * fp.heads * n_background * 4
    return 0


@dataclass(frozen=True)
class KVCacheSize:
    mode: str
    per_step: int  # bytes of one step's background keys/values in this mode
    steps: int  # steps held at once
    on_device: int  # bytes kept on the accelerator (stored cache, or staging buffers)
    in_ram: int  # bytes kept in CPU memory

    @property
    def total(self) -> int:
        return self.per_step * self.steps


def kv_cache_size(
    fp: ModelFootprint,
    mode: str,
    width: int,
    height: int,
    mask_fraction: float,
    cached_steps: int,
    dtype: torch.dtype | str = "bf16",
    accelerator: bool = True,
    keyframe_share: float | None = None,
) -> KVCacheSize:
    """Where the K/V cache lives and how big it is, per mode.

    device: every cached step in the compute dtype on the compute device.
    cpu:    the same bytes in pinned RAM; on the device only the layer in use and the one being
            prefetched. Without an accelerator it is plain RAM, like `device`.
    fp8 / int8: one byte per element plus scales, on the compute device.
    none:   inversion-free: one step's keys/values alive at a time.

    keyframe_share (elastic refresh, editor/kv_edit/elastic.py): a stored cache keeps at most that
    share of its steps (rounded up); the inversion-free mode also keeps each layer's background
    block input (half a step more) to restart a refresh mid-way. None: exact, every step.
    """
    n_bg = background_tokens(fp, width, height, mask_fraction)
    full = dtype_bytes(dtype)
    per_step_full = kv_bytes_per_step(fp, n_bg, full)
    layer_full = per_step_full // max(1, fp.attention_layers)
    held = cached_steps if keyframe_share is None else min(cached_steps, math.ceil(keyframe_share * cached_steps))
    if mode == "device":
        return KVCacheSize(mode, per_step_full, held, per_step_full * held, 0)
    if mode == "cpu":
        if not accelerator:
            return KVCacheSize(mode, per_step_full, held, per_step_full * held, 0)
        return KVCacheSize(mode, per_step_full, held, 2 * layer_full, per_step_full * held)
    if mode in ("fp8", "int8"):
        per_step = kv_bytes_per_step(fp, n_bg, 1) + kv_scale_bytes_per_step(fp, n_bg, mode)
        # plus one layer dequantized to the compute dtype while it is used
        return KVCacheSize(mode, per_step, held, per_step * held + layer_full, 0)
    if mode == "none":
        alive = per_step_full if keyframe_share is None else per_step_full + per_step_full // 2
        return KVCacheSize(mode, alive, 1, alive, 0)
    raise ValueError(f"unknown KV cache mode '{mode}'")


def transformer_activation_bytes(fp: ModelFootprint, width: int, height: int, dtype: torch.dtype | str = "bf16",
                                 feature_chunks: int = 1, images: int = 1) -> int:
    """Peak activations of one transformer forward pass over text + all image tokens, for a batch
    of `images`, with the blocks' MLPs in `feature_chunks` token slices.

    Fused attention kernels (flash / memory-efficient on CUDA, flash on CPU) never hold the
    tokens x tokens score matrix, so the peak is one block's workspace plus the residual streams
    and the fp32 rotary tables."""
    n = image_tokens(fp, width, height) + fp.text_tokens
    per = dtype_bytes(dtype)
    block = block_workspace_widths(feature_chunks) * n * fp.hidden * per
    streams = 2 * n * fp.hidden * per
    rotary = 2 * n * fp.head_dim * 4
    return int(images * (block + streams) + rotary)


def vae_activation_bytes(
    fp: ModelFootprint, width: int, height: int, dtype: torch.dtype | str = "bf16", tiled: bool = False, tile: int = 512,
    images: int = 1,
) -> int:
    """Peak working memory of the VAE, the larger of encoding (inversion) and decoding.

    Decoding peaks in the last up block at full resolution, where a resnet holds about three
    tensors at its input width and three at its output width; encoding peaks in the first down
    block (four tensors at the first width). Tiled, the same happens per tile, plus the full-size
    output being blended (fp32, RGB, twice). A tiled VAE is also sliced (one image at a time:
    `offload.set_vae_tiling`); a full one decodes the batch of `images` at once."""
    per = dtype_bytes(dtype)
    if tiled:
        tile = min(tile, fp.vae_sample_size)
        w, h = min(width, tile), min(height, tile)
    else:
        w, h = width, height
    ch = fp.vae_channels
    c_in_last = ch[1] if len(ch) > 1 else ch[0]
    decode = w * h * per * (3 * c_in_last + 3 * ch[0])
    encode = w * h * per * 4 * ch[0]
    blend = 2 * width * height * 3 * 4 if tiled else 0
    return max(decode, encode) * (1 if tiled else images) + blend


def text_encoder_activation_bytes(fp: ModelFootprint, dtype: torch.dtype | str = "bf16") -> int:
    """Peak activations of the largest text encoder: one layer's hidden and FFN tensors, plus the
    attention scores in fp32 (T5 adds a position bias, so it runs unfused attention)."""
    per = dtype_bytes(dtype)
    peak = 0
    for t in fp.text_encoders:
        layer = t.tokens * (4 * t.hidden + 3 * t.ffn) * per
        scores = 2 * t.heads * t.tokens * t.tokens * 4
        peak = max(peak, layer + scores)
    return peak


def weights_bytes(fp: ModelFootprint, names: tuple[str, ...], dtype: torch.dtype | str, quantization: str | None) -> int:
    return sum(fp.component(n).weight_bytes(dtype, quantization) for n in names if fp.has(n))
