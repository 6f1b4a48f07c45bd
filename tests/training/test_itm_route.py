"""The TRC route for L_itm (eq. 16): a relevance-labelled set of text-image pairs (`data.itm`)
trains the image-text matcher, interleaved with the keyphrase batches; without it (and no
post field named as the label) the keyphrase posts carry no label, and the matcher learns
only what L_gen teaches it through the region filter. Generated TRC-style pairs whose grids
show their image's domain: the matcher must match the text's domain to the image's."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from mmkp.data.batching import collate
from mmkp.data.jsonl import read_posts
from mmkp.data.processor import TextProcessor
from mmkp.data.synthetic import DOMAINS, generate
from mmkp.experiments.localisation import auc
from mmkp.features.store import FeatureStore, FeatureWriter
from mmkp.inference.checkpoint import load_checkpoint
from mmkp.training.config import load_config
from mmkp.training.data import ITM_LABELS, interleave
from mmkp.training.pipeline import run_training

from .conftest import TINY

DIM = 8
PROTOTYPES = np.random.default_rng(0).normal(0.0, 1.0, (len(DOMAINS), DIM))
DOMAIN_INDEX = {domain.name: i for i, domain in enumerate(DOMAINS)}


def write_grids(files: list[Path], store: Path) -> None:
    """Each image's 49 regions: noise, and on the planted object's cells its domain's
    prototype (fixed by the post id), so the text can find, or miss, its regions."""
    writer = FeatureWriter(store, backbone="handmade", dim=DIM)
    for path in files:
        posts = read_posts(path)
        grids = []
        for post in posts:
            key = f"{path.parent.name}/{path.name}:{post.id}"  # not the tmp folder: reproducible
            rng = np.random.default_rng(zlib.crc32(key.encode()))
            planted = post.extra["planted"]
            grid = rng.normal(0.0, 0.5, (49, DIM))
            grid[planted["cells"]] += PROTOTYPES[DOMAIN_INDEX[planted["image_domain"]]]
            grids.append(grid)
        writer.append([p.id for p in posts], np.stack(grids))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("itm")
    train = generate(root / "train", n_train=200, n_dev=10, n_test=0, n_itm=400, seed=5)
    held_out = generate(root / "held", n_train=0, n_dev=0, n_test=0, n_itm=120, seed=6)
    write_grids([train.train, train.dev, train.train.parent / "itm.jsonl"], root / "features")
    write_grids([held_out.train.parent / "itm.jsonl"], root / "held_features")
    return root, train, held_out


def matcher_auc(model_dir: Path, pairs: Path, store: Path) -> float:
    checkpoint = load_checkpoint(model_dir)
    processor = TextProcessor(
        checkpoint.vocab, checkpoint.labels, checkpoint.config.text, match_label_keys=ITM_LABELS
    )
    posts = read_posts(pairs)
    batch = collate(
        processor.examples(posts, one2one=False), grid_lookup=FeatureStore.open(store).get
    )
    with torch.no_grad():
        scores = checkpoint.model.encode(batch).match_score.tolist()
    labels = [p.extra["match_label"] for p in posts]
    return auc(
        [s for s, y in zip(scores, labels, strict=True) if y == 1],
        [s for s, y in zip(scores, labels, strict=True) if y == 0],
    )


def train(root: Path, data, *, itm: bool) -> Path:
    overrides = [
        f"data.train={data.train}",
        f"data.dev={data.dev}",
        f"data.features={root / 'features'}",
        "model.use_image=true",
        f"model.image_dim={DIM}",
        "train.stage1.terms=[itm, gen]",
        "train.stage1.epochs=14",
        "train.stage1.monitor=loss",
        "train.stage1.patience=15",
        "train.stage2.epochs=0",
    ]
    if itm:
        overrides.append(f"data.itm={data.train.parent / 'itm.jsonl'}")
    run = run_training(load_config(TINY, overrides), root / ("with" if itm else "without"))
    return run.out_dir / "stage1" / "last"  # the best epoch is chosen by the dev keyphrases


def test_interleave_spreads_the_extra_batches_and_keeps_the_main_order():
    assert list(interleave([1, 2, 3, 4, 5, 6], 6, ["a", "b"], 2)) == [1, 2, "a", 3, 4, "b", 5, 6]
    assert list(interleave([1, 2], 2, [], 0)) == [1, 2]
    assert list(interleave([], 0, ["a"], 1)) == ["a"]


@pytest.mark.slow
def test_the_matcher_learns_from_the_itm_pairs_and_not_without_them(data, one_thread):
    root, generated, held_out = data
    pairs, store = held_out.train.parent / "itm.jsonl", root / "held_features"
    with_itm = matcher_auc(train(root, generated, itm=True), pairs, store)
    without = matcher_auc(train(root, generated, itm=False), pairs, store)
    print(f"matcher AUC on held-out pairs: {with_itm:.3f} with D_itm, {without:.3f} without")
    assert with_itm >= 0.8, with_itm
    # Without labels the matcher still learns a little through L_gen (s_c shifts A, eq. 4).
    assert with_itm > without + 0.05, (with_itm, without)
