"""MiniLM's precision choices, without torch, so the command line can offer them before any
model loads (`mmkp.features.sentence_encoder` says what each does)."""

from __future__ import annotations

from typing import Literal, get_args

MiniLMPrecision = Literal["fp32", "bf16"]
MINILM_PRECISIONS: tuple[str, ...] = get_args(MiniLMPrecision)


def checked_precision(precision: str) -> MiniLMPrecision:
    """`precision` when it is one of MINILM_PRECISIONS, else ValueError naming them."""
    if precision not in MINILM_PRECISIONS:
        raise ValueError(
            f"MiniLM precision must be one of {', '.join(MINILM_PRECISIONS)}, got {precision!r}"
        )
    return precision  # type: ignore[return-value]
