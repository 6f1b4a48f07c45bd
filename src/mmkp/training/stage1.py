"""Stage 1 (eq. 15): L = L_itm + L_irtm + L_cla.

The encoders, the noise filter (image-text matching, region-text correlation) and the
keyphrase classifier are trained together, before any generation:

- L_itm  (eq. 16): binary cross-entropy of the matching score s_c on relevance-labelled pairs;
- L_irtm (eq. 17): MSE between the region scores A and their gold-keyphrase version A_gt;
- L_cla:           cross-entropy of the classifier over the training keyphrase labels.

`train.stage1.terms` may add "gen" to train the generator jointly, as the first phase of the
paper's public code does. The model starts from random weights, with word embeddings from
GloVe when the model config names vectors; `model.name` picks the family member. Early
stopping watches the dev loss of the terms or a keyphrase metric of the classifier's top-k
labels (of beam search when "gen" is trained).
"""

from __future__ import annotations

from mmkp.model.modules.embeddings import load_embeddings
from mmkp.model.protocol import KeyphraseModel
from mmkp.model.registry import build_model
from mmkp.training.recipe import StageRecipe


class Stage1Recipe(StageRecipe):
    name = "stage1"

    def build_model(self) -> KeyphraseModel:
        vocab, labels = self.data.vocab, self.data.labels
        embeddings = load_embeddings(self.config.model, vocab)
        return build_model(self.config.model, vocab, labels, embeddings=embeddings)
