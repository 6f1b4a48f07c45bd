"""Stage 1 (eq. 15): L = L_itm + L_irtm + L_cla.

The encoders, the noise filter (image-text matching, region-text correlation) and the
keyphrase classifier are trained together, before any generation:

- L_itm  (eq. 16): binary cross-entropy of the matching score s_c on relevance-labelled pairs;
- L_irtm (eq. 17): MSE between the region scores A and their gold-keyphrase version A_gt;
- L_cla:           cross-entropy of the classifier over the training keyphrase labels.

The model starts from random weights, with word embeddings from GloVe when the model
config names a vector file. Early stopping watches the dev loss of these three terms or a
keyphrase metric of the classifier's top-k labels.
"""

from __future__ import annotations

import torch

from mmkp.model.build import build_model
from mmkp.model.embeddings import load_embeddings
from mmkp.model.mmkp import MMKP
from mmkp.training.recipe import StageRecipe


class Stage1Recipe(StageRecipe):
    name = "stage1"
    terms = frozenset({"itm", "irtm", "cla"})

    def build_model(self) -> MMKP:
        vocab, labels = self.data.vocab, self.data.labels
        embeddings = load_embeddings(self.config.model, vocab)
        return build_model(self.config.model, vocab, labels, embeddings=embeddings)

    @torch.no_grad()
    def dev_predictions(self) -> list[list[str]]:
        """The classifier's `decode.top_k` most probable labels for each dev post."""
        self.model.eval()
        predictions: list[list[str]] = []
        batches = self.data.batches(
            self.data.dev_post_examples, self.config.train.eval_batch_size, seed=None
        )
        for batch in batches:
            logits = self.model.encode(batch).label_logits  # (B, num_labels)
            top = logits.topk(min(self.config.decode.top_k, logits.size(1)), dim=-1).indices
            predictions += [[self.data.labels.keyphrase(i) for i in row] for row in top.tolist()]
        return predictions
