"""``tf.data`` input for the translator: parallel records -> bucketed (source, target) batches.

Each record of ``make tokenize`` holds both languages' ids, EOS-ended, and the pair's kind
(sentence, phrase, lexical entry, catalogue message). A batch is (source (N, S), target_in
(N, T), target_out (N, T)) with target_in = BOS + target[:-1]. Pair lengths vary a lot, so
training batches group pairs of similar length: padding to the longest pair in a random
batch would waste a third of the decoder's work.

The training stream is a pure function of the seed (seeded shuffles, reshuffled each pass, a
seeded choice of kind, and a deterministic bucketing), so a resumed run skips the batches it
has already seen and continues with exactly the batches an uninterrupted run would have used.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import tensorflow as tf

from pipeline.text import BOS_ID

Batch = tuple[tf.Tensor, tf.Tensor, tf.Tensor]


def read_pairs(
    path: str | Path, source: str, target: str, kind: int | None = None
) -> tf.data.Dataset:
    """(source ids, target ids) int32 vectors from a translation TFRecord file; with
    ``kind``, only the pairs of that kind (its index in the data stage's kinds).

    Records are parsed and sorted by kind 1,024 at a time: per-element work in tf.data costs
    tens of microseconds, which for a million pairs read once per kind would be minutes.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; run `make tokenize` first")
    spec = {
        source: tf.io.VarLenFeature(tf.int64),
        target: tf.io.VarLenFeature(tf.int64),
        "kind": tf.io.FixedLenFeature([], tf.int64, default_value=0),
    }

    def parse(serialized: tf.Tensor) -> tuple[tf.RaggedTensor, tf.RaggedTensor]:
        examples = tf.io.parse_example(serialized, spec)
        ids = [tf.RaggedTensor.from_sparse(examples[lang]) for lang in (source, target)]
        if kind is not None:
            ids = [tf.ragged.boolean_mask(x, tf.equal(examples["kind"], kind)) for x in ids]
        return tf.cast(ids[0], tf.int32), tf.cast(ids[1], tf.int32)

    try:
        records = tf.data.TFRecordDataset(str(path))
        first = next(iter(records.take(1)), None)
        if first is not None:
            features = tf.train.Example.FromString(first.numpy()).features.feature
            missing = [lang for lang in (source, target) if lang not in features]
            if missing:
                raise ValueError(f"{path} has no language(s) {missing}; it has {sorted(features)}")
    except tf.errors.DataLossError as err:
        raise ValueError(f"{path} is not a TFRecord file: {err}") from err
    return (
        records.batch(1024)
        .map(parse, num_parallel_calls=tf.data.AUTOTUNE)
        .unbatch()
        .map(lambda s, t: (tf.identity(s), tf.identity(t)))  # dense specs for the rows
    )


def teacher_forcing(source: tf.Tensor, target: tf.Tensor) -> Batch:
    target_in = tf.concat([[BOS_ID], target[:-1]], axis=0)
    return source, target_in, target


def bucket_boundaries(max_len: int) -> list[int]:
    """Upper length bounds (exclusive) of the buckets: fine for short pairs, coarser after."""
    bounds = [b for b in (4, 5, 6, 7, 8, 9, 10, 12, 14, 16, 20, 24, 30, 40, 60, 80) if b <= max_len]
    return bounds or [max_len + 1]


def endless(pairs: tf.data.Dataset, shuffle_buffer: int, seed: int) -> tf.data.Dataset:
    """``pairs`` held in memory, reshuffled on every pass, repeated forever."""
    return pairs.cache().shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True).repeat()


def mixed(
    kinds: Sequence[tf.data.Dataset], weights: Sequence[float], shuffle_buffer: int, seed: int
) -> tf.data.Dataset:
    """An endless stream of pairs that come from ``kinds[k]`` with probability weights[k] /
    sum, each kind shuffled and repeated on its own.

    A corpus is rarely what the test sets look like: here 70% of the pairs are one- and
    two-word dictionary entries, the sentences 2%. Sampling by kind (fairseq's and Marian's
    corpus weights) sets how much of each kind a step sees without dropping any of it. A
    kind without pairs drops out and the others share its weight.
    """
    streams = [endless(pairs, shuffle_buffer, seed + k) for k, pairs in enumerate(kinds)]
    return tf.data.Dataset.sample_from_datasets(
        streams, weights=[float(w) for w in weights], seed=seed, stop_on_empty_dataset=False
    )


def train_batches(
    pairs: tf.data.Dataset | Sequence[tf.data.Dataset],
    *,
    batch_size: int,
    max_len: int,
    shuffle_buffer: int,
    seed: int,
    skip: int = 0,
    kind_weights: Sequence[float] | None = None,
) -> tf.data.Dataset:
    """An endless stream of bucketed training batches; ``skip`` drops the first batches.

    ``pairs`` is one dataset, or with ``kind_weights`` one per kind (see :func:`mixed`).
    Pairs with a side longer than ``max_len`` are dropped (truncating would cut the EOS).
    """
    longest = lambda s, t: tf.maximum(tf.size(s), tf.size(t))  # noqa: E731
    short = lambda s, t: longest(s, t) <= max_len  # noqa: E731
    if kind_weights is None:
        kept = endless(pairs.filter(short), shuffle_buffer, seed)
    else:
        kept = mixed([p.filter(short) for p in pairs], kind_weights, shuffle_buffer, seed)
    boundaries = bucket_boundaries(max_len)
    stream = kept.map(teacher_forcing, num_parallel_calls=tf.data.AUTOTUNE)
    stream = stream.bucket_by_sequence_length(
        lambda s, t_in, t_out: longest(s, t_out),
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
    )
    if skip:
        stream = stream.skip(skip)
    options = tf.data.Options()
    options.deterministic = True
    # Multi-worker training: each worker takes every n-th batch (the stream has no files to
    # split, and every worker reads the whole, small, record file).
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return stream.with_options(options).prefetch(tf.data.AUTOTUNE)


def eval_batches(pairs: tf.data.Dataset, batch_size: int) -> tf.data.Dataset:
    """Every pair once (none dropped, whatever its length), padded per batch."""
    return (
        pairs.map(teacher_forcing, num_parallel_calls=tf.data.AUTOTUNE)
        .padded_batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
