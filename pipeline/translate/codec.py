"""Raw text <-> translator ids, in the graph, shared by the SavedModel and the evaluation.

The exported model and ``make bleu`` must see a sentence exactly the same way, or the BLEU
in the report would not be the BLEU of the artifact. So both run a codec: :class:`SubwordCodec`
(one joint SentencePiece model, cased) or :class:`WordCodec` (the training tokenizer's
in-graph twin and one vocabulary per language, unknown words -> UNK). Either gives at most
``max_tokens`` source units (longer input is cut, never rejected) and a final EOS, as the
training records have. A word model's output ids go back to text by joining tokens with
spaces and re-attaching punctuation, a subword model's by SentencePiece's detokenizer.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from pipeline.text import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Tokenizer, Vocabulary, token_counts
from pipeline.text.subwords import Subwords

MAX_SOURCE_TOKENS = 100  # words
MAX_SOURCE_PIECES = 160  # subwords: about as much text
# Output length limit per sentence (max_target_len): 2 * source length + 10.
MAX_LEN_SCALE = 2.0
MAX_LEN_OFFSET = 10

_NO_SPACE_BEFORE = r" ([.,!?;:%)\]}])"
_NO_SPACE_AFTER = r"([(\[{]) "


def _check_limit(max_tokens: int | None) -> None:
    if max_tokens is not None and max_tokens < 1:
        raise ValueError("max_tokens must be >= 1")


class Encoded(NamedTuple):
    ids: tf.Tensor  # (N, S) int32, EOS-ended, PAD-padded
    tokens: tf.RaggedTensor  # (N, None) the source words or pieces kept
    truncated: tf.Tensor  # (N,) bool: the sentence had more than max_tokens tokens


class TextEncoder(tf.Module):
    """Strings -> EOS-ended ids (see the module docstring); ``max_tokens=None`` cuts nothing,
    as for references scored under the model. A module, so a SavedModel keeps its table."""

    def __init__(
        self, tokenizer: Tokenizer, vocab: Vocabulary, max_tokens: int | None = MAX_SOURCE_TOKENS
    ) -> None:
        _check_limit(max_tokens)
        super().__init__()
        self.tokenizer = tokenizer
        self.table = vocab.lookup_table()
        self.max_tokens = max_tokens

    def __call__(self, sentences: tf.Tensor) -> Encoded:
        tokens = self.tokenizer.tf_tokenize(tf.convert_to_tensor(sentences, tf.string))
        truncated = tf.zeros([tokens.nrows()], tf.bool)
        if self.max_tokens is not None:
            truncated = tokens.row_lengths() > self.max_tokens
            tokens = tokens[:, : self.max_tokens]
        ids = tf.cast(tf.ragged.map_flat_values(self.table.lookup, tokens), tf.int32)
        eos = tf.fill([ids.nrows(), 1], EOS_ID)
        ids = tf.concat([ids, tf.RaggedTensor.from_tensor(eos)], axis=1)
        return Encoded(ids.to_tensor(PAD_ID), tokens, truncated)


def max_target_len(source_ids: tf.Tensor) -> tf.Tensor:
    """(N,) int32 output length limits from the real (non-PAD) source lengths: the one rule of
    every decoder (BLEU, error analysis, the SavedModel), so a sentence decodes the same
    alone and in any batch, and the same in the report as in the artifact."""
    lengths = tf.cast(token_counts(source_ids), tf.float32)
    return tf.cast(tf.math.ceil(MAX_LEN_SCALE * lengths), tf.int32) + MAX_LEN_OFFSET


def output_tokens(
    ids: tf.Tensor,
    vocab_tokens: tf.Tensor,
    attention: tf.Tensor | None = None,
    source_tokens: tf.RaggedTensor | None = None,
) -> tf.RaggedTensor:
    """The words of output ids (N, T): up to the first EOS, without PAD/BOS/EOS.

    Given the search's ``attention`` (N, T, S) and the ``source_tokens`` it attended to, an
    output UNK becomes the source word it attended to most (Luong et al. 2015's unknown-word
    replacement): names, numbers and rare words the vocabulary lacks mostly pass through
    unchanged in translation, and a copied word beats a literal ``<unk>``. Without them, or
    where the most-attended position is the source's EOS, UNK stays.
    """
    ids = tf.convert_to_tensor(ids, tf.int32)
    words = tf.gather(vocab_tokens, ids)
    if attention is not None and source_tokens is not None:
        width = tf.shape(attention)[2]
        source = source_tokens[:, :width].to_tensor("")
        source = tf.pad(source, [[0, 0], [0, width - tf.shape(source)[1]]])
        attended = tf.gather(
            source, tf.argmax(attention, axis=2, output_type=tf.int32), batch_dims=1
        )
        words = tf.where(tf.equal(ids, UNK_ID) & tf.not_equal(attended, ""), attended, words)
    return tf.ragged.boolean_mask(words, _kept(ids))


def detokenize(tokens: tf.RaggedTensor) -> tf.Tensor:
    """One string per row: tokens joined by spaces, punctuation attached to its word."""
    text = tf.strings.reduce_join(tokens, axis=-1, separator=" ")
    text = tf.strings.regex_replace(text, _NO_SPACE_BEFORE, r"\1")
    return tf.strings.regex_replace(text, _NO_SPACE_AFTER, r"\1")


def _cut(ids: tf.RaggedTensor, max_tokens: int | None) -> tuple[tf.RaggedTensor, tf.Tensor]:
    if max_tokens is None:
        return ids, tf.zeros([ids.nrows()], tf.bool)
    return ids[:, :max_tokens], ids.row_lengths() > max_tokens


def _with_eos(ids: tf.RaggedTensor) -> tf.Tensor:
    eos = tf.fill([ids.nrows(), 1], EOS_ID)
    return tf.concat([ids, tf.RaggedTensor.from_tensor(eos)], axis=1).to_tensor(PAD_ID)


def _kept(ids: tf.Tensor) -> tf.Tensor:
    """(N, T) bool: the output positions before the first EOS that are not PAD or BOS."""
    before_eos = tf.equal(tf.cumsum(tf.cast(tf.equal(ids, EOS_ID), tf.int32), axis=1), 0)
    return before_eos & tf.not_equal(ids, PAD_ID) & tf.not_equal(ids, BOS_ID)


def _before_eos(ids: tf.Tensor) -> tf.RaggedTensor:
    ids = tf.convert_to_tensor(ids, tf.int32)
    return tf.ragged.boolean_mask(ids, _kept(ids))


class WordCodec(tf.Module):
    """Word tokens, one vocabulary per language; output UNKs copy the most-attended word."""

    units = "word"

    def __init__(
        self,
        source: tuple[Tokenizer, Vocabulary],
        target: tuple[Tokenizer, Vocabulary],
        max_tokens: int | None = MAX_SOURCE_TOKENS,
    ) -> None:
        super().__init__()
        self.source = TextEncoder(*source, max_tokens)
        self.target = TextEncoder(*target, max_tokens=None)
        self.target_words = tf.constant(target[1].tokens)
        self.lowercase = source[0].lowercase
        self.sizes = (len(source[1]), len(target[1]))

    @property
    def max_tokens(self) -> int | None:
        return self.source.max_tokens

    @max_tokens.setter
    def max_tokens(self, value: int | None) -> None:
        _check_limit(value)
        self.source.max_tokens = value

    def encode(self, sentences: tf.Tensor) -> Encoded:
        return self.source(sentences)

    def encode_target(self, sentences: tf.Tensor) -> Encoded:
        return self.target(sentences)

    def decode(
        self,
        ids: tf.Tensor,
        attention: tf.Tensor | None = None,
        source_tokens: tf.RaggedTensor | None = None,
    ) -> tf.Tensor:
        return detokenize(output_tokens(ids, self.target_words, attention, source_tokens))

    def pieces(self, ids: tf.Tensor) -> tf.Tensor:
        return tf.gather(self.target_words, ids)


class SubwordCodec(tf.Module):
    """One cased SentencePiece model for both languages (:mod:`pipeline.text.subwords`)."""

    units = "subword"
    lowercase = False

    def __init__(self, model: bytes, max_tokens: int | None = MAX_SOURCE_PIECES) -> None:
        super().__init__()
        self.subwords = Subwords(model)
        self.max_tokens = max_tokens
        self.sizes = (self.subwords.size, self.subwords.size)

    @property
    def max_tokens(self) -> int | None:
        return self._max_tokens

    @max_tokens.setter
    def max_tokens(self, value: int | None) -> None:
        _check_limit(value)
        self._max_tokens = value

    def _encode(self, sentences: tf.Tensor, max_tokens: int | None) -> Encoded:
        ids, truncated = _cut(self.subwords.tokenize(sentences), max_tokens)
        return Encoded(_with_eos(ids), self.subwords.pieces(ids), truncated)

    def encode(self, sentences: tf.Tensor) -> Encoded:
        return self._encode(sentences, self.max_tokens)

    def encode_target(self, sentences: tf.Tensor) -> Encoded:
        return self._encode(sentences, None)

    def decode(
        self,
        ids: tf.Tensor,
        attention: tf.Tensor | None = None,
        source_tokens: tf.RaggedTensor | None = None,
    ) -> tf.Tensor:
        """Byte fallback leaves nothing unknown to copy, so attention is not needed."""
        del attention, source_tokens
        return self.subwords.detokenize(_before_eos(ids))

    def pieces(self, ids: tf.Tensor) -> tf.Tensor:
        return self.subwords.pieces(tf.convert_to_tensor(ids, tf.int32))


Codec = WordCodec | SubwordCodec
