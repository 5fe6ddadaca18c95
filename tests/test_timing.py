"""The best of N timed runs."""

import pytest

from pipeline.timing import best_time


def test_best_time_runs_n_times_and_keeps_the_last_result():
    calls = []
    seconds, result = best_time(lambda: calls.append(len(calls)) or len(calls), repeats=3)
    assert calls == [0, 1, 2] and result == 3 and 0 <= seconds < float("inf")


def test_best_time_needs_a_run():
    with pytest.raises(ValueError, match="repeats must be >= 1, got 0"):
        best_time(lambda: None, repeats=0)
