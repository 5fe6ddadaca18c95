"""GloVe (Pennington et al., 2014) trained in TensorFlow on a co-occurrence matrix.

J = sum over nonzero X_ij of f(X_ij) (w_i . w~_j + b_i + b~_j - log X_ij)^2, with
f(x) = min(1, (x / x_max)^alpha), minimized by AdaGrad over shuffled minibatches of the nonzero
cells; the result is (W + W~) / 2.

As in the reference C code, word and context parameters live in one (2V, dim + 1) variable:
row i is [w_i, b_i], row V + j is [w~_j, b~_j]. A step gathers only the rows of its cells, so
the gradient is an ``IndexedSlices`` and the AdaGrad update touches O(batch * dim) numbers,
never the whole V x dim table. Each epoch visits the cells in a new order that depends only on
(seed, epoch), so a run resumed from its last checkpoint repeats exactly what the uninterrupted
run would have done.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import tensorflow as tf
from tqdm import tqdm

from pipeline.checkpoints import latest_intact

log = logging.getLogger("pipeline.embeddings.glove")

# AdaGrad's starting sum of squared gradients. Small, so that the step size is set by the
# gradients themselves (about learning_rate per coordinate on a word's first update) rather
# than damped for the rare words whose initial gradients are tiny.
INITIAL_ACCUMULATOR = 1e-6


def weight(x: np.ndarray | float, x_max: float, alpha: float) -> np.ndarray:
    """f(x) = min(1, (x / x_max)^alpha): rare pairs count less, frequent ones are capped at 1."""
    return np.minimum(1.0, np.power(np.asarray(x, dtype=np.float64) / x_max, alpha))


class GloVe(tf.Module):
    """The parameters, AdaGrad accumulators and the training step."""

    def __init__(self, vocab_size: int, dim: int, learning_rate: float, seed: int) -> None:
        super().__init__(name="glove")
        self.vocab_size, self.dim = vocab_size, dim
        self.learning_rate = learning_rate
        rng = np.random.default_rng(seed)
        # The reference's initialization: uniform in [-0.5, 0.5) / dim, biases included.
        init = (rng.random((2 * vocab_size, dim + 1), dtype=np.float32) - 0.5) / dim
        self.params = tf.Variable(init, name="params")
        self.accumulator = tf.Variable(
            tf.fill(init.shape, tf.constant(INITIAL_ACCUMULATOR, tf.float32)), name="accumulator"
        )
        self.epoch = tf.Variable(0, dtype=tf.int64, name="epoch")  # finished epochs
        # (mean loss, seconds) of every finished epoch: a resumed run reports them all.
        self.history = tf.Variable(
            tf.zeros([0, 2], tf.float64), shape=tf.TensorShape([None, 2]), name="history"
        )

    def loss(self, rows: tf.Tensor, cols: tf.Tensor, log_x: tf.Tensor, f_x: tf.Tensor) -> tf.Tensor:
        """Sum over the batch's cells of f(X_ij) (w_i . w~_j + b_i + b~_j - log X_ij)^2."""
        word = tf.gather(self.params, rows)  # [w_i, b_i]
        context = tf.gather(self.params, cols + self.vocab_size)  # [w~_j, b~_j]
        b, b_tilde = word[:, self.dim], context[:, self.dim]
        # The full-row product includes b_i * b~_j, taken out again: slicing off the bias
        # columns instead copies both (batch, dim) blocks and their gradients, several times
        # slower.
        dot = tf.reduce_sum(word * context, axis=1) - b * b_tilde
        diff = dot + b + b_tilde - log_x
        return tf.reduce_sum(f_x * tf.square(diff))

    @tf.function(jit_compile=True)
    def _row_gradients(
        self, rows: tf.Tensor, cols: tf.Tensor, log_x: tf.Tensor, f_x: tf.Tensor, slot: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """The batch loss, and the gradient summed per distinct parameter row.

        ``slot`` numbers the distinct rows of ``concat([rows, cols + V])``: a word in several
        cells of the batch gets several gradient rows, which AdaGrad needs summed since it
        squares the row's total gradient. XLA fuses this (static shapes: the sum has one
        slot per gathered row, of which the first ``len(distinct rows)`` are used) and runs
        it about twice as fast as the same ops one by one.
        """
        with tf.GradientTape() as tape:
            loss = self.loss(rows, cols, log_x, f_x)
        grad = tape.gradient(loss, self.params)  # IndexedSlices: one row per gathered index
        summed = tf.math.unsorted_segment_sum(grad.values, slot, tf.shape(slot)[0])
        return loss, summed

    @tf.function(reduce_retracing=True)
    def step(
        self,
        rows: tf.Tensor,
        cols: tf.Tensor,
        log_x: tf.Tensor,
        f_x: tf.Tensor,
        distinct: tf.Tensor,
        slot: tf.Tensor,
    ) -> tf.Tensor:
        """One AdaGrad step on a batch of cells (see :func:`distinct_rows`); returns its loss."""
        loss, summed = self._row_gradients(rows, cols, log_x, f_x, slot)
        self.apply_adagrad(distinct, summed[: tf.shape(distinct)[0]])
        return loss

    def apply_adagrad(self, rows: tf.Tensor, grad: tf.Tensor) -> None:
        """G += g^2; theta -= lr * g / sqrt(G), on the given rows only (each listed once)."""
        accumulator = tf.gather(self.accumulator, rows) + tf.square(grad)
        step_size = self.learning_rate * tf.math.rsqrt(accumulator)
        params = tf.gather(self.params, rows) - step_size * grad
        self.accumulator.scatter_update(tf.IndexedSlices(accumulator, rows))
        self.params.scatter_update(tf.IndexedSlices(params, rows))

    def vectors(self) -> np.ndarray:
        """(W + W~) / 2 without the biases: the paper's final word vectors."""
        params = self.params.numpy()
        v = self.vocab_size
        return (params[:v, : self.dim] + params[v:, : self.dim]) / 2


def distinct_rows(rows: tf.Tensor, cols: tf.Tensor, vocab_size: int) -> tuple[tf.Tensor, tf.Tensor]:
    """The parameter rows a batch touches, once each, and each gathered row's slot among them.

    It depends on the batch only, not on the parameters, so the input pipeline computes it
    while the previous step runs.
    """
    return tf.unique(tf.concat([rows, cols + vocab_size], axis=0))


def _batches(
    rows: tf.Tensor,
    cols: tf.Tensor,
    log_x: tf.Tensor,
    f_x: tf.Tensor,
    vocab_size: int,
    batch_size: int,
    seed: int,
    epoch: int,
) -> tf.data.Dataset:
    """Minibatches of the cells in a fresh order for every epoch, gathered by tf.data.

    The elements are whole batches (a permutation sliced into ranges), not single cells, so
    the input pipeline costs a few ops per batch rather than per cell.
    """
    n = int(rows.shape[0])
    order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=[seed, epoch])

    def gather(start: tf.Tensor) -> tuple[tf.Tensor, ...]:
        cells = order[start : start + batch_size]
        batch = tuple(tf.gather(t, cells) for t in (rows, cols, log_x, f_x))
        return (*batch, *distinct_rows(batch[0], batch[1], vocab_size))

    return (
        tf.data.Dataset.range(0, n, batch_size)
        .map(gather, num_parallel_calls=1)
        .prefetch(1)  # the next batch is gathered while the current step runs
    )


def _cells(x: sp.spmatrix, x_max: float, alpha: float) -> tuple[tf.Tensor, ...]:
    """(rows, cols, log X, f(X)) of the nonzero cells of ``x``, checked for training."""
    coo = sp.coo_matrix(x)
    coo.sum_duplicates()
    coo.eliminate_zeros()  # log 0 is undefined; J only sums over the nonzero cells anyway
    if coo.shape[0] != coo.shape[1]:
        raise ValueError(f"the co-occurrence matrix must be square, got {coo.shape}")
    if coo.nnz == 0 or coo.data.min() < 0:
        raise ValueError("the co-occurrence matrix must have nonzero cells and no negative ones")
    values = coo.data.astype(np.float64)
    return (
        tf.constant(coo.row, tf.int32),
        tf.constant(coo.col, tf.int32),
        tf.constant(np.log(values), tf.float32),
        tf.constant(weight(values, x_max, alpha), tf.float32),
    )


def _resume(model: GloVe, checkpoint_dir: Path) -> tf.train.CheckpointManager:
    """Restore ``model`` from the newest intact checkpoint in ``checkpoint_dir``, if any."""
    checkpoint = tf.train.Checkpoint(
        params=model.params,
        accumulator=model.accumulator,
        epoch=model.epoch,
        history=model.history,
    )
    manager = tf.train.CheckpointManager(checkpoint, str(checkpoint_dir), max_to_keep=2)
    if path := latest_intact(manager):
        checkpoint.restore(path).assert_consumed()
        log.info("glove: resuming %s after epoch %d", checkpoint_dir, int(model.epoch))
    return manager


def train_glove(
    x: sp.spmatrix,
    dim: int,
    epochs: int,
    x_max: float = 100.0,
    alpha: float = 0.75,
    learning_rate: float = 0.05,
    batch_size: int = 65_536,
    seed: int = 0,
    checkpoint_dir: Path | None = None,
    callback: Callable[[int, float], None] | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Train GloVe on the co-occurrence matrix ``x`` (V x V); returns (V, dim) vectors, stats.

    ``epochs`` counts every epoch of the run, including those a resumed run already finished.
    ``callback(epoch, mean_loss)`` runs after every epoch (epochs count from 1; the loss is J
    divided by the number of nonzeros). With ``checkpoint_dir``, the parameters, accumulators,
    the epoch counter and the epochs' losses and seconds are saved after every epoch (the two
    newest kept, so a damaged last one costs one epoch), and a run finding a checkpoint there
    resumes after its last finished epoch; use one folder per matrix and hyperparameters.
    The stats cover the whole run; ``resumed_after`` is how many epochs an earlier run did.
    """
    cells = _cells(x, x_max, alpha)
    vocab_size, nnz = int(x.shape[0]), int(cells[0].shape[0])
    model = GloVe(vocab_size, dim, learning_rate, seed)
    manager = None if checkpoint_dir is None else _resume(model, checkpoint_dir)
    resumed_after = int(model.epoch)
    for epoch in range(resumed_after, epochs):
        began, total = time.perf_counter(), tf.constant(0.0, tf.float64)
        bar = tqdm(
            total=nnz,
            desc=f"glove epoch {epoch + 1}/{epochs}",
            unit="cell",
            unit_scale=True,
            leave=False,
            mininterval=1.0,
            disable=not progress,
        )
        with bar:
            for batch in _batches(*cells, vocab_size, batch_size, seed, epoch):
                total += tf.cast(model.step(*batch), tf.float64)
                bar.update(int(batch[0].shape[0]))
        mean_loss = float(total) / nnz
        if not np.isfinite(mean_loss):
            raise FloatingPointError(f"glove diverged in epoch {epoch + 1}; lower the rate")
        seconds = time.perf_counter() - began
        model.history.assign(tf.concat([model.history, [[mean_loss, seconds]]], 0))
        model.epoch.assign(epoch + 1)
        if manager is not None:
            manager.save(checkpoint_number=epoch + 1)
        log.info(
            "glove epoch %d/%d: loss %.4f, %.1f s (%.2fM cells/s)",
            epoch + 1,
            epochs,
            mean_loss,
            seconds,
            nnz / seconds / 1e6,
        )
        if callback is not None:
            callback(epoch + 1, mean_loss)
    history = model.history.numpy()
    return model.vectors(), {
        "resumed_after": resumed_after,
        "epochs": [{"loss": float(loss), "seconds": float(sec)} for loss, sec in history],
        "seconds": float(history[:, 1].sum()),
    }
