"""The language model as a SavedModel that takes and returns raw strings.

Tokenization, vocabulary lookup, sampling and detokenization all run in the graph, so other TF
code only needs ``tf.saved_model.load``::

    lm = tf.saved_model.load("saved_models/lm/1")
    lm.score(tf.constant(["the cat sat on the mat ."]))  # {"log_prob", "tokens"}
    lm.sample(n=tf.constant(3), temperature=tf.constant(0.8))  # {"sentences"}
    lm.sample_prefix(prefix=tf.constant("the president"), n=..., temperature=...)

``score`` is also ``serving_default``. ``sentences`` must be a 1-D batch (a scalar string is
an InvalidArgumentError saying so); an empty batch, or ``n`` 0, gives empty results. A
temperature that is negative, NaN or infinite, or a negative ``n``, is an
InvalidArgumentError.

``python -m pipeline.lm.export`` lists the signatures of an export (``--model``, default
``saved_models/lm/1``) with their inputs and outputs. The export itself is written by
``python -m pipeline.lm.train`` (``make lm``), which keeps no other copy of the weights.
"""

from __future__ import annotations

import sys
from pathlib import Path

import tensorflow as tf

from pipeline.artifacts import lm_name, saved_model
from pipeline.config import Paths
from pipeline.io import atomic_path
from pipeline.lm.model import LanguageModel
from pipeline.serving import assert_batch, at_least_one_column, describe_main
from pipeline.text import BOS_ID, EOS_ID, PAD_ID, Tokenizer, Vocabulary, token_counts

LEVELS = ("word", "char")
# A character model's space, made visible because vocabulary files hold one token per line.
SPACE_SYMBOL = "\u2581"


class TextCodec:
    """Strings <-> ids for a word- or character-level model, in the graph.

    Characters are read from the same normalized text the word tokenizer cuts (repaired
    UTF-8, one kind of space, lowercased if asked), so both levels see the same corpus.
    """

    def __init__(
        self, vocab: Vocabulary, level: str, lowercase: bool = True, lang: str = "en"
    ) -> None:
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
        self.vocab = vocab
        self.level = level
        self.tokenizer = Tokenizer(lang, lowercase=lowercase)

    def tf_units(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """Words or characters of each string (``shape + [None]``)."""
        if self.level == "word":
            return self.tokenizer.tf_tokenize(texts)
        texts = tf.strings.regex_replace(self.tokenizer.tf_normalize(texts), " ", SPACE_SYMBOL)
        return tf.strings.unicode_split(texts, "UTF-8")

    def tf_join(self, units: tf.RaggedTensor) -> tf.Tensor:
        """The inverse of :meth:`tf_units`, up to the tokenizer's normalization."""
        if self.level == "word":
            return tf.strings.reduce_join(units, axis=-1, separator=" ")
        return tf.strings.regex_replace(tf.strings.reduce_join(units, axis=-1), SPACE_SYMBOL, " ")


class ExportedLM(tf.Module):
    def __init__(self, model: LanguageModel, codec: TextCodec, max_len: int) -> None:
        super().__init__()
        self.model = model
        self._codec = codec
        self.table = codec.vocab.lookup_table()
        self.tokens = tf.constant(codec.vocab.tokens)
        self.max_len = max_len

    def _ids(self, texts: tf.Tensor) -> tf.RaggedTensor:
        return tf.cast(self.table.lookup(self._codec.tf_units(texts)), tf.int32)

    def _join(self, ids: tf.Tensor) -> tf.Tensor:
        keep = (ids != PAD_ID) & (ids != EOS_ID)
        return self._codec.tf_join(tf.ragged.boolean_mask(tf.gather(self.tokens, ids), keep))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="sentences")])
    def score(self, sentences: tf.Tensor) -> dict[str, tf.Tensor]:
        """log P(sentence) = sum over its tokens and the final EOS; ``tokens`` counts them."""
        with tf.control_dependencies([assert_batch(sentences, "sentences")]):
            sentences = tf.identity(sentences)
        ids = self._ids(sentences)
        rows = tf.shape(sentences)[0]
        bos = tf.fill([rows, 1], BOS_ID)
        eos = tf.fill([rows, 1], EOS_ID)
        inputs = at_least_one_column(tf.concat([bos, ids], axis=1).to_tensor(PAD_ID))
        targets = at_least_one_column(tf.concat([ids, eos], axis=1).to_tensor(PAD_ID))
        log_probs = self.model.log_probs(inputs, targets)
        return {
            "log_prob": tf.reduce_sum(log_probs, axis=1),
            "tokens": token_counts(targets),
        }

    def _sample(self, prefix: tf.Tensor, n: tf.Tensor, temperature: tf.Tensor) -> tf.Tensor:
        checks = [
            tf.debugging.assert_non_negative(n, message="n must be >= 0"),
            tf.debugging.Assert(
                tf.math.is_finite(temperature) & (temperature >= 0),
                [
                    "temperature must be a finite number >= 0 (0 is greedy decoding), got",
                    temperature,
                ],
            ),
        ]
        with tf.control_dependencies(checks):  # before tile and the sampler fail on their own
            n, temperature = tf.identity(n), tf.identity(temperature)
        prefix_ids = self._ids(prefix[None])[0]
        start = tf.tile(tf.concat([[BOS_ID], prefix_ids], axis=0)[None], [n, 1])
        generated = self.model.generate(start, temperature, self.max_len)
        return self._join(tf.concat([start[:, 1:], generated], axis=1))

    @tf.function(
        input_signature=[
            tf.TensorSpec([], tf.int32, name="n"),
            tf.TensorSpec([], tf.float32, name="temperature"),
        ]
    )
    def sample(self, n: tf.Tensor, temperature: tf.Tensor) -> dict[str, tf.Tensor]:
        """``n`` sentences sampled from the start symbol; temperature 0 is greedy decoding."""
        return {"sentences": self._sample(tf.constant(""), n, temperature)}

    @tf.function(
        input_signature=[
            tf.TensorSpec([], tf.string, name="prefix"),
            tf.TensorSpec([], tf.int32, name="n"),
            tf.TensorSpec([], tf.float32, name="temperature"),
        ]
    )
    def sample_prefix(
        self, prefix: tf.Tensor, n: tf.Tensor, temperature: tf.Tensor
    ) -> dict[str, tf.Tensor]:
        """``n`` continuations of ``prefix`` (returned with the tokenized prefix in front)."""
        return {"sentences": self._sample(prefix, n, temperature)}


def export(model: LanguageModel, codec: TextCodec, max_len: int, dest: Path) -> Path:
    """Write the SavedModel to ``dest`` (a version folder) atomically."""
    module = ExportedLM(model, codec, max_len)
    with atomic_path(dest, directory=True) as tmp:
        tf.saved_model.save(
            module,
            str(tmp),
            signatures={
                "serving_default": module.score,
                "score": module.score,
                "sample": module.sample,
                "sample_prefix": module.sample_prefix,
            },
        )
    return dest


def main(argv: list[str] | None = None) -> int:
    return describe_main(
        argv,
        "python -m pipeline.lm.export",
        __doc__.split("\n")[0],
        saved_model(Paths(), lm_name("word")),
        "make lm",
    )


if __name__ == "__main__":
    sys.exit(main())
