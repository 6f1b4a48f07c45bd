"""The topic-model systems of Table 1 (docs/baselines.md), each with a neural topic model
trained jointly with its network:

    tmn    topic memory network (Zeng et al. 2018): a keyphrase classifier     tmn.py
    topic  TAKG (Wang et al. 2019): CopyRNN conditioned on the topic mixture  takg.py
"""

from mmkp.model.topic.config import TakgConfig, TMNConfig
from mmkp.model.topic.takg import build_takg
from mmkp.model.topic.tmn import build_tmn

# name -> (config class, builder), read by mmkp.model.registry
REGISTRATIONS = {
    "topic": (TakgConfig, build_takg),
    "tmn": (TMNConfig, build_tmn),
}

__all__ = ["REGISTRATIONS", "TMNConfig", "TakgConfig"]
