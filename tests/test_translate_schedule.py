"""The translator's dev-loss schedule on hand-written dev-loss sequences."""

from __future__ import annotations

import math

from pipeline.translate.schedule import Schedule, after_epoch


def _run(dev_losses: list[float], patience: int) -> list[tuple[Schedule, bool]]:
    state, steps = Schedule(math.inf, 0, 1.0), []
    for dev_loss in dev_losses:
        state, stop = after_epoch(state, dev_loss, patience)
        steps.append((state, stop))
        if stop:
            break
    return steps


def test_each_epoch_without_a_new_best_halves_the_rate_and_patience_of_them_stops() -> None:
    steps = _run([5.0, 4.0, 4.5, 3.0, 3.0, 3.2, 3.1, 2.0], patience=3)
    assert steps == [
        (Schedule(5.0, 0, 1.0), False),
        (Schedule(4.0, 0, 1.0), False),
        (Schedule(4.0, 1, 0.5), False),  # worse: halved
        (Schedule(3.0, 0, 0.5), False),  # a new best resets the count, not the rate
        (Schedule(3.0, 1, 0.25), False),  # equal is not better
        (Schedule(3.0, 2, 0.125), False),
        (Schedule(3.0, 3, 0.0625), True),  # the third in a row: stop (2.0 is never seen)
    ]


def test_a_nan_dev_loss_counts_as_no_improvement() -> None:
    assert _run([2.0, math.nan], patience=1) == [
        (Schedule(2.0, 0, 1.0), False),
        (Schedule(2.0, 1, 0.5), True),
    ]


def test_a_new_best_never_stops_even_with_zero_patience() -> None:
    assert after_epoch(Schedule(math.inf, 0, 1e-3), 7.0, patience=0) == (
        Schedule(7.0, 0, 1e-3),
        False,
    )
