"""Checkpoint averaging: the translator exported as the mean of its last K checkpoints.

The averaged model has, for every weight tensor of the model,

    theta_bar = (1 / K) * sum_{k=1..K} theta_k

where theta_k are that tensor's values in the run's last K intact checkpoints. Only the model's
weights are averaged (the checkpoints' ``model/`` entries): Adam's moments, the step counter and
the dropout seeds describe the training process, not the function the model computes, and are
never read. Why: with a learning rate that has not decayed to zero, the last steps of SGD keep
the weights wandering around a minimum of the loss instead of settling in it; the mean of a
few recent points of that walk lies nearer its centre, which smooths out the noise of the
final steps at no training cost (Polyak and Juditsky 1992). Junczys-Dowmunt et al. (WMT 2016)
and Vaswani et al. (2017, the last 5 checkpoints of the base Transformer) translate with such
averages; OpenNMT, fairseq and Marian ship it. The sum is taken in float64, so K identical
checkpoints average to exactly their weights.

What K means: 1 is the weights with the best dev loss (``best/``), the model export always
gave; K >= 2 is the mean of the run's last K intact checkpoints (``ckpt/``, written every
``save_every`` steps and after each epoch; training keeps the last ``keep_checkpoints``),
whatever their dev loss, as those toolkits average the last checkpoints of a run.

``python -m pipeline.translate.averaging`` measures the choice: dev BLEU, greedy and beam 5,
of each K (1, 3, 5 by default) on Ding's and the localization dev sets, each K tested against
the first by sacrebleu's paired bootstrap. It writes ``reports/translate_averaging.{md,json}``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from pipeline import artifacts
from pipeline.checkpoints import damage, indexed
from pipeline.config import Paths
from pipeline.io import write_report
from pipeline.stage import comma_list, new_parser, run_stage
from pipeline.translate.bleu import QUICK_GRID, paired_test, score_bleu
from pipeline.translate.cli import default_run, model_dir_from_args
from pipeline.translate.decoding import Setup, add_args, corpus_of, load_setup, translate_all

log = logging.getLogger(__name__)

DEFAULT_KS = (1, 3, 5)
DEV_SETS = {
    "dev": "Ding dev (dictionary example sentences)",
    "loc_dev": "Localization dev (software messages)",
}


def last_checkpoints(model_dir: Path, k: int) -> list[str]:
    """The checkpoints ``--average-last k`` averages for the model in ``model_dir`` (a run's
    ``best/``), oldest first: best's one for k = 1, else the run's last k intact ones."""
    if k < 1:
        raise ValueError(f"--average-last {k}: K must be >= 1 (1 is the best dev-loss weights)")
    if k == 1:
        best = tf.train.latest_checkpoint(str(model_dir / artifacts.MODEL_WEIGHTS))
        if best is None:
            raise FileNotFoundError(
                f"{model_dir} holds no trained weights; run `make train-translate` first"
            )
        return [best]
    directory = model_dir.parent / artifacts.RUN_CHECKPOINTS
    # A manager that keeps everything only lists the run's checkpoints, oldest first.
    listed = tf.train.CheckpointManager(tf.train.Checkpoint(), str(directory), None).checkpoints
    intact: list[str] = []
    for path in reversed(listed):
        reason = damage(path)
        if reason is not None:
            log.warning("checkpoint %s is damaged (%s); averaging older ones", path, reason)
            continue
        intact.append(path)
        if len(intact) == k:
            return intact[::-1]
    damaged = f" ({len(listed) - len(intact)} more damaged)" if len(listed) > len(intact) else ""
    raise ValueError(
        f"--average-last {k} needs the run's last {k} checkpoints, but {directory} holds "
        f"{len(intact)} intact one(s){damaged}. Training keeps only the last "
        "--keep-checkpoints of them (written every --save-every steps and after each epoch): "
        f"train with --keep-checkpoints {k} or more (e.g. make train-translate "
        f'STAGE_ARGS="--keep-checkpoints {k}"; a finished run extended with more --epochs '
        f"adds checkpoints), or choose --average-last {len(intact)} or fewer; "
        "--average-last 1 exports the best dev-loss weights."
    )


def average_weights(model: keras.Model, checkpoints: Sequence[str]) -> None:
    """Set ``model``'s weights to their mean over ``checkpoints`` (the layout of the run's
    checkpoints and of ``best/``: the weights by position under ``model/``)."""
    if not checkpoints:
        raise ValueError("nothing to average: no checkpoints given")
    weights = indexed(model.weights)
    reader = tf.train.Checkpoint(model=weights)
    total = [tf.zeros(v.shape, tf.float64) for v in weights.values()]
    for path in checkpoints:
        # Every weight must be in the checkpoint; its optimizer state is left unread.
        reader.read(path).assert_existing_objects_matched().expect_partial()
        total = [t + tf.cast(v, tf.float64) for t, v in zip(total, weights.values(), strict=True)]
    for variable, summed in zip(weights.values(), total, strict=True):
        variable.assign(tf.cast(summed / len(checkpoints), variable.dtype))


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
        "`python -m pipeline.translate.export`).",
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
    if not args.average_last:
        raise ValueError("--average-last names no K; give e.g. --average-last 1,3,5")
    model_dir = model_dir_from_args(args)
    checkpoints = {k: last_checkpoints(model_dir, k) for k in args.average_last}  # fail fast
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
    add_args(parser)
    parser._option_string_actions["--sets"].help = (  # the dev splits here, not the test ones
        f"comma-separated splits (default: {','.join(DEV_SETS)}; a named run: dev)"
    )
    parser.add_argument(
        "--average-last",
        type=comma_list(int),
        default=DEFAULT_KS,
        metavar="K,K,...",
        help="the K compared, the first one the baseline (default: 1,3,5); K=1 is the best "
        "dev-loss weights, K >= 2 the mean of the run's last K checkpoints",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_stage(args, command, log, writes=lambda paths: (paths.reports,))


if __name__ == "__main__":
    sys.exit(main())
