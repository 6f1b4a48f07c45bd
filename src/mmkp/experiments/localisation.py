"""Does the noise filter find the image regions the text is about, and mute unrelated images?

On generated posts the truth is known (`mmkp.data.synthetic`): each image records the 7x7
cells its drawn object or rendered text covers (`planted["cells"]`), and noise posts carry an
image of another domain. From the model's region scores A (eq. 4) and matching score s_c
(eq. 3) on such posts:

- pointing accuracy: the share of related `ocr` / `visual` posts whose highest-A cell lies on
  the planted cells (chance: the mean covered share of the 49 cells); only images whose box
  does not cover every cell (drawn objects and text, not photos or whole scenes) count;
- region AUC: per post, P(A of a covered cell > A of an uncovered one), averaged over posts;
- s_c AUC: P(s_c of a related image > s_c of an unrelated one) over all posts with an image,
  and over the posts whose text names a domain (a generic text, "so happy today", says
  nothing the image could match, which caps the AUC over all posts);
- the mean gate sigma(A) on related and on unrelated images, and A's spread (mean per-post
  standard deviation), which shows a filter that has collapsed to a constant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np

from mmkp.data.batch import NUM_REGIONS
from mmkp.data.record import Post


class Diagnosed(Protocol):
    """What is read of a prediction (`mmkp.inference.predictor.PredictionResult` has it)."""

    id: str
    match_score: float | None  # s_c
    region_scores: np.ndarray | None  # (7, 7) A


LOCATED_KINDS = ("ocr", "visual")  # posts whose keyphrase is where the planted cells are


@dataclass(frozen=True)
class Localisation:
    located_posts: int  # related ocr/visual posts with a partial box
    pointing: float  # share of them whose argmax-A cell is planted
    chance: float  # mean share of planted cells among the 49
    region_auc: float  # mean per-post AUC of A, planted vs other cells
    match_auc: float  # s_c, related vs unrelated images
    match_auc_named: float  # the same over posts whose text names its domain
    gate_related: float  # mean sigma(A) over the regions of related images
    gate_unrelated: float  # the same over unrelated (noise) images
    spread: float  # mean per-post standard deviation of A

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def auc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """P(a positive scores above a negative), ties counting half; nan if a side is empty."""
    if not positive or not negative:
        return float("nan")
    pos, neg = np.asarray(positive)[:, None], np.asarray(negative)[None, :]
    return float((pos > neg).mean() + 0.5 * (pos == neg).mean())


def measure(results: Sequence[Diagnosed], posts: Sequence[Post]) -> Localisation:
    """The measures above for the model's `results` on generated `posts` (matched by id)."""
    by_id = {post.id: post for post in posts}
    pointing, shares, region_aucs, spreads = [], [], [], []
    related_match, unrelated_match, related_gate, unrelated_gate = [], [], [], []
    named_related, named_unrelated = [], []
    for result in results:
        if result.region_scores is None and result.match_score is None:
            continue  # no image (or a model without the filter)
        planted = by_id[result.id].extra["planted"]
        related = planted["kind"] != "noise"
        if result.match_score is not None:
            (related_match if related else unrelated_match).append(result.match_score)
            if not planted.get("generic_text", False):
                (named_related if related else named_unrelated).append(result.match_score)
        if result.region_scores is None:
            continue
        scores = result.region_scores.reshape(-1)  # (49,) A
        spreads.append(float(scores.std()))
        gates = 1.0 / (1.0 + np.exp(-scores))
        (related_gate if related else unrelated_gate).extend(gates.tolist())
        cells = planted["cells"]
        if planted["kind"] in LOCATED_KINDS and 0 < len(cells) < NUM_REGIONS:
            covered = np.zeros(NUM_REGIONS, dtype=bool)
            covered[cells] = True
            pointing.append(bool(covered[int(scores.argmax())]))
            shares.append(len(cells) / NUM_REGIONS)
            region_aucs.append(auc(scores[covered].tolist(), scores[~covered].tolist()))
    return Localisation(
        located_posts=len(pointing),
        pointing=_mean(pointing),
        chance=_mean(shares),
        region_auc=_mean(region_aucs),
        match_auc=auc(related_match, unrelated_match),
        match_auc_named=auc(named_related, named_unrelated),
        gate_related=_mean(related_gate),
        gate_unrelated=_mean(unrelated_gate),
        spread=_mean(spreads),
    )


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")
