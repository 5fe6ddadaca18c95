"""One configuration trained once per cross-validation fold, scored on each test fold once."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
from tqdm import tqdm

from pipeline.config import SentimentConfig
from pipeline.metrics import classification
from pipeline.sentiment import data
from pipeline.sentiment.ensemble import NBSVMPartner, ensemble_name, vote_members
from pipeline.sentiment.training import fit, parse_config, predict, predicted, trains_embeddings

log = logging.getLogger("pipeline.sentiment")


@dataclass
class Scores:
    """One result row's figures per evaluation (fold or test set), and its pooled confusion."""

    classes: int
    accuracy: list[float] = field(default_factory=list)
    macro_f1: list[float] = field(default_factory=list)
    confusion: np.ndarray | None = None

    def add(self, labels: np.ndarray, probability: np.ndarray) -> None:
        """Score class probabilities (or P(positive), two classes) against ``labels``."""
        guess = predicted(probability)
        matrix = classification.confusion(labels, guess, self.classes)
        self.accuracy.append(round(float(np.mean(guess == labels)), 4))
        self.macro_f1.append(round(classification.macro_f1(matrix), 4))
        self.confusion = matrix if self.confusion is None else self.confusion + matrix


def result_row(
    scores: Scores, epochs: list[int], trainable: bool, seconds: float
) -> dict[str, Any]:
    """A result row: the fold accuracies with their mean and standard deviation, then the
    fold macro-F1s with their mean and the confusion counts summed over the folds."""
    return {
        "mean": round(float(np.mean(scores.accuracy)), 4),
        "std": round(float(np.std(scores.accuracy)), 4),
        "fold_accuracy": scores.accuracy,
        "epochs": epochs,
        "trainable_embeddings": trainable,
        "seconds": round(seconds, 1),
        "macro_f1": round(float(np.mean(scores.macro_f1)), 4),
        "fold_macro_f1": scores.macro_f1,
        "confusion": scores.confusion.tolist() if scores.confusion is not None else [],
    }


def cross_validate(
    name: str,
    examples: data.Examples,
    matrix: np.ndarray,
    runs: Path,
    config: SentimentConfig,
    partner: NBSVMPartner | None,
) -> dict[str, dict[str, Any]]:
    """Fold accuracies of one configuration and, with a ``partner``, of its vote with NBSVM.

    ``examples`` hold compact ids, ``matrix`` is their embedding rows and TensorBoard logs go
    to ``runs/<model>_<init>/fold<k>``.
    """
    model_kind, init = parse_config(name)
    trainable = trains_embeddings(config, init)
    folds, voted = Scores(examples.classes), Scores(examples.classes)
    weights, epochs = [], []
    start = time.perf_counter()
    splits = list(data.cv_splits(examples.folds, config.folds))
    progress = tqdm(splits, desc=name, unit="fold", leave=False, disable=None)
    for fold, train_index, test_index in progress:
        train, test = examples.take(train_index), examples.take(test_index)
        seed = config.seed + fold
        log_dir = runs / name.replace("/", "_") / f"fold{fold}"
        model, info = fit(model_kind, matrix, trainable, train, config, log_dir, seed)
        folds.add(test.labels, predict(model, test, config.batch_size))
        epochs.append(info["epochs"])
        if partner is not None:
            model, nbsvm, weight = vote_members(
                partner, model, model_kind, matrix, trainable, train, config, seed,
                info["best_epoch"], fold,
            )  # fmt: skip
            vote = partner.vote(model, nbsvm, weight, test, config.batch_size)
            voted.add(test.labels, vote)
            weights.append(weight)
        progress.set_postfix(mean=f"{np.mean(folds.accuracy):.4f}")
        log.debug(
            "%s fold %d: accuracy %.4f after %d epochs", name, fold, folds.accuracy[-1], epochs[-1]
        )
        keras.backend.clear_session()
    seconds = time.perf_counter() - start
    results = {name: result_row(folds, epochs, trainable, seconds)}
    if partner is not None:
        results[ensemble_name(name)] = {
            **result_row(voted, epochs, trainable, seconds),
            "neural_weight": weights,
        }
    for row, result in results.items():
        log.info(
            "%-26s accuracy %.2f ± %.2f, macro-F1 %.2f over %d folds (%.0f s)",
            row, 100 * result["mean"], 100 * result["std"], 100 * result["macro_f1"],
            len(epochs), result["seconds"],
        )  # fmt: skip
    return results
