"""What the TOPIC and TMN tests share: the tiny sizes of their configs, and the model and
NTM warm-up stage of their CLI runs."""

from __future__ import annotations

SIZES = dict(
    embeddings="random", emb_size=8, hidden_size=8, dropout=0.0, num_topics=3, bow_size=30,
    topic_hidden=8,
)  # fmt: skip
NTM_WARM_UP = "{epochs: 2, terms: [ntm], batch_size: 4, lr: 0.01, monitor: loss}"


def cli_model(name: str) -> str:
    """The `model:` of a CLI run: a little wider than SIZES, so F1@1 can rise."""
    return (
        f"{{name: {name}, embeddings: random, emb_size: 16, hidden_size: 8, num_topics: 4, "
        "bow_size: 40, topic_hidden: 16}"
    )
