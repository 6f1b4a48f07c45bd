"""The model directories of an ensemble (`Predictor.load([dir1, dir2, ...])`, `mmkp predict
--model DIR1 --model DIR2`), checked to be decodable as one (`mmkp.decoding.ensemble`).

Members are decoded on one batch, built by the first member's processor: so everything
that turns a post into a batch must be the same in every directory (the vocabulary, hence
the extended vocabulary and the output size; the label set the classifiers and the copy
from labels index; the text options; the image featurizer and grid width; which text's MiniLM
embedding the batch carries, `model.sentence_features`; the retrieval settings and index,
whose neighbour votes every member's copy and the rerank read). Those come from the data and
vocabulary config, not from the seed, so models of one config trained with different seeds
always agree. The decode settings are the first member's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mmkp.inference.checkpoint import ZERO_SHOT, Checkpoint, load_checkpoint

# what must agree -> how to read it of a checkpoint
SHARED: dict[str, Callable[[Checkpoint], Any]] = {
    "vocabulary (vocab.json)": lambda c: c.vocab.words,
    "label set (labels.json)": lambda c: c.labels.keyphrases,
    "text options (config.json 'text')": lambda c: c.config.text,
    "image featurizer (processor.json)": lambda c: c.processor_config,
    "grid backbone (config.json 'backbone')": lambda c: c.config.backbone,
    "grid width (model.image_dim)": lambda c: getattr(c.config.model, "image_dim", None),
    "sentence features (model.sentence_features)": lambda c: c.config.model.sentence_input,
    "retrieval settings (model.retrieval)": lambda c: c.config.model.retrieval,
    "retrieval index (retrieval.json)": lambda c: (
        None if c.retrieval is None else (c.retrieval.texts, c.retrieval.labels)
    ),
}


def load_members(directories: Sequence[str | Path]) -> list[Checkpoint]:
    """Each directory's checkpoint, in order, once all agree with the first (`check_members`)."""
    if not directories:
        raise ValueError("no model directory given")
    if ZERO_SHOT in (str(d) for d in directories):
        raise ValueError(f"{ZERO_SHOT!r} is no trained model: it cannot be part of an ensemble")
    checkpoints = [load_checkpoint(directory) for directory in directories]
    check_members(directories, checkpoints)
    return checkpoints


def check_members(directories: Sequence[str | Path], checkpoints: Sequence[Checkpoint]) -> None:
    """A ValueError naming the first directory whose batch-making differs from the first's."""
    first = checkpoints[0]
    for directory, checkpoint in zip(directories[1:], checkpoints[1:], strict=True):
        for what, read in SHARED.items():
            if read(checkpoint) != read(first):
                raise ValueError(
                    f"{directory}: its {what} differs from {directories[0]}'s; an ensemble's "
                    "models must share the data and vocabulary config (different seeds only)"
                )
