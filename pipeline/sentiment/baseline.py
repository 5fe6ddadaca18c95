"""NBSVM-style baseline (Wang & Manning 2012) on the same folds as the neural models.

Features are binarized unigrams and bigrams of the token ids (PAD excluded), built from the
training part of each fold only (n-grams seen only in the test fold are dropped). Each
feature is scaled by the naive-Bayes log-count ratio ``r = log((p/|p|_1) / (q/|q|_1))`` with
``p = alpha + sum of positive rows`` and ``q`` likewise for negative ones, and an
L2-regularised logistic regression (L-BFGS, SciPy, C=1) is trained on ``x * r`` (the "NB-LR"
variant). The paper's interpolation towards the mean weight magnitude, ``w' = (1 - beta) *
mean|w| + beta * w`` (beta 0.25 for its SVM), is available; the default ``beta=1`` turns it
off, as is usual with logistic regression. NumPy/SciPy only; a fold takes a few seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.optimize
import scipy.sparse as sp

from pipeline.sentiment import data
from pipeline.text import PAD_ID

NAME = "NBSVM (ours, same folds)"


def ngram_keys(ids: np.ndarray, base: int) -> list[np.ndarray]:
    """Per row, the distinct int64 keys of its unigrams (``id``) and bigrams (``-(a*base+b)-1``).

    ``base`` is the vocabulary size, so the keys of one vocabulary mean the same words in
    every batch, and the exported model can compute them in its graph (see
    :meth:`NBSVM.keys_in`).
    """
    out = []
    for row in ids:
        row = row[row != PAD_ID].astype(np.int64)
        bigrams = -(row[:-1] * base + row[1:]) - 1
        out.append(np.unique(np.concatenate([row, bigrams])))
    return out


def features(keys: list[np.ndarray], columns: np.ndarray) -> sp.csr_matrix:
    """Binary ``[n, len(columns)]`` matrix; keys not in ``columns`` (sorted) are dropped."""
    indptr, indices = [0], []
    for row in keys:
        pos = np.searchsorted(columns, row)
        pos = pos[(pos < len(columns)) & (columns[np.minimum(pos, len(columns) - 1)] == row)]
        indices.append(pos)
        indptr.append(indptr[-1] + len(pos))
    flat = np.concatenate(indices) if indices else np.zeros(0, np.int64)
    values = np.ones(len(flat), np.float64)
    return sp.csr_matrix((values, flat, np.array(indptr)), shape=(len(keys), len(columns)))


def log_count_ratio(x: sp.csr_matrix, labels: np.ndarray, alpha: float) -> np.ndarray:
    p = alpha + np.asarray(x[labels == 1].sum(0)).ravel()
    q = alpha + np.asarray(x[labels == 0].sum(0)).ravel()
    return np.log(p / p.sum()) - np.log(q / q.sum())


def logistic_regression(
    x: sp.csr_matrix, y: np.ndarray, c: float, max_iter: int = 100
) -> tuple[np.ndarray, float]:
    """Weights and bias minimising ``sum logloss + |w|^2 / (2c)``."""
    sign = 2.0 * y - 1.0

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        margin = sign * (x @ w + b)
        value = np.logaddexp(0.0, -margin).sum() + 0.5 * w @ w / c
        coef = -sign * np.exp(-np.logaddexp(0.0, margin))  # -y * sigmoid(-margin)
        grad = np.append(x.T @ coef + w / c, coef.sum())
        return float(value), grad

    theta = np.zeros(x.shape[1] + 1)
    result = scipy.optimize.minimize(
        loss, theta, jac=True, method="L-BFGS-B", options={"maxiter": max_iter}
    )
    return result.x[:-1], float(result.x[-1])


@dataclass(frozen=True)
class NBSVM:
    """A fitted NB-LR model: one weight per known n-gram key (``r * w``) and a bias."""

    columns: np.ndarray  # sorted int64 n-gram keys
    weights: np.ndarray  # float64, the weight of each key
    bias: float
    base: int  # the vocabulary size the keys were made with

    @classmethod
    def fit(
        cls,
        keys: list[np.ndarray],
        labels: np.ndarray,
        base: int,
        *,
        alpha: float = 1.0,
        c: float = 1.0,
        beta: float = 1.0,
    ) -> NBSVM:
        columns = np.unique(np.concatenate(keys))
        x = features(keys, columns)
        r = log_count_ratio(x, labels, alpha)
        w, b = logistic_regression(x.multiply(r).tocsr(), labels, c)
        w = (1 - beta) * np.abs(w).mean() + beta * w
        return cls(columns, r * w, b, base)

    def log_odds(self, keys: list[np.ndarray]) -> np.ndarray:
        """log P(positive) / P(negative) per row; unknown n-grams count for nothing."""
        return features(keys, self.columns) @ self.weights + self.bias

    def probability(self, keys: list[np.ndarray]) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.log_odds(keys)))

    def keys_in(self, kept: np.ndarray, vocab_size: int) -> NBSVM:
        """The same model over the full vocabulary's ids, where compact id ``i`` is ``kept[i]``.

        Training uses compact ids (see :mod:`pipeline.sentiment.data`); the exported model
        sees the vocabulary's own ids.
        """
        unigram = self.columns >= 0
        pair = -self.columns[~unigram] - 1
        first, second = kept[pair // self.base], kept[pair % self.base]
        columns = np.empty_like(self.columns)
        columns[unigram] = kept[self.columns[unigram]]
        columns[~unigram] = -(first * vocab_size + second) - 1
        order = np.argsort(columns)
        return NBSVM(columns[order], self.weights[order], self.bias, vocab_size)


def cross_validate(examples: data.Examples, folds: int = 0, **options: float) -> dict[str, Any]:
    """Fold accuracies of the baseline over ``data.cv_splits`` (the neural models' folds)."""
    start = time.perf_counter()
    base = int(examples.ids.max()) + 1
    keys = ngram_keys(examples.ids, base)
    accuracies = []
    for _, train_index, test_index in data.cv_splits(examples.folds, folds):
        model = NBSVM.fit(
            [keys[i] for i in train_index], examples.labels[train_index], base, **options
        )
        predicted = model.log_odds([keys[i] for i in test_index]) > 0
        accuracies.append(round(float(np.mean(predicted == examples.labels[test_index])), 4))
    return {
        "mean": round(float(np.mean(accuracies)), 4),
        "std": round(float(np.std(accuracies)), 4),
        "fold_accuracy": accuracies,
        "epochs": 0,
        "options": {"alpha": 1.0, "c": 1.0, "beta": 1.0, **options},
        "seconds": round(time.perf_counter() - start, 1),
    }
