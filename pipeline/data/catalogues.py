"""English-German message pairs from the gettext catalogues inside Debian packages.

Software is translated message by message, and every translated program ships the result as
a compiled catalogue (``.mo``) whose msgid is English and msgstr German. OPUS built its GNOME,
KDE and OpenOffice corpora this way. It gives the translator what the Ding dictionary lacks:
hundreds of thousands of everyday, professionally reviewed sentences ("Click Save to keep
your changes."). Catalogues are read straight out of the pinned .deb files.

The messages carry user-interface machinery that is not language: accelerator markers
(``_Open``, ``&Save``, ``Save ~As``), markup tags, and placeholders (``%s``, ``{name}``,
``%PRODUCTNAME``). Markers and tags are removed; placeholders stay, and a pair whose sides
hold different placeholders is dropped, because its translation was adapted to another
argument order or count that the model could not learn from the text. Fuzzy entries never
reach a .mo (msgfmt leaves them out), so they need no handling here.
"""

from __future__ import annotations

import gettext
import io
import re
import struct
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.data.archives import iter_members
from pipeline.data.clean import normalize
from pipeline.data.ding import Pair, sentence_key

MO_PATTERN = "*/de/LC_MESSAGES/*.mo"
_MO_MAGIC = {0x950412DE: "<", 0xDE120495: ">"}
# Placeholders the program fills in at run time; matched before markers are removed so
# "{file_name}" keeps its underscore. Order matters: longest forms first.
_PLACEHOLDER = re.compile(
    r"%\(\w+\)[-#0+]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]"  # Python %(name)s
    r"|%\d+\$[-#0+]*\d*(?:\.\d+)?(?:ll|l|h|z|j)?[diouxXeEfFgGcsp]"  # printf %1$s
    r"|%[-#0+]*\d*(?:\.\d+)?(?:ll|l|h|z|j)?[diouxXeEfFgGcsp]"  # printf %s, %5.2f
    r"|%[A-Z][A-Z0-9_]+%?"  # LibreOffice %PRODUCTNAME
    r"|%\d+"  # Qt %1
    r"|\{[\w.]*\}"  # Python/ICU {name}, {0}, {}
    r"|\$\(\w+\)"  # LibreOffice $(ARG1)
)
_TAG = re.compile(r"</?[a-zA-Z][\w:-]*(?:\s[^<>]*)?/?>")
_ENTITY = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&apos;": "'"}
_ENTITY_RE = re.compile("|".join(_ENTITY))
# `_`, `~` and `&` mark the accelerator letter or digit ("_3D Look"); `&&` is a literal `&`.
_ACCELERATOR = re.compile(r"[_~&](?=[^\W_])")
_LITERAL_AMP = "\ue000"
_LETTER = re.compile(r"[^\W\d_]")
# Credits entries hold translators' names, not translations.
_CREDITS = {"translator-credits", "translator_credits", "Your names", "Your emails"}
_CREDITS_CONTEXTS = {"NAME OF TRANSLATORS", "EMAIL OF TRANSLATORS"}
# A pair is implausible when one side is over 3x the other, allowing for short messages.
MAX_LENGTH_RATIO = 3.0
LENGTH_SLACK = 5
MIN_HELD_OUT_WORDS = 4


@dataclass
class PackageStats:
    catalogues: int = 0
    messages: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {
            "catalogues": self.catalogues,
            "messages": self.messages,
            "kept": self.kept,
            "dropped": dict(sorted(self.dropped.items())),
        }


def _plural_ids(blob: bytes, charset: str) -> dict[str, str]:
    """msgid -> msgid_plural from the raw table; GNUTranslations keys plurals by msgid only.

    The .mo header is magic, revision, count and the offset of the msgid table, whose entries
    are (length, offset) pairs; a plural msgid holds ``msgid NUL msgid_plural``.
    """
    order = _MO_MAGIC[struct.unpack("<I", blob[:4])[0]]
    count, table = struct.unpack(order + "II", blob[8:16])
    plurals = {}
    for i in range(count):
        length, offset = struct.unpack(order + "II", blob[table + 8 * i : table + 8 * i + 8])
        singular, nul, plural = blob[offset : offset + length].partition(b"\0")
        if nul:
            plurals[singular.decode(charset)] = plural.decode(charset)
    return plurals


def read_catalogue(blob: bytes) -> list[tuple[str, str, str]]:
    """``(msgctxt, msgid, msgstr)`` of each entry; plural forms after the first pair with
    msgid_plural. Bytes are decoded with the catalogue's declared charset."""
    translations = gettext.GNUTranslations(io.BytesIO(blob))
    plurals = _plural_ids(blob, translations.charset() or "ascii")
    entries = []
    for key, msgstr in translations._catalog.items():  # no public accessor exists
        full, form = key if isinstance(key, tuple) else (key, 0)
        ctxt, _, msgid = full.rpartition("\x04")
        if form:
            msgid = plurals.get(full, msgid)
        if msgid:  # the empty msgid is the header
            entries.append((ctxt, msgid, msgstr))
    return entries


def _strip_ui(text: str) -> str:
    """``text`` without tags, entities and accelerator markers; placeholders untouched."""
    text = text.replace("&&", _LITERAL_AMP).replace("&amp;", _LITERAL_AMP)
    text = _ENTITY_RE.sub(lambda m: _ENTITY[m.group()], _TAG.sub("", text))
    pieces, last = [], 0
    for match in _PLACEHOLDER.finditer(text):
        pieces += [_ACCELERATOR.sub("", text[last : match.start()]), match.group()]
        last = match.end()
    pieces.append(_ACCELERATOR.sub("", text[last:]))
    return normalize("".join(pieces).replace(_LITERAL_AMP, "&"))


def _has_letters(text: str) -> bool:
    return _LETTER.search(_PLACEHOLDER.sub("", text)) is not None


def clean_pair(msgctxt: str, msgid: str, msgstr: str) -> tuple[str, str] | str:
    """The cleaned ``(en, de)`` pair, or the reason the entry is dropped."""
    if not msgstr.strip():
        return "empty"
    if msgid in _CREDITS or msgctxt in _CREDITS_CONTEXTS:
        return "translator credits"
    en, de = _strip_ui(msgid), _strip_ui(msgstr)
    if not (_has_letters(en) and _has_letters(de)):
        return "no letters"
    if sentence_key(en) == sentence_key(de):
        return "untranslated"
    if Counter(_PLACEHOLDER.findall(en)) != Counter(_PLACEHOLDER.findall(de)):
        return "placeholder mismatch"
    short, long = sorted((len(en), len(de)))
    if long + LENGTH_SLACK > MAX_LENGTH_RATIO * (short + LENGTH_SLACK):
        return "length ratio"
    return en, de


# What a damaged catalogue raises inside GNUTranslations or the raw table read.
_UNREADABLE = (OSError, struct.error, UnicodeDecodeError, ValueError, LookupError)


def read_package(deb: Path, seen: set[tuple[str, str]], stats: PackageStats) -> Iterator[Pair]:
    """The clean pairs of every German catalogue in ``deb`` not already in ``seen``."""
    for _, blob in iter_members(deb, MO_PATTERN):
        stats.catalogues += 1
        try:
            entries = read_catalogue(blob)
        except _UNREADABLE:
            stats.dropped["unreadable catalogue"] += 1
            continue
        for msgctxt, msgid, msgstr in entries:
            stats.messages += 1
            result = clean_pair(msgctxt, msgid, msgstr)
            if isinstance(result, str):
                stats.dropped[result] += 1
            elif result in seen:
                stats.dropped["duplicate"] += 1
            else:
                seen.add(result)
                stats.kept += 1
                yield Pair(result[1], result[0], "catalogue")


def read_packages(debs: dict[str, Path]) -> tuple[list[Pair], dict[str, PackageStats]]:
    """Clean pairs of all packages, deduplicated across them (a repeat counts where seen)."""
    seen: set[tuple[str, str]] = set()
    stats = {name: PackageStats() for name in debs}
    pairs = [pair for name, deb in debs.items() for pair in read_package(deb, seen, stats[name])]
    return pairs, stats


def is_sentence_like(pair: Pair) -> bool:
    """Eligible for the localization dev/test: a message, not a menu label."""
    return min(len(pair.en.split()), len(pair.de.split())) >= MIN_HELD_OUT_WORDS
