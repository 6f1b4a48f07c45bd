"""mmkp: multi-modal keyphrase generation for social-media posts (text + image)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# The Python API, imported on first use (PEP 562), so `import mmkp` (and `mmkp --help`) stays
# free of torch: `from mmkp import Predictor` loads the inference stack, `import mmkp` does not.
_LAZY = {
    "Predictor": "mmkp.inference.predictor",
    "PredictionResult": "mmkp.inference.predictor",
    "RawPost": "mmkp.inference.predictor",
}
__all__ = ["PredictionResult", "Predictor", "RawPost", "__version__"]

if TYPE_CHECKING:
    from mmkp.inference.predictor import PredictionResult, Predictor, RawPost


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mmkp' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)  # the public API, including the names not imported yet
