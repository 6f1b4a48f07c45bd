"""One2Set's settings: the shared Transformer sizes plus the set-generation ones of
kg_one2set (`max_kp_num`, `max_kp_len`, `assign_steps`, `loss_scale_pre/ab`,
`seperate_pre_ab`), with sizes for posts of 1-4 keyphrases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mmkp.model.modules.transformer_generator import TransformerModelConfig

NAME = "one2set"


@dataclass(frozen=True)
class One2SetConfig(TransformerModelConfig):
    name: str = NAME
    # N control codes, one per slot; with `separate_present_absent` the first half is for
    # present keyphrases and the second for absent ones (kg_one2set: 20; our posts have <= 4).
    num_slots: int = 8
    max_kp_len: int = 6  # training tokens per slot, <eos> included; longer keyphrases left out
    assign_steps: int = 2  # K: greedy steps whose predictions the targets are matched to
    separate_present_absent: bool = True
    # The loss weight of a slot's ∅ (kg_one2set's loss_scale_pre / loss_scale_ab): most
    # slots are ∅, and at full weight they teach every slot to say nothing.
    null_weight_present: float = 0.2
    null_weight_absent: float = 0.1
    # The order of a post's keyphrases (for F1@1, MAP@5): "slot", the slots' order (present
    # slots first, as kg_one2set writes its predictions), or "score", the mean token
    # log-probability of each slot's keyphrase.
    ranking: Literal["slot", "score"] = "slot"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.name != NAME:
            raise ValueError(f"One2SetConfig is model {NAME!r}, got name {self.name!r}")
        if self.num_slots < 1 or (self.separate_present_absent and self.num_slots % 2):
            raise ValueError(
                f"num_slots must be >= 1, and even with separate_present_absent, got "
                f"{self.num_slots}"
            )
        if self.max_kp_len < 2:
            raise ValueError(
                f"max_kp_len must leave room for a word and <eos>, got {self.max_kp_len}"
            )
        if not 0 <= self.assign_steps <= self.max_kp_len:
            raise ValueError(
                f"assign_steps must be in [0, max_kp_len={self.max_kp_len}], got "
                f"{self.assign_steps}"
            )
        for name in ("null_weight_present", "null_weight_absent"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")

    @property
    def slot_groups(self) -> list[tuple[int, int]]:
        """The slot ranges targets are assigned within: present, absent (or all slots)."""
        if not self.separate_present_absent:
            return [(0, self.num_slots)]
        half = self.num_slots // 2
        return [(0, half), (half, self.num_slots)]
