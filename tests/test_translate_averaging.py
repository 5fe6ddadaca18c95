"""Checkpoint averaging (pipeline.translate.averaging, .averaging_bleu) on a smoke run with five
checkpoints."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from faults import truncate_checkpoint
from test_translate_train import write_fixture

from pipeline import artifacts
from pipeline.checkpoints import indexed
from pipeline.config import PRESETS, Paths
from pipeline.translate import (
    averaging,
    averaging_bleu,
    bleu,
    decoding,
    error_analysis,
    export,
    load_trained,
)
from pipeline.translate import train as stage
from pipeline.translate.bleu import QUICK_GRID, score_bleu
from pipeline.translate.decoding import EvalSet, Setup, translate_all

# Two epochs of 4 steps, a checkpoint after every step: ckpt-4 ... ckpt-8 are kept.
CONFIG = dataclasses.replace(PRESETS["smoke"].translate, save_every=1, keep_checkpoints=5)
KEPT = [f"ckpt-{step}" for step in range(4, 9)]
SOURCES = ["de1 de2 de3", "de4 de5", "de6"]
REFERENCES = [["en3 en2 en1"], ["en5 en4"], ["en6"]]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smoke run's folder (``best/``, ``ckpt/``)."""
    root = tmp_path_factory.mktemp("averaging")
    paths = Paths(data=root / "data", reports=root / "reports", runs=root / "runs")
    write_fixture(paths.data)
    stage.train(paths, CONFIG)
    return artifacts.run_dir(paths, CONFIG)


def _weights(model: object) -> list[np.ndarray]:
    return [v.numpy() for v in model.weights]  # type: ignore[attr-defined]


def _stored(path: str, count: int) -> list[np.ndarray]:
    """The model's weights as one checkpoint holds them, read without any model."""
    return [
        tf.train.load_variable(path, f"model/v{i:04d}/.ATTRIBUTES/VARIABLE_VALUE")
        for i in range(count)
    ]


def test_the_run_keeps_its_last_checkpoints(run: Path) -> None:
    checkpoints = averaging.last_checkpoints(run / artifacts.BEST, 5)
    assert [Path(p).name for p in checkpoints] == KEPT
    assert averaging.last_checkpoints(run / artifacts.BEST, 1) == [
        tf.train.latest_checkpoint(str(run / artifacts.BEST / artifacts.MODEL_WEIGHTS))
    ]


def test_averaging_identical_checkpoints_leaves_the_weights_unchanged(run: Path) -> None:
    model, _, _ = load_trained(run / artifacts.BEST)
    before = _weights(model)
    for k in (1, 3, 5):
        checkpoint = averaging.last_checkpoints(run / artifacts.BEST, 1) * k
        averaging.average_weights(model, checkpoint)
        for old, new in zip(before, _weights(model), strict=True):
            assert old.dtype == new.dtype and np.array_equal(old, new)  # exactly


def test_the_mean_of_distinct_checkpoints_is_their_weights_mean(run: Path) -> None:
    model, _, _ = load_trained(run / artifacts.BEST)
    checkpoints = averaging.last_checkpoints(run / artifacts.BEST, 3)
    stored = [_stored(path, len(model.weights)) for path in checkpoints]
    assert not np.array_equal(stored[0][0], stored[-1][0])  # training moved them
    averaging.average_weights(model, checkpoints)
    for i, averaged in enumerate(_weights(model)):
        expected = np.mean([weights[i] for weights in stored], axis=0)
        np.testing.assert_allclose(averaged, expected, rtol=0, atol=1e-6)
        assert averaged.dtype == np.float32


def test_the_optimizer_state_is_neither_averaged_nor_needed(run: Path, tmp_path: Path) -> None:
    best = run / artifacts.BEST
    model, codec, config = load_trained(best)
    checkpoints = averaging.last_checkpoints(best, 3)
    averaging.average_weights(model, checkpoints)
    expected = _weights(model)
    # A live optimizer beside the model keeps its own state.
    trainer = stage.Trainer(config, *codec.sizes, tf.distribute.get_strategy())
    slots = [v.numpy() for v in trainer.optimizer.variables]
    averaging.average_weights(trainer.model, checkpoints)
    for mine, theirs in zip(_weights(trainer.model), expected, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    for before, after in zip(slots, trainer.optimizer.variables, strict=True):
        np.testing.assert_array_equal(before, after.numpy())
    # Checkpoints of the weights alone, as best/ holds them, average the same.
    weights_only = []
    for i, path in enumerate(checkpoints):
        saver = tf.train.Checkpoint(model=indexed(trainer.model.weights))
        for variable, value in zip(
            trainer.model.weights, _stored(path, len(expected)), strict=True
        ):
            variable.assign(value)
        weights_only.append(saver.write(str(tmp_path / f"weights-{i}")))
    assert not any("optimizer" in name for name, _ in tf.train.list_variables(weights_only[0]))
    averaging.average_weights(trainer.model, weights_only)
    for mine, theirs in zip(_weights(trainer.model), expected, strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_too_few_checkpoints_is_a_clear_error(run: Path, tmp_path: Path) -> None:
    ckpt = run / artifacts.RUN_CHECKPOINTS
    with pytest.raises(ValueError) as error:
        averaging.last_checkpoints(run / artifacts.BEST, 6)
    assert str(error.value) == (
        f"--average-last 6 needs the run's last 6 checkpoints, but {ckpt} holds 5 intact "
        "one(s). Training keeps only the last --keep-checkpoints of them (written every "
        "--save-every steps and after each epoch): train with --keep-checkpoints 6 or more "
        '(e.g. make train-translate STAGE_ARGS="--keep-checkpoints 6"; a finished run extended '
        "with more --epochs adds checkpoints), or choose --average-last 5 or fewer; "
        "--average-last 1 decodes the best dev-loss weights."
    )
    lone = tmp_path / "lone" / artifacts.BEST  # best weights with no run checkpoints beside
    shutil.copytree(run / artifacts.BEST, lone)
    with pytest.raises(ValueError, match=r"holds 0 intact one\(s\)\. ") as error:
        averaging.last_checkpoints(lone, 3)
    assert str(error.value).endswith(
        "adds checkpoints), or choose --average-last 1, the best dev-loss weights."
    )
    with pytest.raises(ValueError, match=r"^--average-last 0: K must be >= 1 \(1 is the best"):
        averaging.last_checkpoints(run / artifacts.BEST, 0)


def test_a_damaged_checkpoint_is_skipped(
    run: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    copy = tmp_path / "de-en"
    shutil.copytree(run, copy)
    truncate_checkpoint(copy / artifacts.RUN_CHECKPOINTS / "ckpt-7")
    with caplog.at_level(logging.WARNING):
        checkpoints = averaging.last_checkpoints(copy / artifacts.BEST, 4)
    assert [Path(p).name for p in checkpoints] == ["ckpt-4", "ckpt-5", "ckpt-6", "ckpt-8"]
    assert f"checkpoint {copy / artifacts.RUN_CHECKPOINTS / 'ckpt-7'} is damaged" in caplog.text
    with pytest.raises(ValueError, match=r"holds 4 intact one\(s\) \(1 more damaged\)\. "):
        averaging.last_checkpoints(copy / artifacts.BEST, 5)


def test_train_refuses_to_keep_fewer_than_two_checkpoints(run: Path) -> None:
    paths = Paths(data=run.parents[2] / "data", runs=run.parents[2] / "other")
    with pytest.raises(ValueError, match=r"^--keep-checkpoints 1 is too few: keep at least 2"):
        stage.train(paths, dataclasses.replace(CONFIG, keep_checkpoints=1))


def test_export_of_the_average_translates(run: Path, tmp_path: Path) -> None:
    args = ["--model-dir", str(run / artifacts.BEST), "--saved-models-dir", str(tmp_path)]
    assert export.main([*args, "--average-last", "3"]) == 0
    model, _, _ = load_trained(run / artifacts.BEST)
    averaging.average_weights(model, averaging.last_checkpoints(run / artifacts.BEST, 3))
    dest = tmp_path / artifacts.TRANSLATOR / "1"
    prefix = str(dest / "variables" / "variables")  # TensorFlow's layout of a SavedModel
    names = [n for n, _ in tf.train.list_variables(prefix) if n != "_CHECKPOINTABLE_OBJECT_GRAPH"]
    saved = sorted(
        (tf.train.load_variable(prefix, n) for n in names), key=lambda a: (a.shape, a.sum())
    )
    averaged = sorted(_weights(model), key=lambda a: (a.shape, a.sum()))
    assert len(saved) == len(averaged)
    for mine, theirs in zip(saved, averaged, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    loaded = tf.saved_model.load(str(dest))
    out = loaded.translate(tf.constant(SOURCES))
    assert out["translations"].shape == (3,) and out["translations"].dtype == tf.string
    assert out["log_probs"].numpy().max() <= 0


def test_export_with_too_few_checkpoints_fails_with_the_message(
    run: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    args = ["--model-dir", str(run / artifacts.BEST), "--saved-models-dir", str(tmp_path)]
    assert export.main([*args, "--average-last", "7"]) == 1
    assert "--average-last 7 needs the run's last 7 checkpoints" in caplog.text
    assert not (tmp_path / artifacts.TRANSLATOR).exists()


def _setup(run: Path) -> Setup:
    model, codec, config = load_trained(run / artifacts.BEST)
    sources = tf.constant(SOURCES)
    tests = {"dev": EvalSet(SOURCES, REFERENCES), "loc_dev": EvalSet(SOURCES, REFERENCES)}
    return Setup(
        Paths(), run / artifacts.BEST, model, codec, config, tests,
        {name: codec.encode(sources) for name in tests}, dict(averaging_bleu.DEV_SETS), False,
        tuple(averaging.last_checkpoints(run / artifacts.BEST, 1)),
    )  # fmt: skip


def test_the_measurement_writes_a_row_per_k(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = _setup(run)
    monkeypatch.setattr(averaging_bleu, "load_setup", lambda args: setup)  # the dev sets above
    argv = ["--model-dir", str(run / artifacts.BEST), "--reports-dir", str(tmp_path)]
    assert averaging_bleu.main(argv) == 0
    report = json.loads((tmp_path / f"{artifacts.TRANSLATE_AVERAGING}.json").read_text())
    assert report["average_last"] == [1, 3, 5]
    assert [Path(p).name for p in report["checkpoints"]["5"]] == KEPT
    assert list(report["sets"]) == ["dev", "loc_dev"]
    assert [report["sets"][s]["metric"] for s in report["sets"]] == ["bleu", "bleu_cased"]
    rows = report["sets"]["dev"]["results"]
    decodings = [s.name for s in QUICK_GRID]
    assert [(r["decoding"], r["average_last"]) for r in rows] == [
        (d, k) for d in decodings for k in (1, 3, 5)
    ]
    assert [r["p_vs_first"] is None for r in rows] == [True, False, False] * 2
    # The K=1 rows are the best weights' own scores.
    best, _, _ = load_trained(run / artifacts.BEST)
    for setting, row in zip(QUICK_GRID, rows[::3], strict=True):
        _, hypotheses = translate_all(best, setup.codec, setup.sources["dev"], setting)
        assert row["bleu"] == score_bleu(hypotheses, REFERENCES)["bleu"]
    text = (tmp_path / f"{artifacts.TRANSLATE_AVERAGING}.md").read_text()
    assert "## Ding dev (dictionary example sentences)" in text
    assert "| decoding | K | BLEU lc | BLEU cased | chrF | 95% CI | p vs K=1 |" in text
    assert text.count("| greedy | ") == 6 and "| beam 5, alpha 0.6 (power) | 5 |" in text


def test_the_measurement_checks_the_checkpoints_before_decoding(
    run: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(averaging_bleu, "load_setup", lambda args: pytest.fail("decoded"))
    argv = ["--model-dir", str(run / artifacts.BEST), "--reports-dir", str(tmp_path)]
    assert averaging_bleu.main([*argv, "--average-last", "1,9"]) == 1
    assert "--average-last 9 needs the run's last 9 checkpoints" in caplog.text
    assert not list(tmp_path.iterdir())


def test_help_says_what_k_means(capsys: pytest.CaptureFixture[str]) -> None:
    for cli, meaning in (
        (averaging_bleu, "K=1 is the best dev-loss weights, K >= 2 the mean of the run's last K"),
        (export, "1 is the best dev-loss weights unaveraged (default: the preset's"),
        (bleu, "1 is the best dev-loss weights unaveraged (default: the preset's"),
        (error_analysis, "a run with fewer checkpoints than that decodes its best weights"),
    ):
        with pytest.raises(SystemExit) as stop:
            cli.main(["--help"])
        assert stop.value.code == 0
        out = " ".join(capsys.readouterr().out.split())
        assert "--average-last" in out and meaning in out


def test_a_preset_k_the_run_cannot_meet_decodes_the_best_weights(
    run: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model, _, _ = load_trained(run / artifacts.BEST)
    best = _weights(model)
    averaging.average_weights(model, averaging.last_checkpoints(run / artifacts.BEST, 5))
    with caplog.at_level(logging.WARNING):
        used = averaging.restore_average(model, run / artifacts.BEST, 6, strict=False)
    assert used == averaging.last_checkpoints(run / artifacts.BEST, 1)
    for mine, theirs in zip(_weights(model), best, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert "the preset averages the last 6 checkpoints, but " in caplog.text
    assert "holds 5 intact one(s): decoding the best dev-loss weights" in caplog.text
    with pytest.raises(ValueError, match=r"^--average-last 6 needs the run's last 6 checkpoints"):
        averaging.restore_average(model, run / artifacts.BEST, 6, strict=True)
    assert [
        Path(p).name
        for p in averaging.restore_average(model, run / artifacts.BEST, 5, strict=False)
    ] == KEPT


def _bleu_report(run: Path, reports: Path, *flags: str) -> dict:
    argv = ["--model-dir", str(run / artifacts.BEST), "--reports-dir", str(reports), "--quick"]
    assert bleu.main([*argv, "--sets", "test", "--bench-sentences", "2", *flags]) == 0
    return json.loads((reports / "bleu.json").read_text())


def test_bleu_scores_the_weights_export_ships(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(decoding, "load_test_set", lambda *a, **k: EvalSet(SOURCES, REFERENCES))
    assert PRESETS["default"].translate.average_last == 5
    default = _bleu_report(run, tmp_path / "default")  # the preset's K, which this run meets
    assert [Path(p).name for p in default["weights"]] == KEPT
    text = (tmp_path / "default" / "bleu.md").read_text()
    assert "Weights: the mean of the run's last 5 checkpoints (ckpt-4, ckpt-5, " in text
    best = _bleu_report(run, tmp_path / "best", "--average-last", "1")
    assert best["weights"] == averaging.last_checkpoints(run / artifacts.BEST, 1)
    assert "Weights: the best dev-loss ones (`" in (tmp_path / "best" / "bleu.md").read_text()
    # Each report's rows are its own weights' outputs.
    model, codec, _ = load_trained(run / artifacts.BEST)
    for report, k in ((best, 1), (default, 5)):
        averaging.average_weights(model, averaging.last_checkpoints(run / artifacts.BEST, k))
        for setting, row in zip(QUICK_GRID, report["sets"]["test"]["results"], strict=True):
            _, hypotheses = translate_all(model, codec, codec.encode(tf.constant(SOURCES)), setting)
            assert row["setting"] == setting.name
            assert row["chrf"] == score_bleu(hypotheses, REFERENCES)["chrf"]
