"""Paired bootstrap: identical systems, a clearly better one, the p-value definition, seeds."""

import pytest

from mmkp.data.record import Post
from mmkp.evaluation.metrics import evaluate, post_scores
from mmkp.evaluation.significance import format_comparison, paired_bootstrap

POSTS = [Post(id=str(i), text="t", keyphrases=[f"gold{i}"]) for i in range(60)]


def system(correct: set[int]) -> list[list[str]]:
    """Ranked predictions that put the gold phrase first on the posts in `correct`."""
    return [[f"gold{i}", "x"] if i in correct else ["x", "y", f"gold{i}"] for i in range(60)]


def test_identical_systems_have_zero_delta_and_p_one() -> None:
    scores = post_scores(system(set(range(0, 60, 2))), POSTS)
    for result in paired_bootstrap(scores, scores, resamples=200):
        assert (result.delta, result.p_value) == (0.0, 1.0)
        assert (result.ci_low, result.ci_high) == (0.0, 0.0)


def test_clearly_better_system_has_small_p_and_scores_match_evaluate() -> None:
    better, worse = system(set(range(45))), system(set(range(15)))
    results = paired_bootstrap(post_scores(better, POSTS), post_scores(worse, POSTS))
    assert [r.metric for r in results] == ["F1@1", "F1@3", "MAP@5"]
    expected_a, expected_b = evaluate(better, POSTS).scores, evaluate(worse, POSTS).scores
    for r in results:
        assert r.score_a == pytest.approx(expected_a[r.metric])
        assert r.score_b == pytest.approx(expected_b[r.metric])
        assert r.delta == pytest.approx(expected_a[r.metric] - expected_b[r.metric])
        assert r.ci_low < r.delta < r.ci_high
    f1_at_1 = results[0]
    assert f1_at_1.delta == pytest.approx(50.0)
    assert f1_at_1.p_value == 1 / 1001


def test_p_value_is_the_share_of_centred_resampled_deltas_at_least_as_extreme() -> None:
    # Two posts: A hits both, B only the first, so delta = 0.5 and a resample's delta is the
    # share of post 1 in it (0, 0.5 or 1); |δ* − 0.5| ≥ 0.5 iff both draws are the same post,
    # which happens with probability 1/2.
    posts = [Post(id="0", text="t", keyphrases=["a"]), Post(id="1", text="t", keyphrases=["b"])]
    a = post_scores([["a"], ["b"]], posts)
    b = post_scores([["a"], ["x"]], posts)
    (result,) = paired_bootstrap(a, b, metrics=["MAP@5"], resamples=4000, seed=3)
    assert result.delta == 50.0
    assert 0.47 < result.p_value < 0.53


def test_same_seed_same_result_other_seed_other_result() -> None:
    a = post_scores(system(set(range(0, 60, 2))), POSTS)
    b = post_scores(system(set(range(0, 60, 3))), POSTS)
    first = paired_bootstrap(a, b, resamples=300, seed=7)
    assert paired_bootstrap(a, b, resamples=300, seed=7) == first
    assert paired_bootstrap(a, b, resamples=300, seed=8) != first


def test_errors_and_table() -> None:
    scores = post_scores(system(set()), POSTS)
    with pytest.raises(ValueError, match="different posts: 60 vs 1"):
        paired_bootstrap(scores, post_scores([["x"]], POSTS[:1]))
    with pytest.raises(ValueError, match="resamples must be at least 1, got 0"):
        paired_bootstrap(scores, scores, resamples=0)
    table = format_comparison(paired_bootstrap(scores, scores, resamples=10), resamples=10, seed=0)
    assert table.splitlines()[0].startswith("paired bootstrap, 10 resamples, seed 0")
    assert table.splitlines()[2].split() == [
        "F1@1",
        "0.000",
        "0.000",
        "+0.000",
        "[0.000,",
        "0.000]",
        "1.0000",
    ]
