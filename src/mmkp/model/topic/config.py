"""Configs of the topic-model systems of Table 1: TMN (a classifier) and TOPIC (TAKG, a
generator). Both train a neural topic model (mmkp.model.modules.topic_model) jointly with
their network; its loss term is "ntm".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from mmkp.model.config import ModelConfig, check_dropout, check_own_name, check_sizes

NTM_TERM = "ntm"


@dataclass(frozen=True)
class TopicMemberConfig(ModelConfig):
    """The sizes both share: the Bi-GRU text encoder (d = 2 * hidden_size) and the NTM."""

    hidden_size: int = 150  # per GRU direction
    dropout: float = 0.1
    num_topics: int = 50  # T (TAKG's and TMN's default)
    bow_size: int = 10_000  # K: the most frequent topic words of the vocabulary (TAKG's)
    topic_hidden: int = 500  # the NTM encoder's width (both public codes)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_own_name(self)
        check_sizes(self, "hidden_size", "num_topics", "bow_size", "topic_hidden")
        check_dropout(self.dropout)


@dataclass(frozen=True)
class TakgConfig(TopicMemberConfig):
    """TOPIC: CopyRNN whose decoder is conditioned on the post's topic mixture."""

    name: str = "topic"

    loss_terms: ClassVar[tuple[str, ...]] = (NTM_TERM, "gen")


@dataclass(frozen=True)
class TMNConfig(TopicMemberConfig):
    """TMN: a keyphrase classifier reading the text through a topic memory."""

    name: str = "tmn"

    loss_terms: ClassVar[tuple[str, ...]] = (NTM_TERM, "cla")
