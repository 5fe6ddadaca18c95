"""What the exported SavedModels share: input checks in their graphs.

A signature declares its input shape, but a concrete function loaded from a SavedModel does
not enforce it: a scalar string reaches the graph and fails deep inside with "slice index 0
of dimension 0 out of bounds". The checks here say what was wrong instead.
"""

from __future__ import annotations

import tensorflow as tf

from pipeline.text import PAD_ID


def assert_batch(texts: tf.Tensor, name: str) -> tf.Operation:
    """An op failing unless ``texts`` is 1-D at run time.

    ``tf.rank`` (and an ``assert_rank``) is folded to the declared rank 1 when the graph is
    optimized, so the rank is read from the run-time shape padded with -1s: a vector's first
    entry is its length (>= 0) and its second is padding.
    """
    dims = tf.concat([tf.shape(texts), [-1, -1]], axis=0)
    return tf.debugging.Assert(
        (dims[0] >= 0) & (dims[1] < 0),
        [
            f"{name} must be a 1-D batch of strings, one text per element; "
            f"wrap a single text in a list, e.g. {name}=tf.constant([text])"
        ],
    )


def at_least_one_column(ids: tf.Tensor) -> tf.Tensor:
    """``ids`` [n, width] PAD-padded to width >= 1.

    A batch of empty texts (or no texts) has width 0, and a recurrent layer cannot run
    zero steps; one PAD column is masked out and changes no result.
    """
    missing = tf.maximum(0, 1 - tf.shape(ids)[1])
    return tf.pad(ids, [[0, 0], [0, missing]], constant_values=PAD_ID)
