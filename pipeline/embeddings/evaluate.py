"""Evaluate trained word vectors: analogies, word similarity, neighbours and a 2-D projection.

Analogies follow gensim's ``evaluate_word_analogies``: 3CosAdd (argmax cos(w, b - a + c) over
unit vectors) searched among the ``analogy_restrict`` most frequent words, the three query
words excluded; a question counts only if its four words are all among those words, and
accuracy is over the counted questions, with the share counted reported as coverage.
Similarity is Spearman's rho between cosine and human scores over the pairs whose two words
are in the vocabulary. Every model is scored by the same code, so a benchmark can pass
gensim's vectors through :func:`evaluate_all` too.

Writes ``reports/embeddings.json``, ``reports/embeddings.md`` (one table for all models) and
``reports/embeddings_projection.png``. A named run (``--run``) is scored on the same English
sets when its corpus is English and ``make data`` has built them; otherwise the report says
why not and shows the nearest neighbours of frequent words, which need no gold data.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from pipeline import artifacts
from pipeline.config import EmbeddingsConfig, Paths
from pipeline.data.evalsets import Analogy, SimilarityPair
from pipeline.embeddings.keyed_vectors import (
    MODELS,
    KeyedVectors,
    add_vectors_arg,
    load_trained,
    top_k,
)
from pipeline.io import atomic_path, write_json, write_text
from pipeline.stage import comma_list, run_stage, stage_parser

log = logging.getLogger(__name__)

ANALOGY_DATASET = "word_analogy"
SIMILARITY_DATASETS = {
    "wordsim353": "word_similarity/wordsim353",
    "simlex999": "word_similarity/simlex999",
}
SIMILARITY_LABELS = {"wordsim353": "WS-353", "simlex999": "SimLex-999"}
PROBES = ("king", "france", "computer", "good", "run", "water")
NEIGHBOURS = 8
PROJECTION_WORDS = {
    "countries": ("france", "germany", "italy", "spain", "japan", "china", "russia", "egypt"),
    "capitals": ("paris", "berlin", "rome", "madrid", "tokyo", "beijing", "moscow", "cairo"),
    "family": ("man", "woman", "king", "queen", "boy", "girl", "father", "mother", "son"),
    "numbers": ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
}
REPORT_MD = "embeddings.md"
PROJECTION_PNG = "embeddings_projection.png"


class EvalSets(NamedTuple):
    analogies: list[Analogy]
    similarity: dict[str, list[SimilarityPair]]  # keyed like SIMILARITY_DATASETS


def _columns(name: str, paths: Paths) -> dict[str, np.ndarray]:
    """A TFDS test split as columns, read in one batch (the sets hold under 20k rows)."""
    from pipeline.data.load import load  # TensorFlow is only needed when reading TFDS

    return next(load(name, "test", data_dir=paths.tfds).batch(1 << 20).as_numpy_iterator())


def _strings(column: np.ndarray) -> list[str]:
    return [v.decode("utf-8") for v in column]


def load_eval_sets(paths: Paths) -> EvalSets:
    """The Google analogies and the two similarity sets built by ``make data``."""
    cols = _columns(ANALOGY_DATASET, paths)
    analogies = [
        Analogy(*q) for q in zip(*(_strings(cols[k]) for k in Analogy._fields), strict=True)
    ]
    similarity = {}
    for key, name in SIMILARITY_DATASETS.items():
        cols = _columns(name, paths)
        scores = cols["score"].astype(float).tolist()
        words = zip(_strings(cols["word1"]), _strings(cols["word2"]), scores, strict=True)
        similarity[key] = [SimilarityPair(*p) for p in words]
    return EvalSets(analogies, similarity)


def run_eval_sets(paths: Paths) -> tuple[EvalSets | None, str]:
    """The English sets for ``paths``, or None and why a named run is not scored on them."""
    if not paths.run:
        return load_eval_sets(paths), ""
    from pipeline.userdata.corpus import corpus_text

    lang = corpus_text(paths).lang
    if lang != "en":
        return None, f"the run's corpus is --lang {lang}, the analogy and similarity sets English"
    try:
        return load_eval_sets(paths), ""
    except FileNotFoundError:
        return None, f"the English analogy and similarity sets are not built under {paths.tfds}"


def frequent_words(kv: KeyedVectors, n: int = len(PROBES)) -> list[str]:
    """Probes for a corpus of any language: words of letters at ranks 1, 3, 9, 27, ...

    Frequent words have the best-trained vectors, and spreading the ranks shows function
    words and content words alike; words of under four letters are mostly function words.
    """
    words = [w for w in kv.words if w.isalpha() and len(w) > 3]
    return [words[3**i - 1] for i in range(n) if 3**i - 1 < len(words)]


def _ids(kv: KeyedVectors, words: Iterable[str]) -> np.ndarray:
    """Row numbers of lowercased ``words`` (our vocabulary is lowercase), -1 when unknown."""
    return np.array([kv.index.get(w.lower(), -1) for w in words], dtype=np.int64)


def _accuracy(correct: np.ndarray, covered: np.ndarray) -> dict[str, Any]:
    n_correct, total = int(correct.sum()), int(covered.sum())
    return {
        "correct": n_correct,
        "total": total,
        "questions": len(covered),
        "accuracy": n_correct / total if total else None,
    }


def evaluate_analogies(
    kv: KeyedVectors,
    questions: Iterable[tuple[str, str, str, str, str]],
    restrict: int = 30_000,
    batch_size: int = 1024,
) -> dict[str, Any]:
    """Accuracy of 3CosAdd on ``(section, a, b, c, d)`` questions: is d = argmax cos(., b - a + c)?

    Returns per-section, semantic (sections not starting with "gram"), syntactic and total
    ``correct``/``total`` (covered questions)/``questions``/``accuracy``, plus ``coverage``.
    Scoring is one matrix product per ``batch_size`` questions.
    """
    questions = list(questions)
    restrict = min(restrict, len(kv))
    sections = np.array([q[0] for q in questions], dtype=object)
    ids = _ids(kv, (w for q in questions for w in q[1:5])).reshape(len(questions), 4)
    covered = np.all((ids >= 0) & (ids < restrict), axis=1)
    correct = np.zeros(len(questions), dtype=bool)
    candidates = kv.unit[:restrict].T
    rows = np.flatnonzero(covered)
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        a, b, c, d = ids[batch].T
        scores = (kv.unit[b] - kv.unit[a] + kv.unit[c]) @ candidates
        at = np.arange(len(batch))
        scores[at, a] = scores[at, b] = scores[at, c] = -np.inf
        correct[batch] = scores.argmax(axis=1) == d
    syntactic = np.array([s.startswith("gram") for s in sections], dtype=bool)
    order = sorted(set(sections), key=lambda s: (s.startswith("gram"), s))
    return {
        "sections": {s: _accuracy(correct[sections == s], covered[sections == s]) for s in order},
        "semantic": _accuracy(correct[~syntactic], covered[~syntactic]),
        "syntactic": _accuracy(correct[syntactic], covered[syntactic]),
        "total": _accuracy(correct, covered),
        "questions": len(questions),
        "covered": int(covered.sum()),
        "coverage": float(covered.mean()) if len(questions) else 0.0,
        "restrict": restrict,
    }


def _finite(value: float) -> float | None:
    """JSON has no NaN; a correlation of constant data becomes null."""
    return None if math.isnan(value) else float(value)


def evaluate_similarity(
    kv: KeyedVectors, pairs: Iterable[tuple[str, str, float]]
) -> dict[str, Any]:
    """Spearman (and Pearson) correlation of cosine with human scores over covered pairs."""
    pairs = list(pairs)
    ids = _ids(kv, (w for p in pairs for w in p[:2])).reshape(len(pairs), 2)
    gold = np.array([p[2] for p in pairs], dtype=np.float64)
    covered = np.all(ids >= 0, axis=1)
    first, second = ids[covered].T
    cosine = np.einsum("ij,ij->i", kv.unit[first], kv.unit[second]).astype(np.float64)
    enough = covered.sum() >= 2
    return {
        "spearman": _finite(stats.spearmanr(gold[covered], cosine).statistic) if enough else None,
        "pearson": _finite(stats.pearsonr(gold[covered], cosine).statistic) if enough else None,
        "pairs": len(pairs),
        "covered": int(covered.sum()),
        "coverage": float(covered.mean()) if pairs else 0.0,
    }


def nearest_neighbours(
    kv: KeyedVectors, probes: Sequence[str], k: int = NEIGHBOURS, restrict: int | None = None
) -> dict[str, list[tuple[str, float]]]:
    """The ``k`` nearest words by cosine of each probe in the vocabulary (itself excluded)."""
    known = [p.lower() for p in probes if p.lower() in kv]
    ids = kv.indices(known)
    scores = kv.unit[ids] @ kv.unit[:restrict].T
    inside = ids < scores.shape[1]
    scores[np.flatnonzero(inside), ids[inside]] = -np.inf
    idx, values = top_k(scores, min(k, scores.shape[1] - 1))
    return {
        probe: [(kv.words[i], float(v)) for i, v in zip(row_idx, row_values, strict=True)]
        for probe, row_idx, row_values in zip(known, idx, values, strict=True)
    }


def evaluate_all(
    kv: KeyedVectors, paths: Paths, config: EmbeddingsConfig, sets: EvalSets | None = None
) -> dict[str, Any]:
    """Analogy and similarity scores of one set of vectors (ours or anyone's)."""
    sets = sets or load_eval_sets(paths)
    return {
        "vocab_size": len(kv),
        "dim": kv.dim,
        "analogy": evaluate_analogies(kv, sets.analogies, config.analogy_restrict),
        **{name: evaluate_similarity(kv, pairs) for name, pairs in sets.similarity.items()},
    }


def _pca_2d(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates on the two leading principal axes, and the variance share of each."""
    centered = vectors - vectors.mean(axis=0)
    _, singular, axes = np.linalg.svd(centered, full_matrices=False)
    variance = singular**2 / max(float((singular**2).sum()), 1e-12)
    return centered @ axes[:2].T, variance[:2]


def plot_projection(
    kv_by_model: Mapping[str, KeyedVectors],
    words: Mapping[str, Sequence[str]] | Sequence[str],
    path: str | Path,
) -> None:
    """One PCA scatter of the unit vectors of ``words`` per model, side by side, as a PNG.

    ``words`` may be grouped (group name -> words), each group drawn in its own colour.
    Words missing from a model's vocabulary are left out of its panel.
    """
    groups = dict(words) if isinstance(words, Mapping) else {"": list(words)}
    fig = Figure(figsize=(6 * len(kv_by_model), 6), layout="constrained")
    axes = fig.subplots(1, max(len(kv_by_model), 1), squeeze=False)[0]
    for ax, (name, kv) in zip(axes, kv_by_model.items(), strict=False):
        present = [(g, w.lower()) for g, ws in groups.items() for w in ws if w.lower() in kv]
        if len(present) < 3:
            ax.set_title(f"{name}: fewer than 3 of the words are in the vocabulary")
            continue
        xy, variance = _pca_2d(kv.unit[kv.indices(w for _, w in present)])
        for group in groups:
            member = np.array([g == group for g, _ in present])
            if member.any():
                ax.scatter(xy[member, 0], xy[member, 1], label=group or None, s=18)
        for (_, word), (x, y) in zip(present, xy, strict=True):
            ax.annotate(word, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=8)
        ax.set_title(f"{name}: PCA of unit vectors")
        ax.set_xlabel(f"PC1 ({variance[0]:.0%} of variance)")
        ax.set_ylabel(f"PC2 ({variance[1]:.0%} of variance)")
        if any(groups):
            ax.legend(fontsize=8)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def evaluate_models(
    paths: Paths,
    config: EmbeddingsConfig,
    models: Sequence[str] = MODELS,
    sets: EvalSets | None = None,
    write_reports: bool = True,
    vectors_dir: Path | None = None,
    probes: Sequence[str] = (),
) -> dict[str, Any]:
    """Score every trained model of ``models``; also write the reports unless told not to.

    ``probes`` are the words whose neighbours are listed: by default :data:`PROBES` when the
    English sets score the vectors, frequent words of the first model otherwise.
    """
    kvs = load_trained(paths, models, vectors_dir)
    skipped = ""
    if sets is None:
        sets, skipped = run_eval_sets(paths)
    if skipped:
        log.warning("not scored on analogies and word similarity: %s", skipped)
    probes = probes or (PROBES if sets else frequent_words(next(iter(kvs.values()))))
    report: dict[str, Any] = {
        "analogy_restrict": config.analogy_restrict,
        "models": {
            name: {
                **(evaluate_all(kv, paths, config, sets) if sets else _size(kv)),
                "neighbours": nearest_neighbours(kv, probes),
            }
            for name, kv in kvs.items()
        },
    }
    if skipped:
        report["skipped"] = skipped
    if write_reports:
        report_json = artifacts.report(paths, artifacts.EMBEDDINGS)
        write_json(report_json, report)
        plot_projection(kvs, projection_words(report, sets), paths.reports / PROJECTION_PNG)
        write_text(paths.reports / REPORT_MD, markdown(report))
        log.info(
            "wrote %s, %s and %s under %s",
            report_json.name,
            REPORT_MD,
            PROJECTION_PNG,
            paths.reports,
        )
    return report


def _size(kv: KeyedVectors) -> dict[str, int]:
    return {"vocab_size": len(kv), "dim": kv.dim}


def projection_words(report: dict[str, Any], sets: EvalSets | None) -> dict[str, list[str]]:
    """The English groups beside the English sets; else each probe with its neighbours."""
    if sets:
        return {group: list(words) for group, words in PROJECTION_WORDS.items()}
    first = next(iter(report["models"].values()))["neighbours"]
    return {probe: [probe, *(w for w, _ in found[:5])] for probe, found in first.items()}


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _rho(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(row) + " |" for row in lines)


def summary_table(report: dict[str, Any]) -> str:
    """One markdown table: a row per metric, a column per model."""
    models = report["models"].values()

    def row(label: str, cell: Any) -> list[str]:
        return [label, *(cell(r) for r in models)]

    def coverage(counts: dict[str, Any], total: str) -> str:
        return f"{_pct(counts['coverage'])} ({counts['covered']:,}/{counts[total]:,})"

    rows = []
    if "skipped" not in report:
        rows += [
            row(f"analogy {part}", lambda r, p=part: _pct(r["analogy"][p]["accuracy"]))
            for part in ("total", "semantic", "syntactic")
        ]
        rows.append(row("analogy coverage", lambda r: coverage(r["analogy"], "questions")))
        for key, label in SIMILARITY_LABELS.items():
            rows.append(row(f"{label} ρ (Spearman)", lambda r, k=key: _rho(r[k]["spearman"])))
            rows.append(row(f"{label} coverage", lambda r, k=key: coverage(r[k], "pairs")))
    rows.append(row("vocabulary × dim", lambda r: f"{r['vocab_size']:,} × {r['dim']}"))
    return _table(["metric", *report["models"]], rows)


def neighbours_lines(report: dict[str, Any]) -> str:
    """Each model's nearest neighbours of each probe, a line each, for the terminal."""
    return "\n".join(
        f"{name} {probe}: {_neighbours_cell(found[:5])}"
        for name, model in report["models"].items()
        for probe, found in model["neighbours"].items()
    )


def _section_cell(counts: dict[str, Any]) -> str:
    return f"{_pct(counts['accuracy'])} ({counts['total']}/{counts['questions']})"


def _neighbours_cell(neighbours: Sequence[tuple[str, float]]) -> str:
    return ", ".join(f"{word} {score:.2f}" for word, score in neighbours)


def _scores_section(report: dict[str, Any], names: list[str], models: list[Any]) -> str:
    """The scores on the English sets, or why there are none."""
    if "skipped" in report:
        return (
            f"Not scored on analogies and word similarity: {report['skipped']}.\n\n"
            f"{summary_table(report)}\n\n"
        )
    sections = models[0]["analogy"]["sections"]  # every model answers the same questions
    by_section = _table(
        ["analogy section", *names],
        ([s, *(_section_cell(r["analogy"]["sections"][s]) for r in models)] for s in sections),
    )
    return (
        f"Analogies: Google analogy test, 3CosAdd over the {report['analogy_restrict']:,} most "
        "frequent words with the query words excluded; accuracy over covered questions (all "
        "four words among those words). Similarity: Spearman's ρ between cosine and human "
        "scores over pairs with both words in the vocabulary.\n\n"
        f"{summary_table(report)}\n\n"
        "## Analogy accuracy by section (covered/questions)\n\n"
        f"{by_section}\n\n"
    )


def markdown(report: dict[str, Any]) -> str:
    """The whole report: the summary table, accuracy per section, neighbours, projection."""
    names, models = list(report["models"]), list(report["models"].values())
    probes = dict.fromkeys(p for r in models for p in r["neighbours"])
    neighbours = _table(
        ["probe", *names],
        ([p, *(_neighbours_cell(r["neighbours"].get(p, [])) for r in models)] for p in probes),
    )
    return (
        "# Word embeddings\n\n"
        f"{_scores_section(report, names, models)}"
        "## Nearest neighbours (cosine)\n\n"
        f"{neighbours}\n\n"
        "## 2-D projection\n\n"
        f"![PCA projection of selected words]({PROJECTION_PNG})\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = stage_parser(__spec__.name, __doc__, EmbeddingsConfig, only=("analogy_restrict",))
    add_vectors_arg(parser)
    parser.add_argument(
        "--models",
        type=comma_list(str),
        default=MODELS,
        help="comma-separated models to evaluate, those trained (default: word2vec,glove)",
    )
    parser.add_argument(
        "--probes",
        type=comma_list(str),
        default=(),
        help="comma-separated words whose nearest neighbours are listed (default: six English "
        "words, or frequent words of a corpus not scored on the English sets)",
    )

    def work(args: argparse.Namespace, paths: Paths, config: EmbeddingsConfig) -> str:
        report = evaluate_models(
            paths, config, args.models, vectors_dir=args.vectors_dir, probes=args.probes
        )
        return summary_table(report) + "\n" + neighbours_lines(report)

    return run_stage(
        parser.parse_args(argv),
        work,
        log,
        writes=lambda paths: (paths.reports,),
        config="embeddings",
    )


if __name__ == "__main__":
    sys.exit(main())
