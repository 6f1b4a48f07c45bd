"""The table's layout and numbers on hand-built runs: group order, mean ± sample std, the
best baseline, the paired bootstrap p-values, the CSV's unrounded values."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from mmkp.data.record import Post
from mmkp.evaluation.metrics import post_scores
from mmkp.evaluation.significance import paired_bootstrap
from mmkp.experiments.benchmark.scoring import RunScores, seed_average
from mmkp.experiments.benchmark.suite import Group, Suite, System
from mmkp.experiments.benchmark.table import (
    PAPER_NOTE,
    SystemResult,
    build_table,
    to_csv,
    to_markdown,
)

POSTS = [Post(str(i), f"post {i}", keyphrases=[f"k{i}"]) for i in range(4)]
IDS = tuple(post.id for post in POSTS)
ALL_RIGHT = [[f"k{i}"] for i in range(4)]
HALF_RIGHT = [["k0"], ["k1"], ["x"], ["x"]]
ALL_WRONG = [["x"]] * 4

SUITE = Suite(
    title="T",
    reference="ref",
    groups=(Group("g-a", "Group A"), Group("g-b", "Group B"), Group("ours", "Ours", False)),
    systems=(
        System("b1", "B1", "g-b"),
        System("a2", "A2", "g-a"),
        System("ref", "Ref", "ours", paper=(1.0, 2.0, 3.0)),
        System("x", "X", "g-a"),
    ),
)


def run(seed: int, predictions: list[list[str]], f1_1: float, f1_3: float) -> RunScores:
    scores = {"F1@1": f1_1, "F1@3": f1_3, "MAP@5": 50.0}
    return RunScores(seed, scores, post_scores(predictions, POSTS), IDS)


RESULTS = [
    SystemResult(SUITE.systems[0], (run(1, ALL_WRONG, 5.0, 6.0),)),
    SystemResult(
        SUITE.systems[1],
        tuple(run(s, HALF_RIGHT, f1, f3) for s, f1, f3 in ((1, 25, 10), (2, 27, 10), (3, 29, 13))),
    ),
    SystemResult(SUITE.systems[2], (run(1, ALL_RIGHT, 90.0, 80.0), run(2, ALL_RIGHT, 92.0, 80.0))),
    SystemResult(SUITE.systems[3], note="not run: no config for real"),
]


@pytest.fixture(scope="module")
def table():
    return build_table(SUITE, RESULTS, "real data, scored on the dev split (4 posts)")


def test_rows_follow_the_group_order_then_the_suite_order(table):
    assert [row.system.key for row in table.rows] == ["a2", "x", "b1", "ref"]


def test_means_stds_and_best_baseline(table):
    a2 = table.rows[0]
    assert a2.means == {"F1@1": 27.0, "F1@3": 11.0, "MAP@5": 50.0}
    assert a2.stds["F1@1"] == 2.0
    assert a2.stds["F1@3"] == pytest.approx(3**0.5)
    assert table.rows[2].stds == {}  # one run: no std
    assert table.best_baseline == "a2"  # the reference is never a baseline


def test_p_values(table):
    a2, x, b1, ref = table.rows
    assert a2.p_best is None and x.p_best is None and x.p_reference is None
    assert ref.p_reference is None
    # Ref is right on every post, B1 on none: every resample has the observed difference,
    # so no resample is as far from it as 0 is: p = 1 / (R + 1).
    assert b1.p_reference == pytest.approx(1 / 1001)
    # The seeds of A2 agree post by post, so their average is one seed's per-post scores.
    (expected,) = paired_bootstrap(
        post_scores(ALL_RIGHT, POSTS), post_scores(HALF_RIGHT, POSTS), metrics=("F1@1",)
    )
    assert a2.p_reference == expected.p_value
    assert ref.p_best == expected.p_value  # Ref against the best baseline, A2


def test_markdown_layout(table):
    lines = to_markdown(table).splitlines()
    assert lines[0] == "# T"
    assert lines[2].startswith("real data, scored on the dev split (4 posts). Mean ± sample std")
    header = (
        "| system | seeds | F1@1 | F1@3 | MAP@5 | p vs best baseline (A2) | p Ref vs it "
        "| paper (F1@1 / F1@3 / MAP@5) | note |"
    )
    assert lines[4] == header
    assert lines[5] == "|---|---:|---:|---:|---:|---:|---:|---:|---|"
    assert lines[6] == "| **Group A** | | | | | | | | |"
    p = f"{table.rows[0].p_reference:.4f}"
    assert lines[7] == f"| A2 | 3 | 27.00 ± 2.00 | 11.00 ± 1.73 | 50.00 ± 0.00 | – | {p} | – |  |"
    assert lines[8] == "| X | 0 | – | – | – | – | – | – | not run: no config for real |"
    assert lines[9] == "| **Group B** | | | | | | | | |"
    assert lines[12].startswith("| Ref | 2 | 91.00 ± 1.41 | 80.00 ± 0.00 |")
    assert lines[12].endswith("| – | 1.00 / 2.00 / 3.00 |  |")


def test_paper_figures_are_explained_under_a_table_that_has_them(table):
    assert PAPER_NOTE in to_markdown(table).splitlines()
    assert "trained on ~43k posts with images" in PAPER_NOTE
    without = Suite("T", "b1", SUITE.groups, (System("b1", "B1", "g-b"),))
    plain = build_table(without, [SystemResult(without.systems[0], RESULTS[0].runs)], "c")
    assert PAPER_NOTE not in to_markdown(plain)


def test_csv_keeps_unrounded_numbers(table):
    rows = list(csv.DictReader(io.StringIO(to_csv(table))))
    assert [row["key"] for row in rows] == ["a2", "x", "b1", "ref"]
    a2 = rows[0]
    assert (a2["group"], a2["system"], a2["seeds"]) == ("g-a", "A2", "3")
    assert (a2["F1@1 mean"], a2["F1@1 std"]) == ("27.0", "2.0")
    assert float(a2["F1@3 std"]) == pytest.approx(3**0.5)
    assert a2["p vs best baseline"] == "" and a2["best baseline"] == "a2"
    assert rows[1]["F1@1 mean"] == "" and rows[1]["note"] == "not run: no config for real"
    assert (rows[3]["paper F1@1"], rows[3]["paper MAP@5"]) == ("1.0", "3.0")


def test_seed_average_is_the_per_post_mean():
    runs = [run(1, ALL_RIGHT, 0, 0), run(2, HALF_RIGHT, 0, 0)]
    average = seed_average(runs)
    np.testing.assert_allclose(average.precision[1], [1.0, 1.0, 0.5, 0.5])
    np.testing.assert_allclose(average.average_precision, [1.0, 1.0, 0.5, 0.5])
    # macro P and R are means over posts, so the average's equal the mean of the seeds'
    assert float(average.macro("P@1")) == pytest.approx(0.75)


def test_systems_scored_on_other_posts_get_no_p_value():
    other = RunScores(
        1, RESULTS[0].runs[0].scores, RESULTS[0].runs[0].per_post, ("a", "b", "c", "d")
    )
    results = [SystemResult(SUITE.systems[0], (other,)), *RESULTS[1:]]
    b1 = build_table(SUITE, results, "c").rows[2]
    assert b1.system.key == "b1" and b1.p_reference is None and b1.p_best is None


def test_a_suite_without_baselines_has_no_best_baseline_column():
    groups = (Group("full", "Full", False), Group("ablations", "Ablations", False))
    systems = (System("ref", "Ref", "full"), System("b1", "B1", "ablations"))
    suite = Suite("T2", "ref", groups, systems)
    results = [SystemResult(systems[0], RESULTS[2].runs), SystemResult(systems[1], RESULTS[0].runs)]
    table = build_table(suite, results, "c")
    assert table.best_baseline is None
    header = to_markdown(table).splitlines()[4]
    assert header == "| system | seeds | F1@1 | F1@3 | MAP@5 | p Ref vs it | note |"
    assert table.rows[1].p_reference == pytest.approx(1 / 1001)


def test_cost_columns_and_the_per_kind_section():
    """Minutes and posts/s averaged over a system's seeds; F1@1 per planted kind of post."""
    kinds = {"all": {"F1@1": 50.0}, "text": {"F1@1": 40.0}, "noise": {"F1@1": 60.0}}
    timed = [
        RunScores(
            s,
            {"F1@1": f1, "F1@3": 1.0, "MAP@5": 1.0},
            post_scores(HALF_RIGHT, POSTS),
            IDS,
            seconds=seconds,
            predict_seconds=predict,
            by_kind=kinds | {"text": {"F1@1": f1}},
        )
        for s, f1, seconds, predict in ((1, 30.0, 60.0, 2.0), (2, 34.0, 180.0, 1.0))
    ]
    results = [SystemResult(SUITE.systems[1], tuple(timed)), RESULTS[3]]
    table = build_table(SUITE, results, "generated data")
    a2 = table.rows[0]
    assert a2.minutes == 2.0  # (1 + 3) / 2
    assert a2.posts_per_second == 3.0  # (4 / 2 + 4 / 1) / 2
    lines = to_markdown(table).splitlines()
    assert lines[4].endswith("| minutes | posts/s | note |")
    assert lines[7].endswith("| 2.0 | 3 |  |")
    assert lines[8].endswith("| – | – | not run: no config for real |")
    section = lines[lines.index("## F1@1 by kind of post") :]
    assert section[2] == "| system | seeds | all | text | noise |"
    assert section[4] == "| A2 | 2 | 50.00 ± 0.00 | 32.00 ± 2.83 | 60.00 ± 0.00 |"
    assert len(section) == 5  # the system that did not run has no row
    row = next(csv.DictReader(io.StringIO(to_csv(table))))
    assert (row["minutes"], row["posts/s"]) == ("2.0", "3.0")
    assert (row["F1@1 text mean"], row["F1@1 noise mean"]) == ("32.0", "60.0")
