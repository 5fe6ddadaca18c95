"""Attention heatmaps: which source words each output word attended to.

The weights are the translator's own (the SavedModel returns them with the tokens that
label both axes), so a plot shows how this model aligned this sentence; a diagonal band is
a word-by-word alignment, a blurred row a word it could not place.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib
import numpy as np

from pipeline.io import atomic_path

matplotlib.use("Agg")  # files only: no display on a server

from matplotlib import pyplot as plt  # after the backend is chosen


def _strings(tokens: Sequence[str | bytes]) -> list[str]:
    """Tokens as text up to the padding ("")."""
    text = [t.decode("utf-8") if isinstance(t, bytes) else t for t in tokens]
    return text[: text.index("")] if "" in text else text


def plot_attention(
    attention: np.ndarray,
    source_tokens: Sequence[str | bytes],
    target_tokens: Sequence[str | bytes],
    path: str | os.PathLike[str],
    title: str = "",
) -> bool:
    """Write ``attention`` (T, S) labelled by its tokens as a PNG at ``path``, atomically.

    Padded rows and columns (empty tokens) are cut off. Returns False, writing nothing, when
    there is nothing to show (an empty translation).
    """
    source, target = _strings(source_tokens), _strings(target_tokens)
    if not source or not target:
        return False
    weights = np.asarray(attention)[: len(target), : len(source)]
    width = min(2.0 + 0.45 * len(source), 40.0)
    height = min(1.5 + 0.4 * len(target), 40.0)
    fig, ax = plt.subplots(figsize=(width, height))
    try:
        ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_xticks(range(len(source)), source, rotation=60, ha="right")
        ax.set_yticks(range(len(target)), target)
        ax.set_xlabel("source")
        ax.set_ylabel("output")
        if title:
            ax.set_title(title, fontsize=9)
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=100)
    finally:
        plt.close(fig)
    return True
