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


def write_metrics(path: str | Path, history: Sequence[dict[str, Any]]) -> None:
    """Rewrite the whole file from the history, so a resumed run never duplicates epochs."""
    write_text_atomic(path, "".join(json.dumps(row, sort_keys=True) + "\n" for row in history))


def plot_curves(path: str | Path, history: Sequence[dict[str, Any]], *, title: str) -> None:
    """Losses on the left axis, the dev keyphrase metric (if any) on the right."""
    epochs = [row["epoch"] for row in history]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, style in (("train_loss", "o-"), ("dev_loss", "s-")):
        if all(key in row for row in history):
            ax.plot(epochs, [row[key] for row in history], style, label=key.replace("_", " "))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    metric_keys = sorted({k for row in history for k in row if k.startswith("dev_F1")})
    metric_keys += sorted({k for row in history for k in row if k.startswith("dev_MAP")})
    if metric_keys:
        right = ax.twinx()
        for key in metric_keys:
            right.plot(epochs, [row.get(key) for row in history], "^--", label=key, color="C2")
        right.set_ylabel("dev metric (%)")
        right.legend(loc="upper right")
    ax.legend(loc="upper left")
    ax.set_title(title)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
