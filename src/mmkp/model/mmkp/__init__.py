"""MM-MKP (the paper's model), the family member named "mmkp"."""

from mmkp.model.mmkp.config import MMKPConfig
from mmkp.model.mmkp.model import MMKP, build_mmkp
from mmkp.model.registry import register_model

register_model("mmkp", MMKPConfig, build_mmkp)

__all__ = ["MMKP", "MMKPConfig", "build_mmkp"]
