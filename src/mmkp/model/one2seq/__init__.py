"""One2Seq (Transformer, copy attention; Ye et al., 2021's setup), the member "one2seq"."""

from mmkp.model.one2seq.config import NAME, One2SeqConfig
from mmkp.model.one2seq.model import One2Seq, build_one2seq
from mmkp.model.registry import register_model

register_model(NAME, One2SeqConfig, build_one2seq)

__all__ = ["One2Seq", "One2SeqConfig", "build_one2seq"]
