"""The sentiment classifier as a SavedModel that takes raw strings.

Tokenization (``Tokenizer("en").tf_tokenize``), vocabulary lookup and truncation run in the
graph, so code that never imports ``pipeline`` only needs ``tf.saved_model.load``::

    clf = tf.saved_model.load("saved_models/sentiment/1")
    out = clf.signatures["serving_default"](texts=tf.constant(["a gripping , moving film"]))
    out["probability"]  # float32 [n], P(positive)
    out["label"]        # int64 [n], 1 positive, 0 negative
    out["label_name"]   # string [n], b"positive" or b"negative"

``clf.classify(texts)`` is the same function. Unknown words map to UNK; text in any script
is tokenized (and mostly UNK); texts longer than ``max_len`` tokens are truncated; an empty
or all-whitespace text has no tokens and gets the model's bias-only prediction.
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from pipeline.io import atomic_path
from pipeline.text import PAD_ID, Tokenizer, Vocabulary

LABEL_NAMES = ("negative", "positive")


class ExportedClassifier(tf.Module):
    def __init__(self, model: keras.Model, vocab: Vocabulary, max_len: int) -> None:
        super().__init__()
        self.model = model
        self._tokenizer = Tokenizer("en")
        self.table = vocab.lookup_table()
        self.max_len = max_len
        self.label_names = tf.constant(LABEL_NAMES)

    def ids(self, texts: tf.Tensor) -> tf.Tensor:
        """PAD-padded int32 ids ``[n, width]``, ``1 <= width <= max_len``."""
        tokens = self._tokenizer.tf_tokenize(texts)[:, : self.max_len]
        ids = tf.cast(tf.ragged.map_flat_values(self.table.lookup, tokens), tf.int32)
        dense = ids.to_tensor(PAD_ID)
        # A batch of empty texts has width 0; one PAD column keeps the RNN's shapes valid.
        missing = tf.maximum(0, 1 - tf.shape(dense)[1])
        return tf.pad(dense, [[0, 0], [0, missing]], constant_values=PAD_ID)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="texts")])
    def classify(self, texts: tf.Tensor) -> dict[str, tf.Tensor]:
        """P(positive), the predicted label (0/1) and its name for each text."""
        probs = self.model(self.ids(texts), training=False)
        positive = probs[:, 1]
        label = tf.cast(positive >= 0.5, tf.int64)
        return {
            "probability": positive,
            "label": label,
            "label_name": tf.gather(self.label_names, label),
        }


def export(model: keras.Model, vocab: Vocabulary, max_len: int, dest: Path) -> Path:
    """Write the SavedModel to ``dest`` (a version folder) atomically."""
    module = ExportedClassifier(model, vocab, max_len)
    with atomic_path(dest, directory=True) as tmp:
        tf.saved_model.save(
            module,
            str(tmp),
            signatures={"serving_default": module.classify, "classify": module.classify},
        )
    return dest
