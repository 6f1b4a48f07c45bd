"""The demo experiment: the whole system end to end on generated data, scored per kind of post.

The run is a list of `Step`s sharing one `DemoState`: generate posts with real images, read
the images (`prepare`: OCR, visual entities, 7x7 grids), fit the baselines, train MM-MKP
(both stages, the packaged `configs/synthetic.yaml`), predict the test posts and score every
system overall and per kind of post. Each step that produces predictions adds a row with
`state.add_system`. The run folder it leaves (data/, prepared/, config.yaml) is what
benchmarks/synthetic_model.py trains its variants on.

    OUT/data/                      generated splits and images, plus all.jsonl for prepare
    OUT/prepared/                  enriched splits and the feature store
    OUT/config.yaml                the packaged training config
    OUT/mm-mkp/                    the training run (see mmkp.training.pipeline)
    OUT/predictions/NAME.jsonl     each system's test predictions
    OUT/scores.json                system -> `KindScores`

A caller that wants one short line per training epoch passes `on_epoch` (`mmkp demo` does,
and sends the full rows, logged by the training recipe, to OUT/demo.log).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from mmkp.data.jsonl import read_posts, write_posts
from mmkp.data.overlap import text_key
from mmkp.data.record import Post
from mmkp.data.synthetic import ITM, KINDS, SPLITS, TEXT_KINDS, generate
from mmkp.evaluation.prediction_files import Prediction, read_predictions, write_predictions
from mmkp.experiments.kinds import ALL, KindScores, score_by_kind
from mmkp.features.prepare import PrepareConfig, prepare
from mmkp.io import write_json_atomic
from mmkp.retrieval.registry import build_baseline
from mmkp.training.config import load_config
from mmkp.training.pipeline import run_training
from mmkp.training.recipe import EpochCallback

BASELINES = ("frequency", "knn")
EPOCH_KEYS = ("train_loss", "dev_loss", "dev_F1@1")  # what an epoch's short line shows
TABLE_METRICS = ("F1@1", "F1@3", "F1@5", "MAP@5")


@dataclass
class DemoState:
    """What the steps share: the run folder, the data, and the scored systems so far."""

    out: Path
    seed: int
    sizes: tuple[int, int, int]  # train, dev, test posts
    n_itm: int = 0  # TRC-style pairs for L_itm (`generate_itm`), written to prepared/itm.jsonl
    train: list[Post] = field(default_factory=list)
    dev: list[Post] = field(default_factory=list)
    test: list[Post] = field(default_factory=list)
    itm: list[Post] = field(default_factory=list)
    scores: dict[str, KindScores] = field(default_factory=dict)  # by system name
    on_epoch: Callable[[str], None] | None = None  # told a short line after each epoch
    progress: bool = False  # a progress bar while the images are read

    def add_system(self, name: str, predictions: list[Prediction]) -> None:
        """Write a system's test predictions and score them overall and per planted kind."""
        write_predictions(self.out / "predictions" / f"{name}.jsonl", predictions)
        self.scores[name] = score_by_kind(predictions, self.test)


@dataclass(frozen=True)
class Step:
    """One stage of the run; it may return a note for the user (e.g. images that failed)."""

    name: str
    run: Callable[[DemoState], str | None]


@dataclass(frozen=True)
class StepDone:
    """A finished step as the caller reports it: its place in the run, time and note."""

    number: int
    total: int
    name: str
    seconds: float
    note: str | None


def generate_step(state: DemoState) -> str | None:
    n_train, n_dev, n_test = state.sizes
    data = generate(
        state.out / "data",
        n_train=n_train,
        n_dev=n_dev,
        n_test=n_test,
        n_itm=state.n_itm,
        seed=state.seed,
    )
    state.train, state.dev, state.test = (read_posts(p) for p in (data.train, data.dev, data.test))
    state.itm = read_posts(data.train.parent / f"{ITM}.jsonl") if state.n_itm else []
    return repeated_texts_note(state)


def repeated_texts_note(state: DemoState) -> str | None:
    """Say how many dev/test posts repeat a training post's text, and why that is intended:
    the generator writes the text of `ocr` and `visual` posts from a few sentences naming only
    the domain (or nothing), so such texts recur across splits while each post's keyphrase is
    in its own image (`mmkp.data.synthetic`). A repeated text of a kind whose text holds its
    keyphrase (`TEXT_KINDS`) would carry it into dev/test; the generator redraws those, and
    the note names any that remain."""
    train = {text_key(post.text) for post in state.train}
    repeated = [p for p in (*state.dev, *state.test) if text_key(p.text) in train]
    if not repeated:
        return None
    leaks = [p.id for p in repeated if p.extra["planted"]["kind"] in TEXT_KINDS]
    note = (
        f"{len(repeated) - len(leaks)} of {len(state.dev) + len(state.test)} dev/test posts "
        "repeat a training post's text, as intended (ocr and visual posts name only their "
        "domain, their keyphrase is in the image)"
    )
    if leaks:
        note += f"; not intended: {', '.join(leaks)} (a training post's text and keyphrase)"
    return note


def prepare_step(state: DemoState) -> str | None:
    """One `prepare` run over all splits (one feature store), then the enriched splits apart."""
    data, prepared = state.out / "data", state.out / "prepared"
    splits = {"train": state.train, "dev": state.dev, "test": state.test, ITM: state.itm}
    write_posts(data / "all.jsonl", [post for posts in splits.values() for post in posts])
    # prepare resumes by post id, and a rerun with another --seed reuses the ids: start clean.
    shutil.rmtree(prepared, ignore_errors=True)
    summary = prepare(data / "all.jsonl", prepared, config=PrepareConfig(progress=state.progress))
    enriched = {post.id: post for post in read_posts(prepared / "posts.jsonl")}
    for split, posts in splits.items():
        write_posts(prepared / f"{split}.jsonl", [enriched[post.id] for post in posts])
    state.train, state.dev, state.test = (
        read_posts(prepared / f"{split}.jsonl") for split in SPLITS
    )
    if summary.image_failures:
        return f"{summary.image_failures} images failed; see {prepared / 'errors.jsonl'}"
    return None


def baselines_step(state: DemoState) -> None:
    for name in BASELINES:
        state.add_system(name, build_baseline(name).fit(state.train).predict(state.test))


def train_step(state: DemoState) -> None:
    """Both stages with the packaged config, copied next to the data its paths name."""
    config_path = state.out / "config.yaml"
    with resources.as_file(resources.files("mmkp") / "configs" / "synthetic.yaml") as packaged:
        shutil.copyfile(packaged, config_path)
    out = state.out / "mm-mkp"
    shutil.rmtree(out, ignore_errors=True)  # a rerun trains afresh, as prepare reads afresh
    run = run_training(load_config(config_path), out, on_epoch_end=_epoch_lines(state, out))
    state.add_system("mm-mkp", read_predictions(run.out_dir / "test_predictions.jsonl"))


def _epoch_lines(state: DemoState, out: Path) -> EpochCallback | None:
    """The callback that tells `state.on_epoch` a short line of each finished epoch's row."""
    tell = state.on_epoch
    if tell is None:
        return None

    def told(stage: str, epoch: int) -> None:
        rows = (out / stage / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
        row = json.loads(rows[-1])
        shown = [f"{key.replace('_', ' ')} {row[key]:.3f}" for key in EPOCH_KEYS if key in row]
        tell(f"{stage} epoch {epoch}: {', '.join(shown)}")

    return told


STEPS = (
    Step("generate data", generate_step),
    Step("read images (OCR, entities, grids)", prepare_step),
    Step("baselines", baselines_step),
    Step("train MM-MKP (stage 1, stage 2) and predict", train_step),
)


def run_demo(state: DemoState, on_step: Callable[[StepDone], None]) -> Path:
    """Run every step in order, telling `on_step` after each; write and return scores.json."""
    for number, step in enumerate(STEPS, start=1):
        start = time.perf_counter()
        note = step.run(state)
        on_step(StepDone(number, len(STEPS), step.name, time.perf_counter() - start, note))
    scores_path = state.out / "scores.json"
    write_json_atomic(scores_path, state.scores)
    return scores_path


def format_table(scores: dict[str, KindScores]) -> str:
    """Overall metrics per system, then F1@1 on each kind of post (see docs/synthetic.md)."""
    groups = [kind for kind in KINDS if any(kind in s for s in scores.values())]
    header = f"{'system':<14}" + "".join(f"{m:>8}" for m in TABLE_METRICS)
    header += "".join(f"{'F1@1 ' + g:>14}" for g in groups)
    lines = [header]
    for name, by_group in scores.items():
        row = f"{name:<14}" + "".join(f"{by_group[ALL][m]:8.2f}" for m in TABLE_METRICS)
        row += "".join(f"{by_group[g]['F1@1']:14.2f}" for g in groups)
        lines.append(row)
    return "\n".join(lines)
