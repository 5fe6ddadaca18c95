"""GloVe: co-occurrence counting and caching, the weighting function, AdaGrad, training."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from pipeline.embeddings import cooccurrence, glove
from pipeline.embeddings.corpus import Corpus


def make_corpus(sentences: list[list[int]], vocab_size: int) -> Corpus:
    tokens = np.array([t for s in sentences for t in s], dtype=np.int32)
    row_splits = np.concatenate([[0], np.cumsum([len(s) for s in sentences])]).astype(np.int64)
    counts = np.bincount(tokens, minlength=vocab_size).astype(np.int64)
    return Corpus([f"w{i}" for i in range(vocab_size)], counts, tokens, row_splits)


def brute_force(sentences: list[list[int]], vocab_size: int, window: int) -> np.ndarray:
    x = np.zeros((vocab_size, vocab_size))
    for s in sentences:
        for p, i in enumerate(s):
            for q in range(max(0, p - window), min(len(s), p + window + 1)):
                if q != p:
                    x[i, s[q]] += 1 / abs(q - p)
    return x


def random_sentences(rng: np.random.Generator, n: int, vocab_size: int) -> list[list[int]]:
    return [list(rng.integers(0, vocab_size, rng.integers(1, 12))) for _ in range(n)]


def test_counts_hand_checked() -> None:
    # Sentence 1: 0-1 at distance 1, 1-2 at 1, 0-2 at 2. Sentence 2: 2-0 at 1. Across the
    # boundary (2|2 at distance 1, 1|2 and 2|0 at distance 2) nothing is counted.
    x = cooccurrence.count(make_corpus([[0, 1, 2], [2, 0]], 3), window=2)
    expected = [[0, 1, 0.5 + 1], [1, 0, 1], [0.5 + 1, 1, 0]]
    np.testing.assert_allclose(x.toarray(), expected)
    assert x.dtype == np.float32 and x.shape == (3, 3)


def test_counts_diagonal_and_window_limit() -> None:
    # 0 next to 0 counts in both directions (2/1); 0-1 at distances 1 and 2; 0 and 2 are 3
    # apart (beyond the window of 2) once and 2 apart once.
    x = cooccurrence.count(make_corpus([[0, 0, 1, 2]], 3), window=2).toarray()
    assert x[0, 0] == 2.0
    assert x[0, 1] == pytest.approx(1 + 0.5)
    assert x[0, 2] == pytest.approx(0.5)
    assert x[1, 2] == 1.0
    np.testing.assert_array_equal(x, x.T)


@pytest.mark.parametrize("window", [1, 3])
def test_counts_match_brute_force_for_any_chunking(window: int) -> None:
    rng = np.random.default_rng(0)
    sentences = random_sentences(rng, 60, 9)
    corpus = make_corpus(sentences, 9)
    expected = brute_force(sentences, 9, window)
    for chunk_tokens in (1, 7, 1 << 20):
        x = cooccurrence.count(corpus, window, chunk_tokens=chunk_tokens)
        np.testing.assert_allclose(x.toarray(), expected, rtol=1e-6)
        # Canonical: row-major order without duplicates, which training and the cache rely on.
        keys = x.row.astype(np.int64) * 9 + x.col
        assert np.all(np.diff(keys) > 0)


def test_cache_hit_and_invalidation(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cooc.npz"
    sentences = [[0, 1, 2], [2, 0, 3]]
    first = cooccurrence.load_or_count(make_corpus(sentences, 4), 2, cache)
    assert cache.exists() and not list(tmp_path.glob(".*tmp"))

    real_count = cooccurrence.count
    calls = []

    def counting(*args, **kwargs):
        calls.append(args)
        return real_count(*args, **kwargs)

    monkeypatch.setattr(cooccurrence, "count", counting)
    again = cooccurrence.load_or_count(make_corpus(sentences, 4), 2, cache)
    assert not calls
    np.testing.assert_array_equal(again.toarray(), first.toarray())

    changed = cooccurrence.load_or_count(make_corpus([[0, 1, 3], [2, 0, 3]], 4), 2, cache)
    assert len(calls) == 1
    assert changed.toarray()[1, 3] == 1.0 and first.toarray()[1, 3] == 0.0
    cooccurrence.load_or_count(make_corpus([[0, 1, 3], [2, 0, 3]], 4), 1, cache)
    assert len(calls) == 2  # another window is another matrix


def test_weight_function() -> None:
    np.testing.assert_allclose(
        glove.weight(np.array([100.0, 200.0, 50.0, 0.0]), 100.0, 0.75),
        [1.0, 1.0, 0.5**0.75, 0.0],
    )


def batch_of(rows: list[int], cols: list[int], values: list[float], vocab_size: int):
    import tensorflow as tf

    values_np = np.array(values)
    cells = (
        tf.constant(rows, tf.int32),
        tf.constant(cols, tf.int32),
        tf.constant(np.log(values_np), tf.float32),
        tf.constant(glove.weight(values_np, 100.0, 0.75), tf.float32),
    )
    return (*cells, *glove.distinct_rows(cells[0], cells[1], vocab_size))


def test_step_decreases_loss() -> None:
    x = sp.random(20, 20, density=0.5, random_state=2, format="coo")
    x.data = x.data * 50 + 0.5
    model = glove.GloVe(20, 8, learning_rate=0.05, seed=0)
    batch = batch_of(list(x.row), list(x.col), list(x.data), 20)
    before = float(model.loss(*batch[:4]))
    model.step(*batch)
    assert float(model.loss(*batch[:4])) < before


def test_adagrad_matches_the_formula() -> None:
    # Two cells sharing word 0: its gradient rows are summed before AdaGrad squares them.
    vocab, dim, lr = 2, 3, 0.05
    model = glove.GloVe(vocab, dim, learning_rate=lr, seed=3)
    p = model.params.numpy().astype(np.float64)
    acc = model.accumulator.numpy().astype(np.float64)
    cells = [(0, 1, 2.0), (0, 0, 150.0)]
    grad = np.zeros_like(p)
    for i, j, x in cells:
        w, c = p[i], p[vocab + j]
        diff = w[:dim] @ c[:dim] + w[dim] + c[dim] - np.log(x)
        e = 2 * glove.weight(x, 100.0, 0.75) * diff
        grad[i] += e * np.r_[c[:dim], 1.0]
        grad[vocab + j] += e * np.r_[w[:dim], 1.0]
    acc += grad**2
    expected = p - lr * grad / np.sqrt(acc)

    rows, cols, values = zip(*cells, strict=True)
    model.step(*batch_of(list(rows), list(cols), list(values), vocab))
    np.testing.assert_allclose(model.accumulator.numpy(), acc, rtol=1e-5)
    np.testing.assert_allclose(model.params.numpy(), expected, rtol=1e-5, atol=1e-7)


def topic_corpus() -> Corpus:
    """Three topics of five words; a sentence draws its words from one topic only."""
    rng = np.random.default_rng(0)
    topics = [list(range(k * 5, k * 5 + 5)) for k in range(3)]
    sentences = [list(rng.choice(topics[k % 3], size=rng.integers(3, 9))) for k in range(300)]
    return make_corpus(sentences, 15)


def test_training_puts_related_words_nearer() -> None:
    x = cooccurrence.count(topic_corpus(), window=3)
    vectors, _ = glove.train_glove(x, dim=16, epochs=10, batch_size=32, seed=0, progress=False)
    assert vectors.shape == (15, 16) and vectors.dtype == np.float32
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cos = unit @ unit.T
    topic = np.arange(15) // 5
    related = (topic[:, None] == topic[None, :]) & ~np.eye(15, dtype=bool)
    unrelated = topic[:, None] != topic[None, :]
    # The initial vectors are random (cosines near 0); training must pull each topic together.
    assert cos[related].mean() > 0.9 and cos[unrelated].mean() < 0.5
    assert cos[related].min() > cos[unrelated].max()


def test_resume_continues_from_the_last_epoch(tmp_path) -> None:
    x = cooccurrence.count(make_corpus(random_sentences(np.random.default_rng(4), 40, 12), 12), 2)
    kwargs = {"dim": 4, "batch_size": 16, "seed": 1, "progress": False}
    straight, _ = glove.train_glove(x, epochs=3, **kwargs)

    seen: list[tuple[int, float]] = []
    ckpt = tmp_path / "ckpt"
    glove.train_glove(
        x, epochs=2, checkpoint_dir=ckpt, callback=lambda *a: seen.append(a), **kwargs
    )
    resumed, _ = glove.train_glove(
        x, epochs=3, checkpoint_dir=ckpt, callback=lambda *a: seen.append(a), **kwargs
    )
    assert [epoch for epoch, _ in seen] == [1, 2, 3]
    assert seen[2][1] < seen[0][1]
    np.testing.assert_allclose(resumed, straight, rtol=1e-5, atol=1e-6)

    finished, _ = glove.train_glove(
        x, epochs=3, checkpoint_dir=ckpt, callback=lambda *a: seen.append(a), **kwargs
    )
    assert len(seen) == 3  # nothing left to train
    np.testing.assert_allclose(finished, resumed)
