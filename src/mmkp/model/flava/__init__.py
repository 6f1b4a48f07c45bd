"""FLAVA fine-tuned as a keyphrase classifier (paper Table 1, text + image), from a FLAVA
model folder the user provides (docs/baselines.md, "FLAVA"). transformers is imported only
when the model is built."""

from mmkp.model.flava.config import FLAVA, FlavaClassifierConfig
from mmkp.model.flava.model import FlavaClassifier, build

# name -> (config class, builder), read by mmkp.model.registry
REGISTRATIONS = {FLAVA: (FlavaClassifierConfig, build)}

__all__ = ["FLAVA", "REGISTRATIONS", "FlavaClassifier", "FlavaClassifierConfig"]
