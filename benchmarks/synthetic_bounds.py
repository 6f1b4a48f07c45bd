"""What the generated data allows: perfect, best text-only, and baselines, on its test split.

    .venv/bin/python benchmarks/synthetic_bounds.py [--train 600 --dev 150 --test 150 --seed 0]

Rows (F1@1 overall and per planted kind, see docs/synthetic.md):
- perfect: the gold keyphrases themselves.
- text-only oracle: the best ranking from the text alone, knowing how the generator draws posts
  (a text keyphrase first; then the domain's visual keyphrases, which are twice as likely as
  each OCR one for posts without a text keyphrase).
- frequency / knn: the baselines on the raw posts (OCR and entities empty).
- knn + planted image text: kNN after a perfect image pipeline (OCR = the rendered text,
  entities = the drawn object's name), the ceiling for what OCR and entities give retrieval.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

from mmkp.data.jsonl import read_posts
from mmkp.data.record import Entity, Post
from mmkp.data.synthetic import KINDS, generate
from mmkp.data.synthetic_topics import DOMAINS, Domain
from mmkp.evaluation.prediction_files import Prediction
from mmkp.experiments.kinds import score_by_kind
from mmkp.retrieval.registry import build_baseline


def _contains(text: str, phrase: str) -> bool:
    tokens, words = text.split(), phrase.split()
    return any(tokens[i : i + len(words)] == words for i in range(len(tokens)))


def text_only_oracle(post: Post) -> list[str]:
    """The Bayes-optimal top 5 from the text alone under the generator's distribution."""
    domain: Domain | None = None
    ranked: list[str] = []
    for candidate in DOMAINS:
        hits = [kp for kp in candidate.text_keyphrases if _contains(post.text, kp)]
        if hits or any(sentence in post.text for sentence in candidate.context):
            domain, ranked = candidate, hits
    if domain is None:  # generic text: an ocr/visual post of any domain
        return [topic.keyphrase for d in DOMAINS for topic in d.visual][:5]
    visual = [topic.keyphrase for topic in domain.visual]
    image_kps = list(domain.image_keyphrases) if ranked else visual + list(domain.ocr_keyphrases)
    return (ranked + image_kps)[:5]


def with_planted_image_text(post: Post) -> Post:
    """The post as a perfect OCR + entity pipeline would leave it."""
    planted = post.extra["planted"]
    ocr = (planted["rendered_text"] or "").lower()
    entities = [Entity(planted["object"].removeprefix("photo:"))] if planted["object"] else []
    return replace(post, ocr=ocr, entities=entities)


def scores_by_kind(predictions: list[list[str]], posts: list[Post]) -> dict[str, float]:
    """F1@1 over all posts and per planted kind (`mmkp.experiments.kinds.score_by_kind`)."""
    ranked = [Prediction(post.id, kps) for post, kps in zip(posts, predictions, strict=True)]
    return {group: s["F1@1"] for group, s in score_by_kind(ranked, posts).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=600)
    parser.add_argument("--dev", type=int, default=150)
    parser.add_argument("--test", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = generate(
            Path(tmp), n_train=args.train, n_dev=args.dev, n_test=args.test, seed=args.seed
        )
        train, test = read_posts(data.train), read_posts(data.test)
    rows = {
        "perfect": [p.keyphrases for p in test],
        "text-only oracle": [text_only_oracle(p) for p in test],
    }
    for name in ("frequency", "knn"):
        rows[name] = [p.keyphrases for p in build_baseline(name).fit(train).predict(test)]
    planted_train = [with_planted_image_text(p) for p in train]
    planted_test = [with_planted_image_text(p) for p in test]
    preds = build_baseline("knn").fit(planted_train).predict(planted_test)
    rows["knn + planted image text"] = [p.keyphrases for p in preds]
    print("| system | F1@1 all | " + " | ".join(f"F1@1 {k}" for k in KINDS) + " |")
    print("|---|" + "---:|" * (len(KINDS) + 1))
    for name, predictions in rows.items():
        scores = scores_by_kind(predictions, test)
        print(f"| {name} | " + " | ".join(f"{scores[g]:.2f}" for g in ("all", *KINDS)) + " |")


if __name__ == "__main__":
    main()
