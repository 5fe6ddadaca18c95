"""Read files straight out of the archives the registries serve.

A wheel is a zip, an npm package a gzipped tar, and a Debian package an ``ar`` archive
holding ``data.tar.*``. Reading members in place means nothing is extracted to disk, so there
is no half-extracted tree to clean up and no dependency on ``dpkg-deb``.
"""

from __future__ import annotations

import fnmatch
import io
import lzma
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

_AR_MAGIC = b"!<arch>\n"


class ArchiveError(RuntimeError):
    """An archive is unreadable or lacks an expected member."""


def _corrupt(path: Path, detail: object) -> ArchiveError:
    return ArchiveError(
        f"{path} is corrupt or truncated ({detail}). Delete it and run `make data` again "
        "to fetch a fresh copy."
    )


def _deb_data_tar(path: Path) -> tarfile.TarFile:
    """Open the ``data.tar.*`` member of a .deb (an ar archive of fixed 60-byte headers)."""
    raw = path.read_bytes()
    if not raw.startswith(_AR_MAGIC):
        raise _corrupt(path, "not a Debian package: no ar header")
    offset = len(_AR_MAGIC)
    while offset + 60 <= len(raw):
        header = raw[offset : offset + 60]
        try:
            name = header[:16].decode("ascii").strip().rstrip("/")
            size = int(header[48:58].decode("ascii").strip())
        except ValueError as err:  # UnicodeDecodeError is one
            raise _corrupt(path, f"bad ar member header at byte {offset}") from err
        body = raw[offset + 60 : offset + 60 + size]
        if name.startswith("data.tar"):
            try:
                return tarfile.open(fileobj=io.BytesIO(body), mode="r:*")
            except tarfile.TarError as err:
                raise _corrupt(path, f"{name}: {err}") from err
        offset += 60 + size + (size % 2)
    raise _corrupt(path, "no data.tar member")


def _normalize(name: str) -> str:
    return name[2:] if name.startswith("./") else name


def iter_members(archive: str | Path, pattern: str) -> Iterator[tuple[str, bytes]]:
    """Yield ``(member_name, content)`` for regular files whose name matches ``pattern``.

    Names are relative to the archive root (``./`` stripped), in archive order.
    """
    path = Path(archive)
    try:
        if path.suffix in {".whl", ".zip"}:
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    if not info.is_dir() and fnmatch.fnmatchcase(info.filename, pattern):
                        yield info.filename, zf.read(info)
            return
        with _deb_data_tar(path) if path.suffix == ".deb" else tarfile.open(path) as tar:
            for member in tar:
                name = _normalize(member.name)
                if member.isfile() and fnmatch.fnmatchcase(name, pattern):
                    handle = tar.extractfile(member)
                    assert handle is not None
                    yield name, handle.read()
    except (
        zipfile.BadZipFile,
        tarfile.TarError,
        EOFError,
        OSError,
        lzma.LZMAError,
        zlib.error,
    ) as err:
        raise _corrupt(path, err) from err


def read_member(archive: str | Path, name: str) -> bytes:
    """The content of exactly one member; a missing member is an error naming the archive."""
    for _, content in iter_members(archive, name):
        return content
    raise ArchiveError(f"{archive} has no member {name!r}")
