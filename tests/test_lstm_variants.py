"""Greff et al.'s LSTM variants: each step against its equation, and the lesson's stage."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow_datasets as tfds

from pipeline import artifacts
from pipeline.config import PRESETS, Paths
from pipeline.data import build, tfds_builders
from pipeline.data.load import load
from pipeline.lessons import lstm_variants as stage
from pipeline.lm.model import LanguageModel
from pipeline.rnn import LSTMCell, make_cell
from pipeline.rnn.cells import LSTM_VARIANTS

BATCH, FEATURES, UNITS, STEPS = 3, 5, 4, 3
VARIANTS = tuple(LSTM_VARIANTS)
# Column blocks of the kernel, and gates with a peephole, as the cell's docstring lays them out.
BLOCKS = {v: "ufco" for v in VARIANTS} | {"nig": "fco", "nfg": "uco", "nog": "ufc", "cifg": "uco"}
PEEPHOLES = {v: BLOCKS[v].replace("c", "") for v in VARIANTS} | {"np": ""}


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def greff_step(variant: str, weights: dict[str, np.ndarray], x, a, c, gates):
    """One step of Greff et al.'s equations for ``variant``: (a_t, c_t, [i; f; o]_t)."""
    z = np.concatenate([a, x], axis=1) @ weights["kernel"] + weights["bias"]
    z = dict(zip(BLOCKS[variant], np.split(z, len(BLOCKS[variant]), axis=1), strict=True))
    if variant == "fgr":  # z_gate += R_ig i_{t-1} + R_fg f_{t-1} + R_og o_{t-1}
        recurrent = np.split(gates @ weights["gate_recurrent_kernel"], 3, axis=1)
        z = {k: v + recurrent["ufo".index(k)] if k in "ufo" else v for k, v in z.items()}
    p = dict(zip(PEEPHOLES[variant], weights.get("peephole_kernel", []), strict=True))
    p = {gate: p.get(gate, 0.0) for gate in "ufo"}  # NP: no peepholes
    i = 1.0 if variant == "nig" else sigmoid(z["u"] + p["u"] * c)
    f = {"cifg": 1.0 - i, "nfg": 1.0}.get(variant)
    f = sigmoid(z["f"] + p["f"] * c) if f is None else f
    block_input = z["c"] if variant == "niaf" else np.tanh(z["c"])
    c = i * block_input + f * c
    o = 1.0 if variant == "nog" else sigmoid(z["o"] + p["o"] * c)
    a = o * (c if variant == "noaf" else np.tanh(c))
    return a, c, (np.concatenate([i, f, o], axis=1) if variant == "fgr" else None)


def built(cell: LSTMCell) -> LSTMCell:
    cell.build((None, FEATURES))
    return cell


def randomized(cell: LSTMCell, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Random weights set into ``cell`` (peepholes and biases too), by weight name."""
    values = [0.5 * rng.normal(size=w.shape) for w in cell.weights]
    cell.set_weights(values)
    return {w.name: v for w, v in zip(cell.weights, values, strict=True)}


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_step_is_its_equation(variant):
    rng = np.random.default_rng(0)
    cell = built(LSTMCell(UNITS, peephole=True, variant=variant))
    weights = randomized(cell, rng)
    assert weights["kernel"].shape == (UNITS + FEATURES, len(BLOCKS[variant]) * UNITS)
    assert weights.get("peephole_kernel", np.zeros((0, UNITS))).shape == (
        len(PEEPHOLES[variant]),
        UNITS,
    )
    a, c = rng.normal(size=(2, BATCH, UNITS))
    gates = rng.uniform(size=(BATCH, 3 * UNITS)) if variant == "fgr" else None
    states = [a, c] if gates is None else [a, c, gates]
    for x in rng.normal(size=(STEPS, BATCH, FEATURES)):
        a, c, gates = greff_step(variant, weights, x, a, c, gates)
        output, states = cell(x.astype("float32"), [s.astype("float32") for s in states])
        np.testing.assert_allclose(output, a, atol=1e-5)
        np.testing.assert_allclose(states[0], a, atol=1e-5)
        np.testing.assert_allclose(states[1], c, atol=1e-5)
        if gates is not None:
            np.testing.assert_allclose(states[2], gates, atol=1e-5)
        states = [np.asarray(s, dtype=np.float64) for s in states]
        assert len(states) == (3 if variant == "fgr" else 2)


def _outputs(cell: keras.layers.Layer, x: np.ndarray) -> np.ndarray:
    return np.asarray(keras.layers.RNN(cell, return_sequences=True)(x))


def test_vanilla_is_the_peephole_lstm_and_np_the_plain_one():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(BATCH, 6, FEATURES)).astype("float32")
    vanilla = built(LSTMCell(UNITS, peephole=True, variant="vanilla"))
    randomized(vanilla, rng)
    peephole = built(make_cell("lstm_peephole", UNITS))
    peephole.set_weights(vanilla.get_weights())
    np.testing.assert_array_equal(_outputs(vanilla, x), _outputs(peephole, x))

    no_peepholes = built(LSTMCell(UNITS, peephole=True, variant="np"))
    assert [w.name for w in no_peepholes.weights] == ["kernel", "bias"]
    no_peepholes.set_weights(vanilla.get_weights()[:2])
    plain = built(make_cell("lstm", UNITS))  # the default cell, which equals Keras' LSTM
    plain.set_weights(vanilla.get_weights()[:2])
    np.testing.assert_array_equal(_outputs(no_peepholes, x), _outputs(plain, x))
    assert not np.allclose(_outputs(vanilla, x), _outputs(plain, x))  # the peepholes count


def test_cifg_forget_gate_is_one_minus_input_gate():
    """With a zero block input (its columns and bias 0), c_t = Γf * c_{t-1} exposes Γf."""
    rng = np.random.default_rng(2)
    cell = built(LSTMCell(UNITS, peephole=True, variant="cifg"))
    weights = randomized(cell, rng)
    weights["kernel"][:, UNITS : 2 * UNITS] = 0.0  # blocks [Γu, c~, Γo]
    weights["bias"][UNITS : 2 * UNITS] = 0.0
    cell.set_weights([weights[w.name] for w in cell.weights])
    a, c = rng.normal(size=(2, BATCH, UNITS))
    x = rng.normal(size=(BATCH, FEATURES))
    z_u = np.concatenate([a, x], axis=1) @ weights["kernel"][:, :UNITS] + weights["bias"][:UNITS]
    input_gate = sigmoid(z_u + weights["peephole_kernel"][0] * c)
    _, (_, memory) = cell(x.astype("float32"), [a.astype("float32"), c.astype("float32")])
    np.testing.assert_allclose(np.asarray(memory) / c, 1.0 - input_gate, rtol=1e-4)


def test_cifg_starts_its_forget_gate_as_open_as_vanilla():
    cell = built(LSTMCell(UNITS, variant="cifg", forget_bias=2.0))
    np.testing.assert_array_equal(
        np.asarray(cell.bias), np.r_[np.full(UNITS, -2.0), np.zeros(2 * UNITS)]
    )


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_config_round_trip(variant):
    x = np.random.default_rng(3).normal(size=(BATCH, 6, FEATURES)).astype("float32")
    cell = LSTMCell(UNITS, peephole=True, variant=variant)
    layer = keras.layers.RNN(cell, return_sequences=True)
    expected = np.asarray(layer(x))
    assert cell.get_config()["variant"] == variant
    assert LSTMCell.from_config(cell.get_config()).get_config() == cell.get_config()
    clone = keras.layers.RNN.from_config(layer.get_config())
    clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(clone(x)), expected, atol=1e-6)


def test_language_model_keeps_its_cell_options():
    model = LanguageModel(20, embed_dim=4, units=8, cell="lstm", cell_options={"variant": "fgr"})
    clone = LanguageModel.from_config(json.loads(json.dumps(model.get_config())))
    assert clone.rnn.cell.variant == "fgr"
    assert clone.rnn.cell.state_size == [8, 8, 24]


def test_unknown_variant_is_refused():
    with pytest.raises(ValueError) as err:
        LSTMCell(UNITS, variant="nxg")
    assert str(err.value) == (
        "unknown LSTM variant 'nxg'; choose one of "
        "vanilla, nig, nfg, nog, niaf, noaf, np, cifg, fgr"
    )


@pytest.mark.parametrize(
    ("kind", "delta", "se", "rank", "expected"),
    [
        ("hurts", 0.30, 0.05, 1, "supported"),
        ("hurts", 0.30, 0.05, 4, "partly"),
        ("hurts", 0.30, 0.20, 1, "not supported"),  # within two standard errors of 0
        ("hurts", 0.01, 0.001, 1, "not supported"),  # below `small`
        ("little", 0.005, 0.005, 5, "supported"),
        ("little", -0.10, 0.02, 8, "supported"),
        ("little", 0.10, 0.02, 2, "not supported"),
        ("little", 0.01, 0.02, 3, "inconclusive"),
    ],
)
def test_verdict(kind, delta, se, rank, expected):
    stats = {"delta_mean": delta, "delta_se": se, "loss_rank": rank}
    assert stage.verdict(kind, stats, small=0.02, losers=8)[0] == expected


# -- the stage on a fixture corpus --------------------------------------------------------------

LINES = [f"the cat sat on mat number {i} and the dog barked ." for i in range(40)]
SMOKE = PRESETS["smoke"].lstm_variants


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ``en_corpus`` TFDS dataset of ``LINES``, built as ``make data`` builds it."""
    paths = Paths(data=tmp_path_factory.mktemp("variants") / "data")
    build.write_tsv(paths.processed / tfds_builders.CORPUS_FILE, [("fixture", t) for t in LINES])
    builder = tfds.builder("en_corpus", data_dir=str(paths.tfds))
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(paths.processed))
    )
    return paths.data


def test_corpus_lines_reads_the_first_lines(data_dir):
    config = dataclasses.replace(SMOKE, corpus_lines=10, held_out=3)
    paths = Paths(data=data_dir)
    train, held, vocab_size = stage.read_lines(paths, config)
    assert (int(train.nrows()), int(held.nrows())) == (7, 3)
    assert held.row_lengths().numpy().tolist() == [SMOKE.max_len] * 3  # every line is longer
    first = [ex["text"].decode() for ex in tfds.as_numpy(load("en_corpus", "train", paths.tfds))]
    # TFDS stores the lines shuffled; the stage reads the first 10 of that order.
    assert train.row_lengths().numpy().tolist() == [len(t) + 1 for t in first[:7]]  # + EOS
    assert vocab_size == 4 + len(set("".join(first[:10])))  # PAD, UNK, BOS, EOS, characters


def test_stage_trains_every_variant_and_writes_its_report(data_dir, tmp_path):
    paths = Paths(data=data_dir, reports=tmp_path / "reports")
    report = stage.run(paths, SMOKE)
    json_path = artifacts.report(paths, artifacts.LSTM_VARIANTS)
    assert json.loads(json_path.read_text()) == json.loads(json.dumps(report))
    markdown = json_path.with_suffix(".md").read_text()
    assert json_path.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report["plot"] == str(json_path.with_suffix(".png"))

    assert list(report["variants"]) == list(SMOKE.variants)
    assert (report["train_lines"], report["held_out_lines"]) == (36, 4)
    assert report["held_out_chars"] == 4 * SMOKE.max_len
    runs = {(r["variant"], r["seed"]): r for r in report["runs"]}
    assert sorted(runs) == sorted((v, s) for v in SMOKE.variants for s in range(SMOKE.seeds))
    vocab_bits = math.log2(report["vocab_size"])
    for r in runs.values():
        assert 0 < r["held_out_bpc"] < vocab_bits
        assert len(r["train_bpc_curve"]) == SMOKE.steps // SMOKE.curve_every
    vanilla, cifg = report["variants"]["vanilla"], report["variants"]["cifg"]
    assert (vanilla["delta_mean"], vanilla["delta_se"]) == (0.0, 0.0)
    assert cifg["bpc_per_seed"] == [runs["cifg", s]["held_out_bpc"] for s in range(SMOKE.seeds)]
    # Cell weights: vanilla's 4 blocks and 3 peepholes; CIFG's 3 blocks and 2 peepholes.
    width = SMOKE.units + SMOKE.embed_dim
    assert vanilla["cell_weights"] == 4 * SMOKE.units * (width + 1) + 3 * SMOKE.units
    assert cifg["cell_weights"] == 3 * SMOKE.units * (width + 1) + 2 * SMOKE.units
    verdicts = [c["verdict"] for c in report["conclusions"]]
    assert verdicts[:2] + verdicts[3:] == ["not run"] * 3  # only CIFG is in the smoke preset
    assert verdicts[2] in ("supported", "not supported", "inconclusive")
    assert f"| CIFG | coupled gates (Γf = 1 - Γu) | {cifg['cell_weights']:,} |" in markdown


def test_a_bad_variant_list_is_one_error_and_writes_nothing(data_dir, tmp_path, caplog):
    reports = tmp_path / "reports"
    argv = ["--preset", "smoke", "--data-dir", str(data_dir), "--reports-dir", str(reports)]
    assert stage.main([*argv, "--variants", "nfg,cifg"]) == 1
    assert "--variants must include 'vanilla', the one the others are against" in caplog.text
    assert stage.main([*argv, "--seeds", "1"]) == 1
    assert "--seeds must be at least 2 for a spread over seeds, got 1" in caplog.text
    assert not list(reports.glob("lstm_variants.*"))
