"""Timing of batched decoding against decoding one sentence at a time.

Batching is what makes beam search affordable on a CPU: one step of N*B rows costs little
more than one of B rows. This measures the gain on real batches for the report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from pipeline.text import token_counts
from pipeline.timing import best_time


def _sentences(batch: tf.Tensor) -> list[tf.Tensor]:
    """Each row of a right-padded batch alone, as a (1, length) batch without its padding."""
    lengths = token_counts(batch).numpy()
    return [batch[i : i + 1, : max(int(n), 1)] for i, n in enumerate(lengths)]


def bench_batching(
    decode: Callable[[tf.Tensor], Any], batches: Sequence[tf.Tensor], repeats: int = 3
) -> dict[str, float]:
    """Seconds for ``decode`` (a :func:`decoding.decode_function`) over ``batches`` as they
    are and sentence by sentence, each the best of ``repeats`` passes after one untimed pass
    (which pays for tracing and warms the caches of both ways alike)."""
    singles = [sentence for batch in batches for sentence in _sentences(batch)]

    def batched() -> None:
        for batch in batches:
            decode(batch)

    def one_by_one() -> None:
        for sentence in singles:
            decode(sentence)

    batched()
    one_by_one()
    batched_s, _ = best_time(batched, repeats)
    alone_s, _ = best_time(one_by_one, repeats)
    return {
        "sentences": len(singles),
        "batches": len(batches),
        "repeats": repeats,
        "batched_s": batched_s,
        "one_by_one_s": alone_s,
        "speedup": alone_s / batched_s if batched_s else float("inf"),
    }
