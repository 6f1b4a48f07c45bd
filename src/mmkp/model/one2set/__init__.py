"""One2Set (Transformer, N control codes, K-step assignment; Ye et al., 2021), "one2set"."""

from mmkp.model.one2set.config import NAME, One2SetConfig
from mmkp.model.one2set.model import One2Set, build_one2set

# name -> (config class, builder), read by mmkp.model.registry
REGISTRATIONS = {NAME: (One2SetConfig, build_one2set)}

__all__ = ["REGISTRATIONS", "One2Set", "One2SetConfig", "build_one2set"]
