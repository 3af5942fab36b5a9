"""Feature chunking: run the token-wise MLPs of the transformer blocks over slices of the tokens.

At high resolution the activation peak of a pass is one block's workspace, and most of it is the
MLP: FLUX.1's single-stream block holds a 4×-wide hidden tensor, its activation and the 5×-wide
concatenation with the attention output at once. The MLP treats every token on its own, so running
it over token slices gives the same numbers (up to matmul blocking) with a fraction of the peak.
Attention still sees all tokens, so KV-Edit's attention processors are unaffected.

Installed as diffusers hooks (one per module, named `feature_chunking`):
- token-wise feed-forward modules (FLUX.1 / FLUX.2 double blocks `ff`, `ff_context`; Z-Image
  `feed_forward`): the module's own forward, per token slice, into one output tensor;
- FLUX.1's single-stream block: attention over all tokens first, then the MLP branch and the output
  projection per token slice. FLUX.2's single-stream block computes its MLP inside the attention
  processor (fused projections), so only its double blocks are chunked.

`set_feature_chunking(transformer, chunks)` replaces whatever was set; 1 removes the hooks. The
memory planner chooses `chunks` (`MemoryPlan.feature_chunks`) and the estimator counts it
(`estimator.transformer_activation_bytes`). Register it before offloading hooks: the single-block
hook runs the block's submodules itself, so group offloading must wrap it, not the other way round.
"""

from __future__ import annotations

import torch

HOOK_NAME = "feature_chunking"
FEED_FORWARD_NAMES = ("ff", "ff_context", "feed_forward")  # attribute names of token-wise MLPs in blocks


def _token_slices(n: int, chunks: int) -> list[slice]:
    size = -(-n // max(1, chunks))
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


def _new_hook(chunks: int, forward):
    """A diffusers ModelHook whose forward is `forward(hook, module, *args, **kwargs)`."""
    from diffusers.hooks import ModelHook

    class _Chunked(ModelHook):
        def __init__(self):
            super().__init__()
            self.chunks = chunks

        def new_forward(self, module, *args, **kwargs):
            return forward(self, module, *args, **kwargs)

    return _Chunked()


def _feed_forward_in_slices(hook, module, hidden_states: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    run = hook.fn_ref.original_forward
    slices = _token_slices(hidden_states.shape[1], hook.chunks)
    if len(slices) <= 1:
        return run(hidden_states, *args, **kwargs)
    first = run(hidden_states[:, slices[0]], *args, **kwargs)
    out = first.new_empty((first.shape[0], hidden_states.shape[1], *first.shape[2:]))
    out[:, slices[0]] = first
    del first
    for part in slices[1:]:
        out[:, part] = run(hidden_states[:, part], *args, **kwargs)
    return out


def _flux_single_block_in_slices(hook, block, hidden_states, encoder_hidden_states, temb,
                                 image_rotary_emb=None, joint_attention_kwargs=None):
    """FluxSingleTransformerBlock.forward with the MLP branch and output projection per token slice
    (diffusers 0.42's block, same operations in the same order per token)."""
    text_len = encoder_hidden_states.shape[1]
    hidden_states = torch.cat([encoder_hidden_states, hidden_states], dim=1)
    residual = hidden_states
    norm_hidden_states, gate = block.norm(hidden_states, emb=temb)
    attn_output = block.attn(hidden_states=norm_hidden_states, image_rotary_emb=image_rotary_emb,
                             **(joint_attention_kwargs or {}))
    gate = gate.unsqueeze(1)
    out = torch.empty_like(residual)
    for part in _token_slices(residual.shape[1], hook.chunks):
        mlp = block.act_mlp(block.proj_mlp(norm_hidden_states[:, part]))
        out[:, part] = residual[:, part] + gate * block.proj_out(torch.cat([attn_output[:, part], mlp], dim=2))
        del mlp
    if out.dtype == torch.float16:
        out = out.clip(-65504, 65504)
    return out[:, :text_len], out[:, text_len:]


def _targets(transformer: torch.nn.Module):
    """(module, forward) pairs to chunk in this transformer."""
    from diffusers.models.transformers.transformer_flux import FluxSingleTransformerBlock

    for module in transformer.modules():
        if isinstance(module, FluxSingleTransformerBlock):
            yield module, _flux_single_block_in_slices
            continue
        for name in FEED_FORWARD_NAMES:
            child = getattr(module, name, None)
            if isinstance(child, torch.nn.Module):
                yield child, _feed_forward_in_slices


def feature_chunks(transformer: torch.nn.Module) -> int:
    """The chunk count installed on `transformer` (1 when none)."""
    for module in transformer.modules():
        registry = getattr(module, "_diffusers_hook", None)
        hook = registry.get_hook(HOOK_NAME) if registry is not None else None
        if hook is not None:
            return hook.chunks
    return 1


def set_feature_chunking(transformer: torch.nn.Module, chunks: int) -> int:
    """Chunk the token-wise MLPs of `transformer` into `chunks` token slices (1: not at all),
    replacing an earlier setting. Returns the number of modules chunked."""
    from diffusers.hooks import HookRegistry

    if isinstance(chunks, bool) or not isinstance(chunks, int) or chunks < 1:
        raise ValueError(f"chunks must be a whole number of at least 1; got {chunks!r}")
    for module in transformer.modules():
        registry = getattr(module, "_diffusers_hook", None)
        if registry is not None and registry.get_hook(HOOK_NAME) is not None:
            registry.remove_hook(HOOK_NAME, recurse=False)
    if chunks == 1:
        return 0
    count = 0
    for module, forward in list(_targets(transformer)):
        HookRegistry.check_if_exists_or_initialize(module).register_hook(_new_hook(chunks, forward), HOOK_NAME)
        count += 1
    return count
