"""Each rule of the standard evaluator, pinned on tiny hand-made posts."""

import pytest

from mmkp.data.record import Entity, Post
from mmkp.evaluation.metrics import evaluate
from mmkp.evaluation.phrase_match import clean_gold, clean_predictions, is_present, stem_phrase


def post(gold: list[str], text: str = "unrelated words", post_id: str = "p", **kw) -> Post:
    return Post(id=post_id, text=text, keyphrases=gold, **kw)


def scores(predictions: list[list[str]], posts: list[Post], **kw) -> dict[str, float]:
    return {k: round(v, 4) for k, v in evaluate(predictions, posts, **kw).scores.items()}


def test_tokens_are_lowercased_and_porter_stemmed() -> None:
    assert stem_phrase("Running  Shoes") == ("run", "shoe")
    s = scores([["Running Shoes"]], [post(["running shoe"])])
    assert (s["P@1"], s["R@1"]) == (100.0, 100.0)


def test_duplicate_predictions_after_stemming_are_dropped_first_kept() -> None:
    assert clean_predictions(["running shoes", "run shoe", "nike", "Nike"]) == [
        ("run", "shoe"),
        ("nike",),
    ]
    # Two predictions remain: P@3 = 1 / min(3, 2); the duplicate does not push "nike" to rank 3.
    s = scores([["running shoes", "run shoe", "nike"]], [post(["nike"])])
    assert (s["P@1"], s["P@3"], s["R@3"]) == (0.0, 50.0, 100.0)


def test_gold_is_deduplicated_after_stemming() -> None:
    assert clean_gold(["shoes", "shoe", " "]) == [("shoe",)]
    assert scores([["shoe"]], [post(["shoes", "shoe"])])["R@1"] == 100.0


def test_predictions_with_unk_comma_or_period_tokens_are_dropped() -> None:
    preds = ["<unk> day", "a , b", "end .", "", "good day"]
    assert clean_predictions(preds) == [("good", "day")]
    assert scores([preds], [post(["good day"])])["P@1"] == 100.0
    # Only whole tokens count: "u.s." is a word, not a "." token.
    assert clean_predictions(["u.s.", "<UNK>"]) == [("u.s.",)]


def test_precision_denominator_is_min_of_k_and_number_of_predictions() -> None:
    s = scores([["a", "b"]], [post(["a"])])
    assert (s["P@1"], s["P@3"], s["P@5"]) == (100.0, 50.0, 50.0)
    assert (s["R@1"], s["R@3"], s["R@5"]) == (100.0, 100.0, 100.0)


def test_fixed_precision_divides_by_k() -> None:
    result = evaluate([["a", "b"]], [post(["a"])], precision="fixed")
    s = {k: round(v, 4) for k, v in result.scores.items()}
    assert (s["P@1"], s["P@3"], s["P@5"]) == (100.0, 33.3333, 20.0)
    assert s["F1@5"] == round(100 * 2 * 0.2 / 1.2, 4)
    assert result.to_dict()["precision"] == "fixed"
    assert "P@K = hits / K" in result.format_table().splitlines()[0]


def test_zero_predictions_score_zero_and_still_count_in_the_mean() -> None:
    s = scores([[], ["a"]], [post(["a"], post_id="1"), post(["a"], post_id="2")])
    assert (s["P@1"], s["R@1"], s["F1@1"], s["MAP@5"]) == (50.0, 50.0, 50.0, 50.0)
    only_invalid = scores([["<unk>"]], [post(["a"])])
    assert (only_invalid["P@5"], only_invalid["F1@5"]) == (0.0, 0.0)


def test_macro_f1_is_computed_from_mean_precision_and_mean_recall() -> None:
    # Per post (P@1, R@1, F1@1): (1, 1, 1) and (1, 0.25, 0.4): mean F1 would be 70.
    posts = [post(["a"], post_id="1"), post(["c", "d", "e", "f"], post_id="2")]
    s = scores([["a"], ["c"]], posts)
    assert (s["P@1"], s["R@1"]) == (100.0, 62.5)
    assert s["F1@1"] == round(100 * 2 * 1.0 * 0.625 / 1.625, 4) == 76.9231


def test_average_precision_at_5_divides_by_number_of_gold() -> None:
    # Hits at ranks 1, 3, 5: (1/1 + 2/3 + 3/5) / 4 gold.
    s = scores([["a", "x", "b", "y", "c", "d"]], [post(["a", "b", "c", "d"])])
    assert s["MAP@5"] == round(100 * (1 + 2 / 3 + 3 / 5) / 4, 4) == 56.6667
    # A hit below rank 5 does not count.
    assert scores([["v", "w", "x", "y", "z", "a"]], [post(["a"])])["MAP@5"] == 0.0


def test_presence_means_contiguous_stems_in_post_ocr_or_entities() -> None:
    source = stem_phrase("new running shoes <seg> big sale <seg> sneaker ; red shoe")
    assert is_present(stem_phrase("run shoe"), source)
    assert is_present(stem_phrase("big sales"), source)
    assert is_present(stem_phrase("red shoes"), source)
    assert not is_present(stem_phrase("new shoes"), source)
    ocr_post = post(["big sale"], text="look", ocr="big sale", entities=[Entity("car")])
    result = evaluate([["big sale"]], [ocr_post])
    assert (result.num_present_posts, result.num_absent_posts) == (1, 0)


def test_present_and_absent_scores_use_only_posts_and_phrases_of_that_kind() -> None:
    mixed = post(["run shoe", "marathon"], text="new running shoes from nike", post_id="1")
    absent_only = post(["xyz"], text="hello world", post_id="2")
    predictions = [["marathon", "nike", "running shoes", "berlin"], ["hello", "xyz"]]
    result = evaluate(predictions, [mixed, absent_only])
    s = {k: round(v, 4) for k, v in result.scores.items()}
    assert (result.num_present_posts, result.num_absent_posts) == (1, 2)
    # Present, post 1 only: predictions [nike, running shoes] vs gold [run shoe].
    assert (s["present_P@1"], s["present_P@3"], s["present_R@3"]) == (0.0, 50.0, 100.0)
    assert s["present_F1@3"] == round(100 * 2 * 0.5 / 1.5, 4)
    # Absent: post 1 [marathon, berlin] vs [marathon]; post 2 [xyz] vs [xyz] ("hello" is present).
    assert (s["absent_P@1"], s["absent_R@1"], s["absent_P@3"]) == (100.0, 100.0, 75.0)


def test_sub_scores_are_zero_with_zero_count_when_no_post_has_that_kind() -> None:
    result = evaluate([["a"]], [post(["a"], text="no match here")])
    assert result.num_present_posts == 0
    assert result.scores["present_F1@1"] == 0.0
    assert "present @1 (0 posts)" in result.format_table()


def test_result_table_and_dict_hold_every_score() -> None:
    result = evaluate([["a", "b"]], [post(["a"])])
    table = result.format_table().splitlines()
    assert table[2] == f"{'@1':<22}{100:8.3f}{100:8.3f}{100:8.3f}"
    assert table[5] == f"{'MAP@5':<22}{100:8.3f}"
    as_dict = result.to_dict()
    assert as_dict["num_posts"] == 1
    assert set(as_dict["scores"]) == {
        *(f"{m}@{k}" for m in ("P", "R", "F1") for k in (1, 3, 5)),
        "MAP@5",
        *(
            f"{kind}_{m}@{k}"
            for kind in ("present", "absent")
            for m in ("P", "R", "F1")
            for k in (1, 3)
        ),
    }


def test_input_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="2 prediction lists for 1 posts"):
        evaluate([["a"], ["b"]], [post(["a"])])
    with pytest.raises(ValueError, match="post p has no gold keyphrases"):
        evaluate([["a"]], [post([])])
    with pytest.raises(ValueError, match="post p: predictions must be a list"):
        evaluate(["a;b"], [post(["a"])])
    with pytest.raises(ValueError, match="precision must be 'standard' or 'fixed', got 'loose'"):
        evaluate([["a"]], [post(["a"])], precision="loose")  # type: ignore[arg-type]
