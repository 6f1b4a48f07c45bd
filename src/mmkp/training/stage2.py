"""Stage 2 (eq. 19): token cross-entropy of the keyphrase generator.

The model starts from stage 1's best checkpoint. As in the paper's public code
(`-fix_classifier 1` in its second phase), only the generator learns by default
(`train.stage2.trainable: default`, MM-MKP's `fine_tune_modules`: decoder and generator);
the encoders (with the word embeddings the decoder shares), the noise filter and the
classifier stay as stage 1 left them, so the classifier's top-k keyphrases that the copy
mechanism reads keep the meaning L_cla gave them.
`trainable: null` trains everything. Early stopping watches the dev generation loss or a
keyphrase metric of beam-search predictions on the dev posts; the starting model is scored
first ("epoch 0"), so stage 2 keeps stage 1's model unless an epoch beats it.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from mmkp.inference.checkpoint import load_checkpoint
from mmkp.model.protocol import KeyphraseModel
from mmkp.training.recipe import StageRecipe


class Stage2Recipe(StageRecipe):
    name = "stage2"
    scores_start = True  # stage 1's model competes: stage 2 keeps it if no epoch beats it

    @property
    def stage1_best(self) -> Path:
        return self.dir.parent / "stage1" / "best"

    def build_model(self) -> KeyphraseModel:
        model = load_checkpoint(self.stage1_best).model
        trainable = self.config.train.stage2.trainable
        if trainable is not None:
            train_only(model, trainable)
        return model


def train_only(model: KeyphraseModel, modules: Collection[str]) -> None:
    """Gradients only for parameters of the named top-level modules (e.g. "decoder")."""
    children = {name for name, _ in model.named_children()}
    unknown = sorted(set(modules) - children)
    if unknown:
        raise ValueError(
            f"train.stage2.trainable names {unknown}, but the model's modules are "
            f"{sorted(children)}"
        )
    for name, param in model.named_parameters():
        param.requires_grad = name.split(".", 1)[0] in modules
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError(f"train.stage2.trainable {sorted(modules)} has no parameters to train")
