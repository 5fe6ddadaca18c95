"""word2vec skip-gram with negative sampling (SGNS), trained in TensorFlow.

As in Mikolov et al. (2013) and gensim: frequent words are subsampled, each center word draws
its window size uniformly from 1..window (nearer words count more often), k negatives come from
the unigram distribution raised to 0.75, and plain SGD's learning rate decays linearly with
the share of the corpus processed. P(y=1 | c, t) = σ(θ_t · e_c).

Everything per pair happens in the graph: ``tf.data`` cuts the corpus into chunks of whole
sentences, subsamples and pairs each chunk with batched ops (one slice per window offset),
and ``rebatch`` turns the chunks into fixed-size batches. A step gathers the rows it needs and
scatters its updates back, so it costs O(batch * (k + 2) * dim) whatever the vocabulary.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from pipeline.checkpoints import latest_intact
from pipeline.embeddings.corpus import Corpus

log = logging.getLogger("pipeline.embeddings.word2vec")

CHUNK_TOKENS = 200_000
HISTORY = ("loss", "pairs", "seconds")  # the columns of SGNS.history


@dataclass(frozen=True)
class SGNSConfig:
    dim: int = 100
    window: int = 5
    negatives: int = 5
    subsample: float = 1e-3
    epochs: int = 5
    learning_rate: float = 0.025
    min_learning_rate: float = 1e-4
    batch_size: int = 8192
    share_negatives: int = 32  # pairs per group sharing k negatives; 1 is word2vec's sampling
    seed: int = 0


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """word2vec's (and gensim's) subsampling: P(keep w) = (sqrt(f/t) + 1) * t/f, capped at 1.

    ``f`` is the word's count and ``t = sample * total``; words rarer than t are always kept.
    """
    if sample <= 0:
        return np.ones(len(counts))
    threshold = sample * counts.sum()
    counts = np.maximum(counts, 1).astype(np.float64)
    return np.minimum(1.0, (np.sqrt(counts / threshold) + 1.0) * threshold / counts)


def negative_cdf(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """Cumulative unigram^0.75 distribution; sampling is a binary search into it."""
    weights = np.power(counts.astype(np.float64), power)
    return np.cumsum(weights / weights.sum())


def _chunk_bounds(row_splits: np.ndarray, chunk_tokens: int) -> np.ndarray:
    """[start, end) token ranges of roughly ``chunk_tokens`` that never split a sentence."""
    targets = np.arange(chunk_tokens, row_splits[-1], chunk_tokens)
    cuts = np.unique(row_splits[np.searchsorted(row_splits, targets)])
    edges = np.unique(np.concatenate([[0], cuts, [row_splits[-1]]]))
    return np.stack([edges[:-1], edges[1:]], axis=1)


def pair_dataset(corpus: Corpus, config: SGNSConfig, epoch: int = 0) -> tf.data.Dataset:
    """Batches of (center, context, position) int32/float32 for one epoch, built in the graph.

    ``position`` is the center's place in the corpus as a fraction, for the learning-rate
    schedule and the progress bar. Chunks come in corpus order (``make data`` already stored
    the lines shuffled), pairs within a chunk are shuffled. Every draw is a stateless function
    of (seed, epoch, chunk): chunks are paired in parallel, and a stateful op shared by
    parallel calls hands its numbers out in whatever order the threads reach it, so neither
    two runs nor a resumed one would see the same pairs.
    """
    tokens = tf.constant(corpus.tokens)
    sentence = tf.constant(
        np.repeat(np.arange(corpus.num_sentences, dtype=np.int32), np.diff(corpus.row_splits))
    )
    keep = tf.constant(keep_probabilities(corpus.counts, config.subsample), tf.float32)
    total = float(len(corpus.tokens))
    window = config.window
    bounds = _chunk_bounds(corpus.row_splits, CHUNK_TOKENS)
    epoch_seed = tf.constant([config.seed, epoch], tf.int64)

    def pairs(chunk: tf.Tensor, bound: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        start, end = bound[0], bound[1]
        seeds = tf.random.experimental.stateless_split(
            tf.random.experimental.stateless_fold_in(epoch_seed, chunk), 3
        )
        words, sents = tokens[start:end], sentence[start:end]
        position = tf.cast(tf.range(start, end), tf.float32) / total
        kept = tf.random.stateless_uniform(tf.shape(words), seeds[0]) < tf.gather(keep, words)
        words, sents = words[kept], sents[kept]
        position = position[kept]
        reach = tf.random.stateless_uniform(  # dynamic window
            tf.shape(words), seeds[1], 1, window + 1, tf.int32
        )
        centers, contexts, positions = [], [], []
        for d in range(1, window + 1):
            same = tf.equal(sents[:-d], sents[d:])
            forward = same & (reach[:-d] >= d)  # left word is the center
            backward = same & (reach[d:] >= d)  # right word is the center
            centers += [words[:-d][forward], words[d:][backward]]
            contexts += [words[d:][forward], words[:-d][backward]]
            positions += [position[:-d][forward], position[d:][backward]]
        batch = tf.stack([tf.concat(centers, 0), tf.concat(contexts, 0)], axis=1)
        order = tf.random.experimental.stateless_shuffle(tf.range(tf.shape(batch)[0]), seeds[2])
        return (
            tf.gather(batch[:, 0], order),
            tf.gather(batch[:, 1], order),
            tf.gather(tf.concat(positions, 0), order),
        )

    return (
        tf.data.Dataset.from_tensor_slices((tf.range(len(bounds), dtype=tf.int64), bounds))
        .map(pairs, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .rebatch(config.batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )


def linear_decay(schedule: tf.Tensor, position: tf.Tensor) -> tf.Tensor:
    """word2vec's rate: ``start`` falling linearly to ``end`` over all epochs of the corpus.

    ``schedule`` is (start, end, epoch, epochs); ``position`` the corpus fraction reached.
    """
    start, end, epoch, epochs = tf.unstack(schedule)
    return start - (start - end) * tf.minimum((epoch + position) / epochs, 1.0)


class SGNS(tf.Module):
    """The two embedding matrices and the SGD steps; the input vectors are the embeddings."""

    def __init__(self, vocab_size: int, dim: int, negative_cdf: np.ndarray, seed: int) -> None:
        super().__init__()
        init = np.random.default_rng(seed).uniform(-0.5 / dim, 0.5 / dim, (vocab_size, dim))
        self.input = tf.Variable(init.astype(np.float32), name="input")  # e_c
        self.output = tf.Variable(tf.zeros([vocab_size, dim]), name="output")  # θ_t
        self.cdf = tf.constant(negative_cdf, tf.float64)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        # The negatives' stream. It lives in a variable, so a checkpoint holds its position
        # and a resumed run draws what the uninterrupted one would have.
        self.rng = tf.random.Generator.from_seed(seed)
        # One row (loss, pairs, seconds) per finished epoch, so that the report of a resumed
        # run covers the epochs and the time of the interrupted part too.
        self.history = tf.Variable(
            tf.zeros([0, len(HISTORY)], tf.float64),
            shape=tf.TensorShape([None, len(HISTORY)]),
            trainable=False,
            name="history",
        )

    def sample_negatives(self, shape: tf.Tensor) -> tf.Tensor:
        uniform = self.rng.uniform(shape, dtype=tf.float64)
        draws = tf.searchsorted(self.cdf, tf.reshape(uniform, [-1]), side="right")
        return tf.reshape(tf.minimum(tf.cast(draws, tf.int32), tf.size(self.cdf) - 1), shape)

    def gradients(
        self,
        centers: tf.Tensor,
        contexts: tf.Tensor,
        negatives: tf.Tensor,
        scale: tf.Tensor | float = 1.0,
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Closed-form gradients of the summed SGNS loss for the gathered rows, and its mean.

        The loss is -log σ(θ_o·e_c) - Σ_k log σ(-θ_k·e_c) per pair (center c, context o,
        negatives k). ``negatives`` is (groups, k): consecutive pairs share a group's
        negatives (one group per pair is word2vec's own sampling), which turns the negative
        half of the step into batched matrix products over ``k`` rows per group instead
        of per pair, as in Ji et al. (2016), "Parallelizing Word2Vec in Shared and
        Distributed Memory". Each pair still sees k fresh unigram^0.75 draws.

        d/dx -log σ(x) = σ(x) - 1 and d/dx -log σ(-x) = σ(x); writing them out avoids
        the tape and lets one scatter per matrix apply every row's update.
        Returns (grad for input rows ``centers``, grad for output rows
        ``[contexts; negatives]`` in that order, both times ``scale``, and the mean loss per
        pair). Scaling the per-pair factors by the learning rate here spares the step two
        passes over the (rows, dim) updates.
        """
        n = tf.size(centers)
        groups = tf.shape(negatives)[0]
        group = (n + groups - 1) // groups
        e = tf.gather(self.input, centers)
        theta_pos = tf.gather(self.output, contexts)
        theta_neg = tf.gather(self.output, negatives)  # (groups, k, dim)
        positive = tf.reduce_sum(e * theta_pos, axis=-1)
        # The last batch of an epoch may not fill its last group: zero rows pad it and
        # contribute nothing to the negatives' gradients.
        e_grouped = tf.reshape(
            tf.pad(e, [[0, groups * group - n], [0, 0]]), [groups, group, e.shape[-1]]
        )
        negative = tf.matmul(e_grouped, theta_neg, transpose_b=True)  # (groups, group, k)
        valid = tf.reshape(tf.range(groups * group) < n, [groups, group, 1])
        g_neg = tf.where(valid, scale * tf.sigmoid(negative), 0.0)
        g_pos = scale * (tf.sigmoid(positive) - 1.0)
        grad_e_neg = tf.reshape(tf.matmul(g_neg, theta_neg), [-1, e.shape[-1]])[:n]
        grad_e = g_pos[:, None] * theta_pos + grad_e_neg
        grad_theta_neg = tf.matmul(g_neg, e_grouped, transpose_a=True)  # (groups, k, dim)
        grad_theta = tf.concat(
            [g_pos[:, None] * e, tf.reshape(grad_theta_neg, [-1, e.shape[-1]])], axis=0
        )
        negative_loss = tf.where(valid, tf.math.log_sigmoid(-negative), 0.0)
        loss = -(
            tf.reduce_sum(tf.math.log_sigmoid(positive)) + tf.reduce_sum(negative_loss)
        ) / tf.cast(n, tf.float32)
        return grad_e, grad_theta, loss

    def step(
        self,
        centers: tf.Tensor,
        contexts: tf.Tensor,
        learning_rate: tf.Tensor,
        k: int,
        share: int = 1,
    ) -> tf.Tensor:
        """One SGD step on the summed loss, so each pair moves as in word2vec's C code.

        Groups of ``share`` consecutive pairs share their ``k`` negatives.
        """
        groups = (tf.size(centers) + share - 1) // share
        negatives = self.sample_negatives(tf.stack([groups, k]))
        grad_e, grad_theta, loss = self.gradients(centers, contexts, negatives, learning_rate)
        # Rows repeated in a batch get the sum of their updates, as if applied in sequence
        # from the same starting point. Averaging them instead (tried: mean and 1/sqrt(n)
        # per row) starves frequent words and loses most of the analogy accuracy.
        self.input.scatter_sub(tf.IndexedSlices(grad_e, centers))
        rows = tf.concat([contexts, tf.reshape(negatives, [-1])], axis=0)
        self.output.scatter_sub(tf.IndexedSlices(grad_theta, rows))
        return loss

    @tf.function
    def run(
        self, batches: tf.data.Iterator, steps: tf.Tensor, lr: tf.Tensor, k: int, share: int = 1
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
        """Up to ``steps`` steps in one graph call (few Python round trips per epoch).

        ``lr`` is the :func:`linear_decay` schedule, applied at each batch's mean corpus
        position as word2vec applies it at each word. Returns the summed
        per-pair loss, the number of steps and pairs, and the furthest corpus position seen.
        """
        loss_sum, done, pairs, furthest = 0.0, 0, 0, 0.0
        for _ in tf.range(steps):
            batch = batches.get_next_as_optional()
            if not batch.has_value():
                break
            centers, contexts, position = batch.get_value()
            rate = linear_decay(lr, tf.reduce_mean(position))
            loss_sum += self.step(centers, contexts, rate, k, share)
            done += 1
            pairs += tf.size(centers)
            furthest = tf.maximum(furthest, tf.reduce_max(position))
        return loss_sum, done, pairs, furthest


STEPS_PER_CALL = 50


def _epoch(model: SGNS, corpus: Corpus, config: SGNSConfig, epoch: int) -> dict[str, float]:
    """Train one epoch; returns its mean loss per step, pairs and seconds."""
    words = len(corpus.tokens)
    batches = iter(pair_dataset(corpus, config, epoch))
    schedule = tf.constant(
        [config.learning_rate, config.min_learning_rate, epoch, config.epochs], tf.float32
    )
    start, pairs, loss_sum, steps, shown = time.perf_counter(), 0, 0.0, 0, 0
    with tqdm(total=words, desc=f"word2vec epoch {epoch + 1}/{config.epochs}", unit="word",
              unit_scale=True, mininterval=1.0) as bar:  # fmt: skip
        while True:
            loss, done, n, furthest = model.run(
                batches,
                tf.constant(STEPS_PER_CALL),
                schedule,
                config.negatives,
                config.share_negatives,
            )
            loss_sum, steps, pairs = loss_sum + float(loss), steps + int(done), pairs + int(n)
            seen = int(float(furthest) * words)
            bar.update(max(0, seen - shown))
            shown = max(shown, seen)
            if int(done) < STEPS_PER_CALL:
                break
        bar.update(words - shown)
    seconds = time.perf_counter() - start
    return {"loss": loss_sum / max(steps, 1), "pairs": pairs, "seconds": seconds}


def run_stats(history: np.ndarray, words: int, resumed_after: int) -> dict[str, Any]:
    """Totals over every finished epoch of the run, whichever process trained it."""
    epochs = [dict(zip(HISTORY, (float(v) for v in row), strict=True)) for row in history]
    for epoch in epochs:
        epoch["pairs"] = int(epoch["pairs"])
    seconds = float(history[:, HISTORY.index("seconds")].sum())
    total = float(words * len(epochs))
    return {
        "words": total,
        "pairs": float(history[:, HISTORY.index("pairs")].sum()),
        "seconds": seconds,
        "words_per_second": total / max(seconds, 1e-9),
        "resumed_after": resumed_after,
        "epochs": epochs,
    }


def train(
    corpus: Corpus,
    config: SGNSConfig,
    checkpoint_dir: Path | None = None,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Train and return (embeddings (V, dim) float32, stats); resumes from ``checkpoint_dir``.

    A checkpoint is written after every epoch, so an interrupted run loses at most one; the
    two newest are kept, so a damaged last one costs one epoch more. The stats cover the
    whole run: ``resumed_after`` says how many of its epochs an earlier process trained.
    """
    model = SGNS(len(corpus.words), config.dim, negative_cdf(corpus.counts), config.seed)
    manager = None
    if checkpoint_dir is not None:
        checkpoint = tf.train.Checkpoint(model=model)
        manager = tf.train.CheckpointManager(checkpoint, str(checkpoint_dir), max_to_keep=2)
        if path := latest_intact(manager):
            checkpoint.restore(path)
            log.info("resuming word2vec after epoch %d", int(model.epoch.numpy()))
    resumed_after = int(model.epoch.numpy())
    while int(model.epoch.numpy()) < config.epochs:
        epoch = int(model.epoch.numpy())
        stats = _epoch(model, corpus, config, epoch)
        stats["words_per_second"] = len(corpus.tokens) / stats["seconds"]
        log.info(
            "word2vec epoch %d: loss %.4f, %d pairs, %.0f s, %.0f words/s",
            epoch + 1, stats["loss"], stats["pairs"], stats["seconds"], stats["words_per_second"],
        )  # fmt: skip
        row = tf.constant([[stats[c] for c in HISTORY]], tf.float64)
        model.history.assign(tf.concat([model.history, row], 0))
        model.epoch.assign_add(1)
        if manager is not None:
            manager.save(checkpoint_number=epoch + 1)
        if on_epoch is not None:
            on_epoch(epoch, stats)
    return model.input.numpy(), run_stats(model.history.numpy(), len(corpus.tokens), resumed_after)
