"""Which posts a run reads and how they become model inputs (the `data:` config section)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mmkp.config_loader import PATH
from mmkp.data.layout import AttributeSource
from mmkp.data.processor import TargetMode, TextOptions


@dataclass(frozen=True)
class SplitConfig:
    """One split: a JSONL or `<sep>` file, optionally only posts `first`..`last` (1-based,
    inclusive, in file order; equal to line numbers for a file without bad lines).
    `attribute`: an attribute-words file aligned line by line with an ocr_kw or CMKP `path`
    (e.g. valid_attribute.txt), read into each post's `attributes` (`data.attributes: given`)."""

    path: str = field(metadata=PATH)
    first: int | None = None
    last: int | None = None
    attribute: str | None = field(default=None, metadata=PATH)

    def __post_init__(self) -> None:
        if self.first is not None and self.first < 1:
            raise ValueError(f"first must be >= 1, got {self.first}")
        if self.first is not None and self.last is not None and self.last < self.first:
            raise ValueError(f"last ({self.last}) must be >= first ({self.first})")

    @classmethod
    def config_hook(cls, raw: Any) -> tuple[type, Any]:
        """A bare path is the whole file: `train: posts.jsonl`."""
        return cls, {"path": raw} if isinstance(raw, str) else raw


@dataclass(frozen=True)
class DataConfig:
    train: SplitConfig
    dev: SplitConfig
    test: SplitConfig | None = None
    features: str | None = field(default=None, metadata=PATH)  # FeatureStore dir; None: text only
    # D_itm (eq. 16): text-image pairs with human relevance labels for L_itm, e.g. the TRC csv
    # (`image_adds`, images beside it) or a JSONL with `match_label`; their grids come from
    # `features` too. Its batches are interleaved with the keyphrase batches of a stage that
    # trains "itm" (docs/training.md).
    itm: SplitConfig | None = None
    # A field of the keyphrase posts to read as their L_itm label too (e.g. "match_label":
    # the generated data's planted label, or the benchmark's field 4, a precomputed matcher's
    # argmax); None: the keyphrase posts carry no relevance label.
    post_match_label: str | None = None
    use_ocr: bool = True
    use_entities: bool = True
    # X_A, image attribute words as a fourth segment of X_T (M3H-ATT's image wordings): none,
    # the posts' own (`attributes` field or a split's `attribute` file), or entity-name words
    attributes: AttributeSource = "none"
    vocab_size: int = 50_000  # most frequent training words kept (specials not counted)
    min_word_count: int = 1
    label_min_count: int = 1  # training keyphrases seen fewer times are not classifier labels
    max_src_len: int = TextOptions.max_src_len  # X_T tokens kept (OCR is cut first)
    # Training rows: one per post-keyphrase pair, or one per post with all its keyphrases
    # joined by <seg> (what one2seq and one2set train on; `TextProcessor.joined_examples`).
    targets: TargetMode = "one2one"

    def __post_init__(self) -> None:
        for name in ("vocab_size", "min_word_count", "label_min_count", "max_src_len"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    @property
    def text(self) -> TextOptions:
        """How a post becomes X_T: what inference needs of this section."""
        return TextOptions(
            use_ocr=self.use_ocr,
            use_entities=self.use_entities,
            max_src_len=self.max_src_len,
            attributes=self.attributes,
        )
