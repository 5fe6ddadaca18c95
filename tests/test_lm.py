"""Language model: data, perplexity against a known entropy, sampling, greedy and export."""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from fresh_process import without_pipeline

from pipeline.lm import data
from pipeline.lm.export import ExportedLM, TextCodec, export
from pipeline.lm.model import LanguageModel
from pipeline.text import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Vocabulary

VOCAB = Vocabulary.build({"the": 10, "cat": 9, "a": 8, "b": 7})
THE, CAT, A, B = (VOCAB.id(w) for w in ("the", "cat", "a", "b"))
# "the cat a" or "the cat b" with equal probability: of the 4 predicted tokens per sentence
# (the, cat, a|b, EOS) only one carries a bit, so the true perplexity is 2 ** (1/4).
TRUE_PERPLEXITY = 2 ** (1 / 4)


def coin_corpus(n: int, seed: int) -> tf.RaggedTensor:
    last = np.random.default_rng(seed).choice([A, B], size=n)
    stream = np.stack([np.full(n, THE), np.full(n, CAT), last, np.full(n, EOS_ID)], 1)
    return data.sentences_from_stream(stream.ravel(), len(VOCAB))


@pytest.fixture(scope="module")
def coin_model():
    keras.utils.set_random_seed(0)
    model = LanguageModel(len(VOCAB), embed_dim=8, units=16, cell="gru")
    model.compile(optimizer=keras.optimizers.Adam(0.02))
    train = data.batches(coin_corpus(2000, 0), 64, 8, shuffle=True, repeat=True)
    model.fit(train, epochs=1, steps_per_epoch=150, verbose=0)
    return model


def test_stream_becomes_sentences_with_rare_words_as_unk():
    sentences = data.sentences_from_stream(np.array([5, 9, EOS_ID, 7, EOS_ID]), vocab_size=8)
    assert sentences.to_list() == [[5, UNK_ID, EOS_ID], [7, EOS_ID]]
    with pytest.raises(ValueError, match="end with EOS"):
        data.sentences_from_stream(np.array([5, 6]), vocab_size=8)
    with pytest.raises(ValueError, match="held_out"):
        data.split_held_out(sentences, 2)


def test_batches_shift_targets_pad_and_truncate():
    sentences = tf.ragged.constant([[5, 6, EOS_ID], [7, EOS_ID], [4, 5, 6, 7, 8, EOS_ID]])
    (inputs, targets, weights), *_ = data.batches(sentences, 8, max_len=4, shuffle=False)
    rows = {tuple(t[t != PAD_ID]) for t in targets.numpy()}
    assert rows == {(5, 6, EOS_ID), (7, EOS_ID), (4, 5, 6, 7)}
    assert (inputs.numpy()[:, 0] == BOS_ID).all()
    np.testing.assert_array_equal(inputs.numpy()[:, 1:], np.where(
        targets.numpy()[:, 1:] == PAD_ID, PAD_ID, targets.numpy()[:, :-1]
    ))  # fmt: skip
    np.testing.assert_array_equal(weights.numpy(), (targets.numpy() != PAD_ID).astype(float))


def test_perplexity_approaches_the_true_entropy(coin_model):
    held = data.batches(coin_corpus(2000, 1), 256, 8, shuffle=False)
    perplexity = coin_model.evaluate(held, return_dict=True, verbose=0)["perplexity"]
    assert perplexity == pytest.approx(TRUE_PERPLEXITY, abs=0.02)


def test_sampling_follows_the_language_and_stops_at_eos(coin_model):
    tf.random.set_seed(1)
    start = tf.fill([200, 1], BOS_ID)
    ids = tf.function(coin_model.generate)(start, tf.constant(1.0), 10).numpy()
    assert ids.shape[1] <= 10
    for row in ids:
        end = list(row).index(EOS_ID)  # every row ends, and nothing follows its EOS
        assert (row[end + 1 :] == PAD_ID).all()
    sentences = [tuple(row[: list(row).index(EOS_ID)]) for row in ids]
    in_language = np.mean([s in {(THE, CAT, A), (THE, CAT, B)} for s in sentences])
    assert in_language > 0.95
    share_a = float(np.mean(ids[:, 2] == A))
    assert 0.35 < share_a < 0.65


def _reference_greedy(model: LanguageModel, start: np.ndarray, steps: int) -> np.ndarray:
    """Greedy decoding by rerunning the whole sequence each step (not the cell step path)."""
    ids = start
    out = []
    for _ in range(steps):
        logits = model(tf.constant(ids)).numpy()[:, -1]
        logits[:, [PAD_ID, BOS_ID]] = -np.inf
        token = logits.argmax(-1)
        out.append(token)
        ids = np.concatenate([ids, token[:, None]], axis=1)
    return np.stack(out, 1)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_temperature_zero_is_greedy(cell):
    keras.utils.set_random_seed(3)
    model = LanguageModel(50, embed_dim=8, units=16, cell=cell, layers=2)
    start = np.array([[BOS_ID, 7, 9], [BOS_ID, 11, 12]], dtype=np.int32)
    ids = tf.function(model.generate)(tf.constant(start), tf.constant(0.0), 6).numpy()
    expected = _reference_greedy(model, start, 6)
    for row, ref in zip(ids, expected, strict=True):
        end = int(np.argmax(ref == EOS_ID)) + 1 if EOS_ID in ref else len(ref)
        np.testing.assert_array_equal(row[:end], ref[:end])
        assert (row[end:] == PAD_ID).all()


def test_sampled_softmax_training_lowers_the_full_perplexity():
    keras.utils.set_random_seed(0)
    vocab = 300
    stream = np.tile(np.append(np.arange(10, 30), EOS_ID), 200)  # one memorable sentence
    sentences = data.sentences_from_stream(stream, vocab)
    model = LanguageModel(vocab, embed_dim=8, units=32, num_sampled=20)
    model.compile(optimizer=keras.optimizers.Adam(0.02))
    held = data.batches(sentences[:8], 8, 32, shuffle=False)
    before = model.evaluate(held, return_dict=True, verbose=0)["perplexity"]
    model.fit(data.batches(sentences, 16, 32, shuffle=True, repeat=True), epochs=1,
              steps_per_epoch=60, verbose=0)  # fmt: skip
    after = model.evaluate(held, return_dict=True, verbose=0)["perplexity"]
    assert before > 250 and after < 3


def test_codec_units_for_words_and_characters():
    word = TextCodec(VOCAB, "word")
    assert word.tf_units(tf.constant(["The  cat!"])).to_list() == [[b"the", b"cat", b"!"]]
    char = TextCodec(VOCAB, "char")
    assert char.tf_units(tf.constant(["Ab\u00a0c\xff"[:4]])).to_list() == [
        [b"a", b"b", "\u2581".encode(), b"c"]
    ]
    with pytest.raises(ValueError, match="level"):
        TextCodec(VOCAB, "byte")


def test_exported_model_scores_and_samples_in_a_fresh_process(coin_model, tmp_path):
    saved = export(coin_model, TextCodec(VOCAB, "word"), 10, tmp_path / "lm" / "1")
    module = ExportedLM(coin_model, TextCodec(VOCAB, "word"), 10)
    direct = module.score(tf.constant(["the cat a", "", "the dog", "the cat b"]))
    body = f"""
        lm = tf.saved_model.load({str(saved)!r})
        s = lm.signatures["serving_default"](
            sentences=tf.constant(["the cat a", "", "the dog", "the cat b"])
        )
        tf.random.set_seed(0)
        result = {{
            "log_prob": s["log_prob"].numpy().tolist(),
            "tokens": s["tokens"].numpy().tolist(),
            "samples": [x.decode() for x in lm.sample(n=tf.constant(20),
                        temperature=tf.constant(1.0))["sentences"].numpy()],
            "greedy": [x.decode() for x in lm.sample_prefix(prefix=tf.constant("THE cat"),
                       n=tf.constant(2), temperature=tf.constant(0.0))["sentences"].numpy()],
        }}
        """
    out = without_pipeline(body, cwd=Path(saved).parent)
    np.testing.assert_allclose(out["log_prob"], direct["log_prob"].numpy(), rtol=1e-5)
    assert out["tokens"] == [4, 1, 3, 4]  # the cat a </s> | </s> | the <unk> </s> | ...
    # The two possible sentences share almost all the probability, about evenly.
    assert np.logaddexp(out["log_prob"][0], out["log_prob"][3]) == pytest.approx(0, abs=0.05)
    assert out["log_prob"][0] == pytest.approx(math.log(0.5), abs=0.2)
    assert out["log_prob"][1] < -4 and out["log_prob"][2] < -4  # impossible sentences
    assert sum(s in {"the cat a", "the cat b"} for s in out["samples"]) >= 18
    assert len(set(out["greedy"])) == 1 and out["greedy"][0] in {"the cat a", "the cat b"}
