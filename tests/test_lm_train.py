"""The language-model training stage on a tiny word corpus (smoke preset): flags and resumption."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from faults import truncate_checkpoint

from pipeline import artifacts
from pipeline.config import PRESETS, Paths
from pipeline.lm import train as stage
from pipeline.text import EOS_ID, Vocabulary

CONFIG = dataclasses.replace(PRESETS["smoke"].lm, epochs=3)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``make tokenize``'s word-level corpus files: 60 random sentences over 20 words."""
    data = tmp_path_factory.mktemp("lm") / "data"
    processed = Paths(data=data).processed
    vocab = Vocabulary.build({f"w{i}": 100 - i for i in range(20)})
    vocab.save(processed / artifacts.CORPUS_VOCAB)
    rng = np.random.default_rng(0)
    sentences = [
        np.append(rng.integers(4, len(vocab), rng.integers(2, 10)), EOS_ID) for _ in range(60)
    ]
    (processed / artifacts.CORPUS_IDS).parent.mkdir(parents=True, exist_ok=True)
    np.save(processed / artifacts.CORPUS_IDS, np.concatenate(sentences).astype(np.int32))
    return data


def _paths(data_dir: Path, root: Path) -> Paths:
    return Paths(data=data_dir, reports=root, runs=root / "runs", saved_models=root / "saved")


@pytest.fixture(scope="module")
def straight(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The report of an uninterrupted run."""
    return stage.train(_paths(data_dir, tmp_path_factory.mktemp("straight")), CONFIG)


def _assert_same_run(report: dict[str, Any], reference: dict[str, Any]) -> None:
    assert report["train_steps"] == reference["train_steps"] == 3 * CONFIG.steps_per_epoch
    assert report["history"].keys() == reference["history"].keys()
    for key, values in report["history"].items():
        assert len(values) == CONFIG.epochs, key
        np.testing.assert_allclose(values, reference["history"][key], atol=2e-4, err_msg=key)
    assert report["perplexity"] == pytest.approx(reference["perplexity"], abs=0.02)


def test_runs_dir_flag_places_checkpoints_and_logs(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["--preset", "smoke", "--data-dir", str(data_dir), "--epochs", "1"]
    args += ["--reports-dir", "reports", "--saved-models-dir", "saved", "--runs-dir", "elsewhere"]
    assert stage.main(args) == 0
    assert list((tmp_path / "elsewhere" / "lm" / "tensorboard").iterdir())
    assert (tmp_path / "saved" / "lm" / "1" / "saved_model.pb").exists()
    assert not (tmp_path / "runs").exists()


def test_resumed_run_reports_the_whole_run(
    data_dir: Path, tmp_path: Path, straight: dict[str, Any]
) -> None:
    paths = _paths(data_dir, tmp_path)
    first = stage.train(paths, CONFIG, max_epochs=2)  # "killed" after the second epoch's backup
    assert first["epochs"] == 2
    assert (paths.runs / "lm" / "backup" / "checkpoint").exists()
    report = stage.train(paths, CONFIG)
    _assert_same_run(report, straight)
    assert report["train_seconds"] >= first["train_seconds"]
    assert not (paths.runs / "lm" / "backup").exists()  # removed once training finished


def test_truncated_backup_falls_back_to_the_one_before(
    data_dir: Path, tmp_path: Path, straight: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    paths = _paths(data_dir, tmp_path)
    stage.train(paths, CONFIG, max_epochs=2)
    backup = paths.runs / "lm" / "backup"
    truncate_checkpoint(backup / "ckpt-2")
    with caplog.at_level(logging.INFO):
        report = stage.train(paths, CONFIG)
    assert f"checkpoint {backup / 'ckpt-2'} is damaged" in caplog.text
    assert f"resuming {backup / 'ckpt-1'} after epoch 1" in caplog.text
    _assert_same_run(report, straight)
