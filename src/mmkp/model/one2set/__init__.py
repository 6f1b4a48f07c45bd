"""One2Set (Transformer, N control codes, K-step assignment; Ye et al., 2021), "one2set"."""

from mmkp.model.one2set.config import NAME, One2SetConfig
from mmkp.model.one2set.model import One2Set, build_one2set
from mmkp.model.registry import register_model

register_model(NAME, One2SetConfig, build_one2set)

__all__ = ["One2Set", "One2SetConfig", "build_one2set"]
