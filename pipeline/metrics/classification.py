"""Classification figures beside accuracy: the confusion matrix and macro-averaged F1.

Accuracy hides a small class: with classes of 90% and 10%, always guessing the large one
scores 90%. Macro-F1 averages each class's F1 with equal weight, so every class counts:
``F1_k = 2 * precision_k * recall_k / (precision_k + recall_k)`` with ``precision_k =
C[k, k] / sum_i C[i, k]`` and ``recall_k = C[k, k] / sum_j C[k, j]`` for the confusion matrix
``C[true, predicted]``; a class never predicted nor present scores 0 (sklearn's convention).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from pipeline.io import atomic_path


def confusion(labels: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """``C[i, j]``: how many examples of class ``i`` were predicted as ``j``."""
    pairs = np.asarray(labels, np.int64) * classes + np.asarray(predicted, np.int64)
    return np.bincount(pairs, minlength=classes * classes).reshape(classes, classes)


def macro_f1(matrix: np.ndarray) -> float:
    """The mean over classes of F1, from a confusion matrix (see the module's equations)."""
    hits = np.diag(matrix).astype(np.float64)
    # 2PR / (P + R) = 2 * hits / (predicted + actual); 0 where a class has neither.
    denominator = matrix.sum(axis=0) + matrix.sum(axis=1)
    f1 = np.divide(2 * hits, denominator, out=np.zeros_like(hits), where=denominator > 0)
    return float(f1.mean())


def plot_confusion(matrix: np.ndarray, names: Sequence[str], title: str, path: Path) -> None:
    """The matrix as a heatmap of row shares (recall), each cell labeled with its count."""
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    size = max(4.0, 0.6 * len(names) + 2.5)
    fig = Figure(figsize=(size + 1.0, size), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, label="share of the true class")
    ticks = np.arange(len(names))
    ax.set_xticks(ticks, names, rotation=45, ha="right")
    ax.set_yticks(ticks, names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    for (i, j), count in np.ndenumerate(matrix):
        color = "white" if share[i, j] > 0.5 else "black"
        ax.text(j, i, f"{count:,}", ha="center", va="center", color=color, fontsize=8)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
