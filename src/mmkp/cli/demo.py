"""`mmkp demo`: the whole system end to end on generated data, then a table of test scores.

The run is a list of `Step`s sharing one `DemoState`: generate posts with real images, read
the images (`prepare`: OCR, visual entities, 7x7 grids), fit the baselines, train MM-MKP
(both stages, the packaged `configs/synthetic.yaml`), predict the test posts and score every
system overall and per kind of post. Each step that produces predictions adds a row with
`state.add_system`.
"""

from __future__ import annotations

import argparse
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from mmkp.baselines.registry import build_baseline
from mmkp.config import load_config
from mmkp.data.jsonl import read_posts, write_posts
from mmkp.data.record import Post
from mmkp.data.synthetic import KINDS, generate
from mmkp.evaluation.metrics import evaluate
from mmkp.evaluation.predictions import Prediction, read_predictions, write_predictions
from mmkp.features.prepare import prepare
from mmkp.io import write_json_atomic
from mmkp.training.pipeline import run_training

SPLITS = ("train", "dev", "test")

TABLE_METRICS = ("F1@1", "F1@3", "F1@5", "MAP@5")


@dataclass
class DemoState:
    """What the steps share: the run folder, the data, and the scored systems so far."""

    out: Path
    seed: int
    sizes: tuple[int, int, int]
    train: list[Post] = field(default_factory=list)
    dev: list[Post] = field(default_factory=list)
    test: list[Post] = field(default_factory=list)
    # system name -> test scores: all posts under "all", then each planted kind.
    scores: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    def add_system(self, name: str, predictions: list[Prediction]) -> None:
        """Write a system's test predictions and score them overall and per planted kind."""
        write_predictions(self.out / "predictions" / f"{name}.jsonl", predictions)
        by_id = {p.id: p.keyphrases for p in predictions}
        groups = {"all": self.test} | {
            kind: [p for p in self.test if p.extra["planted"]["kind"] == kind] for kind in KINDS
        }
        self.scores[name] = {
            group: evaluate([by_id[p.id] for p in posts], posts).scores
            for group, posts in groups.items()
            if posts
        }


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[DemoState], None]


def generate_step(state: DemoState) -> None:
    n_train, n_dev, n_test = state.sizes
    data = generate(
        state.out / "data", n_train=n_train, n_dev=n_dev, n_test=n_test, seed=state.seed
    )
    state.train, state.dev, state.test = (read_posts(p) for p in (data.train, data.dev, data.test))


def prepare_step(state: DemoState) -> None:
    """One `prepare` run over all splits (one feature store), then the enriched splits apart."""
    data, prepared = state.out / "data", state.out / "prepared"
    splits = {"train": state.train, "dev": state.dev, "test": state.test}
    write_posts(data / "all.jsonl", [post for posts in splits.values() for post in posts])
    # prepare resumes by post id, and a rerun with another --seed reuses the ids: start clean.
    shutil.rmtree(prepared, ignore_errors=True)
    summary = prepare(data / "all.jsonl", prepared)
    if summary.image_failures:
        print(f"  {summary.image_failures} images failed; see {prepared / 'errors.jsonl'}")
    enriched = {post.id: post for post in read_posts(prepared / "posts.jsonl")}
    for split, posts in splits.items():
        write_posts(prepared / f"{split}.jsonl", [enriched[post.id] for post in posts])
    state.train, state.dev, state.test = (
        read_posts(prepared / f"{split}.jsonl") for split in SPLITS
    )


def baselines_step(state: DemoState) -> None:
    for name in ("frequency", "knn"):
        state.add_system(name, build_baseline(name).fit(state.train).predict(state.test))


def train_step(state: DemoState) -> None:
    """Both stages with the packaged config, copied next to the data its paths name."""
    config_path = state.out / "config.yaml"
    with resources.as_file(resources.files("mmkp") / "configs" / "synthetic.yaml") as packaged:
        shutil.copyfile(packaged, config_path)
    config = load_config(config_path)
    run = run_training(config, state.out / "mm-mkp")
    state.add_system("mm-mkp", read_predictions(run.out_dir / "test_predictions.jsonl"))


STEPS = (
    Step("generate data", generate_step),
    Step("read images (OCR, entities, grids)", prepare_step),
    Step("baselines", baselines_step),
    Step("train MM-MKP (stage 1, stage 2) and predict", train_step),
)


def format_table(scores: dict[str, dict[str, dict[str, float]]]) -> str:
    """Overall metrics per system, then F1@1 on each kind of post (see docs/synthetic.md)."""
    groups = [kind for kind in KINDS if any(kind in s for s in scores.values())]
    header = f"{'system':<14}" + "".join(f"{m:>8}" for m in TABLE_METRICS)
    header += "".join(f"{'F1@1 ' + g:>14}" for g in groups)
    lines = [header]
    for name, by_group in scores.items():
        row = f"{name:<14}" + "".join(f"{by_group['all'][m]:8.2f}" for m in TABLE_METRICS)
        row += "".join(f"{by_group[g]['F1@1']:14.2f}" for g in groups)
        lines.append(row)
    return "\n".join(lines)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="generate data, run every system that exists, print their test scores",
        description="End to end on generated multimodal data; scores are on its test split.",
    )
    parser.add_argument("--out", default="runs/demo", help="run folder (default runs/demo)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train", type=int, default=600, help="training posts (default 600)")
    parser.add_argument("--dev", type=int, default=150, help="dev posts (default 150)")
    parser.add_argument("--test", type=int, default=150, help="test posts (default 150)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    state = DemoState(Path(args.out), args.seed, (args.train, args.dev, args.test))
    for number, step in enumerate(STEPS, start=1):
        start = time.perf_counter()
        step.run(state)
        print(f"[{number}/{len(STEPS)}] {step.name} ({time.perf_counter() - start:.1f}s)")
    write_json_atomic(state.out / "scores.json", state.scores)
    print(f"\ntest scores in percent ({len(state.test)} posts; {state.out / 'scores.json'}):")
    print(format_table(state.scores))
    return 0
