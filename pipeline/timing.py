"""The best of N timed runs, the speed figure every benchmark in the reports quotes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def best_time(run: Callable[[], T], repeats: int) -> tuple[float, T]:
    """Seconds of the fastest of ``repeats`` runs, the one least disturbed by other work
    (timeit's rule), and the last run's result."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result
