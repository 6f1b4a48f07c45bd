"""Per-epoch records: `metrics.jsonl` (one JSON object per epoch) and a PNG of the curves."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on training machines
import matplotlib.pyplot as plt

from mmkp.io import write_text_atomic

PLOTTED_METRICS = ("dev_F1@1", "dev_F1@3", "dev_MAP@5")


def write_metrics(path: str | Path, history: Sequence[dict[str, Any]]) -> None:
    """Rewrite the whole file from the history, so a resumed run never duplicates epochs."""
    write_text_atomic(path, "".join(json.dumps(row, sort_keys=True) + "\n" for row in history))


def plot_curves(path: str | Path, history: Sequence[dict[str, Any]], *, title: str) -> None:
    """Losses on the left axis, the dev keyphrase metric (if any) on the right."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, style in (("train_loss", "o-"), ("dev_loss", "s-")):
        points = [(row["epoch"], row[key]) for row in history if key in row]
        if points:
            ax.plot(*zip(*points, strict=True), style, label=key.replace("_", " "))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    metric_keys = [k for k in PLOTTED_METRICS if any(k in row for row in history)]
    if metric_keys:
        right = ax.twinx()
        for color, key in enumerate(metric_keys, start=2):
            points = [(row["epoch"], row[key]) for row in history if key in row]
            right.plot(*zip(*points, strict=True), "^--", label=key, color=f"C{color}")
        right.set_ylabel("dev metric (%)")
        right.legend(loc="upper right")
    ax.legend(loc="upper left")
    ax.set_title(title)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
