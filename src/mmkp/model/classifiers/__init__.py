"""The classification baselines of paper Table 1, each a family member ranking the training
keyphrases (docs/baselines.md):

    avg     Bi-GRU, mean-pooled                 text         text.py
    max     Bi-GRU, max-pooled                  text         text.py
    vgg     the CNN's 7x7 grid, pooled          image        image.py
    co-att  co-attention (Zhang et al. 2017)    text + image co_attention.py
    ban     bilinear attention (Kim et al. 2018) text + image bilinear.py
"""

from mmkp.model.classifiers.base import LabelClassifier, TextImageClassifier, builder
from mmkp.model.classifiers.bilinear import BilinearAttentionClassifier
from mmkp.model.classifiers.co_attention import CoAttentionClassifier
from mmkp.model.classifiers.config import (
    AvgConfig,
    BanConfig,
    ClassifierConfig,
    CoAttConfig,
    MaxConfig,
    VggConfig,
)
from mmkp.model.classifiers.image import GridClassifier
from mmkp.model.classifiers.text import PooledTextClassifier

MEMBERS = {
    "avg": (AvgConfig, PooledTextClassifier),
    "max": (MaxConfig, PooledTextClassifier),
    "vgg": (VggConfig, GridClassifier),
    "co-att": (CoAttConfig, CoAttentionClassifier),
    "ban": (BanConfig, BilinearAttentionClassifier),
}
# name -> (config class, builder), read by mmkp.model.registry
REGISTRATIONS = {name: (config, builder(model)) for name, (config, model) in MEMBERS.items()}

__all__ = [
    "MEMBERS",
    "REGISTRATIONS",
    "AvgConfig",
    "BanConfig",
    "BilinearAttentionClassifier",
    "ClassifierConfig",
    "CoAttConfig",
    "CoAttentionClassifier",
    "GridClassifier",
    "LabelClassifier",
    "MaxConfig",
    "PooledTextClassifier",
    "TextImageClassifier",
    "VggConfig",
]
