"""The stages end to end: prepare data, train each stage in order, export the model, score.

    OUT/config.json               the resolved experiment config
    OUT/<stage name>/             best/, last/, metrics.jsonl, curves.png (see recipe.py);
                                  MM-MKP's: OUT/stage1/, OUT/stage2/
    OUT/model/                    the final model: the last stage's best checkpoint, weights only,
                                  with its model card (README.md: data, config, dev/test scores)
    OUT/{dev,test}_predictions.jsonl, OUT/{dev,test}_scores.json (with the seconds predicting took)

`resume=True` continues an interrupted run from each stage's `last/` checkpoint; a finished
stage is not retrained. Under torchrun (`mmkp.training.distributed`) every rank trains its
share of each stage and rank 0 alone writes, exports and scores the final model.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmkp.data.batch import GridLookup
from mmkp.data.record import Post
from mmkp.data.vocab import LabelSet, Vocab
from mmkp.evaluation.metrics import EvaluationResult, evaluate
from mmkp.evaluation.prediction_files import write_predictions
from mmkp.inference.checkpoint import CONFIG_FILE, LABELS_FILE, VOCAB_FILE, export_model
from mmkp.inference.keyphrase_embeddings import write_keyphrase_embeddings
from mmkp.inference.model_card import ModelCard, write_model_card
from mmkp.inference.predictor import Predictor
from mmkp.io import write_json_atomic
from mmkp.training.config import ExperimentConfig
from mmkp.training.data import TrainingData, check_grid_width, prepare_data
from mmkp.training.device import Hardware
from mmkp.training.distributed import Distributed
from mmkp.training.recipe import EpochCallback, StageRecipe


@dataclass
class TrainingRun:
    out_dir: Path
    model_dir: Path
    history: dict[str, list[dict[str, Any]]]
    scores: dict[str, EvaluationResult] = field(default_factory=dict)  # by split
    is_main: bool = True  # False on the ranks other than 0 of a torchrun: they wrote nothing


def run_training(
    config: ExperimentConfig,
    out_dir: str | Path,
    *,
    resume: bool = False,
    on_epoch_end: EpochCallback | None = None,
    distributed: Distributed | None = None,
) -> TrainingRun:
    """Train the stages in order into `out_dir` and score the final model on dev (and test);
    `distributed`: this process's place (default: torchrun's environment, else one process)."""
    out = Path(out_dir)
    place = Distributed.from_env() if distributed is None else distributed
    hardware = Hardware.from_config(config.train.device, config.train.precision)
    with place.session(hardware) as hardware:
        if place.is_main:
            _record_config(out, config, resume=resume)
        data = _prepare(config, out, resume=resume)
        check_grid_width(config.model, data)
        history = {}
        for index in range(len(config.train.stages)):
            recipe = StageRecipe(
                config,
                out,
                data,
                index=index,
                hardware=hardware,
                resume=resume,
                on_epoch_end=on_epoch_end,
                distributed=place,
            )
            recipe.setup()
            recipe.train()
            history[recipe.name] = recipe.state.history
        last_stage = recipe.name
        del recipe  # its model and Adam's state: not held while the final model is scored
    model_dir = out / "model"
    if not place.is_main:
        return TrainingRun(out_dir=out, model_dir=model_dir, history=history, is_main=False)
    export_model(out / last_stage / "best", model_dir)
    if config.decode.semantic_weight > 0:  # the rerank's candidates, embedded once here
        write_keyphrase_embeddings(model_dir, data.labels)
    run = TrainingRun(out_dir=out, model_dir=model_dir, history=history)
    splits = {"dev": data.dev_posts}
    if data.test_posts:
        splits["test"] = data.test_posts
    predictor = Predictor.load(model_dir, device=hardware.device)
    for split, posts in splits.items():
        path = out / f"{split}_predictions.jsonl"
        start = time.perf_counter()
        run.scores[split] = score_model(
            predictor, posts, path, config.train.eval_batch_size, data.grid_lookup
        )
        timing = {"predict_seconds": time.perf_counter() - start}  # for `mmkp benchmark`'s posts/s
        write_json_atomic(out / f"{split}_scores.json", run.scores[split].to_dict() | timing)
    write_model_card(model_dir, _model_card(model_dir, data, run.scores))
    return run


def _model_card(
    model_dir: Path, data: TrainingData, scores: dict[str, EvaluationResult]
) -> ModelCard:
    """The exported model's card, now that its training data and scores are known."""
    splits = {
        "train": (data.config.train, data.train_posts),
        "dev": (data.config.dev, data.dev_posts),
    }
    if data.config.test is not None:
        splits["test"] = (data.config.test, data.test_posts)
    return ModelCard(
        json.loads((model_dir / CONFIG_FILE).read_text(encoding="utf-8")),
        len(data.vocab),
        len(data.labels),
        trained_on={
            name: f"{split.path} ({len(posts)} posts)" for name, (split, posts) in splits.items()
        },
        scores={split: result.scores for split, result in scores.items()},
    )


def score_model(
    predictor: Predictor,
    posts: list[Post],
    predictions_path: Path,
    batch_size: int,
    grid_lookup: GridLookup | None,
) -> EvaluationResult:
    """Predict the posts with a saved model, write the predictions, return the scores."""
    results = list(predictor.predict_many(posts, batch_size, grid_lookup=grid_lookup))
    write_predictions(predictions_path, [result.to_prediction() for result in results])
    return evaluate([result.texts for result in results], posts)


def _record_config(out: Path, config: ExperimentConfig, *, resume: bool) -> None:
    """Write OUT/config.json; on resume, refuse a config whose data or model changed."""
    path = out / "config.json"
    if resume and path.is_file():
        saved = json.loads(path.read_text(encoding="utf-8"))
        current = config.to_dict()
        for section in ("data", "model"):
            if saved.get(section) != current[section]:
                raise ValueError(
                    f"{path}: the {section!r} section differs from the config given; resume "
                    "with the original config (train settings such as epochs may change)"
                )
    write_json_atomic(path, config.to_dict())


def _prepare(config: ExperimentConfig, out: Path, *, resume: bool) -> TrainingData:
    """Prepare the data; a resumed run reuses the vocabulary and labels it saved."""
    saved = out / _first_stage(config) / "last"
    if resume and (saved / VOCAB_FILE).is_file():
        vocab, labels = Vocab.load(saved / VOCAB_FILE), LabelSet.load(saved / LABELS_FILE)
        return prepare_data(
            config.data,
            vocab=vocab,
            labels=labels,
            retrieval=config.model.retrieval,
            sentence_input=config.model.sentence_input,
        )
    return prepare_data(
        config.data, retrieval=config.model.retrieval, sentence_input=config.model.sentence_input
    )


def _first_stage(config: ExperimentConfig) -> str:
    name = config.train.stages[0].name
    assert name is not None, "named by TrainConfig"
    return name
