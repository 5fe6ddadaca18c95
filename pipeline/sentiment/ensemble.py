"""Soft voting between a neural classifier and NBSVM, weighted on the validation split.

The two read different evidence: NBSVM weighs every uni- and bigram of the training texts,
rare words and phrasings included, while the neural models read pretrained word vectors
(and, for the recurrent one, word order) but know little about words the vectors never saw.
Their errors overlap less than either model's errors across seeds do, so averaging their
P(positive) pays where averaging two neural models does not (Mesnil et al. 2014 combine NBSVM
with neural models the same way). The weight is chosen on the training folds' validation
split, never on the test fold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np

from pipeline.config import SentimentConfig
from pipeline.sentiment import baseline, data
from pipeline.sentiment.training import probabilities, refit

SUFFIX = "+nbsvm"

# Candidate weights of the neural model; NBSVM gets the rest.
WEIGHTS = np.round(np.linspace(0.0, 1.0, 21), 2)


def mix(neural: np.ndarray, nbsvm: np.ndarray, weight: float) -> np.ndarray:
    """P(positive) of the vote: ``weight * neural + (1 - weight) * nbsvm``."""
    return weight * neural + (1.0 - weight) * nbsvm


def log_loss(probability: np.ndarray, labels: np.ndarray) -> float:
    p = np.clip(probability, 1e-7, 1 - 1e-7)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))


def choose_weight(neural: np.ndarray, nbsvm: np.ndarray, labels: np.ndarray) -> float:
    """The candidate weight with the lowest log loss on held-out ``labels``.

    Log loss rather than accuracy: on a validation split of ~1,150 texts accuracy moves in
    steps of 0.09 points and is flat over a wide range of weights, while the loss also
    reflects how confident each model is and has one clear minimum.
    """
    losses = [log_loss(mix(neural, nbsvm, w), labels) for w in WEIGHTS]
    return float(WEIGHTS[int(np.argmin(losses))])


def ensemble_name(name: str) -> str:
    """The result row of configuration ``name``'s vote with NBSVM."""
    return name + SUFFIX


def base_config(name: str) -> str:
    """The neural configuration of a result row (``<model>/<init>`` or its ensemble)."""
    return name.removesuffix(SUFFIX)


@dataclass
class NBSVMPartner:
    """Fits NBSVM beside a neural model and weighs the two models' vote.

    The weight is chosen on the neural model's validation split, which neither model may
    have seen, so it is chosen with an NBSVM fitted on the rest; the NBSVM that then votes is
    refitted on all the training data, as the neural model used the split for early
    stopping only. The neural configurations of one fold share the split (same seed), hence
    NBSVM's fits are cached by fold.
    """

    base: int  # compact vocabulary size: n-gram keys of ids below it
    fitted: dict[int, tuple[np.ndarray, baseline.NBSVM]] = field(default_factory=dict)

    def probability(self, nbsvm: baseline.NBSVM, examples: data.Examples) -> np.ndarray:
        """NBSVM's P(positive) of each example (compact ids)."""
        return nbsvm.probability(baseline.ngram_keys(examples.ids, self.base))

    def _fit(self, examples: data.Examples) -> baseline.NBSVM:
        keys = baseline.ngram_keys(examples.ids, self.base)
        return baseline.NBSVM.fit(keys, examples.labels, self.base)

    def fit_and_weigh(
        self,
        model: keras.Model,
        train: data.Examples,
        config: SentimentConfig,
        seed: int,
        fold: int | None = None,
    ) -> tuple[baseline.NBSVM, float]:
        """NBSVM fitted on ``train`` (cached by ``fold``) and the neural model's vote share."""
        fit_index, val_index = data.validation_split(train.labels, config.val_fraction, seed)
        val = train.take(val_index)
        if fold is None or fold not in self.fitted:
            held_out = self.probability(self._fit(train.take(fit_index)), val)
            fitted = (held_out, self._fit(train))
            if fold is not None:
                self.fitted[fold] = fitted
        else:
            fitted = self.fitted[fold]
        held_out, nbsvm = fitted
        neural = probabilities(model, val, config.batch_size)
        return nbsvm, choose_weight(neural, held_out, val.labels)

    def vote(
        self,
        model: keras.Model,
        nbsvm: baseline.NBSVM,
        weight: float,
        examples: data.Examples,
        batch_size: int,
    ) -> np.ndarray:
        """P(positive) of the weighted vote of ``model`` and ``nbsvm`` on ``examples``."""
        neural = probabilities(model, examples, batch_size)
        return mix(neural, self.probability(nbsvm, examples), weight)


def vote_members(
    partner: NBSVMPartner,
    model: keras.Model,
    model_kind: str,
    matrix: np.ndarray,
    trainable: bool,
    train: data.Examples,
    config: SentimentConfig,
    seed: int,
    epochs: int,
    fold: int | None = None,
) -> tuple[keras.Model, baseline.NBSVM, float]:
    """The vote's neural member, its NBSVM and the neural weight, for training data ``train``.

    ``model`` is :func:`~pipeline.sentiment.training.fit`'s, which never trained on the
    validation split, so it weighs the vote first; only then is it replaced by its refit on
    all of ``train`` for ``epochs``.
    """
    nbsvm, weight = partner.fit_and_weigh(model, train, config, seed, fold)
    voter = refit(model_kind, matrix, trainable, train, config, seed, epochs)
    return voter, nbsvm, weight
