"""Multinomial naive Bayes over character n-grams, the baseline the GRU is measured against.

A word ``w`` is the bag of its character n-grams, n = 1..``max_n``, taken from ``<w>`` so the
boundary markers make prefixes and suffixes n-grams of their own. With ``N[c, g]`` the count
of n-gram ``g`` in the training words of language ``c`` and ``V`` the n-grams seen in training,

    theta[c, g] = (N[c, g] + alpha) / (sum_g' N[c, g'] + alpha |V|)
    log P(c | w) = log pi_c + sum_g n_g(w) log theta[c, g] - log Z(w),

``pi_c`` the share of training words in ``c`` and ``Z`` the sum over languages. n-grams never
seen in training carry no evidence and are left out. The counts are kept, so trying another
``alpha`` (chosen on dev) costs one matrix product.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import logsumexp


def char_ngrams(word: str, max_n: int) -> list[str]:
    """Every substring of ``<word>`` of 1 to ``max_n`` characters, with repeats."""
    padded = f"<{word}>"
    return [padded[i : i + n] for n in range(1, max_n + 1) for i in range(len(padded) - n + 1)]


def _counts(words: Sequence[str], columns: dict[str, int], max_n: int) -> sp.csr_matrix:
    """``[len(words), len(columns)]`` n-gram counts; n-grams without a column are dropped."""
    indptr, indices = [0], []
    for word in words:
        row = [columns[g] for g in char_ngrams(word, max_n) if g in columns]
        indices.extend(row)
        indptr.append(len(indices))
    values = np.ones(len(indices), np.float64)
    return sp.csr_matrix((values, indices, indptr), shape=(len(words), len(columns)))


@dataclass(frozen=True)
class NaiveBayes:
    """Fitted counts: ``N[c, g]`` over the training n-grams, and the class priors."""

    columns: dict[str, int]  # n-gram -> column of counts
    counts: np.ndarray  # float64 [classes, n-grams]
    log_prior: np.ndarray  # float64 [classes]
    max_n: int

    @classmethod
    def fit(
        cls, words: Sequence[str], labels: np.ndarray, n_classes: int, max_n: int
    ) -> NaiveBayes:
        columns: dict[str, int] = {}
        for word in words:
            for gram in char_ngrams(word, max_n):
                columns.setdefault(gram, len(columns))
        x = _counts(words, columns, max_n)
        onehot = sp.csr_matrix(
            (np.ones(len(labels)), (labels, np.arange(len(labels)))),
            shape=(n_classes, len(labels)),
        )
        prior = np.bincount(labels, minlength=n_classes) / len(labels)
        with np.errstate(divide="ignore"):  # a class without words has log prior -inf
            log_prior = np.log(prior)
        return cls(columns, (onehot @ x).toarray(), log_prior, max_n)

    def log_posterior(self, words: Sequence[str], alpha: float) -> np.ndarray:
        """``log P(c | w)``, ``[len(words), classes]``, under smoothing ``alpha`` > 0."""
        if alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {alpha}")
        totals = self.counts.sum(axis=1, keepdims=True) + alpha * self.counts.shape[1]
        log_theta = np.log(self.counts + alpha) - np.log(totals)
        joint = _counts(words, self.columns, self.max_n) @ log_theta.T + self.log_prior
        return joint - logsumexp(joint, axis=1, keepdims=True)

    def best_alpha(
        self, words: Sequence[str], labels: np.ndarray, alphas: Sequence[float]
    ) -> tuple[float, dict[float, float]]:
        """The ``alpha`` of best accuracy on (dev) ``words``, and every one's accuracy."""
        if not alphas:
            raise ValueError("nb_alphas is empty; give at least one smoothing value")
        accuracy = {
            a: float(np.mean(self.log_posterior(words, a).argmax(axis=1) == labels)) for a in alphas
        }
        return max(alphas, key=lambda a: accuracy[a]), accuracy
