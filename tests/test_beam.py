"""Greedy decoding and beam search on toy models whose best outputs are known."""

import itertools
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from pipeline.rnn import KINDS
from pipeline.text import BOS_ID, EOS_ID, PAD_ID
from pipeline.translate.beam import (
    _best_tokens,
    _block_size,
    beam_search,
    greedy_decode,
    length_penalty_fn,
    score_targets,
)
from pipeline.translate.codec import max_target_len
from pipeline.translate.model import Translator

# --- a bigram "model": P(next | prev) from a fixed table --------------------------------


def bigram_table(rows: dict[int, dict[int, float]], vocab: int = 10) -> np.ndarray:
    """P(next | prev) (V, V): the given rows, a little mass elsewhere, other rows uniform."""
    table = np.full((vocab, vocab), 1e-4)
    for prev, probs in rows.items():
        for token, p in probs.items():
            table[prev, token] = p
    return table / table.sum(axis=1, keepdims=True)


def bigram_model(table: np.ndarray):
    """(encode_fn, step_fn) whose logits depend on the previous token only."""
    logits = tf.constant(np.log(table), tf.float32)

    def encode(source_ids):
        batch, length = tf.shape(source_ids)[0], tf.shape(source_ids)[1]
        mask = tf.not_equal(source_ids, PAD_ID)
        return tf.zeros([batch, length, 1]), mask, tf.zeros([batch, 1])

    def step(prev, state, memory, mask, sentence):
        weights = tf.cast(tf.gather(mask, sentence), tf.float32)
        weights /= tf.reduce_sum(weights, axis=1, keepdims=True)
        return tf.gather(logits, prev), state + 1.0, weights

    return encode, step


def sequence_log_prob(table: np.ndarray, tokens: list[int]) -> float:
    return sum(
        math.log(table[prev, token]) for prev, token in itertools.pairwise([BOS_ID, *tokens])
    )


SOURCE = tf.constant([[5, 6, 7]], tf.int32)
A, B = 4, 5

# Greedy takes A (0.55) then EOS (0.4): 0.22. B then EOS is 0.45 * 0.9 = 0.405.
GREEDY_TRAP = bigram_table(
    {BOS_ID: {A: 0.55, B: 0.45}, A: {EOS_ID: 0.4, A: 0.35, B: 0.25}, B: {EOS_ID: 0.9, A: 0.05}}
)

# Short "4 EOS" beats long "5 6 7 EOS" on log P, but not per token; 9 is a weak detour.
SHORT_LONG = bigram_table(
    {
        BOS_ID: {4: 0.7, 5: 0.3},
        4: {EOS_ID: 0.55, 9: 0.45},
        5: {6: 0.95, 9: 0.05},
        6: {7: 0.95, 9: 0.05},
        7: {EOS_ID: 0.95, 9: 0.05},
        9: {EOS_ID: 0.6, 9: 0.4},
    }
)
SHORT, LONG = [4, EOS_ID], [5, 6, 7, EOS_ID]


def test_beam_finds_what_greedy_misses():
    encode, step = bigram_model(GREEDY_TRAP)
    greedy = greedy_decode(encode, step, SOURCE, max_len=10)
    assert greedy["tokens"].numpy().tolist() == [[A, EOS_ID]]
    assert float(greedy["scores"][0]) == pytest.approx(math.log(0.55 * 0.4), rel=1e-3)
    beam = beam_search(encode, step, SOURCE, beam_size=2, max_len=10)
    assert beam["tokens"].numpy().tolist() == [[[B, EOS_ID]]]
    assert float(beam["log_probs"][0, 0]) == pytest.approx(
        sequence_log_prob(GREEDY_TRAP, [B, EOS_ID])
    )
    assert beam["lengths"].numpy().tolist() == [[2]]


@pytest.mark.parametrize("n_best", [1, 3])  # with 1, the early stop must not cut LONG off
@pytest.mark.parametrize(("alpha", "best"), [(0.0, SHORT), (1.0, LONG)])
def test_alpha_trades_short_for_long(alpha, best, n_best):
    short, long = sequence_log_prob(SHORT_LONG, SHORT), sequence_log_prob(SHORT_LONG, LONG)
    assert short > long and short / 2 < long / 4  # the premise, by hand
    encode, step = bigram_model(SHORT_LONG)
    out = beam_search(encode, step, SOURCE, beam_size=3, alpha=alpha, max_len=10, n_best=n_best)
    tokens, scores = out["tokens"].numpy()[0], out["scores"].numpy()[0]
    assert tokens[0][: len(best)].tolist() == best
    assert np.all(np.diff(scores) <= 0)  # n-best sorted, best first
    expected = (short if best == SHORT else long) / len(best) ** alpha
    assert scores[0] == pytest.approx(expected, rel=1e-5)
    # All finished with EOS; the lengths count it and PAD follows it.
    for row, length in zip(tokens, out["lengths"].numpy()[0], strict=True):
        assert row[length - 1] == EOS_ID and not row[length:].any()
        assert EOS_ID not in row[: length - 1]


def test_gnmt_penalty():
    assert length_penalty_fn("gnmt", 0.6)(tf.constant(3)).numpy() == pytest.approx((8 / 6) ** 0.6)
    assert length_penalty_fn("power", 0.0)(tf.constant(7)).numpy() == 1.0
    with pytest.raises(ValueError, match="alpha"):
        length_penalty_fn("power", -1.0)


def all_outputs(vocab: int, max_len: int):
    """Every output beam search can produce: ends in EOS, or reaches max_len without it."""
    words = [t for t in range(vocab) if t not in (PAD_ID, BOS_ID, EOS_ID)]
    for length in range(max_len):
        for prefix in itertools.product(words, repeat=length):
            yield [*prefix, EOS_ID]
    yield from (list(full) for full in itertools.product(words, repeat=max_len))


@pytest.mark.parametrize(("alpha", "penalty"), [(0.0, "power"), (0.8, "power"), (1.5, "gnmt")])
def test_wide_beam_is_exhaustive_search(alpha, penalty):
    """With a beam wider than all prefixes, the n-best must be the true n-best: this checks
    the early-stop bound and the handling of max_len."""
    vocab, max_len, n_best = 6, 4, 5
    rng = np.random.default_rng(3)
    table = rng.dirichlet(np.full(vocab, 0.5), size=vocab)
    lp = length_penalty_fn(penalty, alpha)
    scored = {}
    for out in all_outputs(vocab, max_len):
        scored[tuple(out)] = sequence_log_prob(table, out) / float(lp(tf.constant(len(out))))
    expected = sorted(scored.items(), key=lambda kv: -kv[1])[:n_best]
    encode, step = bigram_model(table)
    result = beam_search(
        encode, step, SOURCE, 128, alpha, max_len, length_penalty=penalty, n_best=n_best
    )
    for k, (tokens, score) in enumerate(expected):
        length = int(result["lengths"][0, k])
        assert tuple(result["tokens"][0, k, :length].numpy()) == tokens
        assert float(result["scores"][0, k]) == pytest.approx(score, rel=1e-4)


def test_max_len_keeps_unfinished_hypotheses():
    encode, step = bigram_model(SHORT_LONG)
    out = beam_search(encode, step, SOURCE, beam_size=2, max_len=2, n_best=2)
    assert out["tokens"].shape[-1] == 2
    assert sorted(out["lengths"].numpy()[0].tolist()) == [2, 2]
    assert [4, EOS_ID] in out["tokens"].numpy()[0].tolist()


# --- a small random attentional encoder-decoder -----------------------------------------


class TinyTranslator:
    """Embedding + GRU encoder, GRU/LSTM cell decoder with dot attention; random weights.

    Memory is a dict (values and keys), the LSTM state a tuple: nests the search must carry.
    """

    def __init__(self, cell: str = "gru", vocab: int = 13, dim: int = 8, seed: int = 0):
        keras.utils.set_random_seed(seed)
        self.cell_kind = cell
        self.source_embedding = keras.layers.Embedding(vocab, dim)
        self.target_embedding = keras.layers.Embedding(vocab, dim)
        self.encoder = keras.layers.GRU(dim, return_sequences=True)
        self.cell = keras.layers.GRUCell(dim) if cell == "gru" else keras.layers.LSTMCell(dim)
        self.keys = keras.layers.Dense(dim, use_bias=False)
        self.output = keras.layers.Dense(vocab)
        # Build the layers now: creating variables inside a tf.function makes it trace twice.
        memory, mask, state = self.encode(tf.constant([[4]]))
        self.step(tf.constant([BOS_ID]), state, memory, mask, tf.constant([0]))

    def encode(self, source_ids):
        mask = tf.not_equal(source_ids, PAD_ID)
        values = self.encoder(self.source_embedding(source_ids), mask=mask)
        weights = tf.cast(mask, tf.float32)[:, :, None]
        summary = tf.reduce_sum(values * weights, axis=1) / tf.reduce_sum(weights, axis=1)
        state = summary if self.cell_kind == "gru" else (summary, tf.zeros_like(summary))
        return {"values": values, "keys": self.keys(values)}, mask, state

    def step(self, prev, state, memory, mask, sentence):
        memory, mask = tf.nest.map_structure(lambda x: tf.gather(x, sentence), (memory, mask))
        output, state = self.cell(self.target_embedding(prev), state)
        scores = tf.einsum("nd,nsd->ns", output, memory["keys"]) * 3.0
        weights = tf.nn.softmax(tf.where(mask, scores, -1e9))
        context = tf.einsum("ns,nsd->nd", weights, memory["values"])
        return self.output(tf.concat([output, context], axis=-1)) * 3.0, state, weights


SOURCES = tf.constant([[4, 5, 6, 7, 8, 9], [10, 4, 0, 0, 0, 0], [6, 6, 11, 12, 0, 0]], tf.int32)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_beam_of_one_is_greedy(cell):
    model = TinyTranslator(cell)
    greedy = greedy_decode(model.encode, model.step, SOURCES, max_len=12)
    beam = beam_search(model.encode, model.step, SOURCES, 1, alpha=0.7, max_len=12)
    np.testing.assert_array_equal(beam["tokens"][:, 0], greedy["tokens"])
    np.testing.assert_array_equal(beam["log_probs"][:, 0], greedy["scores"])
    np.testing.assert_array_equal(beam["lengths"][:, 0], greedy["lengths"])
    np.testing.assert_array_equal(beam["attention"][:, 0], greedy["attention"])


def test_greedy_output_shape_and_padding():
    model = TinyTranslator()
    out = greedy_decode(model.encode, model.step, SOURCES, max_len=[3, 12, 5])
    tokens, lengths = out["tokens"].numpy(), out["lengths"].numpy()
    assert out["attention"].shape == (*tokens.shape, SOURCES.shape[1])
    assert tokens.shape[1] == lengths.max() and lengths[0] <= 3 and lengths[2] <= 5
    for row, length in zip(tokens, lengths, strict=True):
        assert not row[length:].any() and PAD_ID not in row[:length] and BOS_ID not in row
    # Attention rows are distributions over the real source tokens, zero after the end.
    np.testing.assert_allclose(out["attention"].numpy().sum(-1)[0, : lengths[0]], 1.0, 1e-5)
    assert not out["attention"].numpy()[1, lengths[1] :].any()
    assert not out["attention"].numpy()[1, :, 2:].any()


def test_score_targets_is_the_decoders_log_prob():
    model = TinyTranslator("lstm")
    greedy = greedy_decode(model.encode, model.step, SOURCES, max_len=12)
    scored = score_targets(model.encode, model.step, SOURCES, greedy["tokens"])
    np.testing.assert_allclose(scored, greedy["scores"], rtol=1e-6)
    beam = beam_search(model.encode, model.step, SOURCES, 3, max_len=12, n_best=3)
    for k in range(3):
        scored = score_targets(model.encode, model.step, SOURCES, beam["tokens"][:, k])
        np.testing.assert_allclose(scored, beam["log_probs"][:, k], rtol=1e-5)


def test_batch_decodes_like_single_sentences_and_traces_once():
    """Under the output-length rule of every translator entry point (codec.max_target_len)."""
    model = TinyTranslator("lstm", seed=1)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
    def decode(source_ids):
        limits = max_target_len(source_ids)
        return beam_search(model.encode, model.step, source_ids, 4, 0.6, limits, n_best=2)

    batch = decode(SOURCES)
    for i, length in enumerate([6, 2, 4]):
        alone = decode(SOURCES[i : i + 1, :length])
        n = int(tf.reduce_max(alone["lengths"]))
        np.testing.assert_array_equal(batch["tokens"][i, :, :n], alone["tokens"][0])
        assert not batch["tokens"][i, :, n:].numpy().any()
        np.testing.assert_allclose(batch["scores"][i], alone["scores"][0], rtol=1e-5)
        np.testing.assert_allclose(
            batch["attention"][i, :, :n, :length], alone["attention"][0], atol=1e-5
        )
    assert decode.experimental_get_tracing_count() == 1
    assert set(batch) == {"tokens", "scores", "log_probs", "lengths", "attention"}


def test_n_best_must_fit_the_beam():
    encode, step = bigram_model(GREEDY_TRAP)
    with pytest.raises(ValueError, match="n_best"):
        beam_search(encode, step, SOURCE, beam_size=2, n_best=3)


def test_greedy_and_scoring_trace_with_a_tensor_max_len():
    model = TinyTranslator("lstm")

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
    def decode_and_score(source_ids):
        max_len = 2 * tf.shape(source_ids)[1] + 3  # a scalar tensor limit
        out = greedy_decode(model.encode, model.step, source_ids, max_len)
        return out, score_targets(model.encode, model.step, source_ids, out["tokens"])

    for sources in (SOURCES, SOURCES[:2, :2]):
        out, scored = decode_and_score(sources)
        assert int(tf.reduce_max(out["lengths"])) <= 2 * sources.shape[1] + 3
        np.testing.assert_allclose(scored, out["scores"], rtol=1e-5)
    assert decode_and_score.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("vocab", [1000, 1009])  # blocks of 125; a prime, padded to 128s
def test_best_tokens_match_a_full_top_k(vocab):
    """The block-wise search over a large vocabulary finds the plain top-k, ties included."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, vocab)).astype(np.float32)
    logits[1, [999, 700, 5, 6]] = 9.0  # ties across and within blocks: lower ids first
    logits[2, [PAD_ID, BOS_ID]] = 20.0  # never produced, however likely
    log_probs, ids, _ = _best_tokens(tf.constant(logits), 5)
    expected = tf.nn.log_softmax(logits).numpy()
    expected[:, [PAD_ID, BOS_ID]] = -np.inf
    top = tf.math.top_k(expected, k=5)
    for row in range(6):
        finite = np.isfinite(log_probs[row].numpy())
        assert finite.sum() >= 5
        np.testing.assert_array_equal(ids[row].numpy()[finite][:5], top.indices[row])
        np.testing.assert_allclose(log_probs[row].numpy()[finite][:5], top.values[row], rtol=1e-5)
    assert ids[1].numpy()[:4].tolist() == [5, 6, 700, 999]


def test_block_size_divides_the_vocabulary_when_it_can():
    assert _block_size(15045) == 85  # the default model's target vocabulary: 177 blocks
    assert _block_size(1024) == 128
    assert _block_size(1009) == 128  # prime: padded
    assert _block_size(2 * 1009) == 128  # only tiny divisors: padded rather than 1009 blocks


def test_beam_size_and_alpha_as_tensors_trace_once():
    """One graph serves every beam size and alpha, with the results of Python values."""
    model = TinyTranslator("gru", seed=2)

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.float32)])
    def search(beam_size, alpha):
        return beam_search(model.encode, model.step, SOURCES, beam_size, alpha, max_len=12)

    for beam_size, alpha in [(1, 0.0), (3, 0.6), (5, 1.0)]:
        dynamic = search(tf.constant(beam_size), tf.constant(alpha))
        static = beam_search(model.encode, model.step, SOURCES, beam_size, alpha, max_len=12)
        for key in static:
            np.testing.assert_allclose(dynamic[key], static[key], rtol=1e-6)
    assert search.experimental_get_tracing_count() == 1
    with pytest.raises(tf.errors.InvalidArgumentError, match="alpha"):
        search(tf.constant(2), tf.constant(-0.5))
    with pytest.raises(tf.errors.InvalidArgumentError, match="n_best"):
        search(tf.constant(0), tf.constant(0.0))


# --- n-best lists and forced prefixes ----------------------------------------------------


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_n_best_lists_are_sorted_unique_and_start_with_the_one_best(cell):
    model = TinyTranslator(cell, seed=2)
    one = beam_search(model.encode, model.step, SOURCES, 5, 0.6, 12)
    five = beam_search(model.encode, model.step, SOURCES, 5, 0.6, 12, n_best=tf.constant(5))
    np.testing.assert_array_equal(
        five["tokens"][:, 0, : one["tokens"].shape[2]], one["tokens"][:, 0]
    )
    np.testing.assert_array_equal(five["scores"][:, 0], one["scores"][:, 0])
    for tokens, lengths, scores in zip(
        five["tokens"].numpy(), five["lengths"].numpy(), five["scores"].numpy(), strict=True
    ):
        hypotheses = {tuple(row[:n]) for row, n in zip(tokens, lengths, strict=True)}
        assert len(hypotheses) == 5 and np.all(np.diff(scores) <= 0)


def forced(rows: list[list[int]], width: int) -> tf.Tensor:
    return tf.constant([row + [PAD_ID] * (width - len(row)) for row in rows], tf.int32)


@pytest.mark.parametrize("beam", [1, 4])
def test_a_prefix_is_kept_verbatim_and_scored_by_the_model(beam):
    model = TinyTranslator("lstm", seed=3)
    prefix = forced([[7, 8], [], [12, 12, 5]], 3)
    out = beam_search(model.encode, model.step, SOURCES, beam, 0.6, 12, n_best=beam, prefix=prefix)
    for k in range(beam):
        tokens = out["tokens"][:, k].numpy()
        assert tokens[0, :2].tolist() == [7, 8] and tokens[2, :3].tolist() == [12, 12, 5]
        scored = score_targets(model.encode, model.step, SOURCES, out["tokens"][:, k])
        np.testing.assert_allclose(scored, out["log_probs"][:, k], rtol=1e-5)  # prefix included
    free = beam_search(model.encode, model.step, SOURCES, beam, 0.6, 12, n_best=beam)
    np.testing.assert_array_equal(out["tokens"][1], free["tokens"][1][:, : out["tokens"].shape[2]])


def test_an_empty_prefix_is_unconstrained_decoding():
    model = TinyTranslator("gru", seed=4)
    free = beam_search(model.encode, model.step, SOURCES, 3, 0.6, 12, n_best=2)
    empty = beam_search(
        model.encode, model.step, SOURCES, 3, 0.6, 12, n_best=2, prefix=tf.zeros([3, 0], tf.int32)
    )
    for key in free:
        np.testing.assert_array_equal(empty[key], free[key])


def test_a_prefix_must_leave_room_for_eos():
    model = TinyTranslator("gru")
    prefix = forced([[7, 8, 9]], 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match="the prefix is as long as"):
        beam_search(model.encode, model.step, SOURCES[:1], 2, 0.6, 3, prefix=prefix)
    out = beam_search(model.encode, model.step, SOURCES[:1], 2, 0.6, 4, prefix=prefix)
    assert out["tokens"][0, 0, :3].numpy().tolist() == [7, 8, 9]


# --- the attention translator itself, with every cell kind as its decoder -----------------


def peaked_translator(kind: str, target_vocab: int) -> Translator:
    """A random Translator whose output layer is scaled up, so its best outputs have no ties."""
    keras.utils.set_random_seed(5)
    model = Translator(13, target_vocab, embed_dim=6, units=8, attention_units=7, cell=kind)
    model.warm_up()
    model.output_layer.kernel.assign(model.output_layer.kernel * 8.0)
    return model


@pytest.mark.parametrize("kind", KINDS)
def test_every_decoder_kind_decodes_greedy_at_one_and_exhaustively_when_wide(kind):
    vocab, max_len, n_best, alpha = 6, 3, 4, 0.6
    model = peaked_translator(kind, vocab)
    greedy = greedy_decode(model.encode, model.decode_step, SOURCES, max_len=max_len)
    one = beam_search(model.encode, model.decode_step, SOURCES, 1, alpha, max_len)
    np.testing.assert_array_equal(one["tokens"][:, 0], greedy["tokens"])
    np.testing.assert_allclose(one["log_probs"][:, 0], greedy["scores"], rtol=1e-6)
    outputs = list(all_outputs(vocab, max_len))
    targets = tf.constant([out + [PAD_ID] * (max_len - len(out)) for out in outputs], tf.int32)
    lengths = np.array([len(out) for out in outputs], np.float32)
    wide = beam_search(model.encode, model.decode_step, SOURCES, 32, alpha, max_len, n_best=n_best)
    for i in range(SOURCES.shape[0]):
        source = tf.repeat(SOURCES[i : i + 1], len(outputs), axis=0)
        log_probs = score_targets(model.encode, model.decode_step, source, targets).numpy()
        best = np.argsort(-(log_probs / lengths**alpha))[:n_best]
        for k, index in enumerate(best):
            length = int(wide["lengths"][i, k])
            assert wide["tokens"][i, k, :length].numpy().tolist() == outputs[index]
            assert float(wide["log_probs"][i, k]) == pytest.approx(log_probs[index], rel=1e-4)
