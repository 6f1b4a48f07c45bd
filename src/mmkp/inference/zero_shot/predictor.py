"""The zero-shot model behind the `Predictor` API: no training, no data, no model directory.

    predictor = Predictor.load("zero-shot")     # the reserved name; or ZeroShotPredictor.build()
    predictor.predict("Game day at #Anfield! #YNWA", image="photo.jpg").texts

It is a `Predictor` whose checkpoint describes the built-in model (name `zero-shot`, no
vocabulary or labels, the default featurizer) and whose model is the MiniLM encoder, so
`mmkp predict`, `mmkp explain` and `mmkp serve` drive it as any model: raw text is normalised
as the dataset's, an image goes through the default featurizer for its OCR text and visual
entities (no grid: the ranker reads none), and each post's keyphrases come from ranking its
own candidates (`candidates`, `ranker`) instead of decoding. Of the decode settings only
`top_k` applies. It cannot produce a keyphrase the post does not contain (no absent
keyphrases); a model trained on one's own posts does much better (README).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from torch import nn

from mmkp.data.batch import GridLookup
from mmkp.data.processor import TextOptions
from mmkp.data.record import Post
from mmkp.data.tokenize import normalise
from mmkp.data.vocab import SPECIALS, LabelSet, Vocab
from mmkp.decoding.config import DecodeConfig
from mmkp.decoding.generate import ScoredKeyphrase
from mmkp.features.featurizer import ImageFeaturizer
from mmkp.features.minilm_precision import MiniLMPrecision
from mmkp.features.sentence_encoder import SentenceEncoder
from mmkp.inference.checkpoint import Checkpoint, InferenceConfig
from mmkp.inference.predictor import LoadedPost, PredictionResult, Predictor, RawPost
from mmkp.inference.zero_shot.candidates import candidates
from mmkp.inference.zero_shot.ranker import ZeroShotConfig, rank_posts
from mmkp.model.protocol import INPUT_TEXT
from mmkp.processing.processor import ProcessorConfig

_HASHTAG = re.compile(r"(?<![\w#])#([A-Za-z][\w]*)")  # `#1` is a number, not a hashtag


class ZeroShotModel(nn.Module):
    """The MiniLM sentence encoder (a submodule, so the predictor moves it to its device) and
    the ranker's settings; reads text, OCR and entities, never an image grid."""

    inputs = frozenset({INPUT_TEXT})

    def __init__(self, config: ZeroShotConfig):
        super().__init__()
        self.config = config
        self.encoder = SentenceEncoder()
        self.minilm = self.encoder.load()

    @torch.no_grad()
    def rank(self, posts: Sequence[Post], top_k: int) -> list[list[ScoredKeyphrase]]:
        """Each post's top_k keyphrases, best first."""
        config = self.config
        found = [
            candidates(p, max_words=config.max_words, ocr_words=config.ocr_words) for p in posts
        ]
        return rank_posts(posts, found, self.encoder, config, top_k)


def hashtags(text: str) -> list[str]:
    """A raw text's hashtags, normalised as the dataset's (`#SaveHakeem` -> `save hakeem`)."""
    return [normalise(f"#{tag}") for tag in _HASHTAG.findall(text)]


def inference_config(config: ZeroShotConfig | None = None) -> InferenceConfig:
    """What the built-in model's checkpoint says of it (`read_config("zero-shot")`): its
    settings, the default text options and decode settings, no image grids."""
    return InferenceConfig(
        model=config or ZeroShotConfig(), text=TextOptions(), decode=DecodeConfig()
    )


class ZeroShotPredictor(Predictor):
    """A predictor for the built-in zero-shot model (module docstring)."""

    @classmethod
    def build(
        cls,
        config: ZeroShotConfig | None = None,
        *,
        decode: DecodeConfig | None = None,
        featurizer: ImageFeaturizer | None = None,
        device: str | torch.device | None = None,
    ) -> ZeroShotPredictor:
        config = config or ZeroShotConfig()
        checkpoint = Checkpoint(
            model=ZeroShotModel(config),  # type: ignore[arg-type]  # ranks, never decodes
            vocab=Vocab(SPECIALS),
            labels=LabelSet([]),
            config=inference_config(config),
            processor_config=ProcessorConfig(),  # the default featurizer reads the images
        )
        return cls(checkpoint, decode=decode, featurizer=featurizer, device=device)

    def use_minilm_precision(self, precision: MiniLMPrecision) -> None:
        """The built-in model's own encoder embeds in `precision` (it ranks with no other)."""
        model = self.model
        assert isinstance(model, ZeroShotModel)
        model.encoder.set_precision(precision)
        model.minilm = model.encoder.load()  # a reloaded module replaces the submodule

    def load_post(self, raw: RawPost) -> LoadedPost:
        """As any model's, and the raw text's hashtags kept for the candidates (`#` and
        case are gone from the normalised text)."""
        loaded = super().load_post(raw)
        loaded.post.extra["hashtags"] = hashtags(raw.text)
        return loaded

    def _predict_chunk(
        self,
        posts: Sequence[Post],
        batch_size: int,
        grid_lookup: GridLookup | None,
        settings: DecodeConfig,
    ) -> list[PredictionResult]:
        """Ranked candidates instead of decoding, `batch_size` posts at a time."""
        results = []
        for start in range(0, len(posts), batch_size):
            batch = posts[start : start + batch_size]
            ranked = self.model.rank(batch, settings.top_k)
            results += [
                PredictionResult(post.id, keyphrases, None, None, post)
                for post, keyphrases in zip(batch, ranked, strict=True)
            ]
        return results
