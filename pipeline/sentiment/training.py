"""One polarity classifier trained with early stopping on a stratified validation split."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from pipeline.config import SentimentConfig
from pipeline.sentiment import data
from pipeline.sentiment.models import MODELS, build_model, compile_model

# Keras warns that fit ignores shuffle for a tf.data input (ours shuffles itself) and that a
# finite dataset "ran out of data" at the end of each epoch; neither is actionable.
warnings.filterwarnings("ignore", message=".*shuffle=True.*", category=UserWarning)
warnings.filterwarnings("ignore", message=".*ran out of data.*", category=UserWarning)

LENGTH_BUCKETS = [8, 16, 24, 32, 48]
MONITORED = {"val_loss": "loss", "val_accuracy": "accuracy"}


def parse_config(name: str) -> tuple[str, str]:
    """``(model, init)`` of a configuration name ``<model>/<init>``, refusing unknown ones."""
    model, _, init = name.partition("/")
    if model not in MODELS or init not in data.INITS:
        raise ValueError(
            f"bad configuration {name!r}: write <model>/<init> with model one of "
            f"{', '.join(MODELS)} and init one of {', '.join(data.INITS)}"
        )
    return model, init


def trains_embeddings(config: SentimentConfig, init: str) -> bool:
    """Random vectors carry nothing worth keeping frozen, so they always train."""
    return config.finetune or init == "random"


def batches(
    examples: data.Examples, batch_size: int, *, shuffle: bool, seed: int = 0
) -> tf.data.Dataset:
    """(ids, label) batches of similar lengths, each cut to its longest text.

    Bucketing by length matters for the recurrent model: it runs one step per column, and a
    batch of random texts is as wide as its longest one.
    """
    dataset = tf.data.Dataset.from_tensor_slices((examples.ids, examples.labels))
    if shuffle:
        dataset = dataset.shuffle(len(examples), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.bucket_by_sequence_length(
        lambda ids, _: tf.reduce_sum(tf.cast(ids != 0, tf.int32)),
        LENGTH_BUCKETS,
        [batch_size] * (len(LENGTH_BUCKETS) + 1),
    )
    return dataset.map(lambda ids, labels: (_trim(ids), labels)).prefetch(tf.data.AUTOTUNE)


def _trim(ids: tf.Tensor) -> tf.Tensor:
    """A batch cut to its longest text (at least one column)."""
    width = tf.reduce_max(tf.reduce_sum(tf.cast(ids != 0, tf.int32), axis=1))
    return ids[:, : tf.maximum(width, 1)]


def predict(model: keras.Model, examples: data.Examples, batch_size: int) -> np.ndarray:
    """The class probabilities ``[n, classes]`` of each example, in order."""
    dataset = tf.data.Dataset.from_tensor_slices(examples.ids).batch(batch_size).map(_trim)
    return model.predict(dataset, verbose=0)


def probabilities(model: keras.Model, examples: data.Examples, batch_size: int) -> np.ndarray:
    """P(positive) of each example, in order (two classes)."""
    return predict(model, examples, batch_size)[:, 1]


def predicted(probability: np.ndarray) -> np.ndarray:
    """The label of each row of class probabilities, or of each P(positive) of a 1-D array.

    Two classes use the 0.5 threshold on P(positive), as the exported model does (a tie goes
    to the positive class); more classes take the most probable.
    """
    if probability.ndim == 1:
        return (probability >= 0.5).astype(np.int64)
    if probability.shape[1] == 2:
        return predicted(probability[:, 1])
    return np.argmax(probability, axis=1)


def configured_model(
    kind: str, matrix: np.ndarray, trainable: bool, config: SentimentConfig, classes: int = 2
) -> keras.Model:
    """``build_model`` shaped by the stage's config, so training and export agree."""
    return build_model(
        kind,
        matrix,
        trainable=trainable,
        cell=config.cell,
        units=config.units,
        layers=config.layers,
        dropout=config.dropout,
        pooling=config.pooling,
        classes=classes,
    )


def _compiled(
    model_kind: str,
    matrix: np.ndarray,
    trainable: bool,
    config: SentimentConfig,
    seed: int,
    classes: int,
) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = configured_model(model_kind, matrix, trainable, config, classes)
    rate = config.average_learning_rate if model_kind == "average" else config.learning_rate
    compile_model(model, rate)
    return model


def fit(
    model_kind: str,
    matrix: np.ndarray,
    trainable: bool,
    train: data.Examples,
    config: SentimentConfig,
    log_dir: Path | None,
    seed: int,
) -> tuple[keras.Model, dict[str, Any]]:
    """Train on ``train`` minus a validation split, stopping when ``config.monitor`` stalls."""
    fit_index, val_index = data.validation_split(train.labels, config.val_fraction, seed)
    model = _compiled(model_kind, matrix, trainable, config, seed, train.classes)
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.EarlyStopping(
            monitor=config.monitor, patience=config.patience, restore_best_weights=True
        )
    ]
    if log_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(str(log_dir), write_graph=False))
    history = model.fit(
        batches(train.take(fit_index), config.batch_size, shuffle=True, seed=seed),
        validation_data=batches(train.take(val_index), config.batch_size, shuffle=False),
        epochs=config.epochs,
        callbacks=callbacks,
        verbose=0,
    )
    val_accuracy = history.history["val_accuracy"]
    watched = history.history[config.monitor]
    best = int(np.argmax(watched) if config.monitor == "val_accuracy" else np.argmin(watched))
    return model, {
        "epochs": len(val_accuracy),
        "best_epoch": best + 1,
        "val_accuracy": round(float(val_accuracy[best]), 4),
    }


def refit(
    model_kind: str,
    matrix: np.ndarray,
    trainable: bool,
    train: data.Examples,
    config: SentimentConfig,
    seed: int,
    epochs: int,
) -> keras.Model:
    """The model of :func:`fit` trained on all of ``train`` for the ``epochs`` it chose.

    Once the validation split has chosen the epochs (and the vote's weight) it has nothing
    left to decide, so its texts are worth more as training data.
    """
    model = _compiled(model_kind, matrix, trainable, config, seed, train.classes)
    model.fit(batches(train, config.batch_size, shuffle=True, seed=seed), epochs=epochs, verbose=0)
    return model
