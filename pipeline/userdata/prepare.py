"""What every kind of user dataset shares: a TFDS dataset built from the user's files, redone
only when the files or the settings change, and published like the default data stages.

A kind (``corpus``, ``labeled``, ``parallel``) reads and checks the user's files (nothing is
written until every line passed), writes them as normalized TSV files under the run's
``input/<kind>`` folder, builds its TFDS dataset from them (as ``make data`` does for the
embedded sources) and encodes it for the training stages. Its manifest records a digest of the
inputs and settings: the same files again do nothing, so ``make ... RUN=name`` is incremental,
and the stamp that later make rules depend on moves only when the encoded data changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from pipeline import artifacts, stamps
from pipeline.config import Paths
from pipeline.data.build import write_tsv
from pipeline.io import atomic_path, sha256_file, write_json
from pipeline.userdata.files import readable

log = logging.getLogger(__name__)

# The work of one kind: -> (its report, its outputs relative to the data root).
Build = Callable[[], tuple[dict[str, Any], list[str]]]


def inputs_digest(files: Iterable[Path], settings: dict[str, Any]) -> str:
    """One sha256 over the input files' names and bytes and the settings that shaped them."""
    total = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for path in files:
        total.update(f"\0{path.resolve()}\0{sha256_file(path)}".encode())
    return total.hexdigest()


def _manifest(paths: Paths, kind: str) -> dict[str, Any] | None:
    """The report the run's last ``kind`` build left, or None without a readable one."""
    try:
        return json.loads(artifacts.manifest(paths, kind).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _current(paths: Paths, kind: str, digest: str) -> dict[str, Any] | None:
    """The last run's report if it was built from the same inputs and its outputs still exist."""
    report = _manifest(paths, kind)
    if report is None:
        return None
    outputs = report.get("outputs", [])
    if report.get("inputs_digest") != digest or not artifacts.stamp(paths, kind).exists():
        return None
    if not all((paths.data / name).exists() for name in outputs):
        return None
    return report


def as_it_is(paths: Paths, kind: str) -> dict[str, Any] | None:
    """The run's ``kind`` report as it stands, when a stage is rerun without files.

    make reruns a kind's step whenever the pipeline's code changed, also for ``make bleu
    RUN=name`` that names no files; a run's data is only ever rebuilt from files the user
    gives, so then the run is used as it is (None: the run has no ``kind`` yet).
    """
    report = _manifest(paths, kind)
    if report is not None:
        log.info("run %r: no files given; its %s is used as it is", paths.run, kind)
    return report


def prepare(
    paths: Paths, kind: str, inputs: Sequence[Path], settings: dict[str, Any], build: Build
) -> dict[str, Any]:
    """Run ``build`` unless the run already holds ``kind`` built from these inputs and settings."""
    if not paths.run:
        raise ValueError(f"Your own {kind} needs a run name: give RUN=name (--run name).")
    digest = inputs_digest([readable(path) for path in inputs], settings)
    report = _current(paths, kind, digest)
    if report is not None:
        log.info("run %r: the %s is current (same files and settings)", paths.run, kind)
        return report
    artifacts.manifest(paths, kind).unlink(missing_ok=True)  # stale until this build completes
    report, outputs = build()
    report = {
        "run": paths.run,
        "inputs": [str(path) for path in inputs],
        "settings": settings,
        **report,
        "inputs_digest": digest,
        "outputs": outputs,
    }
    stamps.publish(paths, kind, outputs, stamps.digest(paths.data, outputs))
    write_json(artifacts.manifest(paths, kind), report)
    return report


def write_input(paths: Paths, kind: str, name: str, rows: Iterable[Iterable[Any]]) -> Path:
    """One normalized TSV of the run's ``kind`` input, the folder its TFDS builder reads."""
    path = artifacts.user_input(paths, kind) / name
    write_tsv(path, rows)
    return path


def build_tfds(builder_class: type, paths: Paths, kind: str, **builder_kwargs: Any) -> Any:
    """Build ``builder_class`` from the run's ``input/<kind>`` files; load it with the same
    ``data_dir`` (:func:`pipeline.artifacts.user_datasets`). ``builder_kwargs`` go to the
    builder, e.g. its ``config``.

    The dataset is generated into a temporary folder that replaces the previous one whole, so
    an interrupted build leaves the previous dataset (or none), never a partial one.
    """
    import tensorflow_datasets as tfds

    if not sys.stderr.isatty():  # nested bars turn into pages of escape codes in a log file
        tfds.disable_progress_bar()
    config = tfds.download.DownloadConfig(manual_dir=str(artifacts.user_input(paths, kind)))
    with atomic_path(artifacts.user_datasets(paths, kind), directory=True) as tmp:
        builder = builder_class(data_dir=str(tmp), **builder_kwargs)
        builder.download_and_prepare(download_config=config)
    return builder_class(data_dir=str(artifacts.user_datasets(paths, kind)), **builder_kwargs)


def dataset_files(paths: Paths, kind: str) -> list[str]:
    """The built dataset's files relative to the data root, for the kind's outputs."""
    return sorted(
        str(path.relative_to(paths.data))
        for path in artifacts.user_datasets(paths, kind).rglob("*")
        if path.is_file() and path.name != "metadata.json"
    )
