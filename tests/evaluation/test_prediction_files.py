"""Prediction files (text and JSONL): round trips, parse errors, alignment with gold posts."""

from pathlib import Path

import pytest

from mmkp.data.errors import RecordError
from mmkp.data.record import Post
from mmkp.evaluation.prediction_files import Prediction, align, read_predictions, write_predictions

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
