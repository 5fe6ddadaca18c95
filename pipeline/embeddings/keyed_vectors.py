"""Trained word vectors with a gensim-like interface, independent of how they were trained.

word2vec and GloVe both end as a word list (most frequent first) and a float32 matrix, so
evaluation and export read one format. Cosine queries run on a cached unit-length copy of
the matrix with one matrix product per batch, never a Python loop over the vocabulary.
"""

from __future__ import annotations

import argparse
import functools
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from pipeline.artifacts import VECTORS_FILE, WORDS_FILE, embedding_dir, vectors_root
from pipeline.config import Paths
from pipeline.io import atomic_path

MODELS = ("word2vec", "glove")
_CHUNK = 10_000  # rows formatted at a time when writing text


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the ``k`` largest scores of each row, best first.

    ``argpartition`` then a sort of only ``k`` columns: linear in the vocabulary size.
    """
    scores = np.atleast_2d(scores)
    k = max(0, min(k, scores.shape[1]))
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k else np.zeros((len(scores), 0), int)
    values = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(values, order, axis=1)


class KeyedVectors:
    """``words[i]`` has vector ``vectors[i]``; words are ordered most frequent first."""

    def __init__(self, words: Sequence[str], vectors: np.ndarray) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise ValueError(
                f"need one vector row per word: {len(words)} words, matrix {vectors.shape}"
            )
        # The text formats hold one word per line and separate fields by whitespace.
        bad = [w for w in words if not w or any(c.isspace() for c in w)]
        if bad:
            raise ValueError(f"words must be non-empty and contain no whitespace: {bad[:5]!r}")
        self.words: list[str] = list(words)
        self.vectors = vectors
        self.index: dict[str, int] = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ValueError("duplicate words")

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def __getitem__(self, word: str) -> np.ndarray:
        return self.vectors[self.index[word]]

    def __repr__(self) -> str:
        return f"KeyedVectors({len(self)} words, dim {self.dim})"

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    @functools.cached_property
    def unit(self) -> np.ndarray:
        """Rows scaled to unit length; all-zero rows stay zero (cosine 0 with everything)."""
        norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
        return self.vectors / np.where(norms > 0, norms, 1).astype(np.float32)

    def indices(self, words: Iterable[str]) -> np.ndarray:
        """Row numbers of ``words``; raises ``KeyError`` naming the first unknown word."""
        try:
            return np.array([self.index[w] for w in words], dtype=np.int64)
        except KeyError as err:
            raise KeyError(f"word {err.args[0]!r} is not in the vocabulary") from None

    def most_similar(
        self,
        positive: Sequence[str],
        negative: Sequence[str] = (),
        topn: int = 10,
        restrict: int | None = None,
    ) -> list[tuple[str, float]]:
        """Words closest by cosine to sum(positive) - sum(negative) of unit vectors (3CosAdd).

        The query words themselves are never returned (gensim's behaviour, and the analogy
        test's rule). ``restrict`` searches only that many most frequent words.
        """
        pos, neg = self.indices(positive), self.indices(negative)
        query = self.unit[pos].sum(axis=0) - self.unit[neg].sum(axis=0)
        norm = np.linalg.norm(query)
        candidates = self.unit[:restrict]
        scores = candidates @ (query / norm if norm > 0 else query)
        excluded = np.unique(np.concatenate([pos, neg]))
        excluded = excluded[excluded < len(scores)]
        scores[excluded] = -np.inf
        idx, values = top_k(scores, min(topn, len(scores) - len(excluded)))
        return [(self.words[i], float(v)) for i, v in zip(idx[0], values[0], strict=True)]

    def similarity(self, word1: str, word2: str) -> float:
        """Cosine similarity of two words."""
        return float(self.unit[self.index[word1]] @ self.unit[self.index[word2]])

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write ``words.txt`` (one per line) and ``vectors.npy`` as one folder, atomically."""
        with atomic_path(directory, directory=True) as tmp:
            (tmp / WORDS_FILE).write_text("".join(w + "\n" for w in self.words), encoding="utf-8")
            np.save(tmp / VECTORS_FILE, self.vectors)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> KeyedVectors:
        directory = Path(directory)
        words_path, vectors_path = directory / WORDS_FILE, directory / VECTORS_FILE
        for path in (words_path, vectors_path):
            if not path.exists():
                raise FileNotFoundError(f"{path} is missing; run `make train-embeddings` first")
        words = words_path.read_text(encoding="utf-8").split("\n")[:-1]
        return cls(words, np.load(vectors_path))

    def save_word2vec_format(self, path: str | os.PathLike[str]) -> None:
        """The original word2vec text format: a ``count dim`` line, then ``word v1 .. vdim``.

        ``%.9g`` round-trips every float32 exactly, so a reload gives identical vectors.
        """
        row_format = "%s" + " %.9g" * self.dim + "\n"
        with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as f:
            f.write(f"{len(self)} {self.dim}\n")
            for start in range(0, len(self), _CHUNK):  # chunks bound the Python floats alive
                rows = self.vectors[start : start + _CHUNK].tolist()
                words = self.words[start : start + _CHUNK]
                f.writelines(row_format % (w, *r) for w, r in zip(words, rows, strict=True))

    @classmethod
    def load_word2vec_format(cls, path: str | os.PathLike[str]) -> KeyedVectors:
        """Read the text format written by this class, gensim or the original word2vec."""
        with open(path, encoding="utf-8") as f:
            header = f.readline().split()
            lines = f.read().splitlines()
        if len(header) != 2:
            raise ValueError(f"{path}: the first line must be '<count> <dim>', got {header}")
        count, dim = int(header[0]), int(header[1])
        rows = [line.split(maxsplit=1) for line in lines if line.strip()]
        words = [row[0] for row in rows]
        # One C-level parse of all numbers; a Python float per value would need gigabytes.
        numbers = " ".join(row[1] if len(row) > 1 else "" for row in rows)
        vectors = np.fromstring(numbers, dtype=np.float32, sep=" ")
        if len(words) != count or vectors.size != count * dim:
            raise ValueError(f"{path}: expected {count} lines of a word and {dim} numbers")
        vectors = vectors.reshape(count, dim)
        return cls(words, vectors)


def add_vectors_arg(parser: argparse.ArgumentParser) -> None:
    """``--vectors-dir``: lets a trial run keep off the vectors the other stages build on."""
    parser.add_argument(
        "--vectors-dir",
        type=Path,
        help="trained vectors, a folder per model (default: <data-dir>/processed/embeddings)",
    )


def load_trained(
    paths: Paths, models: Sequence[str] = MODELS, vectors_dir: Path | None = None
) -> dict[str, KeyedVectors]:
    """The vectors of every model in ``models`` that has been trained; at least one must be."""
    present = [m for m in models if (embedding_dir(paths, m, vectors_dir) / VECTORS_FILE).exists()]
    if not present:
        raise FileNotFoundError(
            f"no trained embeddings ({', '.join(models)}) under "
            f"{vectors_root(paths, vectors_dir)}; run `make train-embeddings` first"
        )
    return {m: KeyedVectors.load(embedding_dir(paths, m, vectors_dir)) for m in present}
