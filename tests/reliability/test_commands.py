"""Every command against the generated corpus: bad records are reported and skipped while
every good record of the same input is processed; bad files, paths and options end the
command with exit code 2 and one line naming the input and the problem, never a traceback."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from mmkp.data.jsonl import read_posts, write_posts
from mmkp.data.record import Post
from mmkp.evaluation.prediction_files import read_predictions

from .conftest import Run, refused, tiny_checkpoint
from .corpus import (
    checkpoint_damage,
    cmkp_lines,
    jsonl_file,
    jsonl_lines,
    ocr_kw_lines,
    text_file,
    trc_lines,
    write_images,
)

GOOD_IDS = [line.post_id for line in jsonl_lines() if line.post_id]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return jsonl_file(tmp_path / "corpus.jsonl", jsonl_lines())


def _paths(tmp_path: Path) -> tuple[Path, Path]:
    """A folder, and a file with nothing to read (so writing under it must fail)."""
    (tmp_path / "a-folder").mkdir(exist_ok=True)
    (tmp_path / "a-file").write_text("x")
    return tmp_path / "a-folder", tmp_path / "a-file"


@pytest.mark.parametrize(
    ("name", "make"),
    [("jsonl", jsonl_lines), ("ocr_kw", ocr_kw_lines), ("cmkp", cmkp_lines), ("trc", trc_lines)],
)
def test_convert(run: Run, tmp_path: Path, name: str, make) -> None:
    lines = make()
    source = tmp_path / name / "posts.txt"  # the benchmark formats' ids: posts-<line>
    source.parent.mkdir()
    (jsonl_file if name == "jsonl" else text_file)(source, lines)
    done = run("convert", source, tmp_path / "out.jsonl")
    assert done.code == 0, done
    good = [line.post_id for line in lines if line.post_id]
    assert [post.id for post in read_posts(tmp_path / "out.jsonl")] == good
    bad = sum(1 for line in lines if line.problem)
    assert f"read {len(good)} posts from {source}; skipped {bad} bad lines" in done.out


def test_convert_paths_and_nothing_to_convert(run: Run, tmp_path: Path) -> None:
    folder, file = _paths(tmp_path)
    good = jsonl_file(tmp_path / "good.jsonl", jsonl_lines()[:1])
    refused(run("convert", folder, tmp_path / "o.jsonl"), "convert", "is a folder, not a file")
    refused(run("convert", good, folder), "convert", f"{folder}: is a folder")
    refused(run("convert", good, file / "o.jsonl"), "convert", f"{file}: is a file, not a folder")
    bad_lines = [line for line in jsonl_lines() if line.problem and "repeated" not in line.problem]
    only_bad = jsonl_file(tmp_path / "bad.jsonl", bad_lines)
    refused(run("convert", only_bad, tmp_path / "o.jsonl"), "convert", "no valid posts")
    assert not (tmp_path / "o.jsonl").exists()


def test_prepare(run: Run, tmp_path: Path) -> None:
    images = tmp_path / "images"
    expected = write_images(images)
    rows = [json.dumps({"id": f"img-{n}", "text": "a photo", "image": n}) for n in expected]
    corpus = jsonl_file(tmp_path / "corpus.jsonl", jsonl_lines())
    with open(corpus, "a") as handle:
        handle.write("".join(row + "\n" for row in rows))
    args = ["prepare", "--input", corpus, "--images", images, "--out", tmp_path / "out"]
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        done = run(*args, "--no-progress", "--no-ocr", "--batch-size", "4")
    assert done.code == 0, done
    assert not [w for w in seen if "PIL" in w.filename], [str(w.message) for w in seen]
    posts = read_posts(tmp_path / "out/posts.jsonl")
    assert [post.id for post in posts] == GOOD_IDS + [f"img-{name}" for name in expected]
    errors = [json.loads(line) for line in (tmp_path / "out/errors.jsonl").read_text().splitlines()]
    reasons = {error["id"]: error["reason"] for error in errors if error["id"]}
    for name, reason in expected.items():
        has_image = next(p for p in posts if p.id == f"img-{name}").extra["has_image"]
        assert has_image is not bool(reason), name
        if reason:
            assert reasons[f"img-{name}"].startswith(reason), (name, reasons[f"img-{name}"])
    assert "g4" in reasons and reasons["g4"] == "file not found"  # pics/none.jpg
    again = run(*args, "--no-progress", "--no-ocr")  # failed posts are journalled: skipped
    assert done.code == 0 and "0 processed" in again.out
    folder, file = _paths(tmp_path)
    out = tmp_path / "out2"
    refused(run("prepare", "--input", folder, "--out", out), "prepare", "is a folder, not a file")
    refused(run("prepare", "--input", corpus, "--out", file), "prepare", "is a file, not a folder")
    no_folder = run("prepare", "--input", corpus, "--out", out, "--images", file)
    refused(no_folder, "prepare", f"{file}: is a file, not the image folder")


def test_predict(run: Run, corpus: Path, checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "preds.jsonl"
    done = run("predict", "--model", checkpoint, "--input", corpus, "--out", out)
    assert done.code == 0, done
    assert [prediction.id for prediction in read_predictions(out)] == GOOD_IDS
    gold = tmp_path / "gold.jsonl"  # the good posts, one of them twice: evaluate agrees
    write_posts(gold, [Post(i, "a post", keyphrases=["kca"]) for i in [*GOOD_IDS, "g1"]])
    assert run("evaluate", "--pred", out, "--gold", gold).code == 0
    text = tmp_path / "preds.txt"
    assert run("predict", "--model", checkpoint, "--input", corpus, "--out", text).code == 0
    assert run("evaluate", "--pred", text, "--gold", gold).code == 0


def test_predict_refusals(run: Run, corpus: Path, checkpoint: Path, tmp_path: Path) -> None:
    folder, file = _paths(tmp_path)
    model = ["predict", "--model", checkpoint]
    refused(run(*model, "--text", "!!! ???"), "predict", "has no words")
    refused(run(*model, "--text", "hi", "--threads", "0"), "predict", "--threads must be at")
    refused(run(*model, "--input", corpus, "--out", folder), "predict", "is a folder")
    refused(run(*model, "--input", corpus, "--out", file / "p.txt"), "predict", "is a file")
    refused(run(*model, "--input", folder, "--out", tmp_path / "p.txt"), "predict", "is a folder")
    refused(run(*model, "--input", corpus, "--out", "p.txt", "--batch-size", "0"), "predict")
    refused(
        run("predict", "--model", file, "--text", "hi"), "predict", "not a checkpoint directory"
    )


def test_predict_image(run: Run, checkpoint: Path, tmp_path: Path) -> None:
    for name, reason in write_images(tmp_path).items():
        done = run(
            "predict", "--model", checkpoint, "--text", "a photo", "--image", tmp_path / name
        )
        if reason:
            refused(done, "predict", f"{tmp_path / name}: {reason}")
        else:
            assert done.code == 0, (name, done)


@pytest.mark.parametrize("damage", sorted(checkpoint_damage()))
def test_predict_with_a_damaged_checkpoint(run: Run, tmp_path: Path, damage: str) -> None:
    model = tiny_checkpoint(tmp_path / "model")
    spoil, message = checkpoint_damage()[damage]
    spoil(model)
    refused(run("predict", "--model", model, "--text", "kca awards tonight"), "predict", message)


def test_evaluate_and_compare(run: Run, tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    write_posts(gold, [Post(i, "running shoes", keyphrases=["shoes"]) for i in ("1", "2")])
    plain, bom = tmp_path / "plain.txt", tmp_path / "bom.txt"
    plain.write_text("shoes;nike\nx\n")
    bom.write_bytes(b"\xef\xbb\xbfshoes;nike\r\nx\r\n")
    tables = [run("evaluate", "--pred", path, "--gold", gold).out for path in (plain, bom)]
    assert tables[0] == tables[1] and tables[0].splitlines()[2].split()[1] == "50.000"
    assert run("compare", plain, bom, "--gold", gold, "--resamples", "10").code == 0
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "keyphrases": ["x"]}\n{"id": "2", "keyphrases": 3}\n')
    twice = tmp_path / "twice.jsonl"
    twice.write_text('{"id": "1", "keyphrases": []}\n' * 2 + '{"id": "2", "keyphrases": []}\n')
    folder, _ = _paths(tmp_path)
    refused(run("evaluate", "--pred", bad, "--gold", gold), "evaluate", f"{bad}:2: field")
    refused(run("evaluate", "--pred", twice, "--gold", gold), "evaluate", "more than once: '1'")
    refused(run("evaluate", "--pred", folder, "--gold", gold), "evaluate", str(folder))
    refused(run("evaluate", "--pred", plain, "--gold", folder), "evaluate", "is a folder")
    refused(run("evaluate", "--pred", plain, "--gold", gold, "--json", folder), "evaluate")
    refused(run("compare", plain, bad, "--gold", gold), "compare", f"{bad}:2: field")
    refused(run("compare", plain, bom, "--gold", gold, "--resamples", "0"), "compare")


def test_baseline(run: Run, corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "pred.jsonl"
    done = run("baseline", "frequency", "--train", corpus, "--test", corpus, "--out", out)
    assert done.code == 0, done
    assert [prediction.id for prediction in read_predictions(out)] == GOOD_IDS
    folder, _ = _paths(tmp_path)
    args = ["baseline", "knn", "--train", corpus, "--test", corpus]
    refused(run(*args, "--out", folder), "baseline", "is a folder")
    refused(run(*args, "--out", out, "--top-k", "0"), "baseline", "--top-k")


def test_train(run: Run, tmp_path: Path) -> None:
    config = Path(__file__).parents[2] / "configs" / "tiny.yaml"
    train = jsonl_file(tmp_path / "train.jsonl", jsonl_lines())
    short = ["--set", "train.stage1.epochs=1", "--set", "train.stage2.epochs=1"]
    paths = ["--set", f"data.train={train}"]
    done = run("train", "--config", config, *paths, *short, "--out", tmp_path / "run")
    assert done.code == 0, done
    folder, file = _paths(tmp_path)
    (tmp_path / "broken.yaml").write_text("data: [unclosed\n")
    (tmp_path / "unknown.yaml").write_text("dta: {}\n")
    broken = run("train", "--config", tmp_path / "broken.yaml")
    refused(broken, "train", f"{tmp_path / 'broken.yaml'}: not valid YAML", "line 2")
    refused(run("train", "--config", tmp_path / "unknown.yaml"), "train", "unknown key 'dta'")
    refused(run("train", "--config", folder), "train")
    refused(run("train", "--config", config, "--out", file), "train", "is a file, not a folder")
    refused(run("train", "--config", config, "--set", "train.seed=x"), "train", "train.seed")


def test_generate_data(run: Run, tmp_path: Path) -> None:
    _, file = _paths(tmp_path)
    refused(run("generate-data", "--out", file), "generate-data", "is a file, not a folder")
    refused(run("generate-data", "--out", tmp_path / "g", "--train", "-1"), "generate-data")
    refused(run("generate-data", "--out", tmp_path / "g", "--noise-share", "2"), "generate-data")
