"""The translator's dev-loss schedule: halve the learning rate after each epoch that does not
beat the best dev loss so far, and stop after ``patience`` such epochs in a row.

Pure arithmetic on plain numbers, so the rule can be read and tested apart from the training
loop (:mod:`pipeline.translate.train`), which keeps its state in the run's checkpoints.

Under ``cosine`` (``TranslateConfig.lr_schedule``) the rate instead follows
lr(t) = lr0 * (1 + cos(pi * min(t / T, 1))) / 2 over the run's T = epochs * steps_per_epoch
steps (Keras' ``CosineDecay``), and this rule only decides when to stop. Why both: the
cosine plan anneals once, smoothly, and no noisy dev epoch moves it, but it needs the run's
length in steps in advance; the dev-loss rule needs none, so it suits a run bounded by
wall-clock time on machines of unknown speed, the default's case.
"""

from __future__ import annotations

from typing import NamedTuple

KINDS = ("plateau", "cosine")  # how the learning rate moves: by dev loss, or by step
DECAY = 0.5  # the learning rate's factor after an epoch without a better dev loss


class Schedule(NamedTuple):
    """Where the schedule stands between epochs; ``bad_epochs`` is 0 right after a new best."""

    best_dev: float
    bad_epochs: int
    learning_rate: float


def after_epoch(state: Schedule, dev_loss: float, patience: int) -> tuple[Schedule, bool]:
    """The schedule after an epoch whose dev loss is ``dev_loss``, and whether to stop.

    lr <- lr * DECAY ** [dev_loss >= best_dev]; stop when bad_epochs reaches ``patience``.
    """
    if dev_loss < state.best_dev:
        return Schedule(dev_loss, 0, state.learning_rate), False
    bad_epochs = state.bad_epochs + 1
    decayed = Schedule(state.best_dev, bad_epochs, state.learning_rate * DECAY)
    return decayed, bad_epochs >= patience
