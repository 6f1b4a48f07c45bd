"""The narrow interface through which training, checkpoints and inference see a model.

Every member of the model family is an `nn.Module` with:

- `config` (its `ModelConfig` subclass) and `inputs`, what it reads of a batch: "text"
  (X_T), "grid" (the 7x7 image region features), "sentence" (the post's frozen MiniLM
  embedding, `Batch.sentence`, of the text `config.sentence_input` names);
- `forward(batch, terms) -> Losses`, the requested loss terms (what DistributedDataParallel
  and the training loop call);
- `encode(batch) -> Encoded`, and one or both heads:
  a generator (`has_generator`: `init_decoder_state` and `step`, driven by
  `mmkp.decoding`) and a classifier (`has_classifier`: `Encoded.label_logits` over the
  training keyphrases, ranked by `mmkp.decoding.labels`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any, Protocol

import torch
from torch import nn

from mmkp.data.batch import Batch
from mmkp.model.config import ModelConfig
from mmkp.model.outputs import Encoded, Losses

INPUT_TEXT, INPUT_GRID, INPUT_SENTENCE = "text", "grid", "sentence"


class KeyphraseModel(Protocol):
    config: ModelConfig

    @property
    def inputs(self) -> frozenset[str]: ...

    @property
    def has_generator(self) -> bool: ...

    @property
    def has_classifier(self) -> bool: ...

    def __call__(self, batch: Batch, terms: Collection[str]) -> Losses: ...

    def encode(self, batch: Batch) -> Encoded: ...

    def init_decoder_state(self, batch: Batch, encoded: Encoded) -> Any: ...

    def step(self, tokens: torch.Tensor, state: Any) -> tuple[torch.Tensor, torch.Tensor, Any]: ...

    # The nn.Module methods training and checkpoints use.
    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]: ...

    def named_parameters(self) -> Iterator[tuple[str, nn.Parameter]]: ...

    def named_children(self) -> Iterator[tuple[str, nn.Module]]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def train(self, mode: bool = True) -> Any: ...

    def eval(self) -> Any: ...
