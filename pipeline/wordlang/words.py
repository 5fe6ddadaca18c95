"""The word lists as labelled examples: parsed, cleaned, made unambiguous, split by hash.

A list entry becomes an example when it is a plain word of the language, lowercased:

* entries with an apostrophe go (English possessives ``dog's``, Italian elisions ``dell'``),
  as do entries with anything but letters (hyphenated compounds, digits, abbreviations);
* entries with a capital after the first letter go (acronyms ``ACPI``, ``CamelCase``);
* capitalised entries are proper nouns (places, first names) and go, except in German, whose
  nouns are all capitalised: there they stay (lowercased), proper nouns among them;
* words outside ``[min_chars, max_chars]`` letters go.

A word left in two or more lists (``animal``: English, Spanish, Portuguese, Catalan, French)
has no single answer, so it is dropped from all of them: the figures are over words that
belong to exactly one list, and the report says how many each list lost that way. Inflected
forms of one lemma are separate entries and may land in different splits; nothing is held
out by lemma.

The split is a function of the word alone: for its 64-bit hash ``h``, ``h mod 10`` is 0 for
test, 1 for dev and 2-9 for train, and within a split a language keeps the words of smallest
``h div 10`` up to its cap, so every language contributes the same number of words
(a uniform sample) and a word's split never depends on the other words.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.data.archives import ArchiveError, read_member
from pipeline.wordlang.sources import WordList

SPLITS = ("train", "dev", "test")
_RESIDUES = {"test": [0], "dev": [1], "train": list(range(2, 10))}  # of h mod 10
# German writes its nouns with a capital; every other language here writes them lowercase.
NOUNS_CAPITALISED = frozenset({"de"})


def read_entries(archive: Path, word_list: WordList) -> list[str]:
    """The list's non-empty lines, decoded strictly with the list's encoding."""
    content = read_member(archive, word_list.member)
    try:
        text = content.decode(word_list.encoding)
    except UnicodeDecodeError as err:
        raise ArchiveError(
            f"{archive}: {word_list.member} is not {word_list.encoding} text ({err}). The "
            "package is not the one pinned in pipeline/wordlang/sources.py; delete it and run "
            "`make word-language` again."
        ) from err
    return [line.strip() for line in text.splitlines() if line.strip()]


def entry_fate(entry: str, code: str, min_chars: int, max_chars: int) -> str | None:
    """Why ``entry`` is dropped, or None if its lowercase form is kept (see the module doc)."""
    if "'" in entry or "\u2019" in entry:
        return "apostrophe"
    if not entry.isalpha():
        return "not only letters"
    if len(entry) > 1 and not entry[1:].islower():
        return "acronym or mixed case"
    if entry[0].isupper() and code not in NOUNS_CAPITALISED:
        return "capitalised (proper noun)"
    if not min_chars <= len(entry) <= max_chars:
        return "length"
    return None


def clean(
    entries: Iterable[str], code: str, min_chars: int, max_chars: int
) -> tuple[set[str], Counter[str]]:
    """The distinct lowercase words kept, and how many entries each rule dropped."""
    kept: set[str] = set()
    dropped: Counter[str] = Counter()
    for entry in entries:
        reason = entry_fate(entry, code, min_chars, max_chars)
        if reason is None:
            kept.add(entry.lower())
        else:
            dropped[reason] += 1
    return kept, dropped


def drop_shared(
    lists: Mapping[str, set[str]],
) -> tuple[dict[str, set[str]], dict[str, int], dict[str, int]]:
    """Each list without the words another list holds, what each lost, and each pair's overlap.

    The shared words are the union of the pairwise intersections (set operations in C: the
    Polish list alone has four million entries).
    """
    codes = list(lists)
    overlaps = {
        f"{a}-{b}": lists[a] & lists[b] for i, a in enumerate(codes) for b in codes[i + 1 :]
    }
    shared = set().union(*overlaps.values())
    unique = {code: words - shared for code, words in lists.items()}
    lost = {code: len(lists[code]) - len(unique[code]) for code in codes}
    return unique, lost, {pair: len(words) for pair, words in overlaps.items()}


# FNV-1a over the UTF-8 bytes, then the splitmix64 finalizer so every bit of the result
# (the split takes it mod 10) depends on every byte.
_FNV_OFFSET, _FNV_PRIME = np.uint64(0xCBF29CE484222325), np.uint64(0x100000001B3)
_MIX = (np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53))


def word_hashes(words: Sequence[str]) -> np.ndarray:
    """uint64 hash of each word, a function of its bytes alone, computed column by column.

    Words are NUL-padded to the longest one's byte length; UTF-8 text has no NUL byte, so the
    padding is skipped and does not enter the hash.
    """
    data = np.array([w.encode("utf-8") for w in words], dtype=bytes)
    width = max(1, data.dtype.itemsize)
    columns = np.frombuffer(data.tobytes(), np.uint8).reshape(len(words), width)
    h = np.full(len(words), _FNV_OFFSET)
    with np.errstate(over="ignore"):  # uint64 arithmetic is mod 2^64 by design
        for column in columns.T:  # one column at a time: the whole matrix as uint64 is GBs
            byte = column.astype(np.uint64)
            h = np.where(byte != 0, (h ^ byte) * _FNV_PRIME, h)
        for multiplier in _MIX:
            h = (h ^ (h >> np.uint64(33))) * multiplier
    return h ^ (h >> np.uint64(33))


@dataclass(frozen=True)
class Examples:
    """Words and their language indices (positions in the stage's language list)."""

    words: list[str]
    labels: np.ndarray  # int32

    def __len__(self) -> int:
        return len(self.words)


def split(lists: Mapping[str, set[str]], caps: Mapping[str, int]) -> dict[str, Examples]:
    """Train, dev and test examples, at most ``caps[split]`` words per language each.

    Languages are labelled in the order of ``lists``; within a language, words come in hash
    order (training shuffles them).
    """
    chosen: dict[str, list[list[str]]] = {name: [] for name in SPLITS}
    for words in lists.values():
        ordered = list(words)
        rank, residue = np.divmod(word_hashes(ordered), np.uint64(10))
        for name in SPLITS:
            member = np.isin(residue, _RESIDUES[name])
            index = np.flatnonzero(member)[np.argsort(rank[member], kind="stable")]
            chosen[name].append([ordered[i] for i in index[: caps[name]]])
    return {
        name: Examples(
            [w for words in per_language for w in words],
            np.repeat(np.arange(len(lists), dtype=np.int32), [len(w) for w in per_language]),
        )
        for name, per_language in chosen.items()
    }
