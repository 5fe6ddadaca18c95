"""One configuration trained on a TFDS dataset's train split and scored on its test split."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from pipeline.config import SentimentConfig
from pipeline.sentiment import data
from pipeline.sentiment.crossval import Scores
from pipeline.sentiment.ensemble import NBSVMPartner, ensemble_name, vote_members
from pipeline.sentiment.training import fit, parse_config, predict, trains_embeddings

log = logging.getLogger("pipeline.sentiment")


def train_test(
    name: str,
    train: data.Examples,
    test: data.Examples,
    matrix: np.ndarray,
    runs: Path,
    config: SentimentConfig,
    partner: NBSVMPartner | None,
) -> dict[str, dict[str, Any]]:
    """Test accuracy of one configuration (and its NBSVM vote), as result rows like CV's.

    The rows carry ``mean`` (the test accuracy) and ``std`` 0, so choosing the best row and
    the report treat both evaluations alike; TensorBoard logs go to ``runs/<model>_<init>``.
    """
    model_kind, init = parse_config(name)
    trainable = trains_embeddings(config, init)
    log_dir = runs / name.replace("/", "_")
    start = time.perf_counter()
    model, info = fit(model_kind, matrix, trainable, train, config, log_dir, config.seed)
    rows = {name: (predict(model, test, config.batch_size), {})}
    if partner is not None:
        voter, nbsvm, weight = vote_members(
            partner, model, model_kind, matrix, trainable, train, config, config.seed,
            info["best_epoch"],
        )  # fmt: skip
        vote = partner.vote(voter, nbsvm, weight, test, config.batch_size)
        rows[ensemble_name(name)] = (vote, {"neural_weight": weight})
    seconds = round(time.perf_counter() - start, 1)
    keras.backend.clear_session()
    results = {}
    for row, (probability, extra) in rows.items():
        scores = Scores(test.classes)
        scores.add(test.labels, probability)
        acc = scores.accuracy[0]
        results[row] = {
            "test_accuracy": acc, **info, "mean": acc, "std": 0.0, "seconds": seconds,
            "macro_f1": scores.macro_f1[0], "confusion": scores.confusion.tolist(), **extra,
        }  # fmt: skip
        log.info(
            "%-26s test accuracy %.2f, macro-F1 %.2f", row, 100 * acc, 100 * scores.macro_f1[0]
        )
    return results
