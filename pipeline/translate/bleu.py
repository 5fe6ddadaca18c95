"""BLEU of the trained translator on both test sets, over decoding settings (``make bleu``).

Decodes the test sources greedily and with beam search over beam sizes x length penalties,
and scores every run with our corpus BLEU beside sacrebleu's (they must agree), chrF and
the decoding speed. Writes ``reports/bleu[_<run>].{md,json}`` and prints the tables.

The test sets: Ding's dictionary sentences (each source keeps all its English translations,
so BLEU is multi-reference) and the software localization messages. BLEU is given cased
(sacrebleu's default, against the references as they are) and lowercased with apostrophes
unified (``case:lc``): a word model reads and writes lowercase text, so only the second
compares it with a cased subword model. Sources go through the model's codec
(:mod:`pipeline.translate.codec`), as in the SavedModel, so these are the exported model's
scores.
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

from pipeline.config import PRESETS, Paths, TranslateConfig, paths_from_args, setup_logging
from pipeline.data.load import load
from pipeline.io import check_writable, write_report
from pipeline.metrics import bench_bleu, corpus_bleu
from pipeline.text import PAD_ID, token_counts
from pipeline.tokenize import TFDS_SPLIT
from pipeline.translate.beam import LengthPenalty, beam_search, greedy_decode
from pipeline.translate.cli import add_model_args, model_dir_from_args
from pipeline.translate.codec import Codec, Encoded, max_target_len
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


def load_test_set(
    data_dir: Path, dataset: str, source: str, target: str, split: str = "test"
) -> EvalSet:
    """The raw test sentences of a TFDS split (the ids in the records carry UNKs)."""
    pairs = [
        (ex[source].numpy().decode("utf-8"), ex[target].numpy().decode("utf-8"))
        for ex in load(dataset, split, data_dir=data_dir)
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
    """Our BLEU beside sacrebleu's, on folded text and cased; chrF; the signatures."""
    from sacrebleu.metrics import BLEU, CHRF

    hyps, streams = folded(hypotheses, references)
    ours = corpus_bleu(hyps, streams)
    metric = BLEU()
    theirs = metric.corpus_score(hyps, streams)
    chrf = CHRF().corpus_score(hyps, streams)
    signature = str(metric.get_signature()).replace("case:mixed", "case:lc")
    raw_streams = reference_streams(references)
    cased = corpus_bleu(list(hypotheses), raw_streams)
    cased_theirs = metric.corpus_score(list(hypotheses), raw_streams)
    return {
        "bleu": ours.score,
        "sacrebleu": theirs.score,
        "equal": abs(ours.score - theirs.score) < 1e-9,
        "bleu_cased": cased.score,
        "sacrebleu_cased": cased_theirs.score,
        "equal_cased": abs(cased.score - cased_theirs.score) < 1e-9,
        "chrf": chrf.score,
        "bp": ours.bp,
        "ratio": ours.ratio,
        "signature": signature,
        "signature_cased": str(metric.get_signature()),
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


def evaluate(
    model: Translator,
    codec: Codec,
    source: Encoded,
    test: EvalSet,
    grid: Sequence[Setting] = GRID,
    *,
    metric: str = "bleu",
) -> dict[str, Any]:
    """Every setting of ``grid`` on one test set; the best row is chosen by ``metric``
    ("bleu" lowercased, or "bleu_cased"). ``source.tokens`` lets a word model's output UNKs
    copy the source word they attend to, as the export does."""
    rows = []
    best: tuple[float, str, list[str]] = (-1.0, "", [])
    for setting in grid:
        batches, order = length_sorted_batches(source.ids, setting.beam_size)
        decoded = run_decoding(decode_function(model, setting), batches, order)
        hypotheses = to_text(decoded.tokens, codec, decoded.attention, source.tokens)
        row = {
            "setting": setting.name,
            "beam_size": setting.beam_size,
            "alpha": setting.alpha,
            "penalty": setting.penalty,
            **score_bleu(hypotheses, test.references),
            "seconds": decoded.seconds,
            "sentences_per_second": len(hypotheses) / decoded.seconds,
        }
        log.info(
            "%s: BLEU %.2f (cased %.2f) chrF %.1f",
            setting.name, row["bleu"], row["bleu_cased"], row["chrf"],
        )  # fmt: skip
        rows.append(row)
        if row[metric] > best[0]:
            best = (row[metric], setting.name, hypotheses)
    _, best_setting, best_hypotheses = best
    return {
        "sentences": len(test.sources),
        "pairs": sum(len(refs) for refs in test.references),
        "max_references": max(len(refs) for refs in test.references),
        "metric": metric,
        "results": rows,
        "best": best_setting,
        "examples": [
            {"source": src, "output": out, "references": refs}
            for src, out, refs in zip(
                test.sources[:5], best_hypotheses[:5], test.references[:5], strict=True
            )
        ],
        "bleu_timing": bench_bleu(*folded(best_hypotheses, test.references)),
    }


def batching_figure(model: Translator, source_ids: tf.Tensor, sentences: int | None) -> dict:
    """Beam 5 over the first ``sentences`` sources (None: all, the workload ``make bleu``
    runs), batched against one at a time; a small sample makes few mixed-length batches,
    whose last steps run a handful of rows and flatter decoding one sentence at a time."""
    bench = Setting(5, 0.6)
    batches, _ = length_sorted_batches(source_ids[:sentences], bench.beam_size)
    return bench_batching(decode_function(model, bench), batches)


def _table(result: dict[str, Any]) -> list[str]:
    lines = [
        "| decoding | BLEU lc (ours) | sacreBLEU lc | BLEU cased (ours) | sacreBLEU cased "
        "| equal | chrF | BP | sent/s |",
        "|---|---:|---:|---:|---:|:-:|---:|---:|---:|",
    ]
    for r in result["results"]:
        equal = r["equal"] and r["equal_cased"]
        lines.append(
            f"| {r['setting']} | {r['bleu']:.2f} | {r['sacrebleu']:.2f} | "
            f"{r['bleu_cased']:.2f} | {r['sacrebleu_cased']:.2f} | {'yes' if equal else 'NO'} "
            f"| {r['chrf']:.1f} | {r['bp']:.3f} | {r['sentences_per_second']:.1f} |"
        )
    return lines


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Translation BLEU",
        "",
        f"Model `{report['model_dir']}` ({report['tokens']} tokens). BLEU lc: lowercased, "
        "apostrophes unified on both sides; cased: against the references as they are.",
    ]
    for name, result in report["sets"].items():
        rows = result["results"]
        lines += [
            "",
            f"## {TEST_SETS.get(name, name)}",
            "",
            f"{result['sentences']} sources with {result['pairs']} references (up to "
            f"{result['max_references']} per source). Signatures: `{rows[0]['signature']}`, "
            f"`{rows[0]['signature_cased']}`.",
            "",
            *_table(result),
            "",
            f"Best by {'cased' if result['metric'] == 'bleu_cased' else 'lowercased'} "
            f"BLEU: {result['best']}.",
        ]
    b, t = report["batching"], next(iter(report["sets"].values()))["bleu_timing"]
    lines += [
        "",
        f"Beam 5 decoding of {b['sentences']} sentences of the first set: "
        f"{b['batched_s']:.2f} s in "
        f"{b['batches']} batch(es) vs {b['one_by_one_s']:.2f} s one at a time "
        f"(**{b['speedup']:.1f}x** from batching; each the best of {b['repeats']} "
        "passes after a warm-up).",
        "",
        f"BLEU computation on {t['sentences']} sentences: ours {t['ours_s'] * 1000:.1f} ms, "
        f"sacrebleu {t['sacrebleu_s'] * 1000:.1f} ms ({t['speedup']:.2f}x).",
        "",
    ]
    return "\n".join(lines)


# Ding's test rows are chosen by lowercased BLEU (comparable with the word models),
# localization rows by cased BLEU.
TEST_SETS = {
    "test": "Ding test (dictionary example sentences)",
    "loc_test": "Localization test (software messages)",
}
QUICK_GRID: tuple[Setting, ...] = (Setting(0), Setting(5, 0.6))
LOC_GRID: tuple[Setting, ...] = (
    Setting(0),
    *(Setting(5, a) for a in (0.0, 0.6, 1.0)),
    Setting(10, 0.6),
)


@dataclass(frozen=True)
class Setup:
    """What the evaluation CLIs share: the trained model, its codec, the encoded test sets."""

    paths: Paths
    model_dir: Path
    model: Translator
    codec: Codec
    config: TranslateConfig
    tests: dict[str, EvalSet]
    sources: dict[str, Encoded]


def load_setup(args: argparse.Namespace) -> Setup:
    unknown = sorted(set(args.sets) - set(TFDS_SPLIT))
    if unknown:
        raise ValueError(f"unknown --sets {unknown}; choose from {list(TFDS_SPLIT)}")
    paths = paths_from_args(args)
    dataset = PRESETS[args.preset].tokenize.translate_dataset
    model_dir = model_dir_from_args(args)
    model, codec, config = load_trained(model_dir)
    tests, sources = {}, {}
    for name in args.sets:
        split = TFDS_SPLIT[name]
        test = load_test_set(paths.tfds, dataset, config.source, config.target, split)
        if args.limit:
            test = EvalSet(test.sources[: args.limit], test.references[: args.limit])
        tests[name], sources[name] = test, codec.encode(tf.constant(test.sources))
    return Setup(paths, model_dir, model, codec, config, tests, sources)


def add_args(parser: argparse.ArgumentParser) -> None:
    add_model_args(parser)
    parser.add_argument("--limit", type=int, help="only the first N test sources (quick runs)")
    parser.add_argument(
        "--sets",
        type=lambda s: tuple(filter(None, s.split(","))),
        default=tuple(TEST_SETS),
        help="comma-separated splits of " + ", ".join(TFDS_SPLIT) + " (default: %(default)s)",
    )


def report_stem(model_dir: Path, name: str) -> str:
    """``bleu`` for the default model's folder, ``bleu_<run>`` for another run's."""
    run = model_dir.parent.name if model_dir.name == "best" else model_dir.name
    return name if run == "de-en" else f"{name}_{run.replace('-', '_')}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.translate.bleu", description=__doc__.split("\n")[0]
    )
    add_args(parser)
    parser.add_argument(
        "--bench-sentences",
        type=int,
        help="time batched against one-at-a-time decoding on the first N sources (default: all)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="only greedy and beam 5 (alpha 0.6) on every set, e.g. to compare models on dev",
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
    sets = {}
    for name, test in setup.tests.items():
        grid = QUICK_GRID if args.quick else GRID if name == "test" else LOC_GRID
        metric = "bleu_cased" if name.startswith("loc") else "bleu"
        sets[name] = evaluate(
            setup.model, setup.codec, setup.sources[name], test, grid, metric=metric
        )
    first = next(iter(setup.sources.values()))
    report = {
        "model_dir": str(setup.model_dir),
        "tokens": setup.config.tokens,
        "sets": sets,
        "batching": batching_figure(setup.model, first.ids, args.bench_sentences),
    }
    text = markdown(report)
    write_report(setup.paths.reports, report_stem(setup.model_dir, "bleu"), report, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
