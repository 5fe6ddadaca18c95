"""One configuration trained once per cross-validation fold, scored on each test fold once."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
from tqdm import tqdm

from pipeline.config import SentimentConfig
from pipeline.sentiment import data
from pipeline.sentiment.ensemble import NBSVMPartner, ensemble_name, vote_members
from pipeline.sentiment.training import (
    accuracy,
    fit,
    parse_config,
    probabilities,
    trains_embeddings,
)

log = logging.getLogger("pipeline.sentiment")


def result_row(
    folds: list[float], epochs: list[int], trainable: bool, seconds: float
) -> dict[str, Any]:
    """A result row: the fold accuracies with their mean and standard deviation."""
    return {
        "mean": round(float(np.mean(folds)), 4),
        "std": round(float(np.std(folds)), 4),
        "fold_accuracy": folds,
        "epochs": epochs,
        "trainable_embeddings": trainable,
        "seconds": round(seconds, 1),
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
    folds, voted, weights, epochs = [], [], [], []
    start = time.perf_counter()
    splits = list(data.cv_splits(examples.folds, config.folds))
    progress = tqdm(splits, desc=name, unit="fold", leave=False, disable=None)
    for fold, train_index, test_index in progress:
        train, test = examples.take(train_index), examples.take(test_index)
        seed = config.seed + fold
        log_dir = runs / name.replace("/", "_") / f"fold{fold}"
        model, info = fit(model_kind, matrix, trainable, train, config, log_dir, seed)
        folds.append(accuracy(probabilities(model, test, config.batch_size), test.labels))
        epochs.append(info["epochs"])
        if partner is not None:
            model, nbsvm, weight = vote_members(
                partner, model, model_kind, matrix, trainable, train, config, seed,
                info["best_epoch"], fold,
            )  # fmt: skip
            vote = partner.vote(model, nbsvm, weight, test, config.batch_size)
            voted.append(accuracy(vote, test.labels))
            weights.append(weight)
        progress.set_postfix(mean=f"{np.mean(folds):.4f}")
        log.debug("%s fold %d: accuracy %.4f after %d epochs", name, fold, folds[-1], epochs[-1])
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
            "%-26s accuracy %.2f ± %.2f over %d folds (%.0f s)",
            row, 100 * result["mean"], 100 * result["std"], len(folds), result["seconds"],
        )  # fmt: skip
    return results
