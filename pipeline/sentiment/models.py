"""The two classifiers: an order-blind average of word vectors and an order-aware BiRNN.

Both read PAD-padded id matrices; the embedding layer masks PAD (id 0), so padding changes
neither the average (a masked mean) nor the recurrent final states (masked steps carry the
state through unchanged). Both end in ``Dense(classes, softmax)``; for polarity (2 classes)
a prediction's second column is P(positive).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from pipeline.rnn import make_rnn

MODELS = ("average", "recurrent")
POOLINGS = ("final", "final+max")
NUM_CLASSES = 2


@keras.saving.register_keras_serializable(package="pipeline.sentiment")
class MaskedMean(keras.layers.Layer):
    """Mean over the unmasked time steps; an all-PAD row (empty text) averages to zero."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs: Any, mask: Any = None) -> Any:
        if mask is None:
            return ops.mean(inputs, axis=1)
        weights = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
        total = ops.sum(inputs * weights, axis=1)
        return total / ops.maximum(ops.sum(weights, axis=1), 1.0)

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        return None

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (input_shape[0], input_shape[2])


@keras.saving.register_keras_serializable(package="pipeline.sentiment")
class FinalAndMaxPool(keras.layers.Layer):
    """A bidirectional RNN's final states and its masked max over time, concatenated.

    Reads the ``[batch, time, 2 * units]`` sequence of a ``Bidirectional(concat)`` RNN: the
    forward final state is the output at the last unmasked step, the backward one the output
    at step 0 (Keras re-aligns the backward sequence with time). The max ignores masked
    steps; an all-PAD row pools to zeros.
    """

    def __init__(self, units: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.supports_masking = True

    def call(self, inputs: Any, mask: Any = None) -> Any:
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], dtype="bool")
        valid = ops.cast(mask, "int32")
        last = ops.maximum(ops.sum(valid, axis=1) - 1, 0)
        forward = ops.take_along_axis(inputs, ops.reshape(last, (-1, 1, 1)), axis=1)[:, 0]
        forward = forward[:, : self.units]
        backward = inputs[:, 0, self.units :]
        fill = ops.where(ops.expand_dims(mask, -1), inputs, ops.full_like(inputs, -1e9))
        pooled = ops.max(fill, axis=1)
        pooled = ops.where(ops.any(mask, axis=1, keepdims=True), pooled, ops.zeros_like(pooled))
        return ops.concatenate([forward, backward, pooled], axis=-1)

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        return None

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (input_shape[0], 2 * input_shape[2])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units}


def build_model(
    kind: str,
    matrix: np.ndarray,
    *,
    trainable: bool = True,
    cell: str = "keras_gru",
    units: int = 64,
    layers: int = 1,
    dropout: float = 0.5,
    pooling: str = "final",
    classes: int = NUM_CLASSES,
) -> keras.Model:
    """``kind`` ``average`` or ``recurrent`` over embeddings initialised to ``matrix``.

    ``trainable`` fine-tunes the embeddings; ``cell``, ``units`` and ``layers`` shape the
    bidirectional RNN whose final forward and backward states feed the classifier;
    ``pooling="final+max"`` appends its masked max over time to them; the softmax is over
    ``classes`` classes.
    """
    if kind not in MODELS:
        raise ValueError(f"unknown model {kind!r}; choose one of {', '.join(MODELS)}")
    if pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r}; choose one of {', '.join(POOLINGS)}")
    vocab_size, dim = matrix.shape
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    embedding = keras.layers.Embedding(
        vocab_size, dim, mask_zero=True, trainable=trainable, name="embedding"
    )
    x = embedding(ids)
    embedding.embeddings.assign(matrix.astype(np.float32))
    x = keras.layers.Dropout(dropout, name="word_dropout")(x)
    if kind == "average":
        x = MaskedMean(name="mean")(x)
    elif pooling == "final":
        x = make_rnn(cell, units, bidirectional=True, num_layers=layers, name="birnn")(x)
    else:
        x = make_rnn(
            cell, units, bidirectional=True, num_layers=layers, return_sequences=True, name="birnn"
        )(x)
        x = FinalAndMaxPool(units, name="pool")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    probs = keras.layers.Dense(classes, activation="softmax", name="softmax")(x)
    return keras.Model(ids, probs, name=f"sentiment_{kind}")


def compile_model(model: keras.Model, learning_rate: float) -> keras.Model:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def copy_weights(source: keras.Model, target: keras.Model, embeddings: np.ndarray) -> None:
    """Every weight of ``source`` into ``target`` (same architecture), the embeddings given."""
    for src, dst in zip(source.layers, target.layers, strict=True):
        if dst.name == "embedding":
            dst.embeddings.assign(embeddings)
        elif src.weights:
            dst.set_weights(src.get_weights())
