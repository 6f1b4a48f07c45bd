"""Comparing outputs with golden values recorded on another machine.

Words, ids and structure must match exactly; floats must match to within a few units in the
last place of float32: the same arithmetic gives last-bit differences across CPUs (AVX2 and
AVX-512 kernels sum in other orders; seen here: -0.9585505724 on one, -0.9585505128 on the
other), which is not a change of result.
"""

from __future__ import annotations

import math
from typing import Any

REL = 1e-6  # ~8 float32 ulps


def same_as_golden(actual: Any, golden: Any, path: str = "") -> list[str]:
    """The places (as paths) where `actual` differs from `golden`; [] when they agree."""
    if isinstance(golden, float) and isinstance(actual, float | int):
        close = math.isclose(actual, golden, rel_tol=REL, abs_tol=REL)
        return [] if close else [f"{path}: {actual!r} != {golden!r}"]
    if isinstance(golden, dict) and isinstance(actual, dict):
        if actual.keys() != golden.keys():
            return [f"{path}: keys {sorted(actual)} != {sorted(golden)}"]
        return [d for k in golden for d in same_as_golden(actual[k], golden[k], f"{path}.{k}")]
    if isinstance(golden, list) and isinstance(actual, list | tuple):
        if len(actual) != len(golden):
            return [f"{path}: {len(actual)} items != {len(golden)}"]
        pairs = zip(actual, golden, strict=True)
        return [d for i, (a, g) in enumerate(pairs) for d in same_as_golden(a, g, f"{path}[{i}]")]
    return [] if actual == golden else [f"{path}: {actual!r} != {golden!r}"]


def assert_golden(actual: Any, golden: Any) -> None:
    differences = same_as_golden(actual, golden)
    assert not differences, "differs from the golden values: " + "; ".join(differences[:5])
