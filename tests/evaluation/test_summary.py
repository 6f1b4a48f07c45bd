import pytest

from mmkp.evaluation.summary import mean_std


def test_mean_std_formats_runs_and_rejects_none():
    assert mean_std([27.17, 27.62, 26.92]) == "27.24 ± 0.35"
    assert mean_std([29.95]) == "29.95"
    with pytest.raises(ValueError, match="at least one value"):
        mean_std([])


def test_an_undefined_measure_is_a_dash():
    assert mean_std([0.5, float("nan")]) == "–"
