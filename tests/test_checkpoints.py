"""A truncated newest checkpoint is skipped with a warning, not a crash."""

from __future__ import annotations

import logging
from pathlib import Path

import tensorflow as tf
from faults import truncate_checkpoint

from pipeline.checkpoints import damage, latest_intact


def _manager(tmp_path: Path) -> tuple[tf.Variable, tf.train.CheckpointManager]:
    weights = tf.Variable(tf.zeros([1000]))
    checkpoint = tf.train.Checkpoint(weights=weights)
    return weights, tf.train.CheckpointManager(checkpoint, str(tmp_path), max_to_keep=2)


def test_truncated_latest_falls_back_to_the_one_before(tmp_path, caplog):
    weights, manager = _manager(tmp_path)
    weights.assign(tf.fill([1000], 1.0))
    first = manager.save(checkpoint_number=1)
    weights.assign(tf.fill([1000], 2.0))
    second = manager.save(checkpoint_number=2)
    assert damage(second) is None
    truncate_checkpoint(second)
    assert damage(second) is not None
    with caplog.at_level(logging.WARNING):
        assert latest_intact(manager) == first
    assert "damaged" in caplog.text and second in caplog.text
    manager.checkpoint.restore(first).assert_consumed()
    assert float(weights[0]) == 1.0


def test_no_intact_checkpoint_starts_afresh(tmp_path, caplog):
    _, manager = _manager(tmp_path)
    truncate_checkpoint(manager.save(checkpoint_number=1))
    with caplog.at_level(logging.WARNING):
        assert latest_intact(manager) is None
    assert "starting afresh" in caplog.text


def test_no_checkpoint_is_silent(tmp_path, caplog):
    _, manager = _manager(tmp_path)
    with caplog.at_level(logging.WARNING):
        assert latest_intact(manager) is None
    assert caplog.text == ""
