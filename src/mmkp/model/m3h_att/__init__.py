"""M3H-ATT (CMKP, Wang et al., EMNLP 2020) and its Transformer variant, one member:
`model: {name: m3h-att}`, `encoder: transformer` for M3H-ATT(TF) (docs/baselines.md)."""

from mmkp.model.m3h_att.config import NAME, M3HAttConfig
from mmkp.model.m3h_att.model import M3HAtt, build_m3h_att

# name -> (config class, builder), read by mmkp.model.registry
REGISTRATIONS = {NAME: (M3HAttConfig, build_m3h_att)}

__all__ = ["REGISTRATIONS", "M3HAtt", "M3HAttConfig", "build_m3h_att"]
