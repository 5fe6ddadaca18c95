"""The sentiment classifier as a SavedModel that takes raw strings.

Tokenization (``Tokenizer("en").tf_tokenize``), vocabulary lookup and truncation run in the
graph, so code that never imports ``pipeline`` only needs ``tf.saved_model.load``::

    clf = tf.saved_model.load("saved_models/sentiment/1")
    out = clf.signatures["serving_default"](texts=tf.constant(["a gripping , moving film"]))
    out["probability"]  # float32 [n], P(positive)
    out["label"]        # int64 [n], 1 positive, 0 negative
    out["label_name"]   # string [n], b"positive" or b"negative"
    out["known_tokens"] # int32 [n], in-vocabulary tokens the model read (at most max_len)

A classifier of a named run's labeled texts (``make sentiment LABELED=... RUN=name``) names
its labels by the run's classes: with two, ``label_name`` is one of them and ``probability``
is P(second class). With more, the outputs are instead::

    out["probabilities"] # float32 [n, classes], each row sums to 1
    out["class_names"]   # string [classes], the class of each column
    out["label"]         # int64 [n], the most probable class
    out["label_name"]    # string [n], its name
    out["known_tokens"]  # int32 [n], as above

``clf.classify(texts)`` is the same function. Unknown words map to UNK; text in any script
is tokenized (and mostly UNK); texts longer than ``max_len`` tokens are truncated; an empty
or all-whitespace text has no tokens and gets the model's bias-only prediction. Such a
prediction says nothing about the text, so ``known_tokens`` is 0 for it (and for text of
unknown words only): a caller can tell it from a real one. ``texts`` must be a 1-D batch; a
scalar string is an InvalidArgumentError saying so.

When the exported configuration is a vote with NBSVM (``<config>+nbsvm``), the graph also
holds NBSVM's n-gram weights in a hash table, and the probability is
``w * P_neural + (1 - w) * P_NBSVM`` with the ``w`` chosen in training.

``python -m pipeline.sentiment.export`` lists the signatures of an export (``--model``,
default ``saved_models/sentiment/1``) with their inputs and outputs. The export itself is
written by ``python -m pipeline.sentiment.train`` (``make sentiment``), which keeps no other
copy of the weights.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import keras
import tensorflow as tf

from pipeline.artifacts import saved_model, sentiment_name
from pipeline.config import Paths
from pipeline.io import atomic_path
from pipeline.sentiment.baseline import NBSVM
from pipeline.serving import assert_batch, at_least_one_column, describe_main
from pipeline.text import PAD_ID, UNK_ID, Tokenizer, Vocabulary

LABEL_NAMES = ("negative", "positive")


class ExportedClassifier(tf.Module):
    def __init__(
        self,
        model: keras.Model,
        vocab: Vocabulary,
        max_len: int,
        nbsvm: NBSVM | None = None,
        neural_weight: float = 1.0,
        label_names: Sequence[str] = LABEL_NAMES,
    ) -> None:
        super().__init__()
        if model.output_shape[-1] != len(label_names):
            raise ValueError(
                f"the model predicts {model.output_shape[-1]} classes but {len(label_names)} "
                "label names were given"
            )
        self.model = model
        self._tokenizer = Tokenizer("en")
        self.table = vocab.lookup_table()
        self.max_len = max_len
        self.label_names = tf.constant(list(label_names))
        self.multiclass = len(label_names) > 2
        self.nbsvm = None
        if nbsvm is not None and self.multiclass:
            raise ValueError("NBSVM votes between two classes only")
        if nbsvm is not None:
            if nbsvm.base != len(vocab):
                raise ValueError(
                    f"NBSVM keys are over {nbsvm.base} ids, the vocabulary has {len(vocab)}; "
                    "convert them with NBSVM.keys_in"
                )
            self.nbsvm = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(nbsvm.columns, tf.int64),
                    tf.constant(nbsvm.weights, tf.float32),
                ),
                default_value=0.0,
            )
            self.nbsvm_base = tf.constant(nbsvm.base, tf.int64)
            self.nbsvm_bias = tf.constant(nbsvm.bias, tf.float32)
            self.neural_weight = tf.constant(neural_weight, tf.float32)

    def ids(self, texts: tf.Tensor) -> tf.Tensor:
        """PAD-padded int32 ids ``[n, width]``, ``1 <= width <= max_len``."""
        tokens = self._tokenizer.tf_tokenize(texts)[:, : self.max_len]
        ids = tf.cast(tf.ragged.map_flat_values(self.table.lookup, tokens), tf.int32)
        return at_least_one_column(ids.to_tensor(PAD_ID))

    def nbsvm_log_odds(self, ids: tf.Tensor) -> tf.Tensor:
        """NBSVM's score of each row: the weights of its distinct uni- and bigrams, plus bias.

        The keys are those of :func:`pipeline.sentiment.baseline.ngram_keys`; sorting each
        row puts repeats side by side, so a repeated n-gram counts once (binarized features).
        """
        ids = tf.cast(ids, tf.int64)
        bigrams = -(ids[:, :-1] * self.nbsvm_base + ids[:, 1:]) - 1
        bigrams = tf.where(ids[:, 1:] != PAD_ID, bigrams, PAD_ID)  # PAD's weight is 0
        keys = tf.sort(tf.concat([ids, bigrams], axis=1), axis=1)
        first = tf.concat([tf.ones_like(keys[:, :1], tf.bool), keys[:, 1:] != keys[:, :-1]], axis=1)
        weights = tf.where(first, self.nbsvm.lookup(keys), 0.0)
        return tf.reduce_sum(weights, axis=1) + self.nbsvm_bias

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="texts")])
    def classify(self, texts: tf.Tensor) -> dict[str, tf.Tensor]:
        """P(positive), the predicted label (0/1), its name and the known tokens of each text;
        with more than two classes, every class' probability and the class names instead."""
        with tf.control_dependencies([assert_batch(texts, "texts")]):
            texts = tf.identity(texts)
        ids = self.ids(texts)
        known = tf.reduce_sum(tf.cast((ids != PAD_ID) & (ids != UNK_ID), tf.int32), axis=1)
        probabilities = self.model(ids, training=False)
        if self.multiclass:
            label = tf.argmax(probabilities, axis=1)
            return {
                "probabilities": probabilities,
                "class_names": self.label_names,
                "label": label,
                "label_name": tf.gather(self.label_names, label),
                "known_tokens": known,
            }
        positive = probabilities[:, 1]
        if self.nbsvm is not None:
            nbsvm = tf.sigmoid(self.nbsvm_log_odds(ids))
            positive = self.neural_weight * positive + (1.0 - self.neural_weight) * nbsvm
        label = tf.cast(positive >= 0.5, tf.int64)
        return {
            "probability": positive,
            "label": label,
            "label_name": tf.gather(self.label_names, label),
            "known_tokens": known,
        }


def export(
    model: keras.Model,
    vocab: Vocabulary,
    max_len: int,
    dest: Path,
    *,
    nbsvm: NBSVM | None = None,
    neural_weight: float = 1.0,
    label_names: Sequence[str] = LABEL_NAMES,
) -> Path:
    """Write the SavedModel to ``dest`` (a version folder) atomically."""
    module = ExportedClassifier(model, vocab, max_len, nbsvm, neural_weight, label_names)
    with atomic_path(dest, directory=True) as tmp:
        tf.saved_model.save(
            module,
            str(tmp),
            signatures={"serving_default": module.classify, "classify": module.classify},
        )
    return dest


def main(argv: list[str] | None = None) -> int:
    return describe_main(
        argv,
        "python -m pipeline.sentiment.export",
        __doc__.split("\n")[0],
        saved_model(Paths(), sentiment_name("mr")),
        "make sentiment",
    )


if __name__ == "__main__":
    sys.exit(main())
