"""``python -m pipeline.embeddings.train``: word2vec and GloVe on the English corpus.

Reads the id stream of ``make tokenize``, trains the chosen models (checkpoints under
``runs/<model>/<config digest>``, so an interrupted run resumes), and saves each as
KeyedVectors in ``data/processed/embeddings/<model>/`` (``--vectors-dir``), plus
``reports/train_<model>.json`` with every epoch's loss and the timings, those of a resumed
run's interrupted part included. ``make train-embeddings`` then evaluates and exports them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.artifacts import embedding_dir, report, vectors_root
from pipeline.config import EmbeddingsConfig, Paths
from pipeline.embeddings import cooccurrence, glove, word2vec
from pipeline.embeddings.corpus import Corpus, load
from pipeline.embeddings.keyed_vectors import MODELS, KeyedVectors, add_vectors_arg
from pipeline.io import write_json
from pipeline.stage import run_stage, stage_parser

log = logging.getLogger("pipeline.embeddings")

# Part of every run's digest: checkpoints of an older layout (without the negatives' random
# state and the epochs' history) are not resumed, since they cannot be resumed exactly.
CHECKPOINT_LAYOUT = 2


def sgns_config(config: EmbeddingsConfig) -> word2vec.SGNSConfig:
    shared = {f.name for f in fields(word2vec.SGNSConfig)}
    return word2vec.SGNSConfig(**{k: v for k, v in asdict(config).items() if k in shared})


def train_word2vec(
    corpus: Corpus, config: EmbeddingsConfig, run_dir: Path
) -> tuple[np.ndarray, dict]:
    return word2vec.train(corpus, sgns_config(config), run_dir / "checkpoints")


def train_glove(corpus: Corpus, config: EmbeddingsConfig, run_dir: Path) -> tuple[np.ndarray, dict]:
    start = time.perf_counter()
    matrix = cooccurrence.load_or_count(corpus, config.window, run_dir / "cooccurrence.npz")
    counted = time.perf_counter() - start
    vectors, stats = glove.train_glove(
        matrix,
        config.dim,
        config.glove_epochs,
        x_max=config.glove_x_max,
        alpha=config.glove_alpha,
        learning_rate=config.glove_learning_rate,
        batch_size=config.glove_batch_size,
        seed=config.seed,
        checkpoint_dir=run_dir / "checkpoints",
    )
    return vectors, {
        "words": float(len(corpus.tokens)),
        "nonzeros": int(matrix.nnz),
        "cooccurrence_seconds": round(counted, 1),  # this process's count or cache read
        **stats,
        "seconds": round(counted + stats["seconds"], 1),
    }


TRAINERS = {"word2vec": train_word2vec, "glove": train_glove}


def check_context(corpus: Corpus, config: EmbeddingsConfig) -> None:
    """Both models learn only from two embedded words in one line; refuse a corpus without."""
    lengths = np.diff(corpus.row_splits)
    if not np.any(lengths >= 2):
        raise ValueError(
            f"The corpus has {len(corpus.tokens):,} embedded words ({len(corpus.words):,} "
            f"distinct) in {corpus.num_sentences:,} lines, and no line holds two of them: "
            f"word2vec and GloVe learn from the words within --window {config.window} of each "
            "other in a line. Give more text, with several words a line."
        )


def run(
    paths: Paths,
    config: EmbeddingsConfig,
    models: tuple[str, ...],
    vectors_dir: Path | None = None,
) -> dict[str, Any]:
    """Train ``models``; their vectors go to ``vectors_dir`` (default: under the data dir)."""
    corpus = load(paths, config.max_vocab)
    check_context(corpus, config)
    log.info(
        "corpus: %d words in %d sentences, vocabulary %d",
        len(corpus.tokens), corpus.num_sentences, len(corpus.words),
    )  # fmt: skip
    # Checkpoints are per configuration and corpus, so changing either starts afresh
    # instead of resuming a run of other shapes.
    key = [CHECKPOINT_LAYOUT, asdict(config), len(corpus.words), len(corpus.tokens)]
    run_id = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:12]
    reports = {}
    for name in models:
        vectors, stats = TRAINERS[name](corpus, config, paths.runs / name / run_id)
        KeyedVectors(corpus.words, vectors).save(embedding_dir(paths, name, vectors_dir))
        reports[name] = {"config": asdict(config), **stats}
        write_json(report(paths, f"train_{name}"), reports[name])
        log.info("%s: %s", name, {k: v for k, v in stats.items() if k != "epochs"})
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = stage_parser(__spec__.name, __doc__, EmbeddingsConfig, outputs=True)
    add_vectors_arg(parser)
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated models")
    args = parser.parse_args(argv)
    models = tuple(m for m in args.models.split(",") if m)
    if unknown := set(models) - set(TRAINERS):
        parser.error(f"unknown models {sorted(unknown)}; choose from {list(TRAINERS)}")

    def command(args: argparse.Namespace, paths: Paths, config: EmbeddingsConfig) -> None:
        run(paths, config, models, args.vectors_dir)  # logs each model's figures, prints none

    return run_stage(
        args,
        command,
        log,
        writes=lambda paths: (vectors_root(paths, args.vectors_dir), paths.reports, paths.runs),
        config="embeddings",
    )


if __name__ == "__main__":
    sys.exit(main())
