"""BUTD, the bottom-up and top-down attention classifier of paper Table 1 (image only):
detector regions (or the CNN's grid cells standing in for them) attended by a learned task
query, then a label head (docs/baselines.md, "BUTD")."""

from mmkp.model.butd.config import BUTD, ButdConfig
from mmkp.model.butd.model import BottomUpTopDown
from mmkp.model.classifiers.base import builder

# name -> (config class, builder), read by mmkp.model.registry
REGISTRATIONS = {BUTD: (ButdConfig, builder(BottomUpTopDown))}

__all__ = ["BUTD", "REGISTRATIONS", "BottomUpTopDown", "ButdConfig"]
