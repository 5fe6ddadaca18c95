"""Atomic artifact writes, checksums, and reading the text users type.

Every artifact is written to a temporary sibling and renamed into place, so an interrupted
stage leaves either the previous file or the complete new one, never a partial file that a
later stage (or make's timestamp check) would mistake for finished work.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


# Temporaries older code left without its PID; a day outlasts any write of this pipeline.
UNOWNED_TEMPORARY_SECONDS = 24 * 3600


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str], *, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``dest`` and move it onto ``dest`` if the block succeeds.

    The temporary lives in the same folder so the final ``os.replace`` is a rename on one file
    system. On any exception the temporary is removed and ``dest`` is left untouched. Its name
    holds the writer's PID, so a later write to ``dest`` can tell what a killed writer left.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(dest)
    prefix = f".{dest.name}.{os.getpid()}."
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=dest.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=dest.parent)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        # mkstemp/mkdtemp create owner-only files; artifacts get the usual umask-based mode.
        umask = os.umask(0)
        os.umask(umask)
        if tmp.exists():
            tmp.chmod((0o777 if tmp.is_dir() else 0o666) & ~umask)
        if directory and dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        _remove(tmp)
        raise


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process, or not a PID at all
        return True
    return True


def _age(path: Path) -> float:
    try:
        return time.time() - path.lstat().st_mtime
    except FileNotFoundError:  # another writer cleaned it up meanwhile
        return 0.0


def _remove_stale_temporaries(dest: Path) -> None:
    """Remove the temporaries of ``dest`` whose writer died (killed exports leave whole folders).

    A live writer's temporary, this process's included, is never touched. Names without a PID
    come from older code and go once they are a day old.
    """
    # tempfile's random part is 8 characters without dots, so the optional PID is unambiguous.
    pattern = re.compile(rf"\.{re.escape(dest.name)}\.(?:(\d+)\.)?[a-z0-9_]{{8}}\.tmp")
    for path in dest.parent.iterdir():
        match = pattern.fullmatch(path.name)
        if match is None:
            continue
        if match[1] is None:
            stale = _age(path) > UNOWNED_TEMPORARY_SECONDS
        else:
            stale = not _alive(int(match[1]))
        if stale:
            log.info("removing %s, left by an interrupted write", path)
            _remove(path)


def check_writable(*folders: str | os.PathLike[str]) -> bool:
    """Whether files can be made in each folder, tested before a stage does its work.

    Otherwise an unwritable output folder surfaces only as a traceback once every result is
    computed. A missing folder is judged by its nearest existing parent, which is where the
    stage will create it, so the check itself creates nothing. Logs a one-paragraph error for
    the first folder that fails.
    """
    for folder in map(Path, folders):
        existing = next(p for p in (folder, *folder.parents) if p.exists() or p.is_symlink())
        try:
            if not existing.is_dir():
                raise NotADirectoryError(f"{existing} is not a folder")
            with tempfile.TemporaryFile(dir=existing):
                pass
        except OSError as err:
            reason = f"{err.strerror} in {existing}" if err.strerror else str(err)
            log.error(
                "Cannot write to %s: %s. This stage saves its results there, so it stops "
                "before doing any work. Make %s a folder you may write to, or point the "
                "stage elsewhere with its --*-dir options (see --help).",
                folder, reason, folder,
            )  # fmt: skip
            return False
    return True


def write_text(dest: str | os.PathLike[str], text: str) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(dest: str | os.PathLike[str], obj: Any) -> None:
    write_text(dest, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def write_report(directory: str | os.PathLike[str], name: str, report: Any, markdown: str) -> None:
    """``<name>.md`` then ``<name>.json`` in ``directory``, each written atomically.

    The JSON comes last because it is the file ``make`` tracks: if the run dies between the
    two, the stage is redone rather than left with a stale markdown beside a fresh JSON.
    """
    write_text(Path(directory) / f"{name}.md", markdown)
    write_json(Path(directory) / f"{name}.json", report)


def write_lines(dest: str | os.PathLike[str], lines: Iterator[str] | list[str]) -> int:
    """Write one item per line; returns the number of lines written."""
    count = 0
    with atomic_path(dest) as tmp, tmp.open("w", encoding="utf-8") as f:
        for line in lines:
            f.write(line)
            f.write("\n")
            count += 1
    return count


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def decode_text(item: bytes | str, where: str) -> str:
    """``item`` as text without its newline, bytes that are not UTF-8 becoming U+FFFD.

    One bad byte must not cost a whole batch its output, as a strict decode (or a string
    TensorFlow cannot convert) would. ``str`` items are command-line arguments, which Python
    decodes with ``surrogateescape``: encoding them back gives the bytes the user typed.
    A damaged item gets a warning naming it by ``where``.
    """
    raw = item.encode("utf-8", "surrogateescape") if isinstance(item, str) else item
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "replace")
        log.warning("%s is not valid UTF-8; its undecodable bytes became U+FFFD", where)
    return text.removesuffix("\n")


def decode_lines(items: Iterable[bytes | str], where: str) -> Iterator[str]:
    """``decode_text`` of each item, the warnings naming it as ``{where} {number}``."""
    for number, item in enumerate(items, start=1):
        yield decode_text(item, f"{where} {number}")


def stdin_lines() -> Iterator[str]:
    """Standard input's lines, read as bytes so that no locale's decoding can fail on them."""
    return decode_lines(sys.stdin.buffer, "stdin line")
