"""A trained translator decoded over test sets, as ``make bleu`` and ``make error-analysis`` do.

Both stages must decode exactly alike, or the error analysis would explain outputs the BLEU
table never scored: the same trained model and codec (sources encoded as the SavedModel
encodes them), the same settings, the same output-length rule (:func:`codec.max_target_len`,
as in the export) and the same text. Sources are decoded in batches of similar length, each
``decode`` traced once, and returned in their own order.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from pipeline import artifacts
from pipeline.artifacts import LOCALIZATION_SPLITS, TFDS_SPLIT
from pipeline.config import PRESETS, Paths, TranslateConfig
from pipeline.data.load import load
from pipeline.stage import paths_from_args
from pipeline.text import PAD_ID, token_counts
from pipeline.translate.averaging import restore_average
from pipeline.translate.beam import LengthPenalty, beam_search, greedy_decode
from pipeline.translate.cli import (
    USER_KIND,
    add_average_arg,
    add_model_args,
    average_from_args,
    model_dir_from_args,
    user_corpus,
)
from pipeline.translate.codec import Codec, Encoded, max_target_len
from pipeline.translate.model import Translator
from pipeline.translate.saved import load_trained

# Rows (sentences x beam) decoded together. Batching amortizes the per-step overhead; the
# search runs only the alive hypotheses and keeps no per-step history copies, so larger
# batches cost no more per sentence (1,000 sentences at beam 5 took the same time in
# batches of 64 to 1,024 rows on 2 cores).
BATCH_ROWS = 256

# The test sets the reports cover by default, with their titles.
TEST_SETS = {
    "test": "Ding test (dictionary example sentences)",
    "loc_test": "Localization test (software messages)",
}
# The dev sets, and each test set's dev split: where ``make bleu`` chooses the decoding
# setting it quotes for that test set.
DEV_SETS = {
    "dev": "Ding dev (dictionary example sentences)",
    "loc_dev": "Localization dev (software messages)",
}
DEV_OF = {"test": "dev", "loc_test": "loc_dev"}
TITLES = {**TEST_SETS, **DEV_SETS}


@dataclass(frozen=True)
class Setting:
    """One decoding configuration; ``beam_size`` 0 is greedy decoding."""

    beam_size: int
    alpha: float = 0.0
    penalty: LengthPenalty = "power"

    @property
    def name(self) -> str:
        if self.beam_size == 0:
            return "greedy"
        return f"beam {self.beam_size}, alpha {self.alpha:g} ({self.penalty})"


@dataclass(frozen=True)
class EvalSet:
    """Distinct sources, each with all its references, in order of first appearance."""

    sources: list[str]
    references: list[list[str]]


def group_references(pairs: Sequence[tuple[str, str]]) -> EvalSet:
    """A source that occurs with several translations is one multi-reference sentence."""
    grouped: dict[str, list[str]] = {}
    for source, target in pairs:
        grouped.setdefault(source, []).append(target)
    return EvalSet(list(grouped), list(grouped.values()))


def load_test_set(
    data_dir: Path,
    dataset: str,
    source: str,
    target: str,
    split: str = "test",
    *,
    grouped: bool = True,
) -> EvalSet:
    """The raw test sentences of a TFDS split (the ids in the records carry UNKs).

    ``grouped``: a source's translations are one multi-reference sentence (Ding's dictionary
    lists several); otherwise every pair is a sentence with its one reference, as sacrebleu
    scores a test file line by line.
    """
    pairs = [
        (ex[source].numpy().decode("utf-8"), ex[target].numpy().decode("utf-8"))
        for ex in load(dataset, split, data_dir=data_dir)
    ]
    if grouped:
        return group_references(pairs)
    return EvalSet([s for s, _ in pairs], [[t] for _, t in pairs])


@dataclass(frozen=True)
class Setup:
    """What the decoding stages share: the trained model, its codec, the encoded test sets."""

    paths: Paths
    model_dir: Path
    model: Translator
    codec: Codec
    config: TranslateConfig
    tests: dict[str, EvalSet]
    sources: dict[str, Encoded]
    titles: dict[str, str]  # each test set's heading in the reports
    user: bool  # a named run's own text: a reference per line, scored cased
    weights: tuple[str, ...]  # the checkpoints the model's weights are the mean of


@dataclass(frozen=True)
class Corpus:
    """Where the test sets come from: the embedded (or a TFDS) corpus, or a named run's."""

    dataset: str
    data_dir: Path
    splits: tuple[str, ...]  # the ones --sets may name
    default_sets: tuple[str, ...]


def corpus_of(paths: Paths, preset: str) -> Corpus:
    if not paths.run:
        dataset = PRESETS[preset].tokenize.translate_dataset
        return Corpus(dataset, paths.tfds, tuple(TFDS_SPLIT), tuple(TEST_SETS))
    splits = tuple(s for s in TFDS_SPLIT if s not in LOCALIZATION_SPLITS)
    data_dir = artifacts.user_datasets(paths, USER_KIND)
    return Corpus(user_corpus(paths)["dataset"], data_dir, splits, ("test",))


def load_setup(args: argparse.Namespace) -> Setup:
    """The model and test sets ``add_args``' flags name; the sources are encoded by the
    model's own codec, as the SavedModel encodes them."""
    paths = paths_from_args(args)
    corpus = corpus_of(paths, args.preset)
    names = args.sets or corpus.default_sets
    unknown = sorted(set(names) - set(corpus.splits))
    if unknown:
        raise ValueError(f"unknown --sets {unknown}; choose from {list(corpus.splits)}")
    model_dir = model_dir_from_args(args)
    model, codec, config = load_trained(model_dir)
    k, strict = average_from_args(args)
    weights = tuple(restore_average(model, model_dir, k, strict=strict))
    tests, sources = {}, {}
    for name in names:
        split = TFDS_SPLIT[name]
        test = load_test_set(
            corpus.data_dir, corpus.dataset, config.source, config.target, split,
            grouped=not paths.run,
        )  # fmt: skip
        if args.limit:
            test = EvalSet(test.sources[: args.limit], test.references[: args.limit])
        tests[name], sources[name] = test, codec.encode(tf.constant(test.sources))
    titles = {
        name: TITLES.get(name, name)
        if not paths.run
        else f"Run {paths.run}: {name} ({config.source} -> {config.target})"
        for name in names
    }
    return Setup(
        paths, model_dir, model, codec, config, tests, sources, titles, bool(paths.run), weights
    )


def weights_note(weights: Sequence[str]) -> str:
    """The reports' line saying which weights were decoded."""
    if len(weights) == 1:
        return f"Weights: the best dev-loss ones (`{weights[0]}`)."
    names = ", ".join(Path(w).name for w in weights)
    return f"Weights: the mean of the run's last {len(weights)} checkpoints ({names})."


def add_args(parser: argparse.ArgumentParser, average: bool = True) -> None:
    """The model's and the test sets' flags; ``average`` adds ``--average-last K``."""
    add_model_args(parser)
    if average:
        add_average_arg(parser)
    parser.add_argument("--limit", type=int, help="only the first N test sources (quick runs)")
    parser.add_argument(
        "--sets",
        type=lambda s: tuple(filter(None, s.split(","))),
        help="comma-separated splits of "
        + ", ".join(TFDS_SPLIT)
        + " (default: "
        + ",".join(TEST_SETS)
        + "; a named run: test)",
    )


def decode_function(
    model: Translator, setting: Setting
) -> Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    """source ids (N, S) -> output ids (N, T) and their attention (N, T, S), traced once."""

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
    def decode(ids: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        limits = max_target_len(ids)
        if setting.beam_size == 0:
            out = greedy_decode(model.encode, model.decode_step, ids, limits)
            return out["tokens"], out["attention"]
        out = beam_search(
            model.encode, model.decode_step, ids, setting.beam_size, setting.alpha, limits,
            setting.penalty,
        )  # fmt: skip
        return out["tokens"][:, 0], out["attention"][:, 0]

    return decode


def length_sorted_batches(ids: tf.Tensor, beam_size: int) -> tuple[list[tf.Tensor], np.ndarray]:
    """Batches of similar-length sources (less padding, fewer wasted steps), about
    ``BATCH_ROWS`` search rows each, and the order of the sources in them."""
    size = max(1, BATCH_ROWS // max(beam_size, 1))
    lengths = token_counts(ids).numpy()
    order = np.argsort(lengths, kind="stable")
    batches = []
    for start in range(0, len(order), size):
        rows = order[start : start + size]
        batches.append(tf.gather(ids, rows)[:, : int(lengths[rows].max())])
    return batches, order


class Decoded(NamedTuple):
    """Per sentence, in the sources' order: output ids (T,) and attention (T, S)."""

    tokens: list[np.ndarray]
    attention: list[np.ndarray]
    seconds: float  # decoding time, after tracing


def run_decoding(
    decode: Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]],
    batches: list[tf.Tensor],
    order: np.ndarray,
) -> Decoded:
    """``decode`` over the batches, timed after one untimed call that traces it."""
    decode(batches[0][:1])
    start = time.perf_counter()
    outputs = [decode(batch) for batch in batches]
    seconds = time.perf_counter() - start
    tokens = [row for ids, _ in outputs for row in ids.numpy()]
    attention = [row for _, weights in outputs for row in weights.numpy()]
    restored = np.empty(len(order), dtype=int)
    restored[order] = np.arange(len(order))
    return Decoded([tokens[i] for i in restored], [attention[i] for i in restored], seconds)


def pad_rows(rows: Sequence[np.ndarray]) -> np.ndarray:
    """Id rows of different lengths as one PAD-padded (N, T) int32 matrix."""
    padded = np.full([len(rows), max(len(row) for row in rows)], PAD_ID, np.int32)
    for i, row in enumerate(rows):
        padded[i, : len(row)] = row
    return padded


def to_text(
    ids: Sequence[np.ndarray],
    codec: Codec,
    attention: Sequence[np.ndarray] | None = None,
    source_tokens: tf.RaggedTensor | None = None,
) -> list[str]:
    """Output ids -> detokenized translations, as the SavedModel writes them (with the
    attention and source words, a word model's output UNKs become the most-attended word)."""
    weights = None
    if attention is not None:
        weights = np.zeros(
            [
                len(attention),
                max(a.shape[0] for a in attention),
                max(a.shape[1] for a in attention),
            ],
            np.float32,
        )
        for i, a in enumerate(attention):
            weights[i, : a.shape[0], : a.shape[1]] = a
    texts = codec.decode(pad_rows(ids), weights, source_tokens)
    return [t.decode("utf-8") for t in texts.numpy()]


def translate_all(
    model: Translator, codec: Codec, source: Encoded, setting: Setting
) -> tuple[Decoded, list[str]]:
    """Every sentence of ``source`` decoded with ``setting``, and its text; ``source.tokens``
    lets a word model's output UNKs copy the source word they attend to, as the export does."""
    batches, order = length_sorted_batches(source.ids, setting.beam_size)
    decoded = run_decoding(decode_function(model, setting), batches, order)
    return decoded, to_text(decoded.tokens, codec, decoded.attention, source.tokens)
