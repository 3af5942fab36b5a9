"""Every limit on what a user may send, stated once. Requests check against these when they are
made, so an oversized input is refused in microseconds, before it reaches a queue or a model."""

from __future__ import annotations

# Prompts (edit source/target, generation, background): FLUX reads at most 512 T5 tokens, about
# 2,000 English characters; Korean or mixed text needs more characters per token, so the limit
# leaves room while refusing pastes that would only hold the GPU.
MAX_PROMPT_CHARS = 4000

# Ad copy: what fits an ad at a readable size in the widest format, with room to spare. A request
# field with one of these names is held to its limit (old_price: where the ad request has one).
MAX_AD_TEXT_CHARS = {"headline": 80, "subline": 160, "price": 40, "old_price": 40, "cta": 40}

# Names a request picks from a list (model, preset, style, cut-out method, ad format, colour).
MAX_NAME_CHARS = 100

# Ad formats in one request (each is rendered once, however often it is listed).
MAX_AD_FORMATS = 16

# Steps of one diffusion run, and pictures per generation request.
MAX_STEPS = 100
MAX_IMAGES = 8
MAX_SEED = 2**63 - 1
