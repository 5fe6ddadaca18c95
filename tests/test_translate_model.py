"""The attention translator's network: attention masking, the shared decoder step, the loss."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from pipeline.config import TranslateConfig
from pipeline.rnn import KINDS, GRUCell, LSTMCell, make_step_cell
from pipeline.text import BOS_ID, EOS_ID, PAD_ID
from pipeline.translate import data
from pipeline.translate.attention import masked_softmax, mix_per_sentence
from pipeline.translate.model import Translator
from pipeline.translate.train import Trainer, masked_loss, token_losses

SOURCE = tf.constant([[5, 6, 7, 8, EOS_ID, 0], [9, EOS_ID, 0, 0, 0, 0]], tf.int32)
TARGET_OUT = tf.constant([[10, 11, 12, EOS_ID], [13, EOS_ID, 0, 0]], tf.int32)
TARGET_IN = tf.constant([[BOS_ID, 10, 11, 12], [BOS_ID, 13, 0, 0]], tf.int32)


def small_model(cell: str = "keras_gru", layers: int = 1, dropout: float = 0.0) -> Translator:
    keras.utils.set_random_seed(1)
    model = Translator(
        30, 20, embed_dim=8, units=12, attention_units=10, cell=cell,
        encoder_layers=layers, dropout=dropout,
    )  # fmt: skip
    model.warm_up()
    return model


def test_masked_softmax_ignores_masked_scores() -> None:
    scores = tf.constant([[1.0, 2.0, 50.0], [3.0, -1.0, 7.0]])
    mask = tf.constant([[True, True, False], [True, True, True]])
    weights = masked_softmax(scores, mask).numpy()
    assert weights[0, 2] == 0.0
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(weights[0, :2], tf.nn.softmax([1.0, 2.0]).numpy(), rtol=1e-6)


def test_attention_sums_to_one_and_ignores_padding() -> None:
    model = small_model()
    memory, mask, state = model.encode(SOURCE)
    logits, _, weights = model.decode_step(tf.constant([BOS_ID, BOS_ID]), state, memory, mask)
    weights = weights.numpy()
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)
    assert np.all(weights[~mask.numpy()] == 0.0)
    assert np.all(weights[mask.numpy()] > 0.0)
    # More padding changes nothing: not the encoder's final state, the keys or the logits.
    padded = tf.pad(SOURCE, [[0, 0], [0, 4]])
    memory2, mask2, state2 = model.encode(padded)
    logits2, _, weights2 = model.decode_step(tf.constant([BOS_ID] * 2), state2, memory2, mask2)
    np.testing.assert_allclose(logits2.numpy(), logits.numpy(), atol=1e-5)
    np.testing.assert_allclose(weights2.numpy()[:, :6], weights, atol=1e-6)


def test_mix_per_sentence_equals_gathering_each_rows_sentence() -> None:
    rng = np.random.default_rng(0)
    per_sentence = tf.constant(rng.normal(size=(4, 6, 3)), tf.float32)
    sentence = tf.constant([0, 0, 2, 2, 2, 3])  # sentence 1 has no rows, the others 1 to 3
    weights = tf.constant(rng.random(size=(6, 6)), tf.float32)
    expected = np.einsum("rs,rsd->rd", weights.numpy(), per_sentence.numpy()[sentence.numpy()])
    mixed = mix_per_sentence(weights, per_sentence, sentence)
    np.testing.assert_allclose(mixed.numpy(), expected, rtol=1e-5)
    alone = mix_per_sentence(weights[:4], per_sentence)  # row r is sentence r
    expected = np.einsum("rs,rsd->rd", weights.numpy()[:4], per_sentence.numpy())
    np.testing.assert_allclose(alone.numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize(
    ("cell", "layers"), [*((kind, 1) for kind in KINDS), ("lstm", 2)]
)  # fmt: skip
def test_teacher_forced_logits_equal_step_by_step_decoding(cell: str, layers: int) -> None:
    model = small_model(cell, layers, dropout=0.3)  # dropout is off outside training
    full = model.teacher_forced(SOURCE, TARGET_IN).numpy()
    memory, mask, state = model.encode(SOURCE)
    assert isinstance(state, tuple) and len(state) == (2 if "lstm" in cell else 1)
    steps = []
    for t in range(TARGET_IN.shape[1]):
        logits, state, _ = model.decode_step(TARGET_IN[:, t], state, memory, mask)
        steps.append(logits.numpy())
    np.testing.assert_allclose(np.stack(steps, axis=1), full, atol=1e-5)
    # The masked training path returns the same rows, just without the PAD positions.
    positions = tf.not_equal(TARGET_OUT, PAD_ID)
    kept = model.teacher_forced(SOURCE, TARGET_IN, positions).numpy()
    np.testing.assert_allclose(kept, full[positions.numpy()], atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_the_decoder_is_the_seed_cell_of_the_encoders_kind(kind: str) -> None:
    """One flag picks both cells; a Keras kind's decoder is the seed cell equal to it."""
    model = small_model(kind)
    cell = model.decoder_cell
    assert type(cell) is type(make_step_cell(kind, 12))
    assert cell.kernel.shape == (12 + 8 + 24, cell.blocks * 12)  # rows [a; emb; context]
    if kind == "keras_gru":
        assert isinstance(cell, GRUCell) and cell.reset_after
    if kind == "lstm_peephole":
        assert isinstance(cell, LSTMCell) and cell.peephole_kernel is not None
    # The loop's step on the hoisted shares is the cell's own call on [emb; c_t].
    memory, mask, state = model.encode(SOURCE)
    embedded, input_gates = model._embed_targets(TARGET_IN[:, 0], training=False)
    output, _, weights, new_state = model._recur(input_gates, state, memory, mask)
    context = tf.matmul(weights[:, None], memory.values)[:, 0]
    expected, expected_state = cell(tf.concat([embedded, context], -1), list(state))
    np.testing.assert_allclose(output.numpy(), expected.numpy(), atol=1e-5)
    for got, want in zip(new_state, expected_state, strict=True):
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5)


def test_decode_step_reads_each_rows_sentence_in_a_graph() -> None:
    """Beam search runs several rows per sentence against untiled memory in a tf.function;
    each row must match its sentence decoded alone."""
    model = small_model("keras_lstm")
    memory, mask, state = model.encode(SOURCE)
    sentence = tf.constant([0, 0, 0, 1, 1])
    rows_state = tf.nest.map_structure(lambda x: tf.gather(x, sentence), state)
    step = tf.function(model.decode_step)
    logits, new_state, weights = step(tf.fill([5], BOS_ID), rows_state, memory, mask, sentence)
    assert logits.shape == (5, 20) and weights.shape == (5, 6)
    assert tf.nest.map_structure(lambda s: s.shape, new_state) == ((5, 12), (5, 12))
    eager, _, alone = model.decode_step(tf.fill([2], BOS_ID), state, memory, mask)
    np.testing.assert_allclose(logits.numpy(), eager.numpy()[sentence], atol=1e-5)
    np.testing.assert_allclose(weights.numpy(), alone.numpy()[sentence], atol=1e-6)
    # Sentences without rows (done ones) are skipped: two rows of sentence 1 only.
    later = tf.constant([1, 1])
    rows_state = tf.nest.map_structure(lambda x: tf.gather(x, later), state)
    logits, _, _ = step(tf.fill([2], BOS_ID), rows_state, memory, mask, later)
    np.testing.assert_allclose(logits.numpy(), eager.numpy()[[1, 1]], atol=1e-5)


def test_loss_masks_padding() -> None:
    model = small_model()
    loss_sum, nll_sum, count = masked_loss(model, (SOURCE, TARGET_IN, TARGET_OUT))
    assert float(count) == 6.0
    # Per-token NLL from the full logits, PAD positions dropped by hand.
    logits = model.teacher_forced(SOURCE, TARGET_IN)
    nll = tf.keras.losses.sparse_categorical_crossentropy(TARGET_OUT, logits, from_logits=True)
    expected = float(tf.reduce_sum(tf.where(TARGET_OUT != PAD_ID, nll, 0.0)))
    assert float(nll_sum) == pytest.approx(expected, rel=1e-5)
    assert float(loss_sum) == pytest.approx(expected, rel=1e-5)  # no smoothing asked
    # Extra PAD columns change nothing.
    more = [tf.pad(x, [[0, 0], [0, 3]]) for x in (SOURCE, TARGET_IN, TARGET_OUT)]
    _, nll_more, count_more = masked_loss(model, tuple(more))
    assert float(count_more) == 6.0
    assert float(nll_more) == pytest.approx(expected, rel=1e-5)


def test_label_smoothing_mixes_in_the_uniform_cross_entropy() -> None:
    logits = tf.constant([[2.0, 0.0, -1.0, 0.5]])
    labels = tf.constant([0])
    smoothed, nll = token_losses(logits, labels, smoothing=0.2)
    log_p = tf.nn.log_softmax(logits)[0].numpy()
    assert float(nll[0]) == pytest.approx(-log_p[0], rel=1e-6)
    assert float(smoothed[0]) == pytest.approx(0.8 * -log_p[0] + 0.2 * -log_p.mean(), rel=1e-6)


def test_overfits_twenty_pairs() -> None:
    rng = np.random.default_rng(0)
    sources = [[*rng.integers(4, 30, size=rng.integers(2, 6)), EOS_ID] for _ in range(20)]
    # Target: the source reversed, mapped into the target vocabulary.
    targets = [[4 + (w % 16) for w in reversed(s[:-1])] + [EOS_ID] for s in sources]
    pairs = tf.data.Dataset.from_generator(
        lambda: iter(zip(sources, targets, strict=True)),
        output_signature=(tf.TensorSpec([None], tf.int32),) * 2,
    )
    batch = next(iter(data.eval_batches(pairs, 20)))
    config = TranslateConfig(
        embed_dim=16, units=32, attention_units=16, dropout=0.0, label_smoothing=0.0,
        learning_rate=0.02, clipnorm=5.0,
    )  # fmt: skip
    keras.utils.set_random_seed(0)
    trainer = Trainer(config, 30, 20, tf.distribute.get_strategy())
    train_fn = trainer.make_train_fn()
    iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
    for _ in range(150):
        _, nll, count = train_fn(iterator)
    final = float(nll) / float(count)
    assert final < 0.05, final
    mean_nll, tokens = trainer.evaluate(tf.data.Dataset.from_tensors(batch))
    assert tokens == int(count) and mean_nll < 0.05
