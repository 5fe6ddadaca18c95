"""Confusion matrices (figures and picture) and the markdown report of the word-language stage.

Row ``i`` of a confusion matrix counts the test words of language ``i`` by predicted language;
normalized, it is ``P(predicted | true)``, whose diagonal is the language's accuracy (recall).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np

from pipeline.io import atomic_path

matplotlib.use("Agg")  # files only: no display on a server

from matplotlib import pyplot as plt  # after the backend is chosen


def confusion(labels: np.ndarray, predicted: np.ndarray, n: int) -> np.ndarray:
    """int64 ``[n, n]``: row true language, column predicted language."""
    return np.bincount(labels * n + predicted, minlength=n * n).reshape(n, n)


def row_normalized(counts: np.ndarray) -> np.ndarray:
    """Each row over its sum; a language without test words keeps a row of zeros."""
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)


def top_confusions(counts: np.ndarray, codes: Sequence[str], k: int) -> list[dict[str, Any]]:
    """The ``k`` largest off-diagonal shares ``P(predicted | true)``, largest first."""
    shares = row_normalized(counts)
    np.fill_diagonal(shares, 0.0)
    order = np.argsort(-shares, axis=None, kind="stable")[:k]
    pairs = [np.unravel_index(i, shares.shape) for i in order]
    return [
        {"true": codes[i], "predicted": codes[j], "share": round(float(shares[i, j]), 4)}
        for i, j in pairs
        if shares[i, j] > 0
    ]


def plot_confusions(
    matrices: Mapping[str, np.ndarray], codes: Sequence[str], path: str | os.PathLike[str]
) -> None:
    """One row-normalized panel per model, cells labelled in percent, written atomically."""
    n = len(codes)
    size = 1.5 + 0.5 * n
    fig, axes = plt.subplots(
        1, len(matrices), figsize=(size * len(matrices), size + 0.6), squeeze=False
    )
    try:
        for ax, (title, counts) in zip(axes[0], matrices.items(), strict=True):
            shares = row_normalized(counts)
            ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
            for (i, j), share in np.ndenumerate(shares):
                if share >= 0.01:  # the cells that print as 1% or more
                    color = "white" if share > 0.5 else "black"
                    ax.text(j, i, f"{100 * share:.0f}", ha="center", va="center", fontsize=7,
                            color=color)  # fmt: skip
            ax.set_xticks(range(n), codes)
            ax.set_yticks(range(n), codes)
            ax.set_xlabel("predicted language")
            ax.set_ylabel("true language")
            accuracy = np.trace(counts) / max(1, counts.sum())
            ax.set_title(f"{title}: test accuracy {accuracy:.1%}\n(% of each true language)")
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    finally:
        plt.close(fig)


def markdown(report: Mapping[str, Any]) -> str:
    """The report's tables: the data, accuracy per language, the worst confusions."""
    lines = [
        "# Which language is this word?",
        "",
        f"Character-level bidirectional {report['config']['cell']} "
        f"({report['config']['units']} units per direction) vs character 1-"
        f"{report['config']['ngram_max']}-gram naive Bayes (alpha {report['naive_bayes']['alpha']}"
        " chosen on dev), on the same split of Debian's word lists. Test words belong to one "
        "list only.",
        "",
        "| language | list entries | kept | shared (dropped) | train | dev | test | GRU | NB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for code, row in report["languages"].items():
        lines.append(
            f"| {code} {row['name']} | {row['entries']:,} | {row['kept']:,} | "
            f"{row['shared']:,} | {row['train']:,} | {row['dev']:,} | {row['test']:,} | "
            f"{row['gru_accuracy']:.1%} | {row['nb_accuracy']:.1%} |"
        )
    gru, nb = report["gru"], report["naive_bayes"]
    lines += [
        f"| **all** | | | | | | {gru['test_words']:,} | **{gru['test_accuracy']:.1%}** | "
        f"**{nb['test_accuracy']:.1%}** |",
        "",
        f"Confusion matrices: `{report['confusion_png']}`. Most confused (share of the true "
        "language's test words):",
        "",
        "| model | true | predicted | share |",
        "|---|---|---|---:|",
    ]
    for model, pairs in (("GRU", gru["top_confusions"]), ("NB", nb["top_confusions"])):
        lines += [f"| {model} | {p['true']} | {p['predicted']} | {p['share']:.1%} |" for p in pairs]
    lines += [
        "",
        f"GRU: {gru['epochs']} epochs ({gru['best_epoch']} best on dev), "
        f"{gru['train_seconds']:.0f} s training; NB: {nb['seconds']:.0f} s. "
        f"Whole stage {report['seconds']:.0f} s. SavedModel `{report['model']}`.",
        "",
    ]
    return "\n".join(lines)
