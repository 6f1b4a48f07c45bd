"""Sizes and ablation switches of the MM-MKP network (one frozen dataclass, loaded from YAML).

Every ablation of the paper's Table 2 is one field here (the data ablations w/o OCR and w/o
visual entities are `data.use_ocr` / `data.use_entities`: they change the input X_T, not the
network). docs/model.md says what each switch removes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal, get_args

from mmkp.model.config import (
    ModelConfig,
    check_dropout,
    check_heads,
    check_own_name,
    check_sizes,
)

MMKP_LOSS_TERMS = ("itm", "irtm", "cla", "gen")
# How the OCR and entity tokens of X_T are gated (model.modules.segment_gate).
ImageTextGate = Literal["none", "score", "learned"]
IMAGE_TEXT_GATES: tuple[str, ...] = get_args(ImageTextGate)
# Which text's frozen MiniLM embedding joins H_f (none: the paper's model).
SentenceFeatures = Literal["none", "post", "source"]
SENTENCE_FEATURES: tuple[str, ...] = get_args(SentenceFeatures)


@dataclass(frozen=True)
class MMKPConfig(ModelConfig):
    name: str = "mmkp"
    # Sizes. d = 2 * hidden_size is the width of everything after the Bi-GRU text encoder.
    hidden_size: int = 150  # per GRU direction
    num_heads: int = 4  # cross-attention heads of the matcher and the classifier (eq. 3, 6)
    image_dim: int = 1280  # channels C of the (49, C) image grid features
    dropout: float = 0.1
    classifier_top_k: int = 5  # keyphrases whose words the decoder may copy (eq. 12)

    # Ablations (paper Table 2 and the extra switches).
    use_image: bool = True  # False: text-only, no image branch at all
    noise_filter: bool = True  # False: w/o the whole noise filtering module (H_I unfiltered)
    image_text_matching: bool = True  # False: w/o image-text matching (no s_c, no L_itm)
    region_text_matching: bool = True  # False: w/o region-text matching (no A, no L_irtm)
    match_source: Literal["itm", "precomputed"] = "itm"  # where s_c comes from
    use_itm_loss: bool = True  # False: w/o L_itm
    use_irtm_loss: bool = True  # False: w/o L_irtm
    use_cla_loss: bool = True  # False: w/o L_cla
    # The decoder copies the classifier's top-k labels (eq. 12-13); None: exactly when L_cla
    # trains the classifier, so `use_cla_loss: false` alone is Table 2's w/o L_cla row (a
    # pointer network); true keeps the copy without L_cla (configs/cmkp.yaml's variant).
    use_classifier_copy: bool | None = None
    # Beyond the paper: beta (eq. 12) also (or, without the classifier copy, only) copies the
    # keyphrases of the post's nearest training posts by their votes; needs `retrieval`.
    neighbour_copy: bool = False
    # Beyond the paper: p_p (eq. 10) covers only the `output_vocab` most frequent words and
    # every word of a training keyphrase (label); other words are produced by copying. None:
    # the whole vocabulary. A smaller output layer trains and decodes several times faster.
    output_vocab: int | None = None
    # Beyond the paper: eps of label smoothing in L_gen over p_p's words (0: the paper's
    # loss; modules.copy_generator).
    label_smoothing: float = 0.0

    # Where the paper and its public code differ (docs/model.md, "paper vs code"). The copy
    # from the classifier follows the paper (it measured better: benchmarks/RESULTS.md, "noise
    # filter"); the encoder and the matcher keep the measured or the public code's form.
    encoder_layers: int = 1  # Bi-GRU layers of the text encoder (public code: 2)
    matcher_residual: bool = True  # LayerNorm(M_T + MultiHead) in the matcher (paper: none)
    generator_hidden: bool = False  # a tanh layer before p_p (paper eq. 10: none)
    # lambda_c (eq. 13): the paper's hyper-parameter, 0.5 as its code weights the two copy
    # sources; None learns it, sigmoid(w_c^T x_j + b_c)
    copy_lambda: float | None = 0.5
    label_copy: Literal["split", "word_softmax"] = "word_softmax"  # beta (eq. 12; paper's)
    # Beyond the paper: L_irtm also contrasts each image's best region under its own text and
    # under another post's text (modules.region_filter.region_contrast_loss).
    region_contrast: bool = False
    # Beyond the paper: a text-image product term in the matcher's logit (image_text_matcher).
    matcher_interaction: bool = False
    # Beyond the paper (issue 24): s_c ("score") or a gate learnt from s_c and the segment
    # summaries ("learned") also weighs the OCR and entity tokens of X_T, in H_T and in the
    # decoder's attention and copy (modules.segment_gate); "none": the paper's filter, which
    # gates only H_I. Needs the matcher (s_c).
    image_text_gate: ImageTextGate = "none"
    # Beyond the paper (issue 24): the frozen MiniLM embedding of the post's text X_S ("post")
    # or of X_T ("source", as decode.semantic_text reads them), projected to d by a
    # zero-initialised Linear and added to H_f, so it reaches the classifier and every
    # decoding step (modules.sentence_projection); "none": the paper's H_f. Needs H_f (the
    # classifier).
    sentence_features: SentenceFeatures = "none"

    loss_terms: ClassVar[tuple[str, ...]] = MMKP_LOSS_TERMS
    # Stage 2 trains the generator only by default, as the paper's public code does.
    fine_tune_modules: ClassVar[tuple[str, ...] | None] = ("decoder", "generator")
    former_defaults: ClassVar[dict[str, Any]] = {
        "use_classifier_copy": True,
        "encoder_layers": 1,
        "matcher_residual": True,
        "generator_hidden": True,
        "copy_lambda": None,
        "label_copy": "split",
        "region_contrast": False,
        "matcher_interaction": False,
        "image_text_gate": "none",
        "sentence_features": "none",
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        check_own_name(self)
        if self.neighbour_copy and self.retrieval is None:
            raise ValueError("neighbour_copy needs model.retrieval (e.g. retrieval: {k: 40})")
        if self.copy_lambda is not None and not 0.0 <= self.copy_lambda <= 1.0:
            raise ValueError(f"copy_lambda must be in [0, 1], got {self.copy_lambda}")
        if self.image_text_gate not in IMAGE_TEXT_GATES:
            raise ValueError(
                f"image_text_gate must be one of {IMAGE_TEXT_GATES}, got {self.image_text_gate!r}"
            )
        if self.image_text_gate != "none" and not self.uses_matching:
            raise ValueError(
                f"image_text_gate={self.image_text_gate!r} needs s_c: set use_image, "
                "noise_filter and image_text_matching to true, or image_text_gate: none"
            )
        if self.sentence_features not in SENTENCE_FEATURES:
            raise ValueError(
                f"sentence_features must be one of {SENTENCE_FEATURES}, got "
                f"{self.sentence_features!r}"
            )
        if self.sentence_features != "none" and not self.uses_classifier:
            raise ValueError(
                f"sentence_features={self.sentence_features!r} is added to H_f, which only the "
                "classifier computes: set use_cla_loss or use_classifier_copy to true, or "
                "sentence_features: none"
            )
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.output_vocab is not None and self.output_vocab < 1:
            raise ValueError(f"output_vocab must be >= 1, got {self.output_vocab}")
        check_sizes(
            self, "hidden_size", "num_heads", "image_dim", "classifier_top_k", "encoder_layers"
        )
        check_dropout(self.dropout)
        check_heads(self.size, self.num_heads, width_name="2 * hidden_size")

    def unused_terms(self, terms: tuple[str, ...], *, images: bool) -> dict[str, str]:
        switched_off = {
            "itm": None if self.use_itm_loss else "model.use_itm_loss is false",
            "irtm": None if self.use_irtm_loss else "model.use_irtm_loss is false",
            "cla": None if self.use_cla_loss else "model.use_cla_loss is false",
        }
        if not self.uses_matching:
            switched_off["itm"] = "the model has no image-text matcher"
        if not self.uses_regions:
            switched_off["irtm"] = "the model has no region-text correlation"
        for term in ("itm", "irtm"):
            if not images and switched_off[term] is None:
                switched_off[term] = "the data has no image grids (data.features)"
        return {term: why for term in terms if (why := switched_off.get(term)) is not None}

    @property
    def size(self) -> int:
        """d: the Bi-GRU output width, shared by H_I, M_T, H_f and the decoder state."""
        return 2 * self.hidden_size

    @property
    def uses_matching(self) -> bool:
        """Whether s_c exists (coarse-grained filter, eq. 3)."""
        return self.use_image and self.noise_filter and self.image_text_matching

    @property
    def uses_classifier(self) -> bool:
        """Whether the keyphrase classifier (and H_f, its fusion of text and image) exists:
        only when L_cla trains it or the decoder copies from its top labels."""
        return self.use_cla_loss or self.classifier_copy

    @property
    def classifier_copy(self) -> bool:
        """Whether the decoder copies from the classifier's top-k labels (eq. 12-13)."""
        return self.use_cla_loss if self.use_classifier_copy is None else self.use_classifier_copy

    @property
    def gates_image_text(self) -> bool:
        """Whether s_c also gates the OCR and entity tokens of X_T (modules.segment_gate)."""
        return self.image_text_gate != "none"

    @property
    def sentence_input(self) -> str | None:
        return None if self.sentence_features == "none" else self.sentence_features

    @property
    def uses_regions(self) -> bool:
        """Whether A exists (fine-grained filter, eq. 4-5)."""
        return self.use_image and self.noise_filter and self.region_text_matching
