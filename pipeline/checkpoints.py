"""Training state for checkpoints, and resuming from the newest one that reads back whole.

A run killed while a checkpoint was being written, or a disk that filled up, can leave the
newest checkpoint truncated; restoring it fails deep inside TensorFlow ("Read less bytes than
requested") and the run cannot go on. Reading every tensor of a candidate before restoring it
turns that into a warning: the damaged checkpoint is skipped and the run resumes from the one
before it, redoing the steps in between, or starts afresh when none is whole. Keep at least
two checkpoints (``max_to_keep >= 2``) so there is one to fall back to.
"""

from __future__ import annotations

import logging
from typing import Any

import keras
import tensorflow as tf

log = logging.getLogger(__name__)


def indexed(variables: list[Any]) -> dict[str, tf.Variable]:
    """Checkpointable {position: variable}; Keras variables are unwrapped to TF ones.

    By position rather than through Keras' object graph: TF's checkpoint tracking does not
    follow Keras 3 layers kept in lists, which would silently leave them out.
    """
    return {f"v{i:04d}": getattr(v, "value", v) for i, v in enumerate(variables)}


def training_state(
    model: keras.Model, optimizer: keras.optimizers.Optimizer
) -> dict[str, dict[str, tf.Variable]]:
    """What a resumed run restores to continue as an uninterrupted one would.

    The weights, the optimizer's slots and step count, and the dropout layers' random state
    (so a resumed run draws the masks a straight one would). The optimizer must be built.
    """
    seeds = [
        layer.seed_generator.state
        for layer in model._flatten_layers()
        if getattr(layer, "seed_generator", None) is not None
    ]
    return {
        "model": indexed(model.weights),
        "optimizer": indexed(optimizer.variables),
        "rng": indexed(seeds),
    }


def damage(path: str) -> str | None:
    """Why the checkpoint at ``path`` cannot be read back whole, or None when it can."""
    try:
        reader = tf.train.load_checkpoint(path)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except (tf.errors.OpError, ValueError, IndexError, RuntimeError, OSError) as err:
        return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return None


def latest_intact(manager: tf.train.CheckpointManager) -> str | None:
    """The newest of ``manager``'s checkpoints that reads back whole; warns of each skipped."""
    for path in reversed(manager.checkpoints):
        reason = damage(path)
        if reason is None:
            return path
        log.warning("checkpoint %s is damaged (%s); trying the one before it", path, reason)
    if manager.checkpoints:
        log.warning("no intact checkpoint in %s; starting afresh", manager.directory)
    return None
