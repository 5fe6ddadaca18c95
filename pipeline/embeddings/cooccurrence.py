"""GloVe's co-occurrence matrix: X[i, j] = sum of 1/d over the times word j is d <= window
tokens away from word i in the same sentence, counted in both directions (symmetric), as the
reference ``cooccur`` tool does.

The corpus has ~14M tokens, so a window of 5 yields ~70M ordered pairs: far too many for a
Python loop, and a dense V x V array (V = 65k) would need 17 GB. Instead the token array is
cut into chunks of positions; in each chunk every distance d is one vectorized slice, each
pair becomes one int64 key, and a single ``np.sort`` + run-length pass sums the duplicates.
The chunks' sorted partial sums are then added as sparse matrices, which bounds the memory to
one chunk's pairs plus the result. :func:`load_or_count` caches the matrix on disk, because
counting takes tens of seconds and GloVe reruns (other dims, epochs) reuse it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from pipeline.embeddings.corpus import Corpus
from pipeline.io import atomic_path

log = logging.getLogger("pipeline.embeddings.cooccurrence")

CHUNK_TOKENS = 1 << 21  # positions per chunk: ~10M pairs (80 MB of keys) at window 5
_CACHE_VERSION = b"cooccurrence-v1"  # bump when the counting rule changes


def _chunk_counts(corpus: Corpus, window: int, start: int, stop: int) -> sp.csr_matrix:
    """Left-to-right pair weights for the pairs whose first token is in positions [start, stop).

    Each pair (i at p, j at p + d) is encoded as ``(i * V + j) * (window + 1) + d`` so that one
    plain sort (no argsort, no separate weight array) groups equal (pair, d); the run lengths
    divided by d are the weights, and the pairs come out sorted for the CSR matrix.
    """
    vocab_size = len(corpus.words)
    tokens, splits = corpus.tokens, corpus.row_splits
    positions = np.arange(start, stop, dtype=np.int64)
    sentence_end = splits[np.searchsorted(splits, positions, side="right")]
    room = sentence_end - positions  # tokens from p to its sentence's end, p included
    left_words = tokens[start:stop].astype(np.int64) * vocab_size
    keys = []
    for d in range(1, window + 1):
        offsets = np.flatnonzero(room > d)  # partners beyond the sentence end are excluded
        pairs = left_words[offsets] + tokens[start + d + offsets]
        keys.append(pairs * (window + 1) + d)
    key = np.sort(np.concatenate(keys))
    if key.size == 0:
        return sp.csr_matrix((vocab_size, vocab_size), dtype=np.float64)
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    runs = np.diff(np.r_[first, key.size])
    pair, distance = np.divmod(key[first], window + 1)
    weights = runs / distance
    # Equal pairs with different distances are adjacent: sum them into one cell.
    first_pair = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    values = np.add.reduceat(weights, first_pair)
    rows, cols = np.divmod(pair[first_pair], vocab_size)
    indptr = np.searchsorted(rows, np.arange(vocab_size + 1))
    return sp.csr_matrix((values, cols.astype(np.int32), indptr), shape=(vocab_size, vocab_size))


def count(corpus: Corpus, window: int, chunk_tokens: int = CHUNK_TOKENS) -> sp.coo_matrix:
    """The symmetric co-occurrence matrix of ``corpus``: float32 weights, canonical COO.

    Entries are sorted by (row, column) without duplicates. A word next to itself adds 1/d
    in both directions, so the diagonal gets 2/d, as in the reference implementation.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    vocab_size = len(corpus.words)
    began = time.perf_counter()
    parts = [
        _chunk_counts(corpus, window, start, min(start + chunk_tokens, corpus.tokens.size))
        for start in range(0, corpus.tokens.size, chunk_tokens)
    ]
    while len(parts) > 1:  # pairwise sums: each is a linear merge of sorted rows
        merged = [parts[k] + parts[k + 1] for k in range(0, len(parts) - 1, 2)]
        parts = merged + parts[2 * len(merged) :]
    forward = parts[0] if parts else sp.csr_matrix((vocab_size, vocab_size), dtype=np.float64)
    matrix = (forward + forward.T.tocsr()).tocoo()  # canonical CSR: sorted, no duplicates
    result = sp.coo_matrix(
        (
            matrix.data.astype(np.float32),
            (matrix.row.astype(np.int32), matrix.col.astype(np.int32)),
        ),
        shape=(vocab_size, vocab_size),
    )
    log.info(
        "co-occurrence: %d tokens, window %d: %d nonzeros (%.1f MB) in %.1f s",
        corpus.tokens.size,
        window,
        result.nnz,
        result.nnz * 12 / 1e6,
        time.perf_counter() - began,
    )
    return result


def fingerprint(corpus: Corpus, window: int) -> str:
    """A digest of everything the matrix depends on, so a stale cache is never reused."""
    digest = hashlib.sha256(_CACHE_VERSION)
    digest.update(np.array([window, len(corpus.words)], dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(corpus.tokens, dtype=np.int32).tobytes())
    digest.update(np.ascontiguousarray(corpus.row_splits, dtype=np.int64).tobytes())
    return digest.hexdigest()


def load_or_count(corpus: Corpus, window: int, cache_path: Path) -> sp.coo_matrix:
    """:func:`count`, reusing ``cache_path`` if it was written for this exact corpus and window."""
    key = fingerprint(corpus, window)
    cache_path = Path(cache_path)
    if cache_path.exists():
        with np.load(cache_path) as cached:
            if str(cached["fingerprint"]) == key:
                vocab_size = len(corpus.words)
                matrix = sp.coo_matrix(
                    (cached["values"], (cached["rows"], cached["cols"])),
                    shape=(vocab_size, vocab_size),
                )
                log.info("co-occurrence: %d nonzeros from %s", matrix.nnz, cache_path)
                return matrix
        log.info("co-occurrence: %s is for another corpus or window; recounting", cache_path)
    matrix = count(corpus, window)
    # A file object, because np.savez would append ".npz" to the temporary's name.
    with atomic_path(cache_path) as tmp, tmp.open("wb") as f:
        np.savez(f, fingerprint=key, rows=matrix.row, cols=matrix.col, values=matrix.data)
    return matrix
