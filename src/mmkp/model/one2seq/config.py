"""One2Seq's settings: the shared Transformer sizes (modules.transformer_generator), no more."""

from __future__ import annotations

from dataclasses import dataclass

from mmkp.model.modules.transformer_generator import TransformerModelConfig

NAME = "one2seq"


@dataclass(frozen=True)
class One2SeqConfig(TransformerModelConfig):
    name: str = NAME

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.name != NAME:
            raise ValueError(f"One2SeqConfig is model {NAME!r}, got name {self.name!r}")
