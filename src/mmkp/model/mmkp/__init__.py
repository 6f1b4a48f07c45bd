"""MM-MKP (the paper's model), the family member named "mmkp"."""

from mmkp.model.mmkp.config import MMKPConfig
from mmkp.model.mmkp.model import MMKP, build_mmkp

# name -> (config class, builder), read by mmkp.model.registry
REGISTRATIONS = {"mmkp": (MMKPConfig, build_mmkp)}

__all__ = ["MMKP", "REGISTRATIONS", "MMKPConfig", "build_mmkp"]
