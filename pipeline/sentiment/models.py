"""The two classifiers: an order-blind average of word vectors and an order-aware BiRNN.

Both read PAD-padded id matrices; the embedding layer masks PAD (id 0), so padding changes
neither the average (a masked mean) nor the recurrent final states (masked steps carry the
state through unchanged). Both end in ``Dense(2, softmax)``, so a prediction's second
column is P(positive).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from pipeline.rnn import make_rnn

MODELS = ("average", "recurrent")
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


def build_model(
    kind: str,
    matrix: np.ndarray,
    *,
    trainable: bool = True,
    cell: str = "keras_gru",
    units: int = 64,
    layers: int = 1,
    dropout: float = 0.5,
) -> keras.Model:
    """``kind`` ``average`` or ``recurrent`` over embeddings initialised to ``matrix``.

    ``trainable`` fine-tunes the embeddings; ``cell``, ``units`` and ``layers`` shape the
    bidirectional RNN whose final forward and backward states feed the classifier.
    """
    if kind not in MODELS:
        raise ValueError(f"unknown model {kind!r}; choose one of {', '.join(MODELS)}")
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
    else:
        x = make_rnn(cell, units, bidirectional=True, num_layers=layers, name="birnn")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    probs = keras.layers.Dense(NUM_CLASSES, activation="softmax", name="softmax")(x)
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
