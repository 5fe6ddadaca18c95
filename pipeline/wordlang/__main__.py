"""``python -m pipeline.wordlang``: which language is this word? GRU vs naive Bayes, exported.

Fetches the pinned word-list packages of the chosen languages into ``data/raw`` (verified;
kept for the next run), cleans and splits the lists, fits character n-gram naive Bayes and
trains the character-level bidirectional GRU with Keras ``fit`` on batches of equal-length
words, exports ``saved_models/word_language/1`` and scores the test words through that
export. Writes ``reports/word_language.{md,json}`` and ``reports/word_language_confusion.png``.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from pipeline.artifacts import WORD_LANGUAGE, WORD_LANGUAGE_CONFUSION, saved_model
from pipeline.config import Paths, WordLanguageConfig
from pipeline.data.archives import ArchiveError
from pipeline.data.registry import Artifact, FetchError
from pipeline.io import write_report
from pipeline.rnn import KINDS
from pipeline.stage import run_stage, stage_parser
from pipeline.wordlang import report as reporting
from pipeline.wordlang.baseline import NaiveBayes
from pipeline.wordlang.export import export
from pipeline.wordlang.model import CharCodec, build_model, length_batches
from pipeline.wordlang.sources import (
    ARTIFACTS,
    LANGUAGES,
    WORD_LISTS,
    chosen,
    fetch_lists,
    for_this_stage,
)
from pipeline.wordlang.words import Examples, clean, drop_shared, read_entries, split

log = logging.getLogger("pipeline.wordlang")

# Keras warns that fit ignores shuffle for a tf.data input (ours shuffles itself) and that the
# finite validation set "ran out of data"; neither is actionable.
warnings.filterwarnings("ignore", message=".*shuffle=True.*", category=UserWarning)
warnings.filterwarnings("ignore", message=".*ran out of data.*", category=UserWarning)
TOP_CONFUSIONS = 5  # confused pairs listed per model
CONFUSED_WORDS = 6  # example words listed per pair of the GRU's top confusions


def read_lists(
    archives: Mapping[str, Path], config: WordLanguageConfig
) -> tuple[dict[str, set[str]], dict[str, dict[str, Any]]]:
    """Each language's cleaned words, and its list's entry counts by fate."""
    lists, stats = {}, {}
    for code, archive in archives.items():
        try:
            entries = read_entries(archive, WORD_LISTS[code])
        except ArchiveError as err:
            raise for_this_stage(err) from err
        lists[code], dropped = clean(entries, code, config.min_chars, config.max_chars)
        stats[code] = {"entries": len(entries), "kept": len(lists[code]), "dropped": dropped}
        log.info("%s: %d entries, %d words kept", code, len(entries), len(lists[code]))
    return lists, stats


def naive_bayes(
    splits: Mapping[str, Examples], n: int, config: WordLanguageConfig
) -> tuple[np.ndarray, dict[str, Any]]:
    """The baseline's test predictions, with ``alpha`` chosen on dev, and its figures."""
    start = time.perf_counter()
    train, dev, test = (splits[name] for name in ("train", "dev", "test"))
    model = NaiveBayes.fit(train.words, train.labels, n, config.ngram_max)
    alpha, dev_accuracy = model.best_alpha(dev.words, dev.labels, config.nb_alphas)
    predicted = model.log_posterior(test.words, alpha).argmax(axis=1)
    log.info("naive Bayes: %d n-grams, alpha %g", len(model.columns), alpha)
    return predicted, {
        "alpha": alpha,
        "dev_accuracy": {str(a): round(v, 4) for a, v in dev_accuracy.items()},
        "ngrams": len(model.columns),
        "seconds": round(time.perf_counter() - start, 1),
    }


def train_gru(
    splits: Mapping[str, Examples], n: int, config: WordLanguageConfig
) -> tuple[keras.Model, CharCodec, dict[str, Any]]:
    """The GRU trained on equal-length batches, its best dev epoch's weights restored."""
    keras.utils.set_random_seed(config.seed)
    train, dev = splits["train"], splits["dev"]
    codec = CharCodec(CharCodec.vocabulary(train.words, config.char_min_count), config.max_chars)
    model = build_model(config, len(codec.vocab), n)
    stop = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=config.patience, restore_best_weights=True
    )
    start = time.perf_counter()
    history = model.fit(
        length_batches(codec.ids(tf.constant(train.words)), train.labels, config.batch_size,
                       seed=config.seed),
        validation_data=length_batches(codec.ids(tf.constant(dev.words)), dev.labels,
                                       config.batch_size),
        epochs=config.epochs,
        callbacks=[stop],
        verbose=1 if sys.stderr.isatty() else 2,
    )  # fmt: skip
    figures = {
        "characters": len(codec.vocab),
        "parameters": model.count_params(),
        "epochs": len(history.history["loss"]),
        "best_epoch": stop.best_epoch + 1,
        "train_seconds": round(time.perf_counter() - start, 1),
        "history": {k: [round(float(v), 4) for v in vs] for k, vs in history.history.items()},
    }
    return model, codec, figures


def classify_with_export(saved: Path, words: list[str], batch: int = 4096) -> np.ndarray:
    """Language indices the SavedModel at ``saved`` gives ``words``, read as raw strings."""
    exported = tf.saved_model.load(str(saved))
    probabilities = [
        exported.classify(tf.constant(words[i : i + batch]))["probabilities"].numpy()
        for i in range(0, len(words), batch)
    ]
    return np.concatenate(probabilities).argmax(axis=1)


def confused_words(
    test: Examples, predicted: np.ndarray, pairs: list[dict[str, Any]], codes: list[str]
) -> list[dict[str, Any]]:
    """A few test words behind each of the top confusions, for the report's reader."""
    out = []
    for pair in pairs[:3]:
        true, guess = codes.index(pair["true"]), codes.index(pair["predicted"])
        hits = np.flatnonzero((test.labels == true) & (predicted == guess))[:CONFUSED_WORDS]
        out.append({**pair, "words": [test.words[i] for i in hits]})
    return out


def scores(
    test: Examples, predicted: np.ndarray, codes: list[str]
) -> tuple[np.ndarray, dict[str, Any]]:
    """A model's confusion counts, and its accuracy overall and per language."""
    counts = reporting.confusion(test.labels, predicted, len(codes))
    per_language = np.diag(reporting.row_normalized(counts))
    return counts, {
        "test_words": len(test),
        "test_accuracy": round(float(np.mean(predicted == test.labels)), 4),
        "per_language": {c: round(float(a), 4) for c, a in zip(codes, per_language, strict=True)},
        "top_confusions": reporting.top_confusions(counts, codes, TOP_CONFUSIONS),
        "confusion": counts.tolist(),
    }


def run(
    paths: Paths, config: WordLanguageConfig, *, artifacts: Mapping[str, Artifact] = ARTIFACTS
) -> dict[str, Any]:
    """The whole stage; returns the report it writes to ``reports/word_language.json``."""
    start = time.perf_counter()
    codes = chosen(config.languages)
    lists, stats = read_lists(fetch_lists(codes, paths.raw, artifacts), config)
    unique, shared, overlaps = drop_shared(lists)
    caps = {
        "train": config.train_per_language,
        "dev": config.dev_per_language,
        "test": config.test_per_language,
    }
    splits = split(unique, caps)
    test = splits["test"]
    nb_predicted, nb_figures = naive_bayes(splits, len(codes), config)
    model, codec, gru_figures = train_gru(splits, len(codes), config)
    names = [WORD_LISTS[c].name for c in codes]
    saved = export(model, codec, codes, names, saved_model(paths, WORD_LANGUAGE))
    gru_predicted = classify_with_export(saved, test.words)
    gru_counts, gru_scores = scores(test, gru_predicted, codes)
    nb_counts, nb_scores = scores(test, nb_predicted, codes)
    png = paths.reports / WORD_LANGUAGE_CONFUSION
    reporting.plot_confusions({"GRU": gru_counts, "naive Bayes": nb_counts}, codes, png)
    report = {
        "config": asdict(config),
        "languages": language_rows(codes, stats, shared, splits, gru_scores, nb_scores),
        "gru": {**gru_figures, **gru_scores},
        "naive_bayes": {**nb_figures, **nb_scores},
        "list_overlaps": overlaps,
        "confused_words": confused_words(test, gru_predicted, gru_scores["top_confusions"], codes),
        "sources": {code: source_row(artifacts[WORD_LISTS[code].artifact], code) for code in codes},
        "model": str(saved),
        "confusion_png": str(png),
        "seconds": round(time.perf_counter() - start, 1),
    }
    write_report(paths.reports, WORD_LANGUAGE, report, reporting.markdown(report))
    return report


def source_row(artifact: Artifact, code: str) -> dict[str, str]:
    """What was read for one language: the package, its pin and the member."""
    return {
        "package": artifact.package,
        "version": artifact.version,
        "sha256": artifact.sha256,
        "license": artifact.license,
        "member": WORD_LISTS[code].member,
    }


def language_rows(
    codes: list[str],
    stats: Mapping[str, dict[str, Any]],
    shared: Mapping[str, int],
    splits: Mapping[str, Examples],
    gru: Mapping[str, Any],
    nb: Mapping[str, Any],
) -> dict[str, dict[str, Any]]:
    """Per language: its list's counts, its split sizes and both models' test accuracy."""
    rows = {}
    for index, code in enumerate(codes):
        sizes = {name: int(np.sum(s.labels == index)) for name, s in splits.items()}
        rows[code] = {
            "name": WORD_LISTS[code].name,
            **stats[code],
            "shared": shared[code],
            **sizes,
            "gru_accuracy": gru["per_language"][code],
            "nb_accuracy": nb["per_language"][code],
        }
    return rows


def summary(report: Mapping[str, Any]) -> str:
    gru, nb = report["gru"], report["naive_bayes"]
    lines = ["language   GRU     NB"]
    for code, row in report["languages"].items():
        lines.append(f"{code:<8} {row['gru_accuracy']:>6.1%} {row['nb_accuracy']:>6.1%}")
    lines.append(f"{'all':<8} {gru['test_accuracy']:>6.1%} {nb['test_accuracy']:>6.1%}")
    lines.append(
        f"{report['model']}, {report['confusion_png']}; {report['seconds']:.0f} s "
        f"(GRU {gru['train_seconds']:.0f} s, {gru['epochs']} epochs)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = stage_parser(
        __spec__.name,
        __doc__,
        WordLanguageConfig,
        outputs=True,
        choices={"cell": KINDS},
        help={"languages": f"word lists used, of {','.join(LANGUAGES)} (empty: all)"},
    )
    return run_stage(
        parser.parse_args(argv),
        lambda args, paths, config: summary(run(paths, config)),
        log,
        writes=lambda paths: (paths.raw, paths.reports, paths.saved_models),
        config="word_language",
        expected={FetchError: 1, ArchiveError: 1, ValueError: 1, FileNotFoundError: 1},
    )


if __name__ == "__main__":
    sys.exit(main())
