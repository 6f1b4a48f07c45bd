"""Prediction files (text and JSONL): round trips, parse errors, alignment with gold posts."""

import json
from pathlib import Path

import pytest

from mmkp.data.errors import RecordError
from mmkp.data.record import Post
from mmkp.evaluation.prediction_files import (
    Prediction,
    PredictionWriter,
    align,
    load_aligned,
    read_predictions,
    write_predictions,
)

POSTS = [Post(id=i, text="t", keyphrases=["k"]) for i in ("a", "b", "c")]


def test_text_round_trip_keeps_order_and_empty_lines(tmp_path: Path) -> None:
    preds = [Prediction("a", ["kca", "tv show"]), Prediction("b", []), Prediction("c", ["x"])]
    path = tmp_path / "pred.txt"
    assert write_predictions(path, preds) == 3
    assert path.read_text() == "kca;tv show\n\nx\n"
    assert read_predictions(path) == [
        Prediction(None, ["kca", "tv show"]),
        Prediction(None, []),
        Prediction(None, ["x"]),
    ]


def test_jsonl_round_trip_keeps_ids_and_scores(tmp_path: Path) -> None:
    preds = [Prediction("a", ["kca", "tv"], [-0.5, -1.25]), Prediction("b", ["x; y"])]
    path = tmp_path / "pred.jsonl"
    write_predictions(path, preds)
    assert read_predictions(path) == preds


def test_text_reader_strips_fields_and_accepts_crlf_without_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "pred.txt"
    path.write_bytes(b" kca ; tv show;;\r\nnext")
    assert read_predictions(path) == [
        Prediction(None, ["kca", "tv show"]),
        Prediction(None, ["next"]),
    ]


def test_text_writer_refuses_keyphrases_with_separator(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"keyphrase 'x; y' of prediction b contains ';'"):
        write_predictions(tmp_path / "pred.txt", [Prediction("b", ["x; y"])])
    assert not (tmp_path / "pred.txt").exists()


def test_bad_lines_raise_naming_file_and_line(tmp_path: Path) -> None:
    text = tmp_path / "pred.txt"
    text.write_bytes(b"ok\nbad \xff byte\n")
    with pytest.raises(RecordError, match=r"pred.txt:2: not valid UTF-8"):
        read_predictions(text)
    jsonl = tmp_path / "pred.jsonl"
    jsonl.write_text('{"id": "a", "keyphrases": ["x"]}\n\n{"id": "b", "keyphrases": "x"}\n')
    with pytest.raises(RecordError, match=r"pred.jsonl:3: field 'keyphrases' must be a list"):
        read_predictions(jsonl)
    jsonl.write_text('{"id": "a", "keyphrases": ["x"], "scores": [1, 2]}\n')
    with pytest.raises(RecordError, match=r"pred.jsonl:1: prediction a: 2 scores for 1 keyphrases"):
        read_predictions(jsonl)
    jsonl.write_text("{not json\n")
    with pytest.raises(RecordError, match=r"pred.jsonl:1: Expecting property name"):
        read_predictions(jsonl)
    with pytest.raises(FileNotFoundError, match=r"missing\.txt: no such prediction file"):
        read_predictions(tmp_path / "missing.txt")


def test_align_by_id_reorders_to_gold_order() -> None:
    preds = [Prediction("c", ["3"]), Prediction("a", ["1"]), Prediction("b", ["2"])]
    assert align(preds, POSTS) == [["1"], ["2"], ["3"]]


def test_align_by_id_lists_missing_unknown_and_duplicate_ids() -> None:
    preds = [Prediction("a", []), Prediction("a", []), Prediction("z", [])]
    with pytest.raises(ValueError) as info:
        align(preds, POSTS, pred_source="p.jsonl", gold_source="g.jsonl")
    assert str(info.value) == (
        "p.jsonl does not match g.jsonl: ids predicted more than once: 'a'; "
        "2 gold posts without a prediction: 'b', 'c'; 1 predicted ids not in g.jsonl: 'z'"
    )


def test_align_refuses_partial_ids() -> None:
    with pytest.raises(ValueError, match=r"p\.jsonl: 1 of 3 predictions have an id"):
        align(
            [Prediction("a", []), Prediction(None, []), Prediction(None, [])],
            POSTS,
            pred_source="p.jsonl",
        )


def test_align_without_ids_uses_line_order_and_checks_counts() -> None:
    preds = [Prediction(None, ["1"]), Prediction(None, ["2"]), Prediction(None, [])]
    assert align(preds, POSTS) == [["1"], ["2"], []]
    with pytest.raises(ValueError) as info:
        align(preds[:2], POSTS, pred_source="p.txt", gold_source="g.txt")
    assert str(info.value) == (
        "p.txt has 2 prediction lines but g.txt has 3 posts; "
        "text predictions are matched to posts by line order"
    )


def test_a_bom_does_not_stick_to_the_first_keyphrase(tmp_path: Path) -> None:
    text = tmp_path / "pred.txt"
    text.write_bytes(b"\xef\xbb\xbfkca;tv show\r\nx\r\n")
    assert read_predictions(text) == [Prediction(None, ["kca", "tv show"]), Prediction(None, ["x"])]
    jsonl = tmp_path / "pred.jsonl"
    jsonl.write_bytes(b'\xef\xbb\xbf{"id": "a", "keyphrases": ["kca"]}\n')
    assert read_predictions(jsonl) == [Prediction("a", ["kca"])]


def test_gold_posts_with_a_repeated_id_keep_the_first_as_predict_does(tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    rows = [{"id": "a", "text": "t", "keyphrases": ["k"]}, {"id": "b", "text": "t"}]
    rows.append({"id": "a", "text": "again", "keyphrases": ["other"]})
    gold.write_text("".join(json.dumps(row) + "\n" for row in rows))
    pred = tmp_path / "pred.txt"
    pred.write_text("k\nx\n")  # one line per distinct post, as `mmkp predict` writes
    files = load_aligned(pred, gold)
    assert [post.id for post in files.posts] == ["a", "b"] and files.predictions == [["k"], ["x"]]


@pytest.mark.parametrize("suffix", [".jsonl", ".txt"])
def test_a_writer_interrupted_mid_line_resumes_without_losing_or_repeating(
    tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"pred{suffix}"
    preds = [Prediction(i, [f"kp {i}"], [0.5] if suffix == ".jsonl" else None) for i in "abcd"]
    with pytest.raises(KeyboardInterrupt), PredictionWriter(path, sync_every=1) as writer:
        for pred in preds[:2]:
            writer.write(pred)
        raise KeyboardInterrupt
    assert not path.exists() and writer.partial.is_file()
    with open(writer.partial, "ab") as handle:
        handle.write(b'{"id": "c", "keyph')  # the crash tore the line being written
    with PredictionWriter(path, resume=True) as resumed:
        assert resumed.done == 2
        assert resumed.done_ids == ({"a", "b"} if suffix == ".jsonl" else set())
        for pred in preds[2:]:
            resumed.write(pred)
    expected = preds if suffix == ".jsonl" else [Prediction(None, p.keyphrases) for p in preds]
    assert read_predictions(path) == expected
    assert not resumed.partial.exists()
    with PredictionWriter(path, resume=True) as again:  # a finished file, resumed: kept
        assert again.done == 4
    assert read_predictions(path) == expected
    with PredictionWriter(path) as fresh:  # without resume: a new file
        fresh.write(preds[0])
    assert len(read_predictions(path)) == 1
