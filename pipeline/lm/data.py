"""Sentences for the language model as ``tf.data`` batches of (inputs, targets, weights).

A sentence ``w_1 .. w_n`` becomes inputs ``<s> w_1 .. w_n`` and targets ``w_1 .. w_n </s>``,
so the model learns where sentences start and end and sampling can stop at EOS. Batches are
bucketed by length: corpus lines range from 3 to thousands of tokens, and padding every batch
to the longest would waste most of the compute.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from pipeline.text import BOS_ID, EOS_ID, PAD_ID, UNK_ID

_BUCKETS = (8, 16, 32, 64, 128, 256)


def sentences_from_stream(ids: np.ndarray, vocab_size: int) -> tf.RaggedTensor:
    """Split the EOS-terminated id stream of ``make tokenize`` into sentences (EOS kept).

    Words ranked below ``vocab_size`` become UNK, which is exact because the corpus
    vocabulary is sorted by frequency.
    """
    ids = np.asarray(ids)
    if ids.size == 0 or ids[-1] != EOS_ID:
        raise ValueError("the corpus id stream must be non-empty and end with EOS")
    ids = np.where(ids < vocab_size, ids, UNK_ID).astype(np.int32)
    ends = np.flatnonzero(ids == EOS_ID) + 1
    return tf.RaggedTensor.from_row_limits(ids, ends.astype(np.int64))


def split_held_out(
    sentences: tf.RaggedTensor, held_out: int
) -> tuple[tf.RaggedTensor, tf.RaggedTensor]:
    """The last ``held_out`` sentences for evaluation; the corpus order is already shuffled."""
    n = int(sentences.nrows())
    if not 0 < held_out < n:
        raise ValueError(f"held_out must be in (0, {n}), got {held_out}")
    return sentences[: n - held_out], sentences[n - held_out :]


def with_eos(sentences: tf.RaggedTensor) -> tf.RaggedTensor:
    """Append EOS to each sentence (for sources that do not carry it, e.g. characters)."""
    eos = tf.fill([sentences.nrows(), 1], tf.constant(EOS_ID, sentences.dtype))
    return tf.concat([sentences, eos], axis=1)


def to_example(sentence: tf.Tensor, max_len: int) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    sentence = tf.cast(sentence[:max_len], tf.int32)
    inputs = tf.concat([[BOS_ID], sentence[:-1]], axis=0)
    return inputs, sentence, tf.ones_like(sentence, tf.float32)


def batches(
    sentences: tf.RaggedTensor,
    batch_size: int,
    max_len: int,
    *,
    shuffle: bool,
    seed: int = 0,
    repeat: bool = False,
    skip: int = 0,
) -> tf.data.Dataset:
    """Padded, length-bucketed batches; PAD positions have weight 0.

    The order is a pure function of ``seed`` (a seeded shuffle, reshuffled each pass, and a
    deterministic bucketing), so a resumed run skips the ``skip`` batches it has trained on
    and continues with the batches an uninterrupted run would use.
    """
    dataset = tf.data.Dataset.from_tensor_slices(sentences)
    if shuffle:
        dataset = dataset.shuffle(100_000, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.map(lambda s: to_example(s, max_len), num_parallel_calls=tf.data.AUTOTUNE)
    boundaries = [b + 1 for b in _BUCKETS if b < max_len]
    dataset = dataset.bucket_by_sequence_length(
        lambda inputs, _targets, _weights: tf.shape(inputs)[0],
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        padding_values=(PAD_ID, PAD_ID, 0.0),
    )
    return dataset.skip(skip).prefetch(tf.data.AUTOTUNE)
