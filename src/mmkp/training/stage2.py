"""Stage 2 (eq. 19): token cross-entropy of the keyphrase generator.

The model starts from stage 1's best checkpoint. As in the paper's public code
(`-fix_classifier 1` in its second phase), the parameters stage 1 trained (encoders, noise
filter, classifier) are frozen by default and only the generator learns, so the classifier's
top-k keyphrases that the copy mechanism reads keep the meaning L_cla gave them;
`train.stage2.freeze_stage1: false` trains everything. Early stopping watches the dev
generation loss or a keyphrase metric of beam-search predictions on the dev posts.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path

import torch

from mmkp.config import DecodeConfig
from mmkp.data.batch import Batch
from mmkp.data.vocab import Vocab
from mmkp.decoding.generate import generate_keyphrases
from mmkp.model.mmkp import MMKP
from mmkp.training.checkpoint import load_checkpoint, read_trainer_state
from mmkp.training.recipe import StageRecipe


class Stage2Recipe(StageRecipe):
    name = "stage2"
    terms = frozenset({"gen"})

    @property
    def stage1_best(self) -> Path:
        return self.dir.parent / "stage1" / "best"

    def build_model(self) -> MMKP:
        model = load_checkpoint(self.stage1_best).model
        if self.config.train.stage2.freeze_stage1:
            stage1 = read_trainer_state(self.stage1_best)
            freeze(model, stage1.trained_parameters if stage1 else ())
        return model

    def dev_predictions(self) -> list[list[str]]:
        """Beam-search keyphrases (the `decode` settings) for each dev post."""
        batches = self.data.batches(
            self.data.dev_post_examples, self.config.train.eval_batch_size, seed=None
        )
        return generate_texts(self.model, batches, self.data.vocab, self.config.decode)


@torch.no_grad()
def generate_texts(
    model: MMKP, batches: Iterable[Batch], vocab: Vocab, decode: DecodeConfig
) -> list[list[str]]:
    """Ranked keyphrase strings for every row of `batches` (one row per post)."""
    model.eval()
    predictions: list[list[str]] = []
    for batch in batches:
        rows = generate_keyphrases(
            model,
            batch,
            vocab,
            beam_size=decode.beam_size,
            max_len=decode.max_len,
            top_k=decode.top_k,
            strategy=decode.strategy,
        )
        predictions += [[kp.text for kp in row] for row in rows]
    return predictions


def freeze(model: MMKP, names: Collection[str]) -> None:
    """Stop gradients for the named parameters; every other parameter stays trainable."""
    known = {name for name, _ in model.named_parameters()}
    unknown = sorted(set(names) - known)
    if unknown:
        raise ValueError(f"cannot freeze parameters the model does not have: {unknown[:5]}")
    for name, param in model.named_parameters():
        param.requires_grad = name not in names
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("stage 2 would train nothing: stage 1 trained every parameter")
