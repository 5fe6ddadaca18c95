"""Reading the user's own files: text lines, labeled tables and parallel text.

Every problem is reported as ``file:line: what is wrong. How to fix it.`` and raised before
anything is written, so a bad file costs the user one corrected rerun and no half-built run.
Files may be gzip-compressed (``.gz``). Lines end at ``\\n`` (a ``\\r`` before it is dropped);
blank lines carry no example and are skipped everywhere.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ENCODING_HINT = (
    "Give the file's encoding with --encoding (e.g. --encoding latin-1), or keep the rest of "
    "the file by replacing such bytes with --encoding-errors replace."
)


class UserDataError(ValueError):
    """A user file that cannot be used; the message names the file and, where known, the line."""


@dataclass(frozen=True)
class Decoding:
    """How bytes become text: ``errors`` is ``strict`` (stop at a bad line) or ``replace``."""

    encoding: str = "utf-8"
    errors: str = "strict"


def _open(path: Path) -> IO[bytes]:
    if not path.exists():
        raise UserDataError(f"{path}: no such file. Check the path (it is read as given).")
    if path.is_dir():
        raise UserDataError(f"{path} is a folder; give the file(s) inside it.")
    try:
        raw = path.open("rb")
    except OSError as err:
        raise UserDataError(f"{path}: cannot be read ({err.strerror}).") from None
    if path.suffix != ".gz":
        return raw
    return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]


def readable(path: Path) -> Path:
    """``path``, once it is a file that opens: the check that names a bad one as readers do."""
    with _open(path):
        return path


def numbered_lines(path: Path, decoding: Decoding = Decoding()) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of every line, blank ones included, without its line ending."""
    try:
        with _open(path) as f:
            for number, raw in enumerate(f, start=1):
                yield number, _decode(raw, path, number, decoding).rstrip("\r\n")
    except (gzip.BadGzipFile, EOFError, OSError) as err:
        raise UserDataError(f"{path}: not a readable gzip file ({err}).") from None


def _decode(raw: bytes, path: Path, number: int, decoding: Decoding) -> str:
    try:
        return raw.decode(decoding.encoding, decoding.errors)
    except UnicodeDecodeError as err:
        bad = raw[err.start : err.end].hex(" ")
        raise UserDataError(
            f"{path}:{number}: byte(s) {bad} at column {err.start + 1} are not valid "
            f"{decoding.encoding}. {ENCODING_HINT}"
        ) from None
    except LookupError:
        raise UserDataError(f"--encoding {decoding.encoding!r} is not a known encoding.") from None


def text_lines(
    files: Sequence[Path], decoding: Decoding = Decoding()
) -> Iterator[tuple[Path, int, str]]:
    """The non-blank lines of ``files`` in order, stripped, with where each came from."""
    if not files:
        raise UserDataError("No input file given.")
    for path in files:
        empty = True
        for number, line in numbered_lines(path, decoding):
            if line.strip():
                empty = False
                yield path, number, line.strip()
        if empty:
            raise UserDataError(f"{path}: the file is empty (no line with text).")


def table_rows(path: Path, decoding: Decoding = Decoding()) -> Iterator[tuple[int, list[str]]]:
    """``(line number, cells)`` of a ``.csv`` (RFC 4180 quoting) or tab-separated file.

    A TSV is split at every tab with no quoting, as ``cut`` and pandas' ``quoting=3`` read
    it, so a review containing quotes stays whole; a CSV cell may span lines, and its
    number is the line it starts on.
    """
    is_csv = path.name.removesuffix(".gz").endswith(".csv")
    lines = (line + "\n" for _, line in numbered_lines(path, decoding))
    reader = (
        csv.reader(lines, strict=True)
        if is_csv
        else csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    )
    start = 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                yield start, row
            start = reader.line_num + 1
    except csv.Error as err:
        raise UserDataError(f"{path}:{reader.line_num}: not valid CSV ({err}).") from None


def parallel_tsv(path: Path, decoding: Decoding = Decoding()) -> Iterator[tuple[int, str, str]]:
    """``(line number, source, target)`` of a ``source<TAB>target`` file."""
    found = False
    for number, line in numbered_lines(path, decoding):
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) != 2:
            what = "has no tab" if len(cells) == 1 else f"has {len(cells) - 1} tabs"
            raise UserDataError(
                f"{path}:{number}: the line {what}; each line must be source<TAB>target "
                "(exactly one tab)."
            )
        source, target = (cell.strip() for cell in cells)
        if not source or not target:
            side = "source" if not source else "target"
            raise UserDataError(f"{path}:{number}: the {side} side is empty.")
        found = True
        yield number, source, target
    if not found:
        raise UserDataError(f"{path}: the file is empty (no source<TAB>target line).")


def aligned_lines(
    source: Path, target: Path, decoding: Decoding = Decoding()
) -> Iterator[tuple[int, str, str]]:
    """``(line number, source, target)`` of two line-aligned files; a blank pair is skipped.

    The line counts are compared before any pair is used: a missing line shifts every pair
    after it, which no later check could detect.
    """
    counts = [sum(1 for _ in numbered_lines(path, decoding)) for path in (source, target)]
    if counts[0] != counts[1]:
        raise UserDataError(
            f"{source} has {counts[0]:,} lines but {target} has {counts[1]:,}; line-aligned "
            "files must have one line per sentence pair, in the same order."
        )
    found = False
    for (number, src), (_, tgt) in zip(
        numbered_lines(source, decoding), numbered_lines(target, decoding), strict=True
    ):
        src, tgt = src.strip(), tgt.strip()
        if not src and not tgt:
            continue
        if not src or not tgt:
            empty, other = (source, target) if not src else (target, source)
            raise UserDataError(f"{empty}:{number}: the line is empty but {other}'s is not.")
        found = True
        yield number, src, tgt
    if not found:
        raise UserDataError(f"{source} and {target} are empty (no line with text).")
