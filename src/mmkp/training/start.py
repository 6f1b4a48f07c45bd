"""How a stage's model starts: a new model, or the previous stage's best, then frozen to what
the stage trains.

MM-MKP's two stages are two settings of this (configs/cmkp.yaml):

- stage 1 (eq. 15, L = L_itm + L_irtm + L_cla, optionally + L_gen as the first phase of the
  paper's public code): a new model, with word embeddings from GloVe when the model config
  names vectors; everything trains.
- stage 2 (eq. 19, the generator's token cross-entropy): `warm_start` from stage 1's best;
  `trainable: default` is MM-MKP's `fine_tune_modules` (decoder and generator), as the public
  code's second phase (`-fix_classifier 1`): the encoders, the noise filter and the classifier
  stay as stage 1 left them, so the classifier's top-k keyphrases that the copy mechanism reads
  keep the meaning L_cla gave them.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from mmkp.data.vocab import LabelSet, Vocab
from mmkp.inference.checkpoint import load_checkpoint
from mmkp.model.config import ModelConfig
from mmkp.model.modules.embeddings import load_embeddings
from mmkp.model.protocol import KeyphraseModel
from mmkp.model.registry import build_model
from mmkp.training.config import StageConfig


def starting_model(
    stage: StageConfig,
    *,
    where: str,
    model: ModelConfig,
    vocab: Vocab,
    labels: LabelSet,
    previous_best: Path | None,
) -> KeyphraseModel:
    """The stage's model on the CPU; parameters it does not train have requires_grad off.
    `where` names the stage in errors (`train.stages[1]`)."""
    if stage.warm_start:
        if previous_best is None:
            raise ValueError(f"{where}.warm_start: there is no previous stage to start from")
        start = load_checkpoint(previous_best).model
    else:
        start = build_model(model, vocab, labels, embeddings=load_embeddings(model, vocab))
    if stage.trainable is not None:
        assert stage.trainable != "default", "resolved by ExperimentConfig"
        train_only(start, stage.trainable, where=f"{where}.trainable")
    return start


def train_only(model: KeyphraseModel, modules: Collection[str], *, where: str) -> None:
    """Gradients only for parameters of the named top-level modules (e.g. "decoder")."""
    children = {name for name, _ in model.named_children()}
    unknown = sorted(set(modules) - children)
    if unknown:
        raise ValueError(f"{where} names {unknown}, but the model's modules are {sorted(children)}")
    for name, param in model.named_parameters():
        param.requires_grad = name.split(".", 1)[0] in modules
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError(f"{where} {sorted(modules)} has no parameters to train")
