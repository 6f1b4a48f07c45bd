"""ATT and COPY (paper Table 1, text-only generation): one config class, the name is the switch.

`att` is the attention encoder-decoder (Bahdanau et al.) without copying; `copy` is CopyRNN
(Meng et al., ACL 2017), the same network whose decoder also copies source words. The name
decides, so a config cannot say `att` and copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from mmkp.model.config import ModelConfig, check_dropout, check_sizes

ATT, COPY = "att", "copy"
SEQ2SEQ_NAMES = (ATT, COPY)


@dataclass(frozen=True)
class Seq2SeqConfig(ModelConfig):
    name: str = COPY
    hidden_size: int = 150  # per GRU direction; d = 2 * hidden_size is the decoder's width
    dropout: float = 0.1

    loss_terms: ClassVar[tuple[str, ...]] = ("gen",)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.name not in SEQ2SEQ_NAMES:
            raise ValueError(f"Seq2SeqConfig is model att or copy, got name {self.name!r}")
        check_sizes(self, "hidden_size")
        check_dropout(self.dropout)

    @property
    def copies(self) -> bool:
        """Whether the decoder copies source words (CopyRNN) or only generates (ATT)."""
        return self.name == COPY
