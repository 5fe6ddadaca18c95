"""Word-embedding evaluation sets shipped in gensim's wheel (its own test data).

Parsed into one plain layout (analogies: section, a, b, c, d; similarity: word1, word2,
score) so the evaluation code never deals with the files' header conventions.
"""

from __future__ import annotations

from typing import NamedTuple

GENSIM_DATA = "gensim/test/test_data/"
ANALOGY_MEMBER = GENSIM_DATA + "questions-words.txt"
SIMILARITY_MEMBERS = {
    "wordsim353": GENSIM_DATA + "wordsim353.tsv",
    "simlex999": GENSIM_DATA + "simlex999.txt",
}


class Analogy(NamedTuple):
    section: str
    a: str
    b: str
    c: str
    d: str


class SimilarityPair(NamedTuple):
    word1: str
    word2: str
    score: float


def parse_analogies(text: str) -> list[Analogy]:
    """Google analogy questions: ``: section`` headers, then ``a b c d`` lines."""
    section = None
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith(":"):
            section = line[1:].strip()
            continue
        words = line.split()
        if section is None or len(words) != 4:
            raise ValueError(f"analogy line {number} is malformed: {line!r}")
        out.append(Analogy(section, *words))
    return out


def parse_similarity(text: str) -> list[SimilarityPair]:
    """Tab-separated ``word1 word2 score`` with ``#`` header lines."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        try:
            out.append(SimilarityPair(fields[0], fields[1], float(fields[2])))
        except (IndexError, ValueError) as err:
            raise ValueError(f"similarity line {number} is malformed: {line!r}") from err
    return out
