"""Generated multimodal posts with real images, built so that the image matters.

Every post belongs to a domain (food, sports, ...; see `synthetic_topics`). Its kind decides
where its keyphrases are planted:

- ``text``: a text keyphrase is written in the post; the image (same domain) carries a second
  keyphrase, either rendered as text or shown as a visual object. Gold: [text kp, image kp].
- ``ocr``: the only keyphrase is rendered as large text in the image. Gold: [image kp].
- ``visual``: the only keyphrase is shown as a drawn object or a sample photo. Gold: [image kp].
- ``noise``: a text keyphrase is written in the post and the image belongs to *another* domain
  (an unrelated image, relevance label 0). Gold: [text kp].

The text of ``ocr`` / ``visual`` posts names the domain (or, for a `generic_share` of them,
nothing at all), never the keyphrase. Those texts come from a few sentences, so the same text
recurs across train/dev/test by design (as on social media): it carries no gold, the image
does. `text` and `noise` texts hold their keyphrase and are drawn from far more sentences; a
dev/test one that repeats a training post's text by chance gets another sentence around its
keyphrase (`_redraw_text`, from its own random stream, so every other post is as it would be
without the redraw): no training text reaches the splits that score a model with its gold.
`ocr` and `entities` stay empty: the image pipeline fills them; the planted truth is kept in
``extra["planted"]`` and ``extra["match_label"]``. docs/synthetic.md derives what a perfect
and a text-only system can reach.
"""

from __future__ import annotations

import logging
import random
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from PIL import Image

from mmkp.data import synthetic_images as images
from mmkp.data.jsonl import write_posts
from mmkp.data.overlap import text_key
from mmkp.data.record import Post
from mmkp.data.synthetic_topics import (
    DOMAINS,
    Domain,
    domain_sentence,
    generic_sentence,
    keyphrase_sentence,
)
from mmkp.io import atomic_open, write_json_atomic

log = logging.getLogger(__name__)

KINDS = ("text", "ocr", "visual", "noise")
TEXT_KINDS = ("text", "noise")  # kinds whose text holds their keyphrase
MAX_REDRAWS = 100  # texts tried for a dev/test post whose text a training post has
SPLITS = ("train", "dev", "test")
ITM = "itm"  # the TRC-style pairs of `generate_itm`


@dataclass(frozen=True)
class SyntheticConfig:
    """How posts are mixed. Kind counts are exact per split (largest-remainder rounding)."""

    noise_share: float = 0.2
    # Relative weights of the related kinds (text, ocr, visual), sharing 1 - noise_share.
    kind_weights: tuple[float, float, float] = (1.0, 1.0, 1.0)
    # Share of ocr / visual posts whose text names no domain (drawn at random per post).
    generic_share: float = 0.25
    image_size: tuple[int, int] = (320, 240)

    def __post_init__(self) -> None:
        if not 0 <= self.noise_share <= 1:
            raise ValueError(f"noise_share must be in [0, 1], got {self.noise_share}")
        if not 0 <= self.generic_share <= 1:
            raise ValueError(f"generic_share must be in [0, 1], got {self.generic_share}")
        if len(self.kind_weights) != 3 or min(self.kind_weights) < 0 or sum(self.kind_weights) <= 0:
            raise ValueError(
                f"kind_weights must be 3 non-negative numbers, got {self.kind_weights}"
            )
        if min(self.image_size) < 64:
            raise ValueError(f"image_size must be at least 64x64, got {self.image_size}")


@dataclass(frozen=True)
class GeneratedData:
    """Where `generate` wrote the splits, and how many posts of each kind each split has."""

    train: Path
    dev: Path
    test: Path
    images: Path
    counts: dict[str, dict[str, int]]


@dataclass(frozen=True)
class _ImagePlan:
    domain: Domain
    keyphrase: str
    kind: str  # "ocr" or "visual"
    obj: str | None


def kind_counts(n: int, config: SyntheticConfig) -> dict[str, int]:
    """Exact number of posts of each kind among `n` (largest-remainder rounding)."""
    n_noise = int(n * config.noise_share + 0.5)  # half up, not to even
    total = sum(config.kind_weights)
    quotas = [(n - n_noise) * w / total for w in config.kind_weights]
    counts = [int(q) for q in quotas]
    by_remainder = sorted(range(3), key=lambda i: (counts[i] - quotas[i], i))
    for i in by_remainder[: n - n_noise - sum(counts)]:
        counts[i] += 1
    return {"text": counts[0], "ocr": counts[1], "visual": counts[2], "noise": n_noise}


def _image_plan(rng: random.Random, domain: Domain, kind: str | None) -> _ImagePlan:
    """Pick an image topic of `domain`: of the given kind, or any of its image keyphrases."""
    choices = [(kp, "ocr", None) for kp in domain.ocr_keyphrases]
    choices += [(topic.keyphrase, "visual", topic.obj) for topic in domain.visual]
    keyphrase, image_kind, obj = rng.choice([c for c in choices if kind in (None, c[1])])
    return _ImagePlan(domain, keyphrase, image_kind, obj)


def _make_post(
    post_id: str, kind: str, domain: Domain, rng: random.Random, config: SyntheticConfig
) -> tuple[Post, _ImagePlan]:
    """Compose the text, gold keyphrases and planted truth of one post (its image comes later)."""
    text_keyphrase = None
    generic = False
    if kind in ("text", "noise"):
        text_keyphrase = rng.choice(domain.text_keyphrases)
        text = keyphrase_sentence(rng, domain, text_keyphrase)
    else:
        generic = rng.random() < config.generic_share
        text = generic_sentence(rng) if generic else domain_sentence(rng, domain)
    if kind == "noise":
        other = rng.choice([d for d in DOMAINS if d is not domain])
        plan = _image_plan(rng, other, None)
    else:
        plan = _image_plan(rng, domain, None if kind == "text" else kind)
    gold = [kp for kp in (text_keyphrase, None if kind == "noise" else plan.keyphrase) if kp]
    planted = {
        "kind": kind,
        "domain": domain.name,
        "text_keyphrase": text_keyphrase,
        "generic_text": generic,
        "image_domain": plan.domain.name,
        "image_kind": plan.kind,
        "image_keyphrase": plan.keyphrase,
        "rendered_text": None,
        "object": plan.obj,
    }
    extra = {"match_label": 0 if kind == "noise" else 1, "planted": planted}
    return Post(id=post_id, text=text, keyphrases=gold, extra=extra), plan


def _redraw_text(post: Post, domain: Domain, seed: int, taken: frozenset[str]) -> None:
    """Give a `text` / `noise` post whose text a training post has another sentence around the
    same keyphrase (its gold and image unchanged), from random streams of its own (seeded with
    its id and the attempt): the split's stream, and with it every other post, stays as it was."""
    keyphrase = post.extra["planted"]["text_keyphrase"]
    for attempt in range(1, MAX_REDRAWS + 1):
        rng = random.Random(f"mmkp-synthetic:{seed}:{post.id}:redraw:{attempt}")
        text = keyphrase_sentence(rng, domain, keyphrase)
        if text_key(text) not in taken:
            post.text = text
            log.debug("%s: redrew a text that a training post has", post.id)
            return
    # Only when the training posts have nearly every sentence of this keyphrase.
    log.warning("%s: kept a training post's text (%d redraws all taken)", post.id, MAX_REDRAWS)


def _draw(
    plan: _ImagePlan, post: Post, seed: int, size: tuple[int, int]
) -> tuple[Image.Image, str]:
    """The post's picture and its file format; records the rendered text in the planted truth."""
    rng = random.Random(f"mmkp-synthetic:{seed}:{post.id}:image")
    planted = post.extra["planted"]
    if plan.obj is None:  # an OCR topic: the keyphrase itself is drawn
        image, shown, box = images.render_text(size, plan.keyphrase, rng)
        planted["rendered_text"] = shown
        fmt = "PNG"
    else:
        image, box = images.visual(size, plan.obj, rng)
        fmt = "JPEG" if plan.obj.startswith("photo:") else "PNG"
    # Where the planted text or object is, for measuring the noise filter's localisation.
    planted["box"] = [round(v, 1) for v in box]
    planted["cells"] = images.grid_cells(box, size)
    return image, fmt


def generate_split(
    out_dir: Path,
    split: str,
    n: int,
    *,
    seed: int,
    config: SyntheticConfig,
    taken: frozenset[str] = frozenset(),
) -> list[Post]:
    """Posts of one split with their image files written under `out_dir/images/`; a `text` or
    `noise` post whose text is in `taken` (as `text_key`: the training texts) is redrawn."""
    rng = random.Random(f"mmkp-synthetic:{seed}:{split}")
    counts = kind_counts(n, config)
    kinds = [kind for kind in KINDS for _ in range(counts[kind])]
    domains = [DOMAINS[i % len(DOMAINS)] for i in range(n)]
    rng.shuffle(kinds)
    rng.shuffle(domains)
    posts = []
    for index, (kind, domain) in enumerate(zip(kinds, domains, strict=True)):
        post, plan = _make_post(f"{split}-{index:05d}", kind, domain, rng, config)
        if kind in TEXT_KINDS and text_key(post.text) in taken:
            _redraw_text(post, domain, seed, taken)
        image, fmt = _draw(plan, post, seed, config.image_size)
        post.image = f"images/{post.id}.{'jpg' if fmt == 'JPEG' else 'png'}"
        with atomic_open(out_dir / post.image, "wb") as handle:
            image.save(handle, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
        posts.append(post)
    return posts


def generate_itm(out_dir: Path, n: int, *, seed: int, config: SyntheticConfig) -> list[Post]:
    """TRC-style image-text pairs (D_itm, eq. 16): a post text and an image, `match_label` 1
    when the image belongs to the text's domain, 0 for an image of another domain (half of
    them), and no keyphrase: the relevance-labelled set L_itm trains on, apart from the
    keyphrase posts."""
    # Every text names its domain (no generic texts): relevance is decidable from the pair.
    pairs_config = replace(config, noise_share=0.5, generic_share=0.0)
    pairs = generate_split(out_dir, ITM, n, seed=seed, config=pairs_config)
    return [replace(post, keyphrases=[]) for post in pairs]


def generate(
    out_dir: str | Path,
    *,
    n_train: int,
    n_dev: int,
    n_test: int,
    seed: int = 0,
    noise_share: float = 0.2,
    image_size: tuple[int, int] = (320, 240),
    generic_share: float = 0.25,
    kind_weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
    n_itm: int = 0,
) -> GeneratedData:
    """Write `train.jsonl`, `dev.jsonl`, `test.jsonl` and `images/` under `out_dir`, and with
    `n_itm` a TRC-style `itm.jsonl` (`generate_itm`).

    Deterministic: the same arguments give byte-identical files. No dev/test `text` or `noise`
    post repeats a training post's text (`_redraw_text`). Image paths in the JSONL are
    relative to it. Each split's images are written before its JSONL, so a JSONL never names a
    missing image; `meta.json` records the configuration and the kind counts.
    """
    config = SyntheticConfig(
        noise_share=noise_share,
        kind_weights=kind_weights,
        generic_share=generic_share,
        image_size=(image_size[0], image_size[1]),
    )
    sizes = {"train": n_train, "dev": n_dev, "test": n_test}
    for split, n in sizes.items():
        if n < 0:
            raise ValueError(f"n_{split} must be >= 0, got {n}")
    out = Path(out_dir)
    counts: dict[str, dict[str, int]] = {}
    train_texts: frozenset[str] = frozenset()  # train comes first: dev and test avoid its texts
    for split, n in sizes.items():
        posts = generate_split(out, split, n, seed=seed, config=config, taken=train_texts)
        if split == "train":
            train_texts = frozenset(text_key(post.text) for post in posts)
        write_posts(out / f"{split}.jsonl", posts)
        counts[split] = kind_counts(n, config)
        log.debug("wrote %d %s posts to %s", n, split, out / f"{split}.jsonl")
    if n_itm:
        itm = generate_itm(out, n_itm, seed=seed, config=config)
        write_posts(out / f"{ITM}.jsonl", itm)
        counts[ITM] = {"relevant": sum(p.extra["match_label"] for p in itm), "total": n_itm}
    meta: dict[str, Any] = {"seed": seed, "config": asdict(config), "counts": counts}
    write_json_atomic(out / "meta.json", meta)
    return GeneratedData(
        out / "train.jsonl", out / "dev.jsonl", out / "test.jsonl", out / "images", counts
    )
