"""The training text both embedding models read: word indices in sentences, and word counts.

It comes from ``make tokenize``'s id stream. Words outside the embedded vocabulary (``<unk>``,
ranks beyond ``max_vocab``) are removed rather than kept as UNK, as gensim does with words
below ``min_count``: a frequent pseudo-word would crowd every window. Sentences stay
separate, so no window spans two unrelated lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline import artifacts
from pipeline.config import Paths
from pipeline.text import EOS_ID, Vocabulary
from pipeline.text.vocab import RESERVED


@dataclass(frozen=True)
class Corpus:
    words: list[str]  # embedded words, most frequent first; word i is row i of a matrix
    counts: np.ndarray  # int64 occurrences of each word in ``tokens``
    tokens: np.ndarray  # int32 word indices, sentences back to back
    row_splits: np.ndarray  # int64; sentence s is tokens[row_splits[s]:row_splits[s + 1]]

    @property
    def num_sentences(self) -> int:
        return len(self.row_splits) - 1


def from_stream(ids: np.ndarray, vocab: Vocabulary, max_vocab: int) -> Corpus:
    """Build a :class:`Corpus` from an EOS-terminated id stream in ``vocab``'s id space."""
    ids = np.asarray(ids)
    if ids.size == 0 or ids[-1] != EOS_ID:
        raise ValueError("the corpus id stream must be non-empty and end with EOS")
    first, limit = len(RESERVED), min(len(vocab), len(RESERVED) + max_vocab)
    is_eos = ids == EOS_ID
    sentence = np.cumsum(is_eos) - is_eos  # sentence number of every position
    keep = (ids >= first) & (ids < limit)
    tokens = (ids[keep] - first).astype(np.int32)
    lengths = np.bincount(sentence[keep], minlength=int(is_eos.sum()))
    lengths = lengths[lengths > 0]  # sentences left empty carry no context
    row_splits = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    counts = np.bincount(tokens, minlength=limit - first).astype(np.int64)
    return Corpus(list(vocab.tokens[first:limit]), counts, tokens, row_splits)


def load(paths: Paths, max_vocab: int) -> Corpus:
    ids_path: Path = paths.processed / artifacts.CORPUS_IDS
    if not ids_path.exists():
        from pipeline.userdata.corpus import missing_corpus

        raise FileNotFoundError(missing_corpus(paths, ids_path))
    vocab = Vocabulary.load(paths.processed / artifacts.CORPUS_VOCAB)
    return from_stream(np.load(ids_path), vocab, max_vocab)
