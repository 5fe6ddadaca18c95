"""The word-language classifier as a SavedModel that takes raw words.

Normalization, character lookup and truncation run in the graph, so code that never imports
``pipeline`` only needs ``tf.saved_model.load``::

    clf = tf.saved_model.load("saved_models/word_language/1")
    out = clf.signatures["serving_default"](words=tf.constant(["Fenster", "window"]))
    out["probabilities"]  # float32 [n, languages], rows sum to 1
    out["language"]       # string [n], the most probable language's code, e.g. b"de"
    out["language_name"]  # string [n], its English name, e.g. b"German"
    out["characters"]     # int32 [n], characters the model read (at most max_chars)
    clf.signatures["languages"]()  # {"codes", "names"}: the columns of probabilities

``clf.classify(words)`` is the same function. Words are lowercased and stripped; bytes that
are not UTF-8 become U+FFFD, which like any character unseen in training is UNK; a word longer
than ``max_chars`` characters is read up to there. An empty (or all-blank) word has no
characters and gets the model's bias-only prediction, flagged by ``characters`` 0. Input in
decomposed Unicode (NFD) is read as its separate marks, as the word lists are composed (NFC).
``words`` must be a 1-D batch; a scalar string is an InvalidArgumentError saying so.

``python -m pipeline.wordlang.export`` lists the signatures of an export (``--model``,
default ``saved_models/word_language/1``). The export itself is written by
``python -m pipeline.wordlang`` (``make word-language``), which keeps no other copy.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import keras
import tensorflow as tf

from pipeline.artifacts import WORD_LANGUAGE, saved_model
from pipeline.config import Paths
from pipeline.io import atomic_path
from pipeline.serving import assert_batch, at_least_one_column, describe_main
from pipeline.text import PAD_ID, token_counts
from pipeline.wordlang.model import CharCodec


class ExportedWordLanguage(tf.Module):
    def __init__(
        self, model: keras.Model, codec: CharCodec, codes: Sequence[str], names: Sequence[str]
    ) -> None:
        super().__init__()
        self.model = model
        self._codec = codec
        self.table = codec.table
        self.codes = tf.constant(list(codes))
        self.names = tf.constant(list(names))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="words")])
    def classify(self, words: tf.Tensor) -> dict[str, tf.Tensor]:
        """P(language | word) per column of ``languages``, the best one and characters read."""
        with tf.control_dependencies([assert_batch(words, "words")]):
            words = tf.identity(words)
        ids = at_least_one_column(self._codec.ids(words).to_tensor(PAD_ID))
        probabilities = tf.nn.softmax(self.model(ids, training=False), axis=-1)
        best = tf.argmax(probabilities, axis=1)
        return {
            "probabilities": probabilities,
            "language": tf.gather(self.codes, best),
            "language_name": tf.gather(self.names, best),
            "characters": token_counts(ids),
        }

    @tf.function(input_signature=[])
    def languages(self) -> dict[str, tf.Tensor]:
        """The language codes and names, in the order of the ``probabilities`` columns."""
        return {"codes": self.codes, "names": self.names}


def export(
    model: keras.Model,
    codec: CharCodec,
    codes: Sequence[str],
    names: Sequence[str],
    dest: Path,
) -> Path:
    """Write the SavedModel to ``dest`` (a version folder) atomically."""
    module = ExportedWordLanguage(model, codec, codes, names)
    with atomic_path(dest, directory=True) as tmp:
        tf.saved_model.save(
            module,
            str(tmp),
            signatures={
                "serving_default": module.classify,
                "classify": module.classify,
                "languages": module.languages,
            },
        )
    return dest


def main(argv: list[str] | None = None) -> int:
    return describe_main(
        argv,
        "python -m pipeline.wordlang.export",
        __doc__.split("\n")[0],
        saved_model(Paths(), WORD_LANGUAGE),
        "make word-language",
    )


if __name__ == "__main__":
    sys.exit(main())
