"""The demo's data (`mmkp demo`'s defaults: seed 0, 600 / 150 / 150 posts, 300 itm pairs): no
dev/test post whose text holds its keyphrase repeats a training post's text, and the redraw
that ensures it changed two posts' texts alone, every other byte as before (the demo's and
the recorded benchmark figures are on this data). About 10 s on one core."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from mmkp.data.jsonl import read_posts
from mmkp.data.overlap import text_key
from mmkp.data.synthetic import SPLITS, TEXT_KINDS, generate
from mmkp.experiments.demo import DemoState, repeated_texts_note

# The only posts the redraw changed, with their texts before it: each repeated a training
# post's text, keyphrase included (dev-00109 a noise post, test-00063 a text post).
REDRAWN = {
    "dev-00109": "<user> puppy with the crew ! someone is very happy to see me",
    "test-00063": "all about world cup today . cannot wait for the season to start <user>",
}
# sha256 of each split as the generator wrote it before the redraw (pillow 13.0.0 from
# constraints.txt draws the images): every post's JSONL line followed by its image's bytes,
# in order; meta.json whole. A generator change that moves any of these moves recorded figures.
BEFORE = {
    "meta.json": "518c66928565517ea8ad54f6098fe97854efb341b1fc5347f958843698b97553",
    "train": "6209521b35985f71f3df7e01d4e9e1a87798edeced5e9462360836dd0fda21f9",
    "dev": "ec2529ab5580cb2c0b344de89aa56e2fa7b5df555d46f105046e54b3bbf29fd2",
    "test": "341c9d7dec99de0edf027b7f6b09c6080f6f3b47bfb8b43d5518d726e7c2d4eb",
    "itm": "04b0c71fff83d419fe96b741f6cdb542232202fdada715f9a89ff4c1dbd00b3a",
}


def digests(out: Path, texts: dict[str, str]) -> dict[str, str]:
    """The files' sha256 as in BEFORE, with the posts named in `texts` given those texts."""
    found = {"meta.json": hashlib.sha256((out / "meta.json").read_bytes()).hexdigest()}
    for split in ("train", "dev", "test", "itm"):
        digest = hashlib.sha256()
        for line in (out / f"{split}.jsonl").read_bytes().splitlines(keepends=True):
            post = json.loads(line)
            if post["id"] in texts:
                old = json.dumps(texts[post["id"]], ensure_ascii=False).encode()
                line = line.replace(json.dumps(post["text"], ensure_ascii=False).encode(), old)
            digest.update(line)
            digest.update((out / post["image"]).read_bytes())
        found[split] = digest.hexdigest()
    return found


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo-data")
    generate(out, n_train=600, n_dev=150, n_test=150, n_itm=300, seed=0)
    return out


def test_no_dev_or_test_text_post_repeats_a_training_text(demo_data: Path):
    state = DemoState(demo_data, 0, (600, 150, 150))
    state.train, state.dev, state.test = (read_posts(demo_data / f"{s}.jsonl") for s in SPLITS)
    train = {text_key(post.text) for post in state.train}
    held_out = [p for p in (*state.dev, *state.test) if p.extra["planted"]["kind"] in TEXT_KINDS]
    assert [p.id for p in held_out if text_key(p.text) in train] == []
    note = repeated_texts_note(state)
    assert note is not None and "not intended" not in note


def test_only_the_redrawn_texts_changed(demo_data: Path):
    # Their old texts put back, the files are byte for byte as before the redraw.
    assert digests(demo_data, REDRAWN) == BEFORE
    redrawn = [p for s in ("dev", "test") for p in read_posts(demo_data / f"{s}.jsonl")]
    assert all(p.text != REDRAWN[p.id] for p in redrawn if p.id in REDRAWN)
