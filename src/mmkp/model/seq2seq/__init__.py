"""ATT (attention seq2seq) and COPY (CopyRNN): text-only keyphrase generators of Table 1."""

from mmkp.model.registry import register_model
from mmkp.model.seq2seq.config import SEQ2SEQ_NAMES, Seq2SeqConfig
from mmkp.model.seq2seq.model import build

for _name in SEQ2SEQ_NAMES:
    register_model(_name, Seq2SeqConfig, build)
