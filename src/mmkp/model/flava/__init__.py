"""FLAVA fine-tuned as a keyphrase classifier (paper Table 1, text + image), from a FLAVA
model folder the user provides (docs/baselines.md, "FLAVA"). transformers is imported only
when the model is built."""

from mmkp.model.flava.config import FLAVA, FlavaClassifierConfig
from mmkp.model.flava.model import FlavaClassifier, build
from mmkp.model.registry import register_model

register_model(FLAVA, FlavaClassifierConfig, build)

__all__ = ["FLAVA", "FlavaClassifier", "FlavaClassifierConfig"]
