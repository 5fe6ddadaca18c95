"""``python -m pipeline.sentiment.train``: cross-validate polarity classifiers, export the best.

Each configuration ``<model>/<init>`` (model ``average`` or ``recurrent``, embeddings from
``word2vec``, ``glove`` or ``random``) is trained once per fold of MR's standard 10-fold
split, with early stopping on a stratified validation split carved from the training folds
only (the test fold is touched once, for its accuracy). The mean and standard deviation of
the fold accuracies go to ``reports/sentiment.{json,md}``. Each configuration also gets a
``<model>/<init>+nbsvm`` row, its soft vote with NBSVM (see :mod:`pipeline.sentiment.ensemble`).
The row with the best mean is then trained on all the data (minus a validation split) and
exported to ``saved_models/sentiment/<version>`` (see :mod:`pipeline.sentiment.export`).

``--dataset imdb_reviews`` (or another TFDS dataset with ``text`` and ``label``) trains on its
``train`` split and reports accuracy on ``test`` instead, written to
``reports/sentiment_<dataset>.*`` and ``saved_models/sentiment_<dataset>/<version>``.
TensorBoard logs go to ``runs/sentiment/<model>_<init>/fold<k>``.

``--run NAME`` trains on a named run's labeled texts (:mod:`pipeline.userdata.labeled`,
``make sentiment LABELED=... RUN=NAME``) the same way: k-fold CV on its folds, or train/test
with its test file; any number of classes (a softmax over them, scored by accuracy and
macro-F1, with the exported configuration's confusion matrix drawn to
``reports/user/NAME/sentiment_confusion.png``). Configurations whose word vectors the run
lacks start from random vectors, and with more than two classes NBSVM sits out; the report
notes both.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from pipeline import artifacts
from pipeline.config import Paths, SentimentConfig
from pipeline.io import write_report
from pipeline.metrics.classification import plot_confusion
from pipeline.rnn import KINDS
from pipeline.sentiment import baseline, data, report
from pipeline.sentiment.crossval import cross_validate
from pipeline.sentiment.ensemble import NBSVMPartner, base_config, vote_members
from pipeline.sentiment.export import LABEL_NAMES, export
from pipeline.sentiment.holdout import train_test
from pipeline.sentiment.models import POOLINGS, copy_weights
from pipeline.sentiment.report import markdown
from pipeline.sentiment.training import (
    MONITORED,
    configured_model,
    fit,
    parse_config,
    trains_embeddings,
)
from pipeline.stage import run_stage, stage_parser
from pipeline.text import Vocabulary

log = logging.getLogger("pipeline.sentiment")

CONFUSION_PLOT = "sentiment_confusion.png"  # a named run's, beside its report


def train(paths: Paths, config: SentimentConfig, version: int = 1) -> dict[str, Any]:
    """The whole stage; returns the report it writes to ``reports/<name>.json``."""
    start = time.perf_counter()
    check_config(config)
    run = Run.of(paths, config)
    config = run.config
    vocab = Vocabulary.load(paths.processed / artifacts.POLARITY_VOCAB)
    examples, test = load_dataset(paths, config, vocab, run.labeled)
    kept = compact(examples, test)
    majority = np.bincount(examples.labels).max() / len(examples)
    log.info(
        "%s: %d examples (majority class %.1f%%), %d distinct ids of %d",
        run.title, len(examples), 100 * majority, len(kept), len(vocab),
    )  # fmt: skip

    inits = {init for _, init in map(parse_config, config.configs)}
    built = {
        init: data.embedding_matrix(paths, vocab, init, 100, config.seed, run.vectors_dir)
        for init in inits
    }
    matrices = {init: matrix for init, (matrix, _) in built.items()}
    partner = NBSVMPartner(len(kept)) if config.nbsvm_vote else None
    name = artifacts.sentiment_name(config.dataset)
    runs = paths.runs / name
    results: dict[str, Any] = {}
    for row in config.configs:
        _, init = parse_config(row)
        matrix = matrices[init][kept]
        if test is None:
            results |= cross_validate(row, examples, matrix, runs, config, partner)
        else:
            results |= train_test(row, examples, test, matrix, runs, config, partner)
    binary = examples.classes == 2
    baselines = nbsvm_alone(examples, config) if test is None and binary else {}

    best = max(results, key=lambda n: results[n]["mean"])
    _, init = parse_config(base_config(best))
    full = matrices[init]
    dest = artifacts.saved_model(paths, name, version)
    final = export_best(
        best, examples, full, kept, vocab, config, runs / "final", dest, partner, run.class_names
    )
    written = report.build(
        config,
        examples=len(examples),
        test_examples=None if test is None else len(test),
        majority=majority,
        embeddings={init: info for init, (_, info) in built.items()},
        results=results,
        baselines=baselines,
        best=best,
        final=final,
        seconds=time.perf_counter() - start,
        labeled=run.described(examples),
    )
    run.plot(written)
    write_report(paths.reports, name, written, markdown(written))
    return written


@dataclass(frozen=True)
class Run:
    """What a named run's labeled texts change: the classes, the vectors, the configurations.

    The run may have no word vectors (its texts are not in the corpus' language, or no
    vectors were trained): its pretrained configurations then start from random vectors. Its
    classes may be more than two, which NBSVM (one log-count ratio between two classes)
    cannot score: it then sits out. The notes say both in the report.
    """

    paths: Paths
    config: SentimentConfig
    labeled: dict[str, Any] | None = None  # pipeline.userdata.labeled's LABELED_INFO
    notes: tuple[str, ...] = ()

    @classmethod
    def of(cls, paths: Paths, config: SentimentConfig) -> Run:
        labeled = data.labeled_info(paths) if config.dataset == "mr" else None
        if labeled is None:
            return cls(paths, config)
        vectors = paths.data / labeled["vectors"] if labeled["vectors"] else None
        configs, notes = [], []
        for row in config.configs:
            model, init = parse_config(row)
            folder = artifacts.embedding_dir(paths, init, vectors)
            if init != "random" and not (folder / artifacts.VECTORS_FILE).exists():
                notes.append(f"{row} ran as {model}/random: the run has no {init} vectors.")
                row = f"{model}/random"
            configs += [] if row in configs else [row]
        classes = len(labeled["classes"])
        if config.nbsvm_vote and classes > 2:
            notes.append(
                f"No NBSVM rows: NBSVM weighs one log-count ratio between two classes, and "
                f"this run has {classes}."
            )
        config = replace(
            config, configs=tuple(configs), nbsvm_vote=config.nbsvm_vote and classes == 2
        )
        return cls(paths, config, labeled, tuple(notes))

    @property
    def title(self) -> str:
        return f"run {self.paths.run}" if self.labeled else self.config.dataset

    @property
    def vectors_dir(self) -> Path | None:
        vectors = self.labeled and self.labeled["vectors"]
        return self.paths.data / vectors if vectors else None

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self.labeled["classes"]) if self.labeled else LABEL_NAMES

    def described(self, examples: data.Examples) -> dict[str, Any] | None:
        """The report's account of the run: classes, the folds, what changed."""
        if self.labeled is None:
            return None
        return {
            "run": self.paths.run,
            "classes": self.labeled["classes"],
            "folds": None if self.labeled["test"] else len(np.unique(examples.folds)),
            "folds_run": None if self.labeled["test"] else self.config.folds or None,
            "notes": list(self.notes),
            "confusion_plot": CONFUSION_PLOT,
        }

    def plot(self, written: dict[str, Any]) -> None:
        """The exported configuration's confusion matrix, beside the run's report."""
        if self.labeled is None:
            return
        best = written["best"]
        title = f"{self.paths.run}: {best}, {written['evaluation']}"
        matrix = np.array(written["results"][best]["confusion"])
        plot_confusion(matrix, self.labeled["classes"], title, self.paths.reports / CONFUSION_PLOT)


def check_config(config: SentimentConfig) -> None:
    """Refuse a bad configuration name or monitor before any data is read."""
    for name in config.configs:
        parse_config(name)
    if not config.configs:
        raise ValueError("no configurations to run")
    if config.monitor not in MONITORED:
        raise ValueError(f"monitor must be one of {', '.join(MONITORED)}, not {config.monitor!r}")


def load_dataset(
    paths: Paths, config: SentimentConfig, vocab: Vocabulary, labeled: dict[str, Any] | None
) -> tuple[data.Examples, data.Examples | None]:
    """(examples, None) for MR's or a run's folds, or (train, test) for a TFDS dataset or a
    run's test file."""
    if labeled is not None:
        return data.load_labeled(paths, config.max_len, labeled)
    if config.dataset == "mr":
        return data.load_mr(paths, config.max_len), None
    train = data.load_tfds(config.dataset, "train", vocab, config.max_len, paths.tfds)
    test = data.load_tfds(config.dataset, "test", vocab, config.max_len, paths.tfds)
    return train, test


def compact(examples: data.Examples, test: data.Examples | None) -> np.ndarray:
    """Rewrite both sets' ids in place to compact ids; returns the corpus id of each.

    The test split's words count as occurring too, so that no test id is left unmapped.
    """
    every = examples.ids if test is None else np.concatenate([examples.ids, test.ids])
    kept = data.compact_vocabulary(every)
    examples.ids = data.remap(examples.ids, kept)
    if test is not None:
        test.ids = data.remap(test.ids, kept)
    return kept


def nbsvm_alone(examples: data.Examples, config: SentimentConfig) -> dict[str, Any]:
    """NBSVM on the neural models' folds: the baseline row the report compares them with."""
    result = baseline.cross_validate(examples, config.folds)
    log.info(
        "%-26s accuracy %.2f ± %.2f (%.0f s)",
        baseline.NAME, 100 * result["mean"], 100 * result["std"], result["seconds"],
    )  # fmt: skip
    return {baseline.NAME: result}


def export_best(
    best: str,
    examples: data.Examples,
    full: np.ndarray,
    kept: np.ndarray,
    vocab: Vocabulary,
    config: SentimentConfig,
    log_dir: Path,
    dest: Path,
    partner: NBSVMPartner | None,
    label_names: tuple[str, ...] = LABEL_NAMES,
) -> dict[str, Any]:
    """Retrain result row ``best`` on all of ``examples`` and export it to ``dest``.

    ``full`` is the embedding matrix over the whole polarity vocabulary: words absent from
    the task texts keep their initial (pretrained) vectors in the export, the others get
    their trained rows, so the SavedModel reads any text the vocabulary covers.
    """
    model_kind, init = parse_config(base_config(best))
    trainable = trains_embeddings(config, init)
    model, info = fit(model_kind, full[kept], trainable, examples, config, log_dir, config.seed)
    nbsvm, weight = None, 1.0
    if partner is not None and best != base_config(best):
        model, nbsvm, weight = vote_members(
            partner, model, model_kind, full[kept], trainable, examples, config, config.seed,
            info["best_epoch"],
        )  # fmt: skip
        nbsvm = nbsvm.keys_in(kept, len(vocab))
        info["neural_weight"] = weight
    export_model = configured_model(model_kind, full, trainable, config, examples.classes)
    embeddings = data.expand(full, model.get_layer("embedding").get_weights()[0], kept)
    copy_weights(model, export_model, embeddings)
    saved = export(
        export_model, vocab, config.max_len, dest, nbsvm=nbsvm, neural_weight=weight,
        label_names=label_names,
    )  # fmt: skip
    return {"model": str(saved), **info}


def main(argv: list[str] | None = None) -> int:
    parser = stage_parser(
        __spec__.name,
        __doc__,
        SentimentConfig,
        outputs=True,
        choices={"cell": KINDS, "pooling": POOLINGS, "monitor": MONITORED},
    )
    parser.add_argument("--version", type=int, default=1, help="SavedModel version folder")
    return run_stage(
        parser.parse_args(argv),
        lambda args, paths, config: markdown(train(paths, config, args.version)),
        log,
        writes=lambda paths: (paths.reports, paths.saved_models, paths.runs),
        config="sentiment",
    )


if __name__ == "__main__":
    sys.exit(main())
