"""The character-level bidirectional GRU and its batches of equal-length words.

A word's characters ``x_1..x_T`` are embedded, read forwards and backwards by GRUs, and the
two final states ``[h_T(fwd); h_1(bwd)]`` give the language's logits ``W [..] + b``; the loss
is cross-entropy over the languages. Training batches hold words of one length, as the notes
batch names: no step pads, so no padding reaches a state. The export and evaluation read
mixed lengths, padded with PAD and masked, which gives the same states.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from pipeline.config import WordLanguageConfig
from pipeline.rnn import make_rnn
from pipeline.text import PAD_ID, Tokenizer, Vocabulary


class CharCodec:
    """Words -> character ids in the graph, the one path training and the export share.

    Text is normalized as everywhere in the pipeline (invalid UTF-8 repaired to U+FFFD,
    invisible characters dropped, lowercased), stripped, cut into Unicode characters and
    truncated to ``max_chars``; a character outside the vocabulary is UNK.
    """

    def __init__(self, vocab: Vocabulary, max_chars: int) -> None:
        self.vocab = vocab
        self.max_chars = max_chars
        self.table = vocab.lookup_table()
        self._tokenizer = Tokenizer("en")

    @staticmethod
    def vocabulary(words: Sequence[str], min_count: int) -> Vocabulary:
        """The characters of the training words seen at least ``min_count`` times."""
        return Vocabulary.build(Counter(c for word in words for c in word), min_count)

    def ids(self, words: tf.Tensor) -> tf.RaggedTensor:
        """int32 ``[n, (chars)]``, at most ``max_chars`` per word."""
        text = tf.strings.strip(self._tokenizer.tf_normalize(words))
        chars = tf.strings.unicode_split(text, "UTF-8")[:, : self.max_chars]
        return tf.cast(self.table.lookup(chars), tf.int32)


def build_model(config: WordLanguageConfig, vocab_size: int, n_languages: int) -> keras.Model:
    """Embedding -> bidirectional ``config.cell`` -> dropout -> logits, compiled."""
    ids = keras.Input((None,), dtype="int32", name="chars")
    x = keras.layers.Embedding(vocab_size, config.embed_dim, mask_zero=True)(ids)
    x = make_rnn(config.cell, config.units, bidirectional=True, num_layers=config.layers)(x)
    x = keras.layers.Dropout(config.dropout)(x)
    logits = keras.layers.Dense(n_languages, name="logits")(x)
    model = keras.Model(ids, logits, name="word_language")
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def length_batches(
    ids: tf.RaggedTensor, labels: np.ndarray, batch_size: int, seed: int | None = None
) -> tf.data.Dataset:
    """``(ids [b, T], labels [b])`` batches whose words all have ``T`` characters.

    With a ``seed`` the words are reshuffled every epoch before grouping, so the batches of
    one length change from epoch to epoch; a length's last batch may be smaller.
    """
    lengths = tf.cast(ids.row_lengths(), tf.int32)
    data = tf.data.Dataset.from_tensor_slices((ids.to_tensor(PAD_ID), lengths, labels))
    if seed is not None:
        data = data.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    data = data.map(lambda x, n, y: (x[:n], y))
    data = data.group_by_window(
        key_func=lambda x, _: tf.cast(tf.shape(x)[0], tf.int64),
        reduce_func=lambda _, window: window.batch(batch_size),
        window_size=batch_size,
    )
    return data.prefetch(tf.data.AUTOTUNE)
