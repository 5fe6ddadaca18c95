"""Checkpoint averaging: the translator decoded as the mean of its last K checkpoints.

The averaged model has, for every weight tensor of the model,

    theta_bar = (1 / K) * sum_{k=1..K} theta_k

where theta_k are that tensor's values in the run's last K intact checkpoints. Only the model's
weights are averaged (the checkpoints' ``model/`` entries): Adam's moments, the step counter and
the dropout seeds describe the training process, not the function the model computes, and are
never read. Why: with a learning rate that has not decayed to zero, the last steps of SGD keep
the weights wandering around a minimum of the loss instead of settling in it; the mean of a
few recent points of that walk lies nearer its centre, which smooths out the noise of the
final steps at no training cost (Polyak and Juditsky 1992). Junczys-Dowmunt et al. (WMT 2016)
and Vaswani et al. (2017, the last 5 checkpoints of the base Transformer) translate with such
averages; OpenNMT, fairseq and Marian ship it. The sum is taken in float64, so K identical
checkpoints average to exactly their weights.

What K means: 1 is the weights with the best dev loss (``best/``); K >= 2 is the mean of the
run's last K intact checkpoints (``ckpt/``, written every ``save_every`` steps and after each
epoch; training keeps the last ``keep_checkpoints``), whatever their dev loss, as those
toolkits average the last checkpoints of a run. Export, ``make bleu`` and ``make
error-analysis`` all decode the weights :func:`restore_average` gives, so the reports score
the model that is shipped. ``python -m pipeline.translate.averaging_bleu`` measures the choice
of K on the dev sets.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import keras
import tensorflow as tf

from pipeline import artifacts
from pipeline.checkpoints import damage, indexed

log = logging.getLogger(__name__)


def best_checkpoint(model_dir: Path) -> str:
    """The best dev-loss weights of the model in ``model_dir`` (a run's ``best/``)."""
    best = tf.train.latest_checkpoint(str(model_dir / artifacts.MODEL_WEIGHTS))
    if best is None:
        raise FileNotFoundError(
            f"{model_dir} holds no trained weights; run `make train-translate` first"
        )
    return best


def intact_checkpoints(model_dir: Path, k: int) -> tuple[list[str], int]:
    """The run's newest ``k`` checkpoints that read back whole, oldest first (fewer when the
    run holds fewer), and how many damaged ones were passed over."""
    directory = model_dir.parent / artifacts.RUN_CHECKPOINTS
    # A manager that keeps everything only lists the run's checkpoints, oldest first.
    listed = tf.train.CheckpointManager(tf.train.Checkpoint(), str(directory), None).checkpoints
    intact: list[str] = []
    damaged = 0
    for path in reversed(listed):
        if len(intact) == k:
            break
        reason = damage(path)
        if reason is not None:
            log.warning("checkpoint %s is damaged (%s); averaging older ones", path, reason)
            damaged += 1
            continue
        intact.append(path)
    return intact[::-1], damaged


def last_checkpoints(model_dir: Path, k: int) -> list[str]:
    """The checkpoints ``--average-last k`` averages for the model in ``model_dir`` (a run's
    ``best/``), oldest first: best's one for k = 1, else the run's last k intact ones."""
    if k < 1:
        raise ValueError(f"--average-last {k}: K must be >= 1 (1 is the best dev-loss weights)")
    if k == 1:
        return [best_checkpoint(model_dir)]
    intact, damaged = intact_checkpoints(model_dir, k)
    if len(intact) == k:
        return intact
    more = f" ({damaged} more damaged)" if damaged else ""
    choice = (
        f"--average-last {len(intact)} or fewer; --average-last 1 decodes the best dev-loss "
        "weights."
        if len(intact) >= 2
        else "--average-last 1, the best dev-loss weights."
    )
    raise ValueError(
        f"--average-last {k} needs the run's last {k} checkpoints, but "
        f"{model_dir.parent / artifacts.RUN_CHECKPOINTS} holds {len(intact)} intact one(s)"
        f"{more}. Training keeps only the last --keep-checkpoints of them (written every "
        f"--save-every steps and after each epoch): train with --keep-checkpoints {k} or more "
        f'(e.g. make train-translate STAGE_ARGS="--keep-checkpoints {k}"; a finished run '
        f"extended with more --epochs adds checkpoints), or choose {choice}"
    )


def average_weights(model: keras.Model, checkpoints: Sequence[str]) -> None:
    """Set ``model``'s weights to their mean over ``checkpoints`` (the layout of the run's
    checkpoints and of ``best/``: the weights by position under ``model/``)."""
    if not checkpoints:
        raise ValueError("nothing to average: no checkpoints given")
    weights = indexed(model.weights)
    reader = tf.train.Checkpoint(model=weights)
    total = [tf.zeros(v.shape, tf.float64) for v in weights.values()]
    for path in checkpoints:
        # Every weight must be in the checkpoint; its optimizer state is left unread.
        reader.read(path).assert_existing_objects_matched().expect_partial()
        total = [t + tf.cast(v, tf.float64) for t, v in zip(total, weights.values(), strict=True)]
    for variable, summed in zip(weights.values(), total, strict=True):
        variable.assign(tf.cast(summed / len(checkpoints), variable.dtype))


def restore_average(model: keras.Model, model_dir: Path, k: int, *, strict: bool) -> list[str]:
    """Give ``model`` the weights ``--average-last k`` names; return the checkpoints averaged.

    ``strict`` is whether the user asked for this k. A preset's k is chosen on its full-length
    run (by :mod:`averaging_bleu`); a shorter run (a quick one, your own data, the tests) that
    holds fewer than k intact checkpoints then keeps its best weights, with a warning, rather
    than average a few early checkpoints nobody measured. An explicit k it cannot honour is
    the error of :func:`last_checkpoints`.
    """
    if strict or k <= 1:
        checkpoints = last_checkpoints(model_dir, k)
    else:
        checkpoints, _ = intact_checkpoints(model_dir, k)
        if len(checkpoints) < k:
            log.warning(
                "the preset averages the last %d checkpoints, but %s holds %d intact one(s): "
                "decoding the best dev-loss weights",
                k, model_dir.parent / artifacts.RUN_CHECKPOINTS, len(checkpoints),
            )  # fmt: skip
            checkpoints = [best_checkpoint(model_dir)]
    if len(checkpoints) > 1:
        log.info("averaging the weights of %s", ", ".join(checkpoints))
    average_weights(model, checkpoints)
    return checkpoints
