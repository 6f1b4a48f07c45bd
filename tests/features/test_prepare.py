"""`mmkp prepare` end to end on real sample photos, broken files, and an interrupted run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from mmkp.cli.main import main
from mmkp.data.jsonl import read_posts
from mmkp.features import prepare as prepare_module
from mmkp.features.featurizer import ImageFeaturizer
from mmkp.features.journal import Journal
from mmkp.features.prepare import PrepareConfig, prepare
from mmkp.features.store import FeatureStore
from mmkp.features.vgg import VGGTrunk

from .conftest import LoopbackServer, Reply, photo, text_image

WORDS = ["APPLE", "BREAD", "CHAIR", "DANCE", "EAGLE", "FLOWER", "GARDEN", "HOUSE", "ISLAND"]
WORDS += ["JUNGLE", "KITCHEN", "LEMON", "MOUNTAIN", "NORTH"]


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_prepare_end_to_end(
    tmp_path: Path, bad_corpus: tuple[Path, dict[str, str]], server: LoopbackServer
) -> None:
    bad_dir, reasons = bad_corpus
    (tmp_path / "pics").mkdir()
    photo("chelsea").save(tmp_path / "pics/chelsea.jpg")
    photo("coffee").save(tmp_path / "coffee.png")
    text_image(["GAME DAY"]).save(tmp_path / "pics/text.png")
    png = (tmp_path / "pics/text.png").read_bytes()
    server.routes["/text.png"] = lambda q, b: Reply(body=png)
    rows: list[object] = [
        {"id": "cat", "text": "look at him", "image": "pics/chelsea.jpg", "keyphrases": ["cat"]},
        {"id": "coffee", "text": "morning", "image": str(tmp_path / "coffee.png")},
        {"id": "text", "text": "ready", "image": "pics/text.png", "ocr": "stale"},
        {"id": "url", "text": "from the web", "image": f"{server.url}/text.png"},
        {"id": "none", "text": "no picture here", "entities": ["old entity"]},
        "{not json\n",
        {"id": "cat", "text": "a repeated id"},
    ]
    rows += [{"id": f"bad-{name}", "text": "x", "image": str(bad_dir / name)} for name in reasons]
    (tmp_path / "posts.jsonl").write_text(
        "".join(r if isinstance(r, str) else json.dumps(r) + "\n" for r in rows)
    )
    out = tmp_path / "out"
    config = PrepareConfig(batch_size=3)
    summary = prepare(tmp_path / "posts.jsonl", out, config=config)

    assert (summary.posts, summary.bad_lines, summary.skipped, summary.processed) == (10, 2, 0, 10)
    assert (summary.with_image, summary.without_image, summary.image_failures) == (4, 1, 5)
    posts = {post.id: post for post in read_posts(out / "posts.jsonl")}
    assert list(posts) == ["cat", "coffee", "text", "url", "none"] + [
        f"bad-{name}" for name in reasons
    ]
    cat = posts["cat"]
    assert cat.entity_names[0] == "egyptian cat" and cat.ocr == ""
    assert cat.extra["has_image"] is True and cat.keyphrases == ["cat"]
    assert posts["coffee"].entity_names[0] == "espresso"
    assert posts["text"].ocr == "game day" and posts["url"].ocr == "game day"
    assert posts["text"].extra["ocr_lines"][0]["text"] == "GAME DAY"
    none = posts["none"]
    assert (none.ocr, none.entities, none.extra["has_image"]) == ("", [], False)
    assert posts["bad-empty.jpg"].extra["has_image"] is False

    errors = _lines(out / "errors.jsonl")
    assert [e["stage"] for e in errors[:2]] == ["input", "input"]
    assert "repeated" in errors[1]["reason"]
    by_id = {e["id"]: e for e in errors[2:]}
    for name, reason in reasons.items():
        assert by_id[f"bad-{name}"]["stage"] == "image"
        assert by_id[f"bad-{name}"]["reason"].startswith(reason)

    store = FeatureStore.open(out / "features")
    assert sorted(store.ids) == ["cat", "coffee", "text", "url"]
    assert (store.backbone, store.dim) == ("efficientnet-lite0", 1280)
    grid = store.get("cat")
    assert grid is not None and grid.shape == (49, 1280) and grid.dtype == np.float16
    assert store.get("none") is None

    again = prepare(tmp_path / "posts.jsonl", out, config=config)  # failures are journalled
    assert (again.skipped, again.skipped_failures, again.processed) == (10, 5, 0)
    retried = prepare(tmp_path / "posts.jsonl", out, config=replace(config, retry_failed=True))
    assert (retried.skipped, retried.processed, retried.image_failures) == (5, 5, 5)
    assert FeatureStore.open(out / "features").ids == store.ids
    assert [p.to_dict() for p in read_posts(out / "posts.jsonl")] == [
        p.to_dict() for p in posts.values()
    ]


def test_cli_vgg_with_precomputed_entities(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    torch.save(VGGTrunk("vgg16").state_dict(), tmp_path / "vgg16.pth")
    photo("coffee").save(tmp_path / "coffee.jpg")
    row = {"id": "1", "text": "t", "image": "coffee.jpg", "entities": ["cup"], "ocr": "kept"}
    (tmp_path / "in.jsonl").write_text(json.dumps(row) + "\n")
    args = ["prepare", "--input", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "out")]
    extra = ["--backbone", "vgg16", "--entities", "precomputed", "--no-ocr", "--no-progress"]
    assert main([*args, *extra, "--weights", str(tmp_path / "vgg16.pth")]) == 0
    assert "1 posts: 0 already done, 1 processed (1 with image" in capsys.readouterr().out
    (post,) = read_posts(tmp_path / "out/posts.jsonl")
    assert (post.ocr, post.entity_names, post.extra["has_image"]) == ("kept", ["cup"], True)
    assert FeatureStore.open(tmp_path / "out/features").get("1").shape == (49, 512)

    assert main([*args, *extra, "--weights", str(tmp_path / "missing.pth")]) == 2
    assert f"weights file {tmp_path / 'missing.pth'} does not exist" in capsys.readouterr().err
    assert main([*args, "--no-progress"]) == 2  # same --out, other backbone
    assert "holds vgg16 grids of dim 512, not efficientnet-lite0" in capsys.readouterr().err


def test_killed_run_resumes_losing_at_most_one_batch(tmp_path: Path) -> None:
    images = tmp_path / "img"
    images.mkdir()
    rows = []
    for i, word in enumerate(WORDS):
        text_image([word]).save(images / f"{i}.png")
        rows.append(json.dumps({"id": f"p{i}", "text": "t", "image": f"{i}.png"}) + "\n")
    (tmp_path / "in.jsonl").write_text("".join(rows))
    out = tmp_path / "out"
    command = (
        "from mmkp.cli.main import main; raise SystemExit(main(['prepare', '--input', "
        f"{str(tmp_path / 'in.jsonl')!r}, '--images', {str(images)!r}, '--out', {str(out)!r}, "
        "'--batch-size', '2', '--no-progress']))"
    )
    child = subprocess.Popen([sys.executable, "-c", command], stderr=subprocess.DEVNULL)
    journal = out / "journal.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        if journal.is_file() and journal.read_bytes().count(b"\n") >= 4:
            break
        time.sleep(0.02)
    child.kill()
    child.wait()
    assert not (out / "posts.jsonl").exists(), "the run finished before it could be killed"
    finished = set(Journal(journal).finished)
    assert len(finished) >= 4
    stored = FeatureStore.open(out / "features").ids
    # Grids are written before their journal lines: at most one batch ahead.
    assert finished <= set(stored) and len(stored) - len(finished) <= 2

    summary = prepare(tmp_path / "in.jsonl", out, images_dir=images)
    assert (summary.skipped, summary.processed) == (len(finished), 14 - len(finished))
    store = FeatureStore.open(out / "features")
    assert sorted(store.ids) == sorted(f"p{i}" for i in range(14))
    resumed = read_posts(out / "posts.jsonl")
    assert [post.ocr for post in resumed] == [word.lower() for word in WORDS]

    fresh_dir = tmp_path / "fresh"
    shutil.copytree(images, fresh_dir / "img")
    prepare(tmp_path / "in.jsonl", fresh_dir, images_dir=fresh_dir / "img")
    fresh = FeatureStore.open(fresh_dir / "features")
    for post in resumed:
        a, b = store.get(post.id), fresh.get(post.id)
        assert a is not None and b is not None
        assert np.allclose(a.astype(np.float32), b.astype(np.float32), atol=0.05)
    assert [p.entity_names for p in read_posts(fresh_dir / "posts.jsonl")] == [
        p.entity_names for p in resumed
    ]


def test_cli_baidu_without_credentials_is_a_clean_error(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BAIDU_API_KEY", raising=False)
    monkeypatch.delenv("BAIDU_SECRET_KEY", raising=False)
    (tmp_path / "in.jsonl").write_text('{"id": "1", "text": "t"}\n')
    args = ["prepare", "--input", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "out")]
    assert main([*args, "--entities", "baidu", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "environment variables BAIDU_API_KEY and BAIDU_SECRET_KEY" in err
    assert "rerun to resume" in err


def test_prepare_on_generated_posts(tmp_path: Path) -> None:
    from mmkp.data.synthetic import generate

    data = generate(tmp_path / "gen", n_train=12, n_dev=0, n_test=0, seed=3)
    summary = prepare(data.train, tmp_path / "out", config=PrepareConfig(batch_size=8))
    assert (summary.processed, summary.with_image, summary.image_failures) == (12, 12, 0)
    posts = read_posts(tmp_path / "out/posts.jsonl")
    rendered = [p for p in posts if p.extra["planted"]["image_kind"] == "ocr"]
    assert rendered, "seed 3 plants rendered text in some images"
    assert [p.ocr for p in rendered] == [p.extra["planted"]["image_keyphrase"] for p in rendered]
    assert len(FeatureStore.open(tmp_path / "out/features")) == 12


class FailsOnOneImage(ImageFeaturizer):
    """The real featurizer, but any batch holding a 13x7 image raises, the way an unforeseen
    bug in a model would: what prepare's per-record safety net is for."""

    def featurize(self, images, *, grid=True):
        if any(image.size == (13, 7) for image in images):
            raise RuntimeError("the CNN choked")
        return super().featurize(images, grid=grid)


def test_one_post_that_raises_fails_alone_and_never_blocks_resuming(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i, size in enumerate([(40, 30), (13, 7), (30, 40)]):
        text_image([WORDS[i]], size=size).save(tmp_path / f"{i}.png")
    rows = [{"id": f"p{i}", "text": "t", "image": f"{i}.png"} for i in range(3)]
    rows.append({"id": "empty", "text": "no image", "image": ""})  # "" means no image
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    out, config = tmp_path / "out", PrepareConfig(batch_size=4, ocr=False)
    monkeypatch.setattr(prepare_module, "ImageFeaturizer", FailsOnOneImage)
    summary = prepare(tmp_path / "in.jsonl", out, config=config)
    assert (summary.processed, summary.with_image, summary.without_image) == (4, 2, 1)
    assert summary.image_failures == 1
    assert _lines(out / "errors.jsonl") == [
        {"id": "p1", "stage": "features", "reason": "RuntimeError: the CNN choked"}
    ]
    assert sorted(FeatureStore.open(out / "features").ids) == ["p0", "p2"]
    again = prepare(tmp_path / "in.jsonl", out, config=config)
    assert (again.skipped, again.skipped_failures, again.processed) == (4, 1, 0)

    monkeypatch.undo()  # the bug fixed: --retry-failed gives the post its features
    retried = prepare(tmp_path / "in.jsonl", out, config=replace(config, retry_failed=True))
    assert (retried.skipped, retried.processed, retried.with_image) == (3, 1, 1)
    assert sorted(FeatureStore.open(out / "features").ids) == ["p0", "p1", "p2"]
    assert _lines(out / "errors.jsonl") == []
