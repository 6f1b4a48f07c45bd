"""README.md, the model card every saved model directory carries (as a Hub model repo does).

It says what the model is (config.json's settings), what it was trained on, how it scored on
dev and test when that is known, what it is for and not for, and how to load it. Saving a
checkpoint writes a card from what the directory holds; training rewrites the exported
model's card once it has its data and scores (`mmkp.training.pipeline`). The card is for
people: loading never reads it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmkp.io import write_text_atomic

CARD_FILE = "README.md"
SHOWN_SCORES = ("F1@1", "F1@3", "F1@5", "MAP@5")  # the paper's columns, in its order


@dataclass(frozen=True)
class ModelCard:
    config: Mapping[str, Any]  # config.json's content
    words: int  # vocab.json's size
    labels: int  # labels.json's size
    trained_on: Mapping[str, str] = field(default_factory=dict)  # split -> "path (N posts)"
    scores: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # split -> metric
    # the model directories whose weights this one averages (`mmkp average`); () for none
    averaged_from: tuple[str, ...] = ()

    def render(self) -> str:
        name = self.config["model"]["name"]
        settings = {key: self.config[key] for key in ("model", "text", "decode", "backbone")}
        images = "reads posts' images" if self.config.get("backbone") else "reads text only"
        return "\n".join(
            [
                "---",
                "library_name: mmkp",
                "tags: [keyphrase-generation, multimodal, social-media]",
                "---",
                f"# mmkp model `{name}`",
                "",
                f"A keyphrase generation model of the mmkp family (`model.name: {name}`): it "
                f"{images} and generates ranked hashtag-like keyphrases for a social-media "
                f"post. Vocabulary: {self.words} words; classifier labels: {self.labels}.",
                "",
                "## Training data",
                "",
                *self._training(),
                "",
                *self._average(),
                "## Scores",
                "",
                *self._scores(),
                "",
                "## Intended use and limits",
                "",
                "For keyphrase (hashtag) suggestion and research on posts like those it was "
                "trained on: short English social-media text, with its image when the model "
                "reads images. It knows only the words of its vocabulary and predicts phrases "
                "made of them; posts of other languages, domains or lengths get poor "
                "keyphrases. A model trained on generated data (`mmkp demo`) is for trying the "
                "software, not for real posts. Keyphrases can repeat biases of the training "
                "posts; do not use them for decisions about people.",
                "",
                "## How to load",
                "",
                "```python",
                "from mmkp.inference.predictor import Predictor",
                "",
                'predictor = Predictor.from_pretrained("path/to/this/folder")  # or "owner/name"',
                'predictor.predict("so excited for the game tonight!", image="photo.jpg")',
                "```",
                "",
                "or `mmkp predict --model path/to/this/folder --text '...'`. A Hub repo id "
                "needs the `hub` extra (`pip install -c constraints.txt -e '.[hub]'` in "
                "mmkp's checkout). Files: model.safetensors "
                "(weights), config.json (the settings below), vocab.json, labels.json, "
                "processor.json (how images are featurized).",
                "",
                "## Config",
                "",
                "```json",
                json.dumps(settings, indent=2),
                "```",
                "",
            ]
        )

    def _training(self) -> list[str]:
        if not self.trained_on:
            return ["Not recorded with this directory."]
        return [f"- {split}: `{where}`" for split, where in self.trained_on.items()]

    def _average(self) -> list[str]:
        if not self.averaged_from:
            return []
        return [
            "## Checkpoint average",
            "",
            "The weights are the element-wise mean of these model directories' weights "
            "(`mmkp average`); the other files are the first one's:",
            "",
            *[f"- `{directory}`" for directory in self.averaged_from],
            "",
        ]

    def _scores(self) -> list[str]:
        if not self.scores:
            return ["Not measured when this directory was written."]
        head = ["| split | " + " | ".join(SHOWN_SCORES) + " |"]
        head.append("|---" * (len(SHOWN_SCORES) + 1) + "|")
        rows = [
            f"| {split} | " + " | ".join(_percent(scores.get(k)) for k in SHOWN_SCORES) + " |"
            for split, scores in self.scores.items()
        ]
        return [*head, *rows, "", "Scores in percent, as `mmkp evaluate` reports them."]


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def write_model_card(directory: str | Path, card: ModelCard) -> Path:
    """Write the card as `directory`/README.md (atomically); returns its path."""
    path = Path(directory) / CARD_FILE
    write_text_atomic(path, card.render())
    return path
