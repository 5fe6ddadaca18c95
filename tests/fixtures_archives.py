"""Build tiny archives in the registries' real formats: wheel (zip), npm (tgz) and Debian (ar)."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path


def _tar(members: dict[str, bytes], mode: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def make_wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return path


def make_npm_tgz(path: Path, members: dict[str, bytes]) -> Path:
    path.write_bytes(_tar(members, "w:gz"))
    return path


def _ar_member(name: str, content: bytes) -> bytes:
    header = f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(content):<10}`\n".encode()
    return header + content + (b"\n" if len(content) % 2 else b"")


def make_deb(path: Path, members: dict[str, bytes]) -> Path:
    """A .deb as dpkg builds it: ``debian-binary``, ``control.tar.xz``, ``data.tar.xz``.

    Members are stored as ``./usr/...`` like dpkg does, to exercise the ``./`` stripping.
    """
    data = _tar({f"./{name}": content for name, content in members.items()}, "w:xz")
    control = _tar({"./control": b"Package: fixture\n"}, "w:xz")
    path.write_bytes(
        b"!<arch>\n"
        + _ar_member("debian-binary", b"2.0\n")
        + _ar_member("control.tar.xz", control)
        + _ar_member("data.tar.xz", data)
    )
    return path
