"""Bahdanau (additive) attention, split so everything that depends on the source only is
computed once per sentence.

e_{t,t'} = v . tanh(W1 s_{t-1} + W2 a_{t'}); the softmax over t' ignores padded positions.
``W2 a`` does not depend on the decoder step, so :meth:`BahdanauAttention.keys` computes it
once per sentence (in ``encode``) and every decoder step only adds ``W1 s_{t-1}``.

Decoding runs several rows (beam hypotheses) per sentence. :func:`mix_per_sentence` weighs
each row's sentence without copying that sentence's encoder states once per row.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

# Added to the scores of padded positions; exp() of it is exactly 0 in float32.
_MASKED = -1e9


def masked_softmax(scores: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """softmax over the last axis where ``mask`` is True; masked entries get weight 0."""
    return tf.nn.softmax(tf.where(mask, scores, _MASKED), axis=-1)


def mix_per_sentence(
    weights: tf.Tensor, per_sentence: tf.Tensor, sentence: tf.Tensor | None = None
) -> tf.Tensor:
    """Row r's weights (R, S) times its sentence's matrix (N, S, D): (R, D).

    ``sentence`` (R,) is nondecreasing (rows grouped by sentence, as a beam lays them out);
    None means row r is sentence r. The rows are regrouped into one (N, rows per sentence,
    S) batch, so each sentence's matrix is read in place instead of being copied into an
    (R, S, D) tensor at every step.
    """
    if sentence is None:
        return tf.matmul(weights[:, None, :], per_sentence)[:, 0, :]
    grouped = tf.RaggedTensor.from_value_rowids(
        weights, sentence, nrows=tf.shape(per_sentence, out_type=sentence.dtype)[0]
    )
    mixed = tf.matmul(grouped.to_tensor(), per_sentence)
    return tf.RaggedTensor.from_tensor(mixed, lengths=grouped.row_lengths()).flat_values


class BahdanauAttention(keras.layers.Layer):
    """Additive attention of a query (the previous decoder state) over the encoder states."""

    def __init__(self, units: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = units

    def build(self, query_dim: int, value_dim: int) -> None:  # type: ignore[override]
        self.query_kernel = self.add_weight(
            name="W1", shape=(query_dim, self.units), initializer="glorot_uniform"
        )
        self.bias = self.add_weight(name="b", shape=(self.units,), initializer="zeros")
        self.key_kernel = self.add_weight(
            name="W2", shape=(value_dim, self.units), initializer="glorot_uniform"
        )
        self.score_vector = self.add_weight(
            name="v", shape=(self.units,), initializer="glorot_uniform"
        )
        self.built = True

    def keys(self, values: tf.Tensor) -> tf.Tensor:
        """W2 a for every encoder state: (batch, source, units)."""
        return tf.tensordot(values, self.key_kernel, 1)

    def weights_for(self, query: tf.Tensor, keys: tf.Tensor, source_mask: tf.Tensor) -> tf.Tensor:
        """The attention weights (rows, source) of each query row over its row of ``keys``.

        A plain method rather than ``call``: it runs inside the decoder's graph loop, where
        Keras' call machinery (autocasting, masks, build checks) is only overhead. The
        context is left to the caller, which may need it only through linear maps of it.
        """
        queries = tf.matmul(query, self.query_kernel) + self.bias  # (rows, units) W1 s + b
        hidden = tf.tanh(keys + queries[:, None, :])
        return masked_softmax(tf.tensordot(hidden, self.score_vector, 1), source_mask)

    call = weights_for

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units}
