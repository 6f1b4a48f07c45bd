"""One2Seq (Transformer, copy attention; Ye et al., 2021's setup), the member "one2seq"."""

from mmkp.model.one2seq.config import NAME, One2SeqConfig
from mmkp.model.one2seq.model import One2Seq, build_one2seq

# name -> (config class, builder), read by mmkp.model.registry
REGISTRATIONS = {NAME: (One2SeqConfig, build_one2seq)}

__all__ = ["REGISTRATIONS", "One2Seq", "One2SeqConfig", "build_one2seq"]
