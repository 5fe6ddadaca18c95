"""Bahdanau (additive) attention, split so the keys are computed once per source sentence.

e_{t,t'} = v . tanh(W1 s_{t-1} + W2 a_{t'}); the softmax over t' ignores padded positions.
``W2 a`` does not depend on the decoder step, so :meth:`BahdanauAttention.keys` computes it
once per sentence (in ``encode``) and every decoder step only adds ``W1 s_{t-1}``.
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
        return tf.matmul(values, self.key_kernel)

    def attend(
        self, query: tf.Tensor, keys: tf.Tensor, values: tf.Tensor, source_mask: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """The context vector (batch, value_dim) and the weights (batch, source).

        A plain method rather than ``call``: it runs inside the decoder's graph loop, where
        Keras' call machinery (autocasting, masks, build checks) is only overhead.
        """
        projected = tf.matmul(query, self.query_kernel) + self.bias  # (batch, units)
        hidden = tf.tanh(keys + projected[:, None, :])
        scores = tf.reduce_sum(hidden * self.score_vector, axis=-1)  # (batch, source)
        weights = masked_softmax(scores, source_mask)
        context = tf.matmul(weights[:, None, :], values)[:, 0, :]
        return context, weights

    call = attend

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units}
