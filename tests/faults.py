"""Damage the tests inflict on artifacts, one way for every test that needs it."""

from __future__ import annotations

from pathlib import Path


def truncate_checkpoint(prefix: str | Path) -> None:
    """Cut the data file of the checkpoint ``prefix`` (e.g. ``.../ckpt-3``) to half its size,
    as a run killed while writing it, or a full disk, would leave it."""
    prefix = Path(prefix)
    (data,) = prefix.parent.glob(prefix.name + ".data-*")
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
