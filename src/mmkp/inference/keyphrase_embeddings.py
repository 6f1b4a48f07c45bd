"""The training keyphrases' MiniLM embeddings, saved in the model directory.

The rerank's semantic term (`decode.semantic_weight`, `mmkp.decoding.semantic`) needs the
embedding of every candidate keyphrase, and the neighbours' votes make many of them training
keyphrases. A model trained with the term on gets them embedded once, at the end of training
(KEYPHRASE_EMBEDDINGS_FILE, row i the label set's keyphrase i, float32), so a prediction run
only embeds the keyphrases it generates anew. A directory without the file (an older model,
or one trained without the term) embeds every candidate as it comes, as before.

They are embedded in fp32 (`SentenceEncoder.exact`) whatever precision the queries use.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmkp.data.embedding_index import load_embeddings, save_embeddings
from mmkp.data.vocab import LabelSet
from mmkp.features.sentence_encoder import sentence_embed, shared_encoder

KEYPHRASE_EMBEDDINGS_FILE = "keyphrases-minilm.npy"


def write_keyphrase_embeddings(directory: str | Path, labels: LabelSet) -> None:
    """Embed the label set's keyphrases (fp32) into `directory`."""
    with shared_encoder().exact():
        embeddings = sentence_embed()(labels.keyphrases)
    save_embeddings(Path(directory) / KEYPHRASE_EMBEDDINGS_FILE, embeddings)


def read_keyphrase_embeddings(directory: str | Path, labels: LabelSet) -> dict[str, np.ndarray]:
    """keyphrase -> its embedding, from `directory`'s file; empty when it has none. A file
    that does not fit the label set is a ValueError naming it."""
    path = Path(directory) / KEYPHRASE_EMBEDDINGS_FILE
    embeddings = load_embeddings(path, len(labels), "training keyphrases (labels.json)")
    if embeddings is None:
        return {}
    return dict(zip(labels.keyphrases, embeddings, strict=True))
