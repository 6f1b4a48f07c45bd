"""`mmkp predict --input` reads the posts' images: a model that reads images is fed them as
`mmkp prepare` would have, never silently text alone."""

from __future__ import annotations

import json

import pytest

from mmkp.cli.main import main
from mmkp.data.jsonl import read_posts, write_posts
from mmkp.data.synthetic import generate
from mmkp.evaluation.prediction_files import read_predictions
from mmkp.features.prepare import PrepareConfig, prepare


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here runs on one torch thread (see tests/conftest.py)."""


@pytest.fixture(scope="module")
def posts_with_images(tmp_path_factory):
    """Generated posts with real image files (the keyphrase in the text, the image, or both)."""
    root = tmp_path_factory.mktemp("posts")
    data = generate(root, n_train=10, n_dev=0, n_test=0, seed=11)
    return data.train


def _predict(model, posts, out, *extra):
    args = ["predict", "--model", str(model), "--input", str(posts), "--out", str(out)]
    return main([*args, *extra])


def test_raw_posts_predict_as_the_prepared_path(checkpoint_dir, posts_with_images, tmp_path):
    prepared = tmp_path / "prepared"
    prepare(posts_with_images, prepared, config=PrepareConfig())
    raw_out, prepared_out = tmp_path / "raw.jsonl", tmp_path / "prepared.jsonl"
    assert _predict(checkpoint_dir, posts_with_images, raw_out) == 0
    features = ["--features", str(prepared / "features")]
    assert _predict(checkpoint_dir, prepared / "posts.jsonl", prepared_out, *features) == 0
    raw, via_prepare = read_predictions(raw_out), read_predictions(prepared_out)
    assert len(raw) == 10 and all(p.keyphrases for p in raw)
    assert [(p.id, p.keyphrases, p.scores) for p in raw] == [
        (p.id, p.keyphrases, p.scores) for p in via_prepare
    ]
    # Text alone is an explicit choice, and it is not what the model sees with its images.
    text_out = tmp_path / "text.jsonl"
    assert _predict(checkpoint_dir, posts_with_images, text_out, "--text-only") == 0
    assert [p.scores for p in read_predictions(text_out)] != [p.scores for p in raw]


def test_a_bad_image_is_reported_and_its_post_predicted_without_it(
    checkpoint_dir, posts_with_images, tmp_path, capsys
):
    posts = read_posts(posts_with_images)
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    posts[1].image = str(tmp_path / "broken.jpg")
    posts[2].image = str(tmp_path / "missing.jpg")
    for post in posts:  # absolute paths: the posts file moves to tmp_path
        if not post.image.startswith("/"):
            post.image = str(posts_with_images.parent / post.image)
    path = tmp_path / "posts.jsonl"
    write_posts(path, posts)
    out = tmp_path / "preds.jsonl"
    assert _predict(checkpoint_dir, path, out) == 0
    err = capsys.readouterr().err
    assert f"post {posts[1].id!r}: image:" in err and f"post {posts[2].id!r}: image:" in err
    assert "2 images not used" in err
    predicted = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert predicted == [post.id for post in posts]  # every post, the bad ones too


def test_image_options_need_input(checkpoint_dir, capsys):
    args = ["predict", "--model", str(checkpoint_dir), "--text", "hi", "--text-only"]
    assert main(args) == 2
    assert "go with --input" in capsys.readouterr().err
