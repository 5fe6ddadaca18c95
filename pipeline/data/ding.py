"""German-English sentence pairs from the Ding dictionary (Debian ``trans-de-en``).

Each line is ``DE :: EN``; both sides list parallel sub-entries separated by `` | `` (same
count on each side), each sub-entry lists synonyms separated by ``; ``, and notes sit in
``{..}``, ``[..]`` and ``(..)``. Most entries are words, but the dictionary also carries about
twenty thousand example sentences, which make a small real translation corpus. Multi-word
phrases add training signal but are kept out of dev/test, which hold whole sentences only.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from pipeline.data.clean import normalize

DING_MEMBER = "usr/share/trans/de-en"

_NOTE = re.compile(r"\{[^{}]*\}|\[[^\[\]]*\]|\([^()]*\)")
# A removed note leaves a space before the punctuation that followed it.
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?])")
_SENTENCE_END = ".?!"
# Sentences open with a capital, a digit or an opening quote/inverted mark on both sides;
# that rules out phrase templates such as "austauschen gegen etw." that also end in a period.
_SENTENCE_START = re.compile(r"^[\"'„“‚‘»«¡¿]*[A-ZÄÖÜ0-9]")
# Slash alternatives ("er/sie hat/hatte") and elisions mark templates, not translatable text.
_TEMPLATE = re.compile(r"/|…|\.\.\.")
MIN_PHRASE_WORDS = 3


class Pair(NamedTuple):
    de: str
    en: str
    kind: str  # "sentence" | "phrase"


@dataclass
class ParseStats:
    lines: int = 0
    comments: int = 0
    malformed: Counter[str] = field(default_factory=Counter)
    templates: int = 0
    duplicates: int = 0


def strip_notes(text: str) -> str:
    """Remove ``{..}``, ``[..]`` and ``(..)`` notes, innermost first so nesting is handled."""
    previous = None
    while previous != text:
        previous, text = text, _NOTE.sub(" ", text)
    return _SPACE_BEFORE_PUNCT.sub(r"\1", normalize(text))


def _is_sentence(text: str) -> bool:
    return text[-1] in _SENTENCE_END and _SENTENCE_START.match(text) is not None


def _classify(de: str, en: str) -> str | None:
    if _is_sentence(de) and _is_sentence(en):
        return "sentence"
    if min(len(de.split()), len(en.split())) >= MIN_PHRASE_WORDS:
        return "phrase"
    return None


def parse_line(line: str, stats: ParseStats) -> list[Pair]:
    """All sentence and phrase pairs of one dictionary line (synonyms crossed)."""
    stats.lines += 1
    if line.startswith("#"):
        stats.comments += 1
        return []
    if not line.strip():
        stats.malformed["empty"] += 1
        return []
    if "\ufffd" in line:
        stats.malformed["undecodable"] += 1
        return []
    sides = line.split(" :: ")
    if len(sides) != 2:
        stats.malformed["no ' :: ' separator"] += 1
        return []
    de_entries, en_entries = (side.split(" | ") for side in sides)
    if len(de_entries) != len(en_entries):
        stats.malformed["sub-entry count mismatch"] += 1
        return []
    pairs = []
    for de_entry, en_entry in zip(de_entries, en_entries, strict=True):
        de_variants = [v for v in map(strip_notes, de_entry.split("; ")) if v]
        en_variants = [v for v in map(strip_notes, en_entry.split("; ")) if v]
        for de in de_variants:
            for en in en_variants:
                kind = _classify(de, en)
                if kind is None:
                    continue
                if _TEMPLATE.search(de) or _TEMPLATE.search(en):
                    stats.templates += 1
                    continue
                pairs.append(Pair(de, en, kind))
    return pairs


def parse(lines: Iterable[str]) -> tuple[list[Pair], ParseStats]:
    """Parse the dictionary; exact duplicate pairs are kept once, in first-seen order."""
    stats = ParseStats()
    seen: set[Pair] = set()
    pairs: list[Pair] = []
    for line in lines:
        for pair in parse_line(line.rstrip("\n"), stats):
            if pair in seen:
                stats.duplicates += 1
                continue
            seen.add(pair)
            pairs.append(pair)
    return pairs, stats


def sentence_key(text: str) -> str:
    """The identity of a sentence for splitting: case, spacing and quote style ignored."""
    return normalize(text).casefold().replace("’", "'")


def _rank(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def split(pairs: list[Pair], n_test: int, n_dev: int) -> dict[str, list[Pair]]:
    """Hold out ``n_test`` and ``n_dev`` source sentences, chosen by hash of their key.

    Ranking sources by hash (not by file position or a seeded shuffle) keeps the held-out
    sets stable when the dictionary grows. All translations of a held-out source go with it,
    and no training pair may share a source *or* target with dev/test, so the split stays
    clean whichever direction is trained.
    """
    sentences = [p for p in pairs if p.kind == "sentence"]
    sources = sorted({sentence_key(p.de) for p in sentences}, key=_rank)
    if len(sources) < n_test + n_dev + 1:
        raise ValueError(
            f"only {len(sources)} distinct source sentences; cannot hold out "
            f"{n_test} test and {n_dev} dev sentences and still train"
        )
    test_keys = set(sources[:n_test])
    dev_keys = set(sources[n_test : n_test + n_dev])
    held = {"test": test_keys, "dev": dev_keys}
    out: dict[str, list[Pair]] = {"train": [], "dev": [], "test": []}
    for pair in sentences:
        key = sentence_key(pair.de)
        for name, keys in held.items():
            if key in keys:
                out[name].append(pair)
    held_de = test_keys | dev_keys
    held_en = {sentence_key(p.en) for name in ("dev", "test") for p in out[name]}
    for pair in pairs:
        de, en = sentence_key(pair.de), sentence_key(pair.en)
        if de not in held_de and en not in held_en:
            out["train"].append(pair)
    return out
