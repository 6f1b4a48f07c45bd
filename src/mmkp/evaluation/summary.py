"""Scores of several runs (seeds) as one table cell."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

UNDEFINED = "–"  # a measure that does not exist for a run (e.g. s_c of a model without it)


def mean_std(values: Sequence[float]) -> str:
    """'27.24 ± 0.35' (sample standard deviation); a single run is shown alone."""
    if not values:
        raise ValueError("mean_std needs at least one value")
    if any(math.isnan(value) for value in values):
        return UNDEFINED
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"
