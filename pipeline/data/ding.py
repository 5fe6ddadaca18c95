"""German-English sentence pairs from the Ding dictionary (Debian ``trans-de-en``).

Each line is ``DE :: EN``; both sides list parallel sub-entries separated by `` | `` (same
count on each side), each sub-entry lists synonyms separated by ``; ``, and notes sit in
``{..}``, ``[..]`` and ``(..)``. Most entries are words, but the dictionary also carries about
twenty thousand example sentences, which make a small real translation corpus. Multi-word
phrases and the one- and two-word lexical entries add training signal (the lexicon) but are
kept out of dev/test, which hold whole sentences only.

Lexical entries list many synonyms, and crossing them all would multiply a ten-synonym entry
into a hundred pairs of mostly loose equivalents; so a lexical sub-entry pairs every German
synonym with the first English one and the first German synonym with every English one.
Sentences and phrases keep every crossing. Ding's placeholders (``jdn.``, ``etw.``, ``sth.``,
``sb.``) mark an argument slot, not a word a translation would contain, so they are removed
from both sides of phrase and lexical pairs; sentences contain none and stay as written.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
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
# The argument slots of Ding's templates: jd./jdn./jdm./jds./jmd., etw., sth., sb. (and sb.'s).
_PLACEHOLDER = re.compile(r"(?<![\w.])(?:jd[mns]?|jmd[mn]?|etw|sth|sb)\.(?:['’]s)?(?!\w)")


class Pair(NamedTuple):
    de: str
    en: str
    kind: str  # "sentence" | "phrase" | "lexical" | "catalogue"


@dataclass
class ParseStats:
    lines: int = 0
    comments: int = 0
    malformed: Counter[str] = field(default_factory=Counter)
    templates: int = 0
    placeholder_only: int = 0
    duplicates: int = 0


def strip_notes(text: str) -> str:
    """Remove ``{..}``, ``[..]`` and ``(..)`` notes, innermost first so nesting is handled."""
    previous = None
    while previous != text:
        previous, text = text, _NOTE.sub(" ", text)
    return _SPACE_BEFORE_PUNCT.sub(r"\1", normalize(text))


def _is_sentence(text: str) -> bool:
    return text[-1] in _SENTENCE_END and _SENTENCE_START.match(text) is not None


def _classify(de: str, en: str) -> str:
    if _is_sentence(de) and _is_sentence(en):
        return "sentence"
    if min(len(de.split()), len(en.split())) >= MIN_PHRASE_WORDS:
        return "phrase"
    return "lexical"


def remove_placeholders(text: str) -> str:
    """``text`` without Ding's argument slots, spacing and stray punctuation tidied."""
    return _SPACE_BEFORE_PUNCT.sub(r"\1", normalize(_PLACEHOLDER.sub(" ", text))).strip(" ,;")


def _sub_entry_pairs(de_variants: list[str], en_variants: list[str]) -> Iterator[Pair]:
    """Crossed synonyms; lexical pairs only along the first row and column (see above)."""
    for i, de in enumerate(de_variants):
        for j, en in enumerate(en_variants):
            kind = _classify(de, en)
            if kind == "lexical" and i and j:
                continue
            yield Pair(de, en, kind)


def parse_line(line: str, stats: ParseStats) -> list[Pair]:
    """All sentence, phrase and lexical pairs of one dictionary line."""
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
        for pair in _sub_entry_pairs(de_variants, en_variants):
            if _TEMPLATE.search(pair.de) or _TEMPLATE.search(pair.en):
                stats.templates += 1
                continue
            if pair.kind != "sentence":
                pair = pair._replace(
                    de=remove_placeholders(pair.de), en=remove_placeholders(pair.en)
                )
                if not pair.de or not pair.en:
                    stats.placeholder_only += 1
                    continue
            pairs.append(pair)
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


def hold_out(
    pairs: list[Pair], eligible: Callable[[Pair], bool], n_test: int, n_dev: int
) -> dict[str, list[Pair]]:
    """Hold out ``n_test`` and ``n_dev`` eligible sources, chosen by hash of their key.

    Ranking sources by hash (not by file position or a seeded shuffle) keeps the held-out
    sets stable when the data grows. All eligible translations of a held-out source go with
    it, and no training pair may share a source *or* target with dev/test, so the split stays
    clean whichever direction is trained.
    """
    candidates = [p for p in pairs if eligible(p)]
    sources = sorted({sentence_key(p.de) for p in candidates}, key=_rank)
    if len(sources) < n_test + n_dev + 1:
        raise ValueError(
            f"only {len(sources)} distinct source sentences; cannot hold out "
            f"{n_test} test and {n_dev} dev sentences and still train"
        )
    held = {"test": set(sources[:n_test]), "dev": set(sources[n_test : n_test + n_dev])}
    out: dict[str, list[Pair]] = {"train": [], "dev": [], "test": []}
    for pair in candidates:
        key = sentence_key(pair.de)
        for name, keys in held.items():
            if key in keys:
                out[name].append(pair)
    out["train"] = without_keys(pairs, held_keys(out["dev"] + out["test"]))
    return out


def held_keys(pairs: Iterable[Pair]) -> tuple[set[str], set[str]]:
    """The source and target keys of held-out pairs, which no training pair may share."""
    pairs = list(pairs)
    return {sentence_key(p.de) for p in pairs}, {sentence_key(p.en) for p in pairs}


def without_keys(pairs: Iterable[Pair], keys: tuple[set[str], set[str]]) -> list[Pair]:
    """``pairs`` minus those whose source or target key is in ``keys`` (see :func:`held_keys`)."""
    de_keys, en_keys = keys
    return [
        p for p in pairs if sentence_key(p.de) not in de_keys and sentence_key(p.en) not in en_keys
    ]


def split(pairs: list[Pair], n_test: int, n_dev: int) -> dict[str, list[Pair]]:
    """Dev and test of whole sentences; phrases and lexical entries train only."""
    return hold_out(pairs, lambda p: p.kind == "sentence", n_test, n_dev)
