"""BLEU of the trained translator on both test sets, over decoding settings (``make bleu``).

Decodes the test sources greedily and with beam search over beam sizes x length penalties,
and scores every run with our corpus BLEU beside sacrebleu's (they must agree), chrF and
the decoding speed. Writes ``reports/[user/<run>/]bleu[_<src>_<tgt>].{md,json}`` and prints
the tables.

By default each test set's dev split is decoded over the same grid, and the setting best on
dev is the one a test set's figure is quoted for: the best row of the test set itself is
chosen on the sentences it scores.

The test sets: Ding's dictionary sentences (each source keeps all its English translations,
so BLEU is multi-reference) and the software localization messages. BLEU is given cased
(sacrebleu's default, against the references as they are) and lowercased with apostrophes
unified (``case:lc``): a word model reads and writes lowercase text, so only the second
compares it with a cased subword model. A named run of the user's own text
(``--run``) is scored on its test split, a reference per line, cased (BLEU and chrF), as
sacrebleu scores a test file by default. Sources go through the model's codec
(:mod:`pipeline.translate.codec`), as in the SavedModel, so these are the exported model's
scores.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from pipeline import artifacts
from pipeline.config import Paths
from pipeline.io import write_report
from pipeline.metrics import bench_bleu, corpus_bleu
from pipeline.metrics.significance import RESAMPLES, paired_bootstrap
from pipeline.stage import new_parser, run_stage
from pipeline.translate.cli import default_run
from pipeline.translate.codec import Codec, Encoded
from pipeline.translate.decode_bench import bench_batching
from pipeline.translate.decoding import (
    DEV_OF,
    TEST_SETS,
    TITLES,
    EvalSet,
    Setting,
    add_args,
    decode_function,
    length_sorted_batches,
    load_setup,
    translate_all,
    weights_note,
)
from pipeline.translate.model import Translator

log = logging.getLogger(__name__)

GRID: tuple[Setting, ...] = (
    Setting(0),
    *(Setting(b, a) for b in (1, 3, 5, 10) for a in (0.0, 0.6, 1.0)),
    Setting(5, 0.6, "gnmt"),
)


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
    """Our BLEU beside sacrebleu's, on folded text and cased; chrF and TER, folded and
    cased; the signatures."""
    from sacrebleu.metrics import BLEU, CHRF, TER

    hyps, streams = folded(hypotheses, references)
    ours = corpus_bleu(hyps, streams)
    metric = BLEU()
    theirs = metric.corpus_score(hyps, streams)
    chrf = CHRF().corpus_score(hyps, streams)
    ter = TER().corpus_score(hyps, streams)
    chrf_cased = CHRF().corpus_score(list(hypotheses), reference_streams(references))
    ter_cased = TER().corpus_score(list(hypotheses), reference_streams(references))
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
        "ter": ter.score,
        "chrf_cased": chrf_cased.score,
        "ter_cased": ter_cased.score,
        "bp": ours.bp,
        "ratio": ours.ratio,
        "signature": signature,
        "signature_cased": str(metric.get_signature()),
    }


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
    rows, outputs = [], {}
    best: tuple[float, str, list[str]] = (-1.0, "", [])
    for setting in grid:
        decoded, hypotheses = translate_all(model, codec, source, setting)
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
        outputs[setting.name] = hypotheses
        if row[metric] > best[0]:
            best = (row[metric], setting.name, hypotheses)
    _, best_setting, best_hypotheses = best
    significance = paired_test(rows, outputs, test.references, metric)
    return {
        "sentences": len(test.sources),
        "pairs": sum(len(refs) for refs in test.references),
        "max_references": max(len(refs) for refs in test.references),
        "metric": metric,
        "results": rows,
        "significance": significance,
        "best": best_setting,
        "examples": [
            {"source": src, "output": out, "references": refs}
            for src, out, refs in zip(
                test.sources[:5], best_hypotheses[:5], test.references[:5], strict=True
            )
        ],
        "bleu_timing": bench_bleu(*folded(best_hypotheses, test.references)),
    }


def choose_on_dev(sets: dict[str, dict[str, Any]]) -> None:
    """Name, in each test set scored beside its dev split, the setting best on that dev
    split: the one to report, since the test set's own best is chosen on the data it scores
    and so flatters the model."""
    for name, dev in DEV_OF.items():
        if name in sets and dev in sets:
            setting = sets[dev]["best"]
            row = next(r for r in sets[name]["results"] if r["setting"] == setting)
            sets[name]["chosen_on_dev"] = {"dev_set": dev, "setting": setting, "row": row}


def paired_test(
    rows: list[dict[str, Any]],
    outputs: dict[str, list[str]],
    references: Sequence[Sequence[str]],
    metric: str,
) -> dict[str, Any]:
    """Each row's 95% interval and its p against greedy decoding (the grid's first setting),
    on the text ``metric`` ranks by; the figures go into the rows."""
    greedy = rows[0]["setting"]
    if metric == "bleu":
        texts = {name: folded(hyps, references)[0] for name, hyps in outputs.items()}
        streams = folded([], references)[1]
    else:
        texts, streams = outputs, reference_streams(references)
    figures, signature = paired_bootstrap(texts, streams, baseline=greedy)
    if metric == "bleu":  # the texts were lowercased here, not by sacrebleu
        signature = signature.replace("case:mixed", "case:lc")
    for row in rows:
        row.update(
            ci95=figures[row["setting"]]["ci95"], p_vs_greedy=figures[row["setting"]]["p_value"]
        )
    return {
        "method": f"sacrebleu paired bootstrap, {RESAMPLES} resamples, against {greedy}",
        "metric": metric,
        "signature": signature,
    }


def batching_figure(model: Translator, source_ids: tf.Tensor, sentences: int | None) -> dict:
    """Beam 5 over the first ``sentences`` sources (None: all, the workload ``make bleu``
    runs), batched against one at a time; a small sample makes few mixed-length batches,
    whose last steps run a handful of rows and flatter decoding one sentence at a time."""
    bench = Setting(5, 0.6)
    batches, _ = length_sorted_batches(source_ids[:sentences], bench.beam_size)
    return bench_batching(decode_function(model, bench), batches)


def _cased_table(result: dict[str, Any]) -> list[str]:
    """A named run's: its text scored as it is, with sacrebleu's defaults."""
    lines = [
        "| decoding | BLEU (ours) | sacreBLEU | equal | 95% CI | p vs greedy | chrF | TER | BP "
        "| sent/s |",
        "|---|---:|---:|:-:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["results"]:
        p = "" if r["p_vs_greedy"] is None else f"{r['p_vs_greedy']:.4f}"
        lines.append(
            f"| {r['setting']} | {r['bleu_cased']:.2f} | {r['sacrebleu_cased']:.2f} | "
            f"{'yes' if r['equal_cased'] else 'NO'} | ± {r['ci95']:.2f} | {p} "
            f"| {r['chrf_cased']:.1f} | {r['ter_cased']:.1f} | {r['bp']:.3f} "
            f"| {r['sentences_per_second']:.1f} |"
        )
    return lines


def _table(result: dict[str, Any]) -> list[str]:
    which = "cased" if result["metric"] == "bleu_cased" else "lc"
    lines = [
        "| decoding | BLEU lc (ours) | sacreBLEU lc | BLEU cased (ours) | sacreBLEU cased "
        f"| equal | 95% CI ({which}) | p vs greedy | chrF | TER | BP | sent/s |",
        "|---|---:|---:|---:|---:|:-:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["results"]:
        equal = r["equal"] and r["equal_cased"]
        p = "" if r["p_vs_greedy"] is None else f"{r['p_vs_greedy']:.4f}"
        lines.append(
            f"| {r['setting']} | {r['bleu']:.2f} | {r['sacrebleu']:.2f} | "
            f"{r['bleu_cased']:.2f} | {r['sacrebleu_cased']:.2f} | {'yes' if equal else 'NO'} "
            f"| ± {r['ci95']:.2f} | {p} | {r['chrf']:.1f} | {r['ter']:.1f} | {r['bp']:.3f} "
            f"| {r['sentences_per_second']:.1f} |"
        )
    return lines


def _best_line(result: dict[str, Any]) -> str:
    """The setting to quote (chosen on dev, when scored) and the set's own best."""
    which = "cased" if result["metric"] == "bleu_cased" else "lowercased"
    chosen = result.get("chosen_on_dev")
    if chosen is None:
        return f"Best by {which} BLEU: {result['best']}."
    value = chosen["row"][result["metric"]]
    return (
        f"Chosen on `{chosen['dev_set']}` (its best by {which} BLEU): **{chosen['setting']}**, "
        f"{value:.2f} {which} BLEU here. Best on this set itself: {result['best']} (chosen on "
        "the set it scores, so an optimistic figure)."
    )


def markdown(report: dict[str, Any]) -> str:
    cased = report.get("cased_only", False)
    lines = [
        "# Translation BLEU",
        "",
        f"Model `{report['model_dir']}` ({report['tokens']} tokens). "
        + (
            "BLEU and chrF cased, against the references as they are."
            if cased
            else "BLEU lc: lowercased, apostrophes unified on both sides; cased: against "
            "the references as they are."
        ),
        "",
        weights_note(report["weights"]),
    ]
    for name, result in report["sets"].items():
        rows = result["results"]
        signatures = f"`{rows[0]['signature_cased']}`"
        if not cased:
            signatures = f"`{rows[0]['signature']}`, {signatures}"
        lines += [
            "",
            f"## {report.get('titles', TITLES).get(name, name)}",
            "",
            f"{result['sentences']} sources with {result['pairs']} references (up to "
            f"{result['max_references']} per source). Signatures: {signatures}.",
            "",
            *(_cased_table(result) if cased else _table(result)),
            "",
            f"Intervals and p-values: {result['significance']['method']}, on "
            f"{'cased' if result['metric'] == 'bleu_cased' else 'lowercased'} BLEU "
            f"(`{result['significance']['signature']}`); p < 0.05 means the setting's "
            "difference from greedy decoding is unlikely to be chance on this test set.",
            "",
            _best_line(result),
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


QUICK_GRID: tuple[Setting, ...] = (Setting(0), Setting(5, 0.6))
LOC_GRID: tuple[Setting, ...] = (
    Setting(0),
    *(Setting(5, a) for a in (0.0, 0.6, 1.0)),
    Setting(10, 0.6),
)


def command(args: argparse.Namespace, paths: Paths, _: None) -> str:
    """``make bleu``: every set over its grid of settings, and the batching figure."""
    tf.get_logger().setLevel(logging.ERROR)  # one decoder per setting reads as "retracing"
    if not (args.sets or args.quick or args.run):
        args.sets = (*TEST_SETS, *(DEV_OF[name] for name in TEST_SETS))
    setup = load_setup(args)
    sets = {}
    for name, test in setup.tests.items():
        # Ding's rows are ranked by lowercased BLEU (comparable with the word models),
        # localization rows and a named run's by cased BLEU.
        grid = QUICK_GRID if args.quick else GRID if name in ("test", "dev") else LOC_GRID
        metric = "bleu_cased" if setup.user or name.startswith("loc") else "bleu"
        sets[name] = evaluate(
            setup.model, setup.codec, setup.sources[name], test, grid, metric=metric
        )
    choose_on_dev(sets)
    first = next(iter(setup.sources.values()))
    report = {
        "model_dir": str(setup.model_dir),
        "tokens": setup.config.tokens,
        "weights": list(setup.weights),
        "sets": sets,
        "titles": setup.titles,
        "cased_only": setup.user,
        "batching": batching_figure(setup.model, first.ids, args.bench_sentences),
    }
    text = markdown(report)
    name = artifacts.run_report("bleu", artifacts.run_of(setup.model_dir), default_run(setup.paths))
    write_report(setup.paths.reports, name, report, text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = new_parser(__spec__.name, __doc__)
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
    return run_stage(parser.parse_args(argv), command, log, writes=lambda paths: (paths.reports,))


if __name__ == "__main__":
    sys.exit(main())
