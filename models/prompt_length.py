"""How many tokens a prompt takes in the text encoder that decides what the model reads.

FLUX reads the T5 tokens (CLIP only gives a pooled summary); Z-Image reads its Qwen tokens.
Anything past the model's `max_sequence_length` is cut off by the pipeline; we count first so
the user is told instead of silently losing the end of the prompt.
"""

from __future__ import annotations


def prompt_token_count(pipe, prompt: str) -> int | None:
    tokenizer = getattr(pipe, "tokenizer_2", None) or getattr(pipe, "tokenizer", None)
    if tokenizer is None:
        return None
    return len(tokenizer(prompt, truncation=False)["input_ids"])


def truncation_note(which: str, tokens: int | None, limit: int) -> str | None:
    """A one-line note when the prompt is longer than the model reads, else None."""
    if tokens is None or tokens <= limit:
        return None
    return f"the {which} prompt is {tokens} tokens; the model reads the first {limit}, the rest was left out"
