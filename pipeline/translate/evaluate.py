"""BLEU of the trained translator on the test split, over decoding settings (``make bleu``).

Decodes the test sources greedily and with beam search over beam sizes x length penalties,
and scores every run with our corpus BLEU beside sacrebleu's (they must agree), chrF and
the decoding speed. Writes ``reports/bleu.{md,json}`` and prints the table.

Each test source keeps all its English translations in the data, so BLEU is
multi-reference. The model reads and writes lowercase text with plain apostrophes (its
tokenizer folds both), so hypotheses and references are compared after the same folding;
the signature says ``case:lc``. Sources go through :mod:`pipeline.translate.codec`, as in
the SavedModel, so these are the exported model's scores.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import tensorflow as tf

from pipeline.config import PRESETS, Paths, paths_from_args, setup_logging
from pipeline.data.load import load
from pipeline.io import check_writable, write_report
from pipeline.metrics import bench_bleu, corpus_bleu
from pipeline.text import PAD_ID, Tokenizer, Vocabulary
from pipeline.translate.beam import LengthPenalty, beam_search, greedy_decode
from pipeline.translate.cli import add_model_args, model_dir_from_args
from pipeline.translate.codec import (
    MAX_SOURCE_TOKENS,
    TextEncoder,
    detokenize,
    max_target_len,
    output_tokens,
)
from pipeline.translate.decode_bench import bench_batching
from pipeline.translate.model import Translator
from pipeline.translate.saved import load_trained

log = logging.getLogger(__name__)

# Rows (sentences x beam) decoded together. Batching amortizes the per-step overhead; the
# search runs only the alive hypotheses and keeps no per-step history copies, so larger
# batches cost no more per sentence (1,000 sentences at beam 5 took the same time in
# batches of 64 to 1,024 rows on 2 cores).
BATCH_ROWS = 256


@dataclass(frozen=True)
class Setting:
    """One decoding configuration; ``beam_size`` 0 is greedy decoding."""

    beam_size: int
    alpha: float = 0.0
    penalty: LengthPenalty = "seed"

    @property
    def name(self) -> str:
        if self.beam_size == 0:
            return "greedy"
        return f"beam {self.beam_size}, alpha {self.alpha:g} ({self.penalty})"


GRID: tuple[Setting, ...] = (
    Setting(0),
    *(Setting(b, a) for b in (1, 3, 5, 10) for a in (0.0, 0.6, 1.0)),
    Setting(5, 0.6, "gnmt"),
)


@dataclass(frozen=True)
class EvalSet:
    """Distinct sources, each with all its references, in order of first appearance."""

    sources: list[str]
    references: list[list[str]]


def group_references(pairs: Sequence[tuple[str, str]]) -> EvalSet:
    grouped: dict[str, list[str]] = {}
    for source, target in pairs:
        grouped.setdefault(source, []).append(target)
    return EvalSet(list(grouped), list(grouped.values()))


def load_test_set(data_dir: Path, dataset: str, source: str, target: str) -> EvalSet:
    """The raw test sentences from the TFDS dataset (the ids in the records carry UNKs)."""
    pairs = [
        (ex[source].numpy().decode("utf-8"), ex[target].numpy().decode("utf-8"))
        for ex in load(dataset, "test", data_dir=data_dir)
    ]
    return group_references(pairs)


def fold(text: str) -> str:
    """What the model's tokenizer folds away: case and typographic apostrophes."""
    return text.replace("’", "'").replace("ʼ", "'").lower()


def reference_streams(references: Sequence[Sequence[str]]) -> list[list[str | None]]:
    """sacrebleu's layout: stream k holds each sentence's k-th reference or None."""
    width = max(len(refs) for refs in references)
    return [[refs[k] if k < len(refs) else None for refs in references] for k in range(width)]


def folded(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]]
) -> tuple[list[str], list[list[str | None]]]:
    """Folded hypotheses and folded reference streams, as every score here compares them."""
    streams = reference_streams([[fold(r) for r in refs] for refs in references])
    return [fold(h) for h in hypotheses], streams


def score_bleu(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Our BLEU, sacrebleu's BLEU and chrF on folded text, and the sacrebleu signature."""
    from sacrebleu.metrics import BLEU, CHRF

    hyps, streams = folded(hypotheses, references)
    ours = corpus_bleu(hyps, streams)
    metric = BLEU()
    theirs = metric.corpus_score(hyps, streams)
    chrf = CHRF().corpus_score(hyps, streams)
    signature = str(metric.get_signature()).replace("case:mixed", "case:lc")
    return {
        "bleu": ours.score,
        "sacrebleu": theirs.score,
        "equal": abs(ours.score - theirs.score) < 1e-9,
        "chrf": chrf.score,
        "bp": ours.bp,
        "ratio": ours.ratio,
        "signature": signature,
    }


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
    lengths = tf.reduce_sum(tf.cast(tf.not_equal(ids, PAD_ID), tf.int32), axis=1).numpy()
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
    vocab: Vocabulary,
    attention: Sequence[np.ndarray] | None = None,
    source_tokens: tf.RaggedTensor | None = None,
) -> list[str]:
    """Output ids -> detokenized translations, as the SavedModel writes them (with the
    attention and source words, output UNKs become the most-attended source word)."""
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
    texts = detokenize(
        output_tokens(pad_rows(ids), tf.constant(vocab.tokens), weights, source_tokens)
    )
    return [t.decode("utf-8") for t in texts.numpy()]


def evaluate(
    model: Translator,
    target_vocab: Vocabulary,
    source_ids: tf.Tensor,
    test: EvalSet,
    grid: Sequence[Setting] = GRID,
    bench_sentences: int | None = None,
    *,
    source_tokens: tf.RaggedTensor | None = None,
) -> dict[str, Any]:
    """Every setting of ``grid`` on the test set; ``source_tokens`` (the words behind
    ``source_ids``) lets output UNKs copy the source word they attend to, as the export does.

    The batching benchmark decodes the first ``bench_sentences`` sources (None: all, the
    workload ``make bleu`` runs); a small sample makes few mixed-length batches, whose last
    steps run a handful of rows and flatter decoding one sentence at a time."""
    rows = []
    best: tuple[float, str, list[str]] = (-1.0, "", [])
    for setting in grid:
        batches, order = length_sorted_batches(source_ids, setting.beam_size)
        decoded = run_decoding(decode_function(model, setting), batches, order)
        hypotheses = to_text(decoded.tokens, target_vocab, decoded.attention, source_tokens)
        seconds = decoded.seconds
        row = {
            "setting": setting.name,
            "beam_size": setting.beam_size,
            "alpha": setting.alpha,
            "penalty": setting.penalty,
            **score_bleu(hypotheses, test.references),
            "seconds": seconds,
            "sentences_per_second": len(hypotheses) / seconds,
        }
        log.info("%s: BLEU %.2f chrF %.1f", setting.name, row["bleu"], row["chrf"])
        rows.append(row)
        if row["bleu"] > best[0]:
            best = (row["bleu"], setting.name, hypotheses)
    bench = Setting(5, 0.6)
    bench_batches, _ = length_sorted_batches(source_ids[:bench_sentences], bench.beam_size)
    batching = bench_batching(decode_function(model, bench), bench_batches)
    _, best_setting, best_hypotheses = best
    bleu_timing = bench_bleu(*folded(best_hypotheses, test.references))
    return {
        "sentences": len(test.sources),
        "pairs": sum(len(refs) for refs in test.references),
        "max_references": max(len(refs) for refs in test.references),
        "results": rows,
        "best": best_setting,
        # The same output scored without folding, against the references as they are.
        "best_unfolded_bleu": corpus_bleu(
            best_hypotheses, reference_streams(test.references)
        ).score,
        "batching": batching,
        "bleu_timing": bleu_timing,
    }


def markdown(report: dict[str, Any]) -> str:
    rows = report["results"]
    lines = [
        "# Translation BLEU on the test split",
        "",
        f"Model `{report['model_dir']}`; {report['sentences']} test sources with "
        f"{report['pairs']} references (up to {report['max_references']} per source). "
        "Text is lowercased and apostrophes unified on both sides (the model's tokenizer "
        "folds them).",
        "",
        f"Signature: `{rows[0]['signature']}`",
        "",
        "| decoding | BLEU (ours) | sacreBLEU | equal | chrF | BP | sent/s |",
        "|---|---:|---:|:-:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['setting']} | {r['bleu']:.2f} | {r['sacrebleu']:.2f} | "
            f"{'yes' if r['equal'] else 'NO'} | {r['chrf']:.1f} | {r['bp']:.3f} | "
            f"{r['sentences_per_second']:.1f} |"
        )
    b, t = report["batching"], report["bleu_timing"]
    lines += [
        "",
        f"Best: {report['best']}; against the references as they are (mixed case, "
        f"typographic apostrophes), its BLEU is {report['best_unfolded_bleu']:.2f}.",
        "",
        f"Beam 5 decoding of {b['sentences']} sentences: {b['batched_s']:.2f} s in "
        f"{b['batches']} batch(es) vs {b['one_by_one_s']:.2f} s one at a time "
        f"(**{b['speedup']:.1f}x** from batching; each the best of {b['repeats']} "
        "passes after a warm-up).",
        "",
        f"BLEU computation on {t['sentences']} sentences: ours {t['ours_s'] * 1000:.1f} ms, "
        f"sacrebleu {t['sacrebleu_s'] * 1000:.1f} ms ({t['speedup']:.2f}x).",
        "",
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class Setup:
    """What the evaluation CLIs share: the trained model, its test set, encoded sources."""

    paths: Paths
    model_dir: Path
    model: Translator
    target_vocab: Vocabulary
    target_tokenizer: Tokenizer
    test: EvalSet
    source_ids: tf.Tensor
    source_tokens: tf.RaggedTensor  # the source words behind source_ids (no EOS)


def load_setup(args: argparse.Namespace) -> Setup:
    paths = paths_from_args(args)
    tokenize = PRESETS[args.preset].tokenize
    model_dir = model_dir_from_args(args)
    model, source_vocab, target_vocab, config = load_trained(model_dir)
    lowercase = tokenize.lowercase
    test = load_test_set(paths.tfds, tokenize.translate_dataset, config.source, config.target)
    if args.limit:
        test = EvalSet(test.sources[: args.limit], test.references[: args.limit])
    encoder = TextEncoder(Tokenizer(config.source, lowercase), source_vocab, MAX_SOURCE_TOKENS)
    encoded = encoder(tf.constant(test.sources))
    return Setup(
        paths, model_dir, model, target_vocab, Tokenizer(config.target, lowercase), test,
        encoded.ids, encoded.tokens,
    )  # fmt: skip


def add_args(parser: argparse.ArgumentParser) -> None:
    add_model_args(parser)
    parser.add_argument("--limit", type=int, help="only the first N test sources (quick runs)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.translate.evaluate", description=__doc__.split("\n")[0]
    )
    add_args(parser)
    parser.add_argument(
        "--bench-sentences",
        type=int,
        help="time batched against one-at-a-time decoding on the first N sources (default: all)",
    )
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    if not check_writable(args.reports_dir):
        return 1
    tf.get_logger().setLevel(logging.ERROR)  # one decoder per setting reads as "retracing"
    try:
        setup = load_setup(args)
    except (FileNotFoundError, ValueError) as err:
        log.error("%s", err)
        return 1
    report = {
        "model_dir": str(setup.model_dir),
        **evaluate(
            setup.model,
            setup.target_vocab,
            setup.source_ids,
            setup.test,
            bench_sentences=args.bench_sentences,
            source_tokens=setup.source_tokens,
        ),
    }
    text = markdown(report)
    write_report(setup.paths.reports, "bleu", report, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
