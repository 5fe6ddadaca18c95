"""The gradients lesson: the linear toy, the Jordan step, clipping, and the stage end to end."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from pipeline import artifacts
from pipeline.config import PRESETS, Paths
from pipeline.lessons import gradients as stage
from pipeline.rnn.jordan import JordanCell
from pipeline.text import EOS_ID, Vocabulary

SMOKE = PRESETS["smoke"].gradients
# Big enough for distance 50, small enough to run in a second.
PROBE = dataclasses.replace(SMOKE, vocab_size=50, embed_dim=16, units=32, seq_len=60)


def test_linear_toy_gradient_is_w_to_the_distance() -> None:
    weights, length = (0.99, 1.0, 1.01), 1000
    y, grad = stage.linear_toy(weights, length)
    distance = length - np.arange(1, length + 1)  # T - t for t = 1..T
    exact = np.power(np.asarray(weights)[None, :], distance[:, None].astype(np.float64))
    assert grad.shape == (length, 3) and grad.dtype == np.float64
    np.testing.assert_allclose(grad, exact, rtol=1e-12, atol=0)
    np.testing.assert_allclose(y, [0.99**999, 1.0, 1.01**999], rtol=1e-12)
    assert f"{y[0]:.4e} {y[2]:.4e}" == "4.3607e-05 2.0752e+04"


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _hand_set_jordan(output_activation: str) -> tuple[JordanCell, list[np.ndarray]]:
    rng = np.random.default_rng(3)
    cell = JordanCell(3, 4, output_activation=output_activation)
    cell.build((None, 2))
    weights = [rng.normal(size=s) for s in [(2, 3), (4, 3), (3,), (3, 4), (4,)]]
    cell.set_weights(weights)
    return cell, weights


@pytest.mark.parametrize("output_activation", ["softmax", "linear"])
def test_jordan_step_equals_its_equation(output_activation: str) -> None:
    cell, (w_ax, w_aa, b_a, w_ya, b_y) = _hand_set_jordan(output_activation)
    g_y = _softmax if output_activation == "softmax" else (lambda z: z)
    x = np.array([[0.5, -1.0], [2.0, 0.25]], np.float32)
    y_prev = _softmax(np.array([[0.1, 0.2, 0.3, 0.4], [1.0, -1.0, 0.0, 2.0]]))
    output, [state] = cell(x, [y_prev.astype(np.float32)])
    expected = g_y(np.tanh(y_prev @ w_aa + x @ w_ax + b_a) @ w_ya + b_y)
    np.testing.assert_allclose(output, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state, expected, rtol=1e-5, atol=1e-6)  # the output is fed back


def test_jordan_rnn_feeds_back_its_output_not_its_hidden_state() -> None:
    cell, (w_ax, w_aa, b_a, w_ya, b_y) = _hand_set_jordan("softmax")
    x = np.random.default_rng(4).normal(size=(2, 5, 2)).astype(np.float32)
    outputs = keras.layers.RNN(cell, return_sequences=True)(x)
    y = np.zeros((2, 4))
    for t in range(5):
        y = _softmax(np.tanh(y @ w_aa + x[:, t] @ w_ax + b_a) @ w_ya + b_y)
        np.testing.assert_allclose(outputs[:, t], y, rtol=1e-5, atol=1e-6)


def test_jordan_config_round_trips_and_bad_sizes_are_refused() -> None:
    cell = JordanCell.from_config(JordanCell(3, 7, output_activation="linear").get_config())
    assert (cell.units, cell.output_units, cell.state_size, cell.output_size) == (3, 7, 7, 7)
    assert cell.output_activation is keras.activations.linear
    with pytest.raises(ValueError, match="output_units must be positive, got 0"):
        JordanCell(3, 0)


def _probe_window(config: stage.GradientsConfig, seed: int = 0) -> tf.Tensor:
    rng = np.random.default_rng(seed)
    return tf.constant(rng.integers(4, config.vocab_size, (16, config.seq_len + 1)), tf.int32)


def _profile_with_unit_scale_inputs(kind: str) -> np.ndarray:
    keras.utils.set_random_seed(0)
    model = stage.build_model(kind, PROBE)
    embedding = model.layers[0].embeddings
    # Inputs of unit scale drive tanh out of its linear range, the regime of the notes' argument.
    embedding.assign(np.random.default_rng(0).normal(size=embedding.shape).astype(np.float32))
    return stage.distance_profile(model, _probe_window(PROBE))


def test_lstm_keeps_more_gradient_at_distance_50_than_the_tanh_rnn() -> None:
    lstm, rnn = (_profile_with_unit_scale_inputs(kind) for kind in ("lstm", "rnn"))
    assert lstm.shape == rnn.shape == (PROBE.seq_len,)
    assert lstm[50] > 3 * rnn[50] > 0


def test_with_near_zero_inputs_the_orthogonal_rnn_keeps_more_than_the_lstm() -> None:
    """The other regime: Keras' default embedding scale keeps tanh linear, W_aa orthogonal."""
    profiles = {}
    for kind in ("lstm", "rnn"):
        keras.utils.set_random_seed(0)
        model = stage.build_model(kind, PROBE)
        profiles[kind] = stage.distance_profile(model, _probe_window(PROBE))
    assert profiles["rnn"][50] > 100 * profiles["lstm"][50]


def test_clipping_bounds_the_global_norm_and_restores_the_weights() -> None:
    keras.utils.set_random_seed(0)
    exploding = keras.initializers.Orthogonal(gain=4.0)
    model = stage.build_model("rnn", PROBE, recurrent_initializer=exploding)
    before = [v.numpy().copy() for v in model.trainable_variables]
    result = stage.clip_step(model, _probe_window(PROBE), clip_norm=1.0, learning_rate=0.1)
    assert result["global_norm"] > 100
    assert result["unclipped"]["gradient_norm"] == result["global_norm"]
    assert result["unclipped"]["update_norm"] == pytest.approx(0.1 * result["global_norm"], 1e-3)
    assert result["clipped"]["gradient_norm"] == pytest.approx(1.0, abs=1e-3)
    assert result["clipped"]["update_norm"] == pytest.approx(0.1, abs=1e-4)
    for variable, value in zip(model.trainable_variables, before, strict=True):
        np.testing.assert_array_equal(variable.numpy(), value)


def test_clipping_leaves_a_small_gradient_alone() -> None:
    keras.utils.set_random_seed(0)
    result = stage.clip_step(stage.build_model("rnn", PROBE), _probe_window(PROBE), 1e6, 0.1)
    assert result["clipped"] == result["unclipped"]
    assert result["clipped"]["gradient_norm"] == result["global_norm"] < 1e6


def test_per_step_factor_of_a_geometric_profile() -> None:
    profile = 3.0 * 0.5 ** np.arange(20.0)
    profile[0] = 100.0  # distance 0 skips the recurrence and is left out
    profile[15:] = 0.0  # underflowed norms are left out
    assert stage.per_step_factor(profile) == pytest.approx(0.5, rel=1e-9)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``make tokenize``'s word-level corpus files: 80 random sentences over 40 words."""
    data = tmp_path_factory.mktemp("gradients") / "data"
    processed = Paths(data=data).processed
    vocab = Vocabulary.build({f"w{i}": 100 - i for i in range(40)})
    vocab.save(processed / artifacts.CORPUS_VOCAB)
    rng = np.random.default_rng(0)
    sentences = [
        np.append(rng.integers(4, len(vocab), rng.integers(2, 10)), EOS_ID) for _ in range(80)
    ]
    (processed / artifacts.CORPUS_IDS).parent.mkdir(parents=True, exist_ok=True)
    np.save(processed / artifacts.CORPUS_IDS, np.concatenate(sentences).astype(np.int32))
    return data


def test_stage_writes_its_report_and_plot(data_dir: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    args = ["--preset", "smoke", "--data-dir", str(data_dir), "--reports-dir", str(reports)]
    assert stage.main([*args, "--cells", "rnn,jordan"]) == 0
    report = json.loads((reports / "gradients.json").read_text())
    assert list(report["cells"]) == ["rnn", "jordan"]
    assert report["config"]["vocab_size"] == SMOKE.vocab_size == 30  # of the corpus' 44 words
    for result in report["cells"].values():
        for when in ("init", "trained"):
            assert len(result[when]["gradient_norm"]) == SMOKE.seq_len
        assert result["perplexity"] == pytest.approx(math.exp(result["held_out_loss"]), 1e-3)
    assert [row["w"] for row in report["linear_toy"]["rows"]] == [0.99, 1.0, 1.01]
    assert all(row["max_relative_error"] < 1e-13 for row in report["linear_toy"]["rows"])
    assert report["clipping"]["clipped"]["gradient_norm"] <= SMOKE.clipnorm * (1 + 1e-6)
    text = (reports / "gradients.md").read_text()
    assert "## Elman vs Jordan" in text and "| Jordan |" in text
    assert (reports / "gradients.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report["plot"] == str(reports / "gradients.png")


def test_stage_refuses_an_unknown_cell_and_a_corpus_too_small(
    data_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    args = ["--preset", "smoke", "--data-dir", str(data_dir), "--reports-dir", str(tmp_path)]
    assert stage.main([*args, "--cells", "rnn,elman"]) == 1
    assert "unknown --cells ['elman']; choose from rnn," in caplog.text
    assert stage.main([*args, "--seq-len", "400"]) == 1
    assert "lower --seq-len or change --held-out" in caplog.text
    assert not (tmp_path / "gradients.json").exists()
