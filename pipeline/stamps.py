"""The files ``make`` tracks for the data and tokenize stages, beside each stage's manifest.

A stage's manifest says the stage ran; its make rule targets the manifest. Later stages depend
instead on two files this module writes under ``data/processed``:

- ``<stage>.stamp``, a digest of the stage's outputs, replaced only when the digest changes.
  A rebuild that reproduces its outputs byte for byte (``--force``, an edit that leaves the data
  alone) keeps the stamp's mtime, so nothing after the stage is redone.
- ``<stage>_outputs.mk``, the outputs as a make variable. The Makefile includes it and reruns
  the stage when a listed file is missing, so a deleted vocabulary is rebuilt by ``make
  tokenize`` rather than hidden behind a current stamp. make only stats these files, it runs no
  program to read them.

Paths are relative to the data root (``data/``), the folder the Makefile prefixes them with.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from pipeline.artifacts import outputs_listing, stamp
from pipeline.config import Paths
from pipeline.io import sha256_file, write_text


def digest(data_root: Path, outputs: Sequence[str]) -> str:
    """One sha256 over the outputs' names and bytes; the order of ``outputs`` does not matter."""
    total = hashlib.sha256()
    for name in sorted(outputs):
        total.update(f"{name}\0{sha256_file(data_root / name)}\n".encode())
    return total.hexdigest()


def _replace_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` unless the file already holds it, so its mtime moves only on a change."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    write_text(path, text)
    return True


def publish(paths: Paths, stage: str, outputs: Sequence[str], content: str) -> bool:
    """Write the stage's output list and content stamp; True when the stamp changed.

    Called before the manifest is written, so a run that dies in between leaves no manifest
    and make reruns the stage.
    """
    listing = " \\\n\t".join(sorted(outputs))
    _replace_if_changed(
        outputs_listing(paths, stage),
        f"# Written by make {stage}: its outputs under data/, for the Makefile.\n"
        f"{stage.upper()}_OUTPUTS := {listing}\n",
    )
    return _replace_if_changed(stamp(paths, stage), content + "\n")
