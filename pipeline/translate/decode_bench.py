"""Timing of batched decoding against decoding one sentence at a time.

Batching is what makes beam search affordable on a CPU: one step of N*B rows costs little
more than one of B rows. This measures the gain on real batches for the report.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from pipeline.text import PAD_ID


def _sentences(batch: tf.Tensor) -> list[tf.Tensor]:
    """Each row of a right-padded batch alone, as a (1, length) batch without its padding."""
    lengths = tf.reduce_sum(tf.cast(tf.not_equal(batch, PAD_ID), tf.int32), axis=1).numpy()
    return [batch[i : i + 1, : max(int(n), 1)] for i, n in enumerate(lengths)]


def bench_batching(
    decode: Callable[[tf.Tensor], Any], batches: Sequence[tf.Tensor]
) -> dict[str, float]:
    """Seconds for ``decode`` (e.g. a ``beam.decoder``) over ``batches`` as they are and
    sentence by sentence. Both ways run once beforehand so neither pays for tracing."""
    singles = [sentence for batch in batches for sentence in _sentences(batch)]
    decode(batches[0])
    decode(singles[0])

    start = time.perf_counter()
    for batch in batches:
        decode(batch)
    batched = time.perf_counter() - start

    start = time.perf_counter()
    for sentence in singles:
        decode(sentence)
    alone = time.perf_counter() - start
    return {
        "sentences": len(singles),
        "batches": len(batches),
        "batched_s": batched,
        "one_by_one_s": alone,
        "speedup": alone / batched if batched else float("inf"),
    }
