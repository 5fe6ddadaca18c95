"""word2vec SGNS: gradients, pair statistics, negatives, subsampling, training, resume."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from pipeline.embeddings import word2vec
from pipeline.embeddings.corpus import Corpus, from_stream
from pipeline.embeddings.word2vec import SGNS, SGNSConfig
from pipeline.text import EOS_ID, Vocabulary


def corpus_of(sentences: list[list[int]], vocab_size: int | None = None) -> Corpus:
    tokens = np.concatenate([np.asarray(s, np.int32) for s in sentences])
    splits = np.concatenate([[0], np.cumsum([len(s) for s in sentences])]).astype(np.int64)
    size = vocab_size or int(tokens.max()) + 1
    counts = np.bincount(tokens, minlength=size).astype(np.int64)
    return Corpus([f"w{i}" for i in range(size)], counts, tokens, splits)


def all_pairs(corpus: Corpus, config: SGNSConfig) -> np.ndarray:
    pairs = [np.stack([c.numpy(), o.numpy()], 1) for c, o, _ in
             word2vec.pair_dataset(corpus, config)]  # fmt: skip
    return np.concatenate(pairs)


def test_corpus_drops_unknown_and_out_of_vocabulary_words_and_keeps_sentences():
    vocab = Vocabulary.build({"a": 5, "b": 4, "c": 3})
    corpus = from_stream(np.array([4, 5, 1, EOS_ID, 1, EOS_ID, 6, 4, EOS_ID]), vocab, 2)
    assert corpus.words == ["a", "b"]
    assert corpus.tokens.tolist() == [0, 1, 0] and corpus.row_splits.tolist() == [0, 2, 3]
    assert corpus.counts.tolist() == [2, 1]


def reference_loss(model: SGNS, centers, contexts, negatives) -> tf.Tensor:
    """The SGNS objective written directly, differentiated by the tape."""
    e = tf.gather(model.input, centers)
    positive = tf.reduce_sum(e * tf.gather(model.output, contexts), -1)
    negative = tf.einsum("bd,bkd->bk", e, tf.gather(model.output, negatives))
    return -tf.reduce_sum(tf.math.log_sigmoid(positive)) - tf.reduce_sum(
        tf.math.log_sigmoid(-negative)
    )


def test_closed_form_gradients_equal_autodiff():
    model = SGNS(7, 4, word2vec.negative_cdf(np.ones(7)), seed=1)
    model.output.assign(np.random.default_rng(2).normal(size=(7, 4)).astype(np.float32))
    centers, contexts = tf.constant([0, 3, 3]), tf.constant([1, 2, 0])
    negatives = tf.constant([[4, 5], [6, 1], [0, 0]])
    with tf.GradientTape() as tape:
        loss = reference_loss(model, centers, contexts, negatives)
    want_in, want_out = tape.gradient(loss, [model.input, model.output])
    grad_e, grad_theta, mean_loss = model.gradients(centers, contexts, negatives)
    rows = tf.concat([contexts, tf.reshape(negatives, [-1])], 0)
    got_in = tf.math.unsorted_segment_sum(grad_e, centers, 7)
    got_out = tf.math.unsorted_segment_sum(grad_theta, rows, 7)
    np.testing.assert_allclose(got_in, tf.convert_to_tensor(want_in), atol=1e-6)
    np.testing.assert_allclose(got_out, tf.convert_to_tensor(want_out), atol=1e-6)
    assert float(mean_loss) == pytest.approx(float(loss) / 3, rel=1e-6)


def test_shared_negatives_equal_autodiff_with_each_pair_given_its_group():
    """Groups of 2 pairs share negatives; the last group is half full (5 pairs, 3 groups)."""
    model = SGNS(9, 4, word2vec.negative_cdf(np.ones(9)), seed=1)
    model.output.assign(np.random.default_rng(3).normal(size=(9, 4)).astype(np.float32))
    centers, contexts = tf.constant([0, 3, 3, 8, 5]), tf.constant([1, 2, 0, 7, 7])
    shared = tf.constant([[4, 5], [6, 1], [0, 2]])
    per_pair = tf.gather(shared, [0, 0, 1, 1, 2])
    with tf.GradientTape() as tape:
        loss = reference_loss(model, centers, contexts, per_pair)
    want_in, want_out = tape.gradient(loss, [model.input, model.output])
    grad_e, grad_theta, mean_loss = model.gradients(centers, contexts, shared, scale=0.5)
    rows = tf.concat([contexts, tf.reshape(shared, [-1])], 0)
    got_in = tf.math.unsorted_segment_sum(grad_e, centers, 9)
    got_out = tf.math.unsorted_segment_sum(grad_theta, rows, 9)
    np.testing.assert_allclose(got_in, 0.5 * tf.convert_to_tensor(want_in), atol=1e-6)
    np.testing.assert_allclose(got_out, 0.5 * tf.convert_to_tensor(want_out), atol=1e-6)
    assert float(mean_loss) == pytest.approx(float(loss) / 5, rel=1e-6)


def test_step_applies_sgd_to_the_gathered_rows():
    model = SGNS(5, 3, word2vec.negative_cdf(np.array([0, 0, 0, 0, 1.0])), seed=0)
    model.output.assign(tf.ones([5, 3]))
    before_in, before_out = model.input.numpy(), model.output.numpy()
    model.step(tf.constant([1]), tf.constant([2]), tf.constant(0.5), 2)  # negatives: word 4
    e = before_in[1]
    g_pos = 1 / (1 + np.exp(-e.sum())) - 1
    g_neg = 1 / (1 + np.exp(-e.sum()))
    np.testing.assert_allclose(model.input.numpy()[1], e - 0.5 * (g_pos + 2 * g_neg), rtol=1e-5)
    np.testing.assert_allclose(model.output.numpy()[2], 1 - 0.5 * g_pos * e, rtol=1e-5)
    np.testing.assert_allclose(model.output.numpy()[4], 1 - 0.5 * 2 * g_neg * e, rtol=1e-5)
    untouched = [0, 2, 3, 4]
    np.testing.assert_array_equal(model.input.numpy()[untouched], before_in[untouched])
    np.testing.assert_array_equal(model.output.numpy()[[0, 1, 3]], before_out[[0, 1, 3]])


def test_pairs_stay_in_window_and_sentence_with_a_dynamic_window():
    tf.random.set_seed(0)
    # Word ids encode (sentence, position): sentence s holds 10 * s .. 10 * s + 9.
    sentences = [list(range(10 * s, 10 * s + 10)) for s in range(2000)]
    pairs = all_pairs(corpus_of(sentences), SGNSConfig(window=3, subsample=0))
    distance = np.abs(pairs[:, 0] - pairs[:, 1])
    assert distance.min() == 1 and distance.max() == 3
    assert (pairs[:, 0] // 10 == pairs[:, 1] // 10).all()  # never across sentences
    # A center's window is uniform in 1..3, so offset d is used with probability (4 - d) / 3,
    # and a 10-word sentence has 2 * (10 - d) ordered pairs at distance d.
    expected = np.array([(4 - d) / 3 * (10 - d) for d in (1, 2, 3)])
    share = np.bincount(distance, minlength=4)[1:] / len(distance)
    np.testing.assert_allclose(share, expected / expected.sum(), atol=0.01)


def test_subsampling_keeps_rare_words_and_thins_frequent_ones():
    counts = np.array([1_000_000, 1_000, 10])
    keep = word2vec.keep_probabilities(counts, 1e-3)
    threshold = 1e-3 * counts.sum()
    assert keep[2] == 1.0 and keep[1] == 1.0
    assert keep[0] == pytest.approx((np.sqrt(counts[0] / threshold) + 1) * threshold / counts[0])
    tf.random.set_seed(1)
    rng = np.random.default_rng(0)
    sentences = [list(rng.choice(3, size=50, p=[0.9, 0.09, 0.01])) for _ in range(400)]
    corpus = corpus_of(sentences)
    kept = word2vec.keep_probabilities(corpus.counts, 0.05)
    pairs = all_pairs(corpus, SGNSConfig(window=1, subsample=0.05))
    centers = np.bincount(pairs[:, 0], minlength=3)
    # A kept word is a center once per kept neighbour, and neighbours are kept independently
    # of it, so centers per occurrence scale with the word's own P(keep).
    ratio = (centers[0] / corpus.counts[0]) / (centers[2] / corpus.counts[2])
    assert kept[0] < 0.5 and kept[2] == 1.0
    assert ratio == pytest.approx(kept[0] / kept[2], rel=0.1)


def test_negatives_follow_unigram_to_the_three_quarters():
    counts = np.array([1, 16, 81, 0])
    model = SGNS(4, 2, word2vec.negative_cdf(counts), seed=0)
    tf.random.set_seed(0)
    draws = model.sample_negatives(tf.constant([200_000, 1])).numpy().ravel()
    expected = counts**0.75 / (counts**0.75).sum()
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / draws.size, expected, atol=0.005)


def synthetic_topics(seed: int = 0) -> Corpus:
    """Two topics of 10 words; sentences draw from one topic, so topic mates co-occur."""
    rng = np.random.default_rng(seed)
    sentences = [list(rng.integers(0, 10, 12) + 10 * (s % 2)) for s in range(1500)]
    return corpus_of(sentences)


def cosine(vectors: np.ndarray) -> np.ndarray:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return unit @ unit.T


def test_training_puts_related_words_nearer_and_resumes(tmp_path):
    corpus = synthetic_topics()
    config = SGNSConfig(dim=16, window=3, epochs=3, batch_size=512, subsample=0)
    seen = []
    vectors, stats = word2vec.train(corpus, config, tmp_path / "ckpt",
                                    on_epoch=lambda e, s: seen.append((e, s["loss"])))  # fmt: skip
    sim = cosine(vectors)
    same = (np.arange(20)[:, None] // 10) == (np.arange(20)[None, :] // 10)
    off_diagonal = ~np.eye(20, dtype=bool)
    assert sim[same & off_diagonal].mean() > sim[~same].mean() + 0.5
    assert [e for e, _ in seen] == [0, 1, 2] and seen[-1][1] < seen[0][1]
    assert stats["pairs"] > 0 and stats["words_per_second"] > 0
    # A finished run's checkpoint resumes at the end: nothing left to train, and its stats
    # still describe the whole run.
    again, stats_again = word2vec.train(corpus, config, tmp_path / "ckpt")
    np.testing.assert_array_equal(again, vectors)
    assert stats_again["resumed_after"] == 3 and stats_again["pairs"] == stats["pairs"]
    # An interrupted run (2 of 3 epochs) continues with the third only.
    two = SGNSConfig(**{**config.__dict__, "epochs": 2})
    word2vec.train(corpus, two, tmp_path / "partial")
    resumed = []
    word2vec.train(corpus, config, tmp_path / "partial", on_epoch=lambda e, s: resumed.append(e))
    assert resumed == [2]


def test_learning_rate_decays_linearly_over_the_run():
    def rate(epoch: float, position: float) -> float:
        schedule = tf.constant([0.025, 0.0001, epoch, 2.0])
        return float(word2vec.linear_decay(schedule, tf.constant(position)))

    assert rate(0, 0.0) == pytest.approx(0.025, rel=1e-5)
    assert rate(1, 0.0) == pytest.approx(0.01255, rel=1e-5)  # half way through two epochs
    assert rate(1, 1.0) == pytest.approx(0.0001, rel=1e-5)


def test_run_reports_steps_pairs_and_progress():
    model = SGNS(3, 2, word2vec.negative_cdf(np.ones(3)), seed=0)
    corpus = corpus_of([[0, 1, 2, 0, 1, 2]])
    config = SGNSConfig(window=1, subsample=0, batch_size=2)
    schedule = tf.constant([0.025, 0.0001, 0.0, 1.0])
    iterator = iter(word2vec.pair_dataset(corpus, config))
    loss, done, pairs, furthest = model.run(iterator, tf.constant(3), schedule, 1)
    assert int(done) == 3 and int(pairs) == 6 and float(loss) > 0
    loss, done, pairs, furthest = model.run(iterator, tf.constant(100), schedule, 1)
    assert int(done) == 2 and int(pairs) == 4  # 10 pairs in all, then the data ends
    assert float(furthest) <= 5 / 6
