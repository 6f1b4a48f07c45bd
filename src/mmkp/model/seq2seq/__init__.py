"""ATT (attention seq2seq) and COPY (CopyRNN): text-only keyphrase generators of Table 1."""

from mmkp.model.seq2seq.config import SEQ2SEQ_NAMES, Seq2SeqConfig
from mmkp.model.seq2seq.model import build

# name -> (config class, builder), read by mmkp.model.registry; att and copy share both (the
# config's `name` switches copying on)
REGISTRATIONS = {name: (Seq2SeqConfig, build) for name in SEQ2SEQ_NAMES}

__all__ = ["REGISTRATIONS", "Seq2SeqConfig"]
