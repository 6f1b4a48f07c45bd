"""The generator: same seed same bytes, exact kind counts, planted truth consistent with posts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image

from mmkp.data.jsonl import read_posts
from mmkp.data.synthetic import SyntheticConfig, generate, kind_counts
from mmkp.data.synthetic_topics import DOMAINS, GENERIC_SENTENCES

ALL_KEYPHRASES = {kp for d in DOMAINS for kp in d.text_keyphrases + d.image_keyphrases}


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _contains(text: str, phrase: str) -> bool:
    tokens, words = text.split(), phrase.split()
    return any(tokens[i : i + len(words)] == words for i in range(len(tokens)))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    generate(out, n_train=60, n_dev=10, n_test=30, seed=3, noise_share=0.2)
    return out


def test_same_seed_gives_identical_bytes_and_other_seed_differs(generated: Path, tmp_path: Path):
    generate(tmp_path / "again", n_train=60, n_dev=10, n_test=30, seed=3, noise_share=0.2)
    generate(tmp_path / "other", n_train=60, n_dev=10, n_test=30, seed=4, noise_share=0.2)
    first, again, other = _files(generated), _files(tmp_path / "again"), _files(tmp_path / "other")
    assert first == again
    assert len(first) == 3 + 1 + 100  # three splits, meta.json, one image per post
    assert first["train.jsonl"] != other["train.jsonl"]
    assert sum(first[name] != other.get(name) for name in first if name.startswith("images/")) > 90


def test_kind_counts_are_exact_and_noise_share_respected(generated: Path):
    meta = json.loads((generated / "meta.json").read_text())
    assert meta["counts"]["train"] == {"text": 16, "ocr": 16, "visual": 16, "noise": 12}
    assert meta["counts"]["test"] == {"text": 8, "ocr": 8, "visual": 8, "noise": 6}
    posts = read_posts(generated / "train.jsonl")
    kinds = [p.extra["planted"]["kind"] for p in posts]
    assert {k: kinds.count(k) for k in set(kinds)} == meta["counts"]["train"]
    assert [p.extra["match_label"] for p in posts] == [0 if k == "noise" else 1 for k in kinds]
    assert {p.extra["planted"]["domain"] for p in posts} == {d.name for d in DOMAINS}
    assert [p.id for p in posts[:2]] == ["train-00000", "train-00001"]


def test_kind_counts_rounding():
    config = SyntheticConfig(noise_share=0.25, kind_weights=(2.0, 1.0, 1.0))
    assert kind_counts(10, config) == {"text": 3, "ocr": 2, "visual": 2, "noise": 3}
    assert kind_counts(12, config) == {"text": 5, "ocr": 2, "visual": 2, "noise": 3}
    assert kind_counts(0, config) == {"text": 0, "ocr": 0, "visual": 0, "noise": 0}
    assert kind_counts(7, SyntheticConfig(noise_share=1.0))["noise"] == 7


def test_planted_truth_matches_text_gold_and_image(generated: Path):
    for split in ("train", "dev", "test"):
        for post in read_posts(generated / f"{split}.jsonl"):
            planted = post.extra["planted"]
            kind, text_kp, image_kp = (
                planted["kind"],
                planted["text_keyphrase"],
                planted["image_keyphrase"],
            )
            expected = {"text": [text_kp, image_kp], "noise": [text_kp]}.get(kind, [image_kp])
            assert post.keyphrases == expected
            assert (planted["image_domain"] != planted["domain"]) == (kind == "noise")
            if kind in ("ocr", "visual"):
                assert planted["image_kind"] == kind
            # the only keyphrase the text contains is its own text keyphrase
            assert [kp for kp in ALL_KEYPHRASES if _contains(post.text, kp)] == [text_kp] * bool(
                text_kp
            )
            assert post.ocr == "" and post.entities == [] and post.match is None
            image = generated / post.image
            with Image.open(image) as img:
                assert img.size == (320, 240) and img.mode == "RGB"
                assert img.format == (
                    "JPEG" if str(planted["object"]).startswith("photo:") else "PNG"
                )
            if planted["image_kind"] == "ocr":
                assert planted["rendered_text"].lower() == image_kp and planted["object"] is None
            else:
                assert planted["rendered_text"] is None and planted["object"]


def test_generic_text_names_no_domain(generated: Path):
    posts = read_posts(generated / "train.jsonl")
    generic = [p for p in posts if p.extra["planted"]["generic_text"]]
    assert generic and all(p.extra["planted"]["kind"] in ("ocr", "visual") for p in generic)
    for post in generic:
        assert any(sentence in post.text for sentence in GENERIC_SENTENCES)
        assert not any(c in post.text for d in DOMAINS for c in d.context)


def test_no_temporary_files_left(generated: Path):
    assert not [p for p in generated.rglob("*") if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"noise_share": 1.5}, "noise_share must be in [0, 1], got 1.5"),
        ({"generic_share": -0.1}, "generic_share must be in [0, 1], got -0.1"),
        ({"kind_weights": (0.0, 0.0, 0.0)}, "kind_weights must be 3 non-negative numbers"),
        ({"image_size": (32, 240)}, "image_size must be at least 64x64, got (32, 240)"),
        ({"n_dev": -1}, "n_dev must be >= 0, got -1"),
    ],
)
def test_bad_arguments_are_named(tmp_path: Path, kwargs: dict, message: str):
    args = {"n_train": 2, "n_dev": 2, "n_test": 2} | kwargs
    with pytest.raises(ValueError, match=re.escape(message)):
        generate(tmp_path, **args)
