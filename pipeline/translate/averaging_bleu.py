"""Dev BLEU of the averaged checkpoints: which K ``--average-last`` should default to.

Decodes Ding's and the localization dev sets (a named run: its dev split), greedy and beam 5,
with the weights of each K (1, 3, 5 by default; :mod:`pipeline.translate.averaging` says what
K means) and tests each K against the first by sacrebleu's paired bootstrap, with the same
decoding. It writes ``reports/translate_averaging.{md,json}``; the preset's ``average_last``
is the K this report found best on the default run.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

import tensorflow as tf

from pipeline import artifacts
from pipeline.config import Paths
from pipeline.io import write_report
from pipeline.stage import comma_list, new_parser, run_stage
from pipeline.translate.averaging import average_weights, last_checkpoints
from pipeline.translate.bleu import QUICK_GRID, paired_test, score_bleu
from pipeline.translate.cli import default_run, model_dir_from_args
from pipeline.translate.decoding import (
    DEV_SETS,
    Setup,
    add_args,
    corpus_of,
    load_setup,
    translate_all,
)

log = logging.getLogger(__name__)

DEFAULT_KS = (1, 3, 5)


def _metric(setup: Setup, name: str) -> str:
    """What ranks a set, as in ``make bleu``: cased BLEU for the localization messages and a
    named run's text, lowercased for Ding's (comparable with a word model)."""
    return "bleu_cased" if setup.user or name.startswith("loc") else "bleu"


def measure(setup: Setup, checkpoints: dict[int, list[str]]) -> dict[str, Any]:
    """Dev BLEU of every K (``checkpoints``: :func:`last_checkpoints` by K) with every setting
    of ``QUICK_GRID``, by set; each K's interval and its p against the first K's output with
    the same setting (paired bootstrap)."""
    outputs: dict[tuple[str, str], dict[str, list[str]]] = {}
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for k in checkpoints:
        average_weights(setup.model, checkpoints[k])
        for name, test in setup.tests.items():
            for setting in QUICK_GRID:
                decoded, hypotheses = translate_all(
                    setup.model, setup.codec, setup.sources[name], setting
                )
                row = {
                    "setting": f"K={k}",  # the system paired_test compares
                    "average_last": k,
                    "decoding": setting.name,
                    **score_bleu(hypotheses, test.references),
                    "seconds": decoded.seconds,
                }
                log.info(
                    "%s, K=%d, %s: BLEU %.2f (cased %.2f)",
                    name, k, setting.name, row["bleu"], row["bleu_cased"],
                )  # fmt: skip
                rows.setdefault((name, setting.name), []).append(row)
                outputs.setdefault((name, setting.name), {})[row["setting"]] = hypotheses
    sets: dict[str, Any] = {}
    for (name, decoding), group in rows.items():
        metric = _metric(setup, name)
        significance = paired_test(
            group, outputs[name, decoding], setup.tests[name].references, metric
        )
        for row in group:  # paired_test names its baseline greedy; here it is the first K
            row["p_vs_first"] = row.pop("p_vs_greedy")
        sets.setdefault(name, {"sentences": len(setup.tests[name].sources), "metric": metric})
        sets[name].setdefault("results", []).extend(group)
        sets[name]["significance"] = significance
    return {
        "model_dir": str(setup.model_dir),
        "tokens": setup.config.tokens,
        "average_last": list(checkpoints),
        "checkpoints": {str(k): paths for k, paths in checkpoints.items()},
        "sets": sets,
    }


def markdown(report: dict[str, Any], titles: dict[str, str]) -> str:
    first = report["average_last"][0]
    lines = [
        "# Checkpoint averaging",
        "",
        f"Model `{report['model_dir']}` ({report['tokens']} tokens). K=1 is the best dev-loss "
        "weights, K >= 2 the mean of the run's last K checkpoints (`--average-last K` of "
        "export, `make bleu` and `make error-analysis`, whose default is the preset's "
        "`average_last`).",
    ]
    for name, result in report["sets"].items():
        which = "cased" if result["metric"] == "bleu_cased" else "lowercased"
        lines += [
            "",
            f"## {titles.get(name, name)}",
            "",
            f"{result['sentences']} sources. 95% CI and p on {which} BLEU: "
            f"{result['significance']['method']}, with the same decoding.",
            "",
            f"| decoding | K | BLEU lc | BLEU cased | chrF | 95% CI | p vs K={first} |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in result["results"]:
            p = "" if r["p_vs_first"] is None else f"{r['p_vs_first']:.4f}"
            lines.append(
                f"| {r['decoding']} | {r['average_last']} | {r['bleu']:.2f} | "
                f"{r['bleu_cased']:.2f} | {r['chrf']:.1f} | ± {r['ci95']:.2f} | {p} |"
            )
    return "\n".join([*lines, ""])


def command(args: argparse.Namespace, paths: Paths, _: None) -> str:
    """Decode the dev sets with each K's weights and write the report."""
    tf.get_logger().setLevel(logging.ERROR)  # one decoder per setting reads as "retracing"
    if not args.ks:
        raise ValueError("--average-last names no K; give e.g. --average-last 1,3,5")
    model_dir = model_dir_from_args(args)
    checkpoints = {k: last_checkpoints(model_dir, k) for k in args.ks}  # fail fast
    corpus = corpus_of(paths, args.preset)
    args.sets = args.sets or tuple(s for s in DEV_SETS if s in corpus.splits)
    setup = load_setup(args)
    report = measure(setup, checkpoints)
    titles = {**setup.titles, **({} if setup.user else DEV_SETS)}
    text = markdown(report, titles)
    name = artifacts.run_report(
        artifacts.TRANSLATE_AVERAGING, artifacts.run_of(setup.model_dir), default_run(paths)
    )
    write_report(paths.reports, name, report, text)
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = new_parser(__spec__.name, __doc__)
    add_args(parser, average=False)
    parser._option_string_actions["--sets"].help = (  # the dev splits here, not the test ones
        f"comma-separated splits (default: {','.join(DEV_SETS)}; a named run: dev)"
    )
    parser.add_argument(
        "--average-last",
        dest="ks",
        type=comma_list(int),
        default=DEFAULT_KS,
        metavar="K,K,...",
        help="the K compared, the first one the baseline (default: 1,3,5); K=1 is the best "
        "dev-loss weights, K >= 2 the mean of the run's last K checkpoints",
    )
    parser.set_defaults(average_last=1)  # load_setup's weights: the best, K = 1
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_stage(args, command, log, writes=lambda paths: (paths.reports,))


if __name__ == "__main__":
    sys.exit(main())
