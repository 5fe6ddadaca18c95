"""``python -m pipeline.embeddings.bench``: our word2vec and GloVe beside gensim's Word2Vec.

Every contender trains on the same corpus (``make tokenize``'s, restricted to the same
vocabulary) with the same hyperparameters, in a fresh process of its own so peak memory is
its own, one after the other so they do not share the two cores. All vectors go through the
same evaluation code. Prints a table and writes ``reports/bench_embeddings.{json,md}``.
"""

from __future__ import annotations

import logging
import multiprocessing
import resource
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from typing import Any

import numpy as np

from pipeline.config import EmbeddingsConfig, Paths
from pipeline.embeddings.corpus import load
from pipeline.embeddings.evaluate import evaluate_all, load_eval_sets
from pipeline.embeddings.keyed_vectors import KeyedVectors
from pipeline.io import write_report
from pipeline.stage import run_stage, setup_logging, stage_parser

log = logging.getLogger("pipeline.embeddings.bench")

CONTENDERS = ("word2vec (ours)", "word2vec (gensim)", "glove (ours)")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _train(contender: str, paths: Paths, config: EmbeddingsConfig) -> dict[str, Any]:
    """Runs in a child process: train one contender, return its vectors and costs."""
    setup_logging()
    corpus = load(paths, config.max_vocab)
    start = time.perf_counter()
    if contender == "word2vec (gensim)":
        from gensim.models import Word2Vec

        words = np.array(corpus.words, dtype=object)
        sentences = [
            words[corpus.tokens[a:b]].tolist()
            for a, b in zip(corpus.row_splits[:-1], corpus.row_splits[1:], strict=True)
        ]
        start = time.perf_counter()  # building the lists of strings is gensim's input format
        model = Word2Vec(
            sentences, vector_size=config.dim, window=config.window, negative=config.negatives,
            sample=config.subsample, epochs=config.epochs, alpha=config.learning_rate,
            min_alpha=config.min_learning_rate, min_count=1, sg=1, hs=0, workers=2,
            seed=config.seed,
        )  # fmt: skip
        vectors = np.stack([model.wv[w] for w in corpus.words])
    else:
        from pipeline.embeddings.train import TRAINERS

        with_scratch = Paths(data=paths.data, reports=paths.reports, runs=paths.runs / "bench")
        name = contender.split()[0]
        vectors, _ = TRAINERS[name](corpus, config, with_scratch.runs / name)
    seconds = time.perf_counter() - start
    return {
        "words": corpus.words,
        "vectors": vectors.astype(np.float32),
        "seconds": seconds,
        "words_per_second": len(corpus.tokens)
        * (config.epochs if "word2vec" in contender else 1)
        / seconds,
        "peak_mb": _peak_mb(),
    }


def run(paths: Paths, config: EmbeddingsConfig, contenders: tuple[str, ...]) -> dict[str, Any]:
    sets = load_eval_sets(paths)
    results: dict[str, Any] = {}
    context = multiprocessing.get_context("spawn")  # TF is not fork-safe
    for contender in contenders:
        log.info("training %s", contender)
        # A fresh scratch run each time, so no contender resumes an earlier benchmark.
        shutil.rmtree(paths.runs / "bench", ignore_errors=True)
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            trained = pool.submit(_train, contender, paths, config).result()
        kv = KeyedVectors(trained.pop("words"), trained.pop("vectors"))
        scores = evaluate_all(kv, paths, config, sets=sets)
        results[contender] = {**trained, **scores}
    report = {"config": asdict(config), "results": results}
    write_report(paths.reports, "bench_embeddings", report, table(report) + "\n")
    return report


def table(report: dict[str, Any]) -> str:
    results = report["results"]
    rows = [
        ("wall time (s)", lambda r: f"{r['seconds']:.0f}"),
        ("words/s", lambda r: f"{r['words_per_second']:,.0f}"),
        ("peak memory (MB)", lambda r: f"{r['peak_mb']:,.0f}"),
        ("analogy (3CosAdd, top 30k)", lambda r: f"{100 * r['analogy']['total']['accuracy']:.1f}%"),
        ("  semantic", lambda r: f"{100 * r['analogy']['semantic']['accuracy']:.1f}%"),
        ("  syntactic", lambda r: f"{100 * r['analogy']['syntactic']['accuracy']:.1f}%"),
        ("  coverage", lambda r: f"{100 * r['analogy']['coverage']:.1f}%"),
        ("WordSim-353 Spearman", lambda r: f"{r['wordsim353']['spearman']:.3f}"),
        ("SimLex-999 Spearman", lambda r: f"{r['simlex999']['spearman']:.3f}"),
    ]
    names = list(results)
    lines = ["| metric | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for label, cell in rows:
        lines.append(f"| {label} | " + " | ".join(cell(results[n]) for n in names) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = stage_parser(
        __spec__.name,
        __doc__,
        EmbeddingsConfig,
        outputs=True,  # its scratch runs go to <runs-dir>/bench
        only=("epochs", "glove_epochs"),
        help={"epochs": "word2vec epochs (all contenders)"},
    )
    parser.add_argument(
        "--contenders", default=",".join(CONTENDERS), help=f"comma-separated, of {CONTENDERS}"
    )
    args = parser.parse_args(argv)
    contenders = tuple(c.strip() for c in args.contenders.split(",") if c.strip())
    if unknown := set(contenders) - set(CONTENDERS):
        parser.error(f"unknown contenders {sorted(unknown)}")
    return run_stage(
        args,
        lambda args, paths, config: table(run(paths, config, contenders)),
        log,
        writes=lambda paths: (paths.reports, paths.runs),
        config="embeddings",
    )


if __name__ == "__main__":
    sys.exit(main())
