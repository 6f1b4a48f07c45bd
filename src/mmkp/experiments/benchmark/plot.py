"""The table as a bar chart: one bar per system and metric, error bars the std over seeds,
systems in table order with a dashed line between groups. Systems that did not run are left
out of the chart (the table lists them with the reason)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")  # files only: no display on a server or in tests
import matplotlib.pyplot as plt

from mmkp.experiments.benchmark.table import Table
from mmkp.io import atomic_open


def write_plot(table: Table, path: Path) -> None:
    rows = [row for row in table.rows if row.means]
    metrics = table.suite.metrics
    width = 0.8 / len(metrics)
    x = np.arange(len(rows))
    figure, axes = plt.subplots(figsize=(max(6.0, 0.6 * len(rows) + 2), 4.5))
    for i, metric in enumerate(metrics):
        means = [row.means[metric] for row in rows]
        errors = [row.stds.get(metric, 0.0) for row in rows]
        offset = (i - (len(metrics) - 1) / 2) * width
        axes.bar(x + offset, means, width, yerr=errors, capsize=2, label=metric)
    for i in range(1, len(rows)):
        if rows[i].system.group != rows[i - 1].system.group:
            axes.axvline(i - 0.5, color="grey", linestyle="--", linewidth=0.8)
    axes.set_xticks(x, [row.system.name for row in rows], rotation=45, ha="right")
    axes.set_ylabel("score (%)")
    axes.set_title(table.suite.title, fontsize=10)
    axes.legend(fontsize=8)
    figure.tight_layout()
    with atomic_open(path, "wb", encoding=None) as handle:
        figure.savefig(handle, format="png", dpi=120)
    plt.close(figure)
