"""The built-in zero-shot model (`Predictor.load("zero-shot")`): candidates from the post's
text, OCR and entity names, ranked against the whole post with MiniLM (docs/zero_shot.md)."""

from mmkp.inference.zero_shot.predictor import ZeroShotPredictor
from mmkp.inference.zero_shot.ranker import ZERO_SHOT, ZeroShotConfig

__all__ = ["ZERO_SHOT", "ZeroShotConfig", "ZeroShotPredictor"]
