"""The trained translator as a SavedModel that takes raw sentences and returns translations.

Tokenization, vocabulary lookup, beam search and detokenization all run in the graph
(:mod:`pipeline.translate.codec`), so a program that never imports ``pipeline`` can use it.
The subword model's SentencePiece ops come from TF Text, which registers them on import, so
such a program imports ``tensorflow_text`` before loading::

    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the SentencePiece ops)

    translator = tf.saved_model.load("saved_models/translator/1")
    out = translator.signatures["serving_default"](
        sentences=tf.constant(["Wie spät ist es?"]),
        beam_size=tf.constant(5),  # int32, 1..max_beam (10 by default)
        alpha=tf.constant(0.6),  # float32 >= 0, length penalty lp(T) = T^alpha
        n_best=tf.constant(1),  # int32, 1..beam_size: hypotheses returned per sentence
        prefix=tf.constant([""]),  # per sentence, the text its translation must start with
    )
    translator.signatures["translate"](sentences=...)  # beam 5 (at most max_beam), alpha 0.6
    translator.translate(tf.constant([...]))  # the same, called as a function

A signature's inputs are all required, hence the second signature for the defaults. Both
return ``translations`` (N,) string, ``scores`` (N,) log P / lp(T) as ranked by the search,
``log_probs`` (N,), the n-best lists ``hypotheses`` (N, n_best) string with
``hypothesis_scores`` and ``hypothesis_log_probs`` (N, n_best), best first (the first column
is the translation), ``attention`` (N, T, S) with the rows of the output tokens (EOS
included) over the columns of the source tokens (EOS included), ``source_tokens`` (N, S) and
``target_tokens`` (N, T), padded with "", to label the attention, and ``truncated`` (N,) bool.
A prefix is tokenized like the output and forced at the start of every hypothesis, and the
scores include its tokens' log-probabilities; a prefix with a word a word-level model cannot
produce, or one that leaves no room for EOS within the output length limit, is an
InvalidArgumentError that says so.

Any input is translated: a subword model spells an unseen character as its bytes; a word
model maps unknown words to UNK (and an output UNK becomes the source word it attends to
most, see :func:`codec.output_tokens`). Input longer than ``max_source_tokens`` units is cut
(``truncated`` says so), and an empty or blank line gives an empty translation. Output is
cased for a subword model, lowercase for a word model trained on lowercased text.
A beam size outside 1..max_beam, n_best outside 1..beam_size or a negative alpha is an
InvalidArgumentError, and so is ``sentences`` that is not a 1-D batch (a scalar string: wrap
it in a list) or ``prefix`` of another length than ``sentences``.

``beam.beam_search`` takes the beam size and alpha as tensors, so the graph holds a single
search that serves every setting.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import tensorflow as tf

from pipeline import artifacts
from pipeline.config import Paths
from pipeline.io import atomic_path
from pipeline.serving import assert_batch
from pipeline.stage import new_parser, run_stage
from pipeline.text import EOS_ID, PAD_ID, UNK_ID
from pipeline.translate.averaging import restore_average
from pipeline.translate.beam import beam_search
from pipeline.translate.cli import (
    add_average_arg,
    add_model_args,
    average_from_args,
    model_dir_from_args,
)
from pipeline.translate.codec import Codec, Encoded, max_target_len
from pipeline.translate.model import Translator
from pipeline.translate.saved import load_trained

log = logging.getLogger(__name__)

DEFAULT_BEAM = 5
DEFAULT_ALPHA = 0.6
MAX_BEAM = 10


class ExportedTranslator(tf.Module):
    def __init__(
        self,
        model: Translator,
        codec: Codec,
        max_beam: int = MAX_BEAM,
    ) -> None:
        super().__init__()
        if max_beam < 1:
            raise ValueError("max_beam must be >= 1")
        self.model = model
        self.codec = codec
        self.max_beam = max_beam
        self.default_beam = min(DEFAULT_BEAM, max_beam)

    def _checks(
        self, sentences: tf.Tensor, beam_size: tf.Tensor, alpha: tf.Tensor, n_best: tf.Tensor
    ) -> list[Any]:
        """The settings a caller can get wrong, each failing with its own message."""
        return [
            tf.debugging.assert_greater_equal(beam_size, 1, message="beam_size must be >= 1"),
            tf.debugging.assert_less_equal(
                beam_size, self.max_beam, message=f"beam_size must be <= {self.max_beam}"
            ),
            tf.debugging.Assert(  # an infinite alpha would divide every score to 0
                tf.math.is_finite(alpha) & (alpha >= 0),
                ["alpha must be a finite number >= 0, got", alpha],
            ),
            tf.debugging.assert_greater_equal(n_best, 1, message="n_best must be >= 1"),
            tf.debugging.assert_less_equal(
                n_best, beam_size, message="n_best must be <= beam_size"
            ),
            assert_batch(sentences, "sentences"),
        ]

    def _prefix_ids(self, prefix: tf.Tensor) -> tf.Tensor:
        """(N, P) target ids of each prefix, PAD after them, tokenized like the output; a
        word the target vocabulary lacks is an error, since it could never be produced."""
        encoded = self.codec.encode_target(prefix)
        ids = tf.where(tf.equal(encoded.ids, EOS_ID), PAD_ID, encoded.ids)
        words = encoded.tokens.to_tensor("")
        unknown = tf.boolean_mask(words, tf.equal(ids[:, : tf.shape(words)[1]], UNK_ID))
        known = tf.debugging.Assert(
            tf.equal(tf.size(unknown), 0),
            ["the prefix has words the model cannot produce:", unknown],
            summarize=10,
        )
        with tf.control_dependencies([known]):
            return tf.identity(ids)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.string, name="sentences"),
            tf.TensorSpec([], tf.int32, name="beam_size"),
            tf.TensorSpec([], tf.float32, name="alpha"),
            tf.TensorSpec([], tf.int32, name="n_best"),
            tf.TensorSpec([None], tf.string, name="prefix"),
        ]
    )
    def translate_with(
        self,
        sentences: tf.Tensor,
        beam_size: tf.Tensor,
        alpha: tf.Tensor,
        n_best: tf.Tensor,
        prefix: tf.Tensor,
    ) -> dict[str, tf.Tensor]:
        """The ``n_best`` translations with the given beam size and length penalty, each
        starting with its sentence's ``prefix`` ("" for none); see the module doc."""
        checks = self._checks(sentences, beam_size, alpha, n_best)
        checks.append(
            tf.debugging.assert_equal(
                tf.shape(prefix), tf.shape(sentences), message="need one prefix per sentence"
            )
        )
        with tf.control_dependencies(checks):  # before the search can fail on its own
            beam_size, alpha, n_best = (tf.identity(x) for x in (beam_size, alpha, n_best))
            sentences, prefix = tf.identity(sentences), tf.identity(prefix)
        encoded = self.codec.encode(sentences)
        forced = self._prefix_ids(prefix)
        rows = tf.shape(sentences)[0]
        # The search needs at least one row; an empty batch searches a dummy one.
        ids, forced = tf.cond(
            rows > 0,
            lambda: (encoded.ids, forced),
            lambda: (tf.fill([1, 1], EOS_ID), tf.zeros([1, 0], tf.int32)),
        )
        out = beam_search(
            self.model.encode, self.model.decode_step, ids, beam_size, alpha,
            max_target_len(ids), n_best=n_best, prefix=forced,
        )  # fmt: skip
        return self._outputs(out, encoded, rows)

    def _outputs(self, out: dict, encoded: Encoded, rows: tf.Tensor) -> dict[str, tf.Tensor]:
        """The search's n-best ids as text; the best one's attention and tokens to plot."""
        _, n_best, length, width = tf.unstack(tf.shape(out["attention"]))
        flat = tf.reshape(out["tokens"][:rows], [rows * n_best, length])
        flat_attention = tf.reshape(out["attention"][:rows], [rows * n_best, length, width])
        per_hypothesis = tf.gather(encoded.tokens, tf.repeat(tf.range(rows), n_best))
        texts = self.codec.decode(flat, flat_attention, per_hypothesis)
        texts = tf.reshape(texts, [rows, n_best])
        blank = tf.equal(encoded.tokens.row_lengths(), 0)  # nothing to translate
        ids, attention = out["tokens"][:rows, 0], out["attention"][:rows, 0]
        words = tf.where(tf.equal(ids, PAD_ID), "", self.codec.pieces(ids))
        source_words = tf.concat(
            [encoded.tokens, tf.fill([encoded.tokens.nrows(), 1], "</s>")], axis=1
        )
        hypotheses = tf.where(blank[:, None], "", texts)
        scores = tf.where(blank[:, None], 0.0, out["scores"][:rows])
        log_probs = tf.where(blank[:, None], 0.0, out["log_probs"][:rows])
        return {
            "translations": hypotheses[:, 0],
            "scores": scores[:, 0],
            "log_probs": log_probs[:, 0],
            "hypotheses": hypotheses,
            "hypothesis_scores": scores,
            "hypothesis_log_probs": log_probs,
            "attention": tf.where(blank[:, None, None], 0.0, attention),
            "source_tokens": source_words.to_tensor(""),
            "target_tokens": tf.where(blank[:, None], "", words),
            "truncated": encoded.truncated,
        }

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="sentences")])
    def translate(self, sentences: tf.Tensor) -> dict[str, tf.Tensor]:
        """Translations with beam size 5 (or max_beam if smaller) and alpha 0.6."""
        return self.translate_with(
            sentences,
            tf.constant(self.default_beam),
            tf.constant(DEFAULT_ALPHA, tf.float32),
            tf.constant(1),
            tf.fill(tf.shape(sentences), ""),
        )


def export(module: ExportedTranslator, dest: Path) -> Path:
    """Write the SavedModel to ``dest`` (a version folder) atomically."""
    with atomic_path(dest, directory=True) as tmp:
        tmp.chmod(0o755)  # a temporary directory is private; the model is for others to read
        tf.saved_model.save(
            module,
            str(tmp),
            signatures={"serving_default": module.translate_with, "translate": module.translate},
        )
    return dest


def run(
    model_dir: Path,
    dest: Path,
    max_beam: int = MAX_BEAM,
    max_source_tokens: int | None = None,
    average_last: int = 1,
    strict: bool = True,
) -> Path:
    """``max_source_tokens`` None keeps the codec's own limit (100 words or 160 pieces);
    ``average_last`` K >= 2 exports the mean of the run's last K checkpoints, 1 the best
    dev-loss weights (:func:`averaging.restore_average`, whose rule ``strict`` picks)."""
    model, codec, _ = load_trained(model_dir)
    restore_average(model, model_dir, average_last, strict=strict)
    if max_source_tokens is not None:
        codec.max_tokens = max_source_tokens
    return export(ExportedTranslator(model, codec, max_beam), dest)


def build_parser() -> argparse.ArgumentParser:
    parser = new_parser(__spec__.name, __doc__)
    add_model_args(parser)
    parser.add_argument(
        "--saved-models-dir",
        type=Path,
        default=Paths.saved_models,
        help="SavedModel root (default: %(default)s)",
    )
    parser.add_argument("--version", type=int, default=1, help="SavedModel version folder")
    parser.add_argument("--max-beam", type=int, default=MAX_BEAM, help="largest beam size")
    parser.add_argument(
        "--max-source-tokens",
        type=int,
        help="longer input is cut to this many units (default: 160 pieces or 100 words)",
    )
    add_average_arg(parser)
    return parser


def command(args: argparse.Namespace, paths: Paths, _: None) -> str:
    """Export the trained model; the SavedModel's folder is the output."""
    logging.getLogger("absl").setLevel(logging.WARNING)  # notes on renamed graph inputs
    dest = artifacts.saved_model(paths, artifacts.TRANSLATOR, args.version)
    k, strict = average_from_args(args)
    run(model_dir_from_args(args), dest, args.max_beam, args.max_source_tokens, k, strict)
    return str(dest)


def main(argv: list[str] | None = None) -> int:
    return run_stage(
        build_parser().parse_args(argv),
        command,
        log,
        writes=lambda paths: (artifacts.saved_model(paths, artifacts.TRANSLATOR).parent,),
    )


if __name__ == "__main__":
    sys.exit(main())
