"""Build tiny archives in the registries' real formats: wheel (zip), npm (tgz) and Debian (ar)."""

from __future__ import annotations

import io
import struct
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


def make_mo(messages: dict[str, str | list[str]], charset: str = "UTF-8") -> bytes:
    """A gettext .mo as msgfmt writes it: little-endian, msgids sorted, a header entry first.

    A key is ``msgid``, ``msgctxt\\x04msgid`` or ``msgid\\0msgid_plural`` (then the value is
    the list of plural forms). An empty value is an entry without translation, which real
    catalogues carry a few of; fuzzy entries cannot be written, as msgfmt leaves them out.
    """
    header = (
        f"Project-Id-Version: fixture\nContent-Type: text/plain; charset={charset}\n"
        "Plural-Forms: nplurals=2; plural=(n != 1);\n"
    )
    table = {b"": header.encode(charset)}
    for key, value in messages.items():
        forms = value if isinstance(value, list) else [value]
        table[key.encode(charset)] = "\0".join(forms).encode(charset)
    keys = sorted(table)
    ids_at = 28
    strs_at = ids_at + 8 * len(keys)
    data = bytearray()
    data_at = strs_at + 8 * len(keys)
    ids, strs = [], []
    for column, strings in ((ids, keys), (strs, [table[k] for k in keys])):
        for s in strings:
            column.append((len(s), data_at + len(data)))
            data += s + b"\0"
    head = struct.pack("<7I", 0x950412DE, 0, len(keys), ids_at, strs_at, 0, data_at)
    return head + b"".join(struct.pack("<2I", *e) for e in ids + strs) + bytes(data)
