"""The translation training stage end to end on tiny fixture records (smoke preset)."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from faults import truncate_checkpoint

from pipeline import artifacts
from pipeline.config import PRESETS, Paths
from pipeline.io import write_json
from pipeline.text import EOS_ID, Vocabulary, subwords
from pipeline.translate import load_trained
from pipeline.translate import train as stage

ROOT = Path(__file__).resolve().parent.parent
WORDS = 12


def _example(de: list[int], en: list[int], kind: int) -> bytes:
    feature = {
        "de": tf.train.Feature(int64_list=tf.train.Int64List(value=de)),
        "en": tf.train.Feature(int64_list=tf.train.Int64List(value=en)),
        "kind": tf.train.Feature(int64_list=tf.train.Int64List(value=[kind])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write_fixture(data_dir: Path, n_train: int = 40, n_dev: int = 6) -> Paths:
    """Vocabularies, a subword model and records of ``make tokenize``'s layout, the same ids
    in both encodings: en = reversed, mapped de."""
    paths = Paths(data=data_dir)
    for lang in ("de", "en"):
        vocab = Vocabulary.build({f"{lang}{i}": 1 for i in range(WORDS)})
        vocab.save(paths.processed / artifacts.vocab_file(lang))
    subwords.train(
        (f"de{i} en{j}" for i in range(WORDS) for j in range(WORDS)),
        paths.processed / artifacts.SUBWORD_MODEL,
        vocab_size=300,
    )
    write_json(artifacts.manifest(paths, "tokenize"), {"config": {"lowercase": True}})
    for units in artifacts.UNITS:
        rng = np.random.default_rng(0)
        for split, n in (("train", n_train), ("dev", n_dev), ("test", n_dev)):
            path = paths.processed / artifacts.translate_records(units, split)
            path.parent.mkdir(parents=True, exist_ok=True)
            with tf.io.TFRecordWriter(str(path)) as writer:
                for i in range(n):
                    de = [int(x) for x in rng.integers(4, 4 + WORDS, size=rng.integers(1, 7))]
                    # Every kind but the last (catalogue), so the mix also meets an empty one.
                    writer.write(_example([*de, EOS_ID], [*reversed(de), EOS_ID], i % 3))
    return paths


@pytest.fixture(scope="module")
def fixture_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("translate") / "data"
    write_fixture(data_dir)
    return data_dir


def _args(data_dir: Path, tmp_path: Path, *extra: str) -> list[str]:
    return [
        "--preset", "smoke", "--data-dir", str(data_dir),
        "--runs-dir", str(tmp_path / "runs"), "--reports-dir", str(tmp_path / "reports"),
        *extra,
    ]  # fmt: skip


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        stage.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    flags = ("--strategy", "--source", "--target", "--max-minutes", "--save-every", "--runs-dir")
    for flag in (*flags, "--saved-models-dir"):
        assert flag in out


def test_smoke_training_writes_a_reloadable_model(fixture_data: Path, tmp_path: Path) -> None:
    assert stage.main(_args(fixture_data, tmp_path)) == 0
    report = json.loads((tmp_path / "reports" / "train_translate.json").read_text())
    config = PRESETS["smoke"].translate
    assert report["steps"] == config.epochs * config.steps_per_epoch
    assert len(report["history"]) == config.epochs
    assert np.isfinite(report["dev_loss"]) and report["dev_perplexity"] > 1
    run = tmp_path / "runs" / "translate" / "de-en"
    assert list((run / "tensorboard").iterdir())
    model, codec, loaded_config = load_trained(run / "best")
    assert loaded_config == config and codec.units == config.tokens == "subword"
    assert codec.sizes == (report["source_vocab_size"], report["target_vocab_size"])
    assert codec.sizes[0] > 256  # the byte pieces and more
    # The reloaded best weights give the reported dev loss.
    trainer = stage.Trainer(config, *codec.sizes, tf.distribute.get_strategy())
    for mine, theirs in zip(trainer.model.weights, model.weights, strict=True):
        mine.assign(theirs)
    paths = Paths(data=fixture_data)
    dev = paths.processed / artifacts.translate_records("subword", "dev")
    pairs = stage.data.read_pairs(dev, "de", "en")
    dev_loss, _ = trainer.evaluate(stage.data.eval_batches(pairs, 4))
    assert dev_loss == pytest.approx(report["dev_loss"], abs=1e-3)
    # Rerunning a finished run trains no further.
    assert stage.main(_args(fixture_data, tmp_path)) == 0
    again = json.loads((tmp_path / "reports" / "train_translate.json").read_text())
    assert again["steps"] == report["steps"]
    assert again["stop_reason"] == report["stop_reason"]


def test_word_level_model_is_a_separate_run(fixture_data: Path, tmp_path: Path) -> None:
    extra = ("--tokens", "word", "--epochs", "1", "--steps-per-epoch", "2")
    assert stage.main(_args(fixture_data, tmp_path, *extra)) == 0
    assert (tmp_path / "reports" / "train_translate_de_en_word.json").exists()
    assert not (tmp_path / "runs" / "translate" / "de-en").exists()
    _, codec, config = load_trained(tmp_path / "runs" / "translate" / "de-en-word" / "best")
    assert codec.units == config.tokens == "word" and codec.lowercase
    assert codec.sizes == (WORDS + 4, WORDS + 4)


def test_reverse_direction_and_missing_inputs(fixture_data: Path, tmp_path: Path) -> None:
    extra = ("--source", "en", "--target", "de", "--epochs", "1", "--steps-per-epoch", "2")
    assert stage.main(_args(fixture_data, tmp_path, *extra)) == 0
    assert (tmp_path / "reports" / "train_translate_en_de.json").exists()
    assert (tmp_path / "runs" / "translate" / "en-de" / "best" / "translator.json").exists()
    assert stage.main(_args(tmp_path / "nowhere", tmp_path)) == 1


def test_a_bad_mix_stops_before_any_work(
    fixture_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert stage.main(_args(fixture_data, tmp_path, "--mix", "sentences=1")) == 1
    assert "--mix names kind 'sentences'; the kinds are sentence, phrase" in caplog.text
    assert not (tmp_path / "runs" / "translate").exists()


def test_the_corpus_own_mix_trains_too(fixture_data: Path, tmp_path: Path) -> None:
    extra = ("--mix", "", "--epochs", "1", "--steps-per-epoch", "2")
    assert stage.main(_args(fixture_data, tmp_path, *extra)) == 0
    report = json.loads((tmp_path / "reports" / "train_translate.json").read_text())
    assert report["config"]["mix"] == "" and report["steps"] == 2


def _final_weights(paths: Paths, config: object, max_steps: int | None = None) -> list:
    trainer_report = stage.train(paths, config, max_steps=max_steps)  # type: ignore[arg-type]
    del trainer_report
    ckpt = tf.train.latest_checkpoint(str(paths.runs / "translate" / "de-en" / "ckpt"))
    return [tf.train.load_variable(ckpt, name) for name, _ in tf.train.list_variables(ckpt)
            if name.startswith("model/")]  # fmt: skip


@pytest.mark.parametrize("lr_schedule", ["plateau", "cosine"])
def test_resume_after_interrupt_matches_an_uninterrupted_run(
    fixture_data: Path, tmp_path: Path, lr_schedule: str
) -> None:
    # Dropout on: its random state is checkpointed too; the cosine rate moves every step, so
    # a resume that lost the optimizer's step count would take different steps.
    config = dataclasses.replace(
        PRESETS["smoke"].translate,
        epochs=1,
        steps_per_epoch=6,
        save_every=2,
        dropout=0.2,
        lr_schedule=lr_schedule,
    )
    straight = Paths(data=fixture_data, reports=tmp_path / "a", runs=tmp_path / "a")
    expected = _final_weights(straight, config)
    # "kill -9" after step 5: the last checkpoint is step 4, so step 5 is redone on resume.
    resumed = Paths(data=fixture_data, reports=tmp_path / "b", runs=tmp_path / "b")
    report = stage.train(resumed, config, max_steps=5)
    assert report["steps"] == 5
    ckpt_dir = resumed.runs / "translate" / "de-en" / "ckpt"
    assert tf.train.latest_checkpoint(str(ckpt_dir)).endswith("ckpt-4")
    got = _final_weights(resumed, config)
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_the_cosine_rate_follows_its_equation_at_every_epoch_end(
    fixture_data: Path, tmp_path: Path
) -> None:
    config = dataclasses.replace(
        PRESETS["smoke"].translate, epochs=3, steps_per_epoch=2, patience=3, lr_schedule="cosine"
    )
    report = stage.train(Paths(data=fixture_data, reports=tmp_path, runs=tmp_path), config)
    lr0, total = config.learning_rate, config.epochs * config.steps_per_epoch
    assert [r["step"] for r in report["history"]] == [2, 4, 6]
    for record in report["history"]:
        expected = lr0 * (1 + np.cos(np.pi * record["step"] / total)) / 2
        assert record["learning_rate"] == pytest.approx(expected, rel=1e-5, abs=1e-9)


@pytest.fixture(scope="module")
def interrupted_config() -> object:
    """One epoch of 6 steps with checkpoints at steps 2 and 4; dropout's state matters too."""
    return dataclasses.replace(
        PRESETS["smoke"].translate, epochs=1, steps_per_epoch=6, save_every=2, dropout=0.2
    )


@pytest.fixture(scope="module")
def straight_run(
    fixture_data: Path, tmp_path_factory: pytest.TempPathFactory, interrupted_config: object
) -> tuple[dict, list]:
    """The report and final weights of an uninterrupted run of ``interrupted_config``."""
    root = tmp_path_factory.mktemp("straight")
    paths = Paths(data=fixture_data, reports=root, runs=root)
    weights = _final_weights(paths, interrupted_config)
    return json.loads((root / "train_translate.json").read_text()), weights


def _assert_same_run(paths: Paths, weights: list, straight_run: tuple[dict, list]) -> None:
    expected_report, expected_weights = straight_run
    for a, b in zip(expected_weights, weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    report = json.loads((paths.reports / "train_translate.json").read_text())
    assert report["steps"] == expected_report["steps"] == 6
    assert len(report["history"]) == len(expected_report["history"]) == 1
    for mine, theirs in zip(report["history"], expected_report["history"], strict=True):
        assert mine["train_loss"] == pytest.approx(theirs["train_loss"], abs=2e-4)
        assert mine["dev_loss"] == pytest.approx(theirs["dev_loss"], abs=1e-4)


def test_epoch_resumed_mid_way_reports_the_mean_over_the_whole_epoch(
    fixture_data: Path, tmp_path: Path, interrupted_config: object, straight_run: tuple
) -> None:
    paths = Paths(data=fixture_data, reports=tmp_path, runs=tmp_path)
    stage.train(paths, interrupted_config, max_steps=5)  # type: ignore[arg-type]
    _assert_same_run(paths, _final_weights(paths, interrupted_config), straight_run)


def test_truncated_checkpoint_falls_back_to_the_one_before(
    fixture_data: Path,
    tmp_path: Path,
    interrupted_config: object,
    straight_run: tuple,
    caplog: pytest.LogCaptureFixture,
) -> None:
    paths = Paths(data=fixture_data, reports=tmp_path, runs=tmp_path)
    stage.train(paths, interrupted_config, max_steps=5)  # type: ignore[arg-type]
    ckpt_dir = tmp_path / "translate" / "de-en" / "ckpt"
    truncate_checkpoint(ckpt_dir / "ckpt-4")
    with caplog.at_level(logging.INFO):
        weights = _final_weights(paths, interrupted_config)
    assert f"checkpoint {ckpt_dir / 'ckpt-4'} is damaged" in caplog.text
    assert f"resuming {ckpt_dir / 'ckpt-2'} at step 2" in caplog.text
    _assert_same_run(paths, weights, straight_run)


def test_more_epochs_extend_a_finished_run_and_its_history(
    fixture_data: Path, tmp_path: Path
) -> None:
    config = dataclasses.replace(
        PRESETS["smoke"].translate, epochs=2, steps_per_epoch=3, save_every=3, patience=5
    )
    straight = Paths(data=fixture_data, reports=tmp_path / "a", runs=tmp_path / "a")
    expected = _final_weights(straight, config)
    extended = Paths(data=fixture_data, reports=tmp_path / "b", runs=tmp_path / "b")
    first = stage.train(extended, dataclasses.replace(config, epochs=1))
    assert [r["step"] for r in first["history"]] == [3]
    got = _final_weights(extended, config)
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    report = json.loads((extended.reports / "train_translate.json").read_text())
    reference = json.loads((straight.reports / "train_translate.json").read_text())
    assert [r["step"] for r in report["history"]] == [3, 6]
    for mine, theirs in zip(report["history"], reference["history"], strict=True):
        assert mine["dev_loss"] == pytest.approx(theirs["dev_loss"], abs=1e-4)


def test_a_run_cut_by_its_time_budget_resumes_only_when_given_more_time(
    fixture_data: Path, tmp_path: Path
) -> None:
    config = dataclasses.replace(
        PRESETS["smoke"].translate, epochs=2, steps_per_epoch=3, max_minutes=1e-6
    )
    paths = Paths(data=fixture_data, reports=tmp_path, runs=tmp_path)
    first = stage.train(paths, config)
    assert first["stop_reason"].startswith("time budget") and first["steps"] == 1
    same = stage.train(paths, config)  # the report keeps the reason the run stopped
    assert same["stop_reason"] == first["stop_reason"] and same["steps"] == 1
    longer = stage.train(paths, dataclasses.replace(config, max_minutes=0.0))
    assert longer["stop_reason"] == "epochs done" and longer["steps"] == 6


@pytest.mark.parametrize(
    ("stopped", "bad_epochs", "patience", "elapsed", "minutes", "reason"),
    [
        (True, 3, 3, 10.0, 35.0, "early stop: no better dev loss for 3 epochs"),
        (True, 3, 4, 10.0, 35.0, ""),  # more patience: the run goes on
        (True, 0, 3, 2100.0, 35.0, "time budget of 35 min used"),
        (True, 0, 3, 2100.0, 40.0, ""),  # more time: the run goes on
        (False, 3, 3, 2100.0, 35.0, ""),  # never stopped (killed): it resumes
    ],
)
def test_a_stopped_run_reports_the_rule_that_still_holds(
    stopped: bool, bad_epochs: int, patience: int, elapsed: float, minutes: float, reason: str
) -> None:
    config = dataclasses.replace(
        PRESETS["default"].translate, patience=patience, max_minutes=minutes
    )
    trainer = types.SimpleNamespace(
        stopped=tf.constant(stopped), bad_epochs=tf.constant(bad_epochs)
    )
    run = types.SimpleNamespace(
        trainer=trainer, config=config, budget=minutes * 60.0, elapsed=lambda: elapsed
    )
    assert stage.still_stopped(run) == reason  # type: ignore[arg-type]


def test_nan_loss_stops_with_checkpoints_intact(
    fixture_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = tf.Variable(0)
    token_losses = stage.token_losses

    def poisoned(*args: object) -> tuple[tf.Tensor, tf.Tensor]:
        """The real losses for two training steps, then NaN."""
        calls.assign_add(1)
        factor = tf.where(calls > 2, float("nan"), 1.0)
        return tuple(x * factor for x in token_losses(*args))  # type: ignore[return-value]

    monkeypatch.setattr(stage, "token_losses", poisoned)
    assert stage.main(_args(fixture_data, tmp_path, "--save-every", "1")) == 3
    ckpt = tf.train.latest_checkpoint(str(tmp_path / "runs" / "translate" / "de-en" / "ckpt"))
    assert ckpt.endswith("ckpt-2")
    for name, _ in tf.train.list_variables(ckpt):
        if name.startswith("model/"):
            assert np.all(np.isfinite(tf.train.load_variable(ckpt, name))), name


MIRRORED_CHECK = textwrap.dedent(
    """
    import sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from pipeline.config import PRESETS
    from pipeline.translate import data
    from pipeline.translate.train import Trainer, masked_loss

    pairs = data.read_pairs(sys.argv[1], "de", "en")
    batch = next(iter(data.eval_batches(pairs, 8)))
    config = PRESETS["smoke"].translate
    results = []
    mirrored = tf.distribute.MirroredStrategy(["CPU:0", "CPU:1"])
    for strategy in (tf.distribute.get_strategy(), mirrored):
        keras.utils.set_random_seed(0)
        trainer = Trainer(config, 16, 16, strategy)
        dataset = strategy.experimental_distribute_dataset(
            tf.data.Dataset.from_tensors(batch).repeat()
        )
        loss, nll, count = trainer.make_train_fn()(iter(dataset))
        after = masked_loss(trainer.model, batch)
        results.append([float(loss / count), float(after[1] / after[2]), float(count),
                        strategy.num_replicas_in_sync])
    print(results)
    (a, b) = results
    assert b[3] == 2, results
    assert a[2] == b[2], results
    # The step's loss is the same computation; after one Adam step (whose first update is
    # about lr * sign(gradient), so float noise in near-zero gradients flips some signs)
    # the losses agree to a few 1e-3.
    assert abs(a[0] - b[0]) < 1e-5 and abs(a[1] - b[1]) < 5e-3, results
    """
)


def test_mirrored_strategy_matches_default_on_one_batch(fixture_data: Path) -> None:
    records = Paths(data=fixture_data).processed / artifacts.translate_records("word", "train")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_CHECK, str(records)],
        capture_output=True, text=True, timeout=120, env=env, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


def test_multi_worker_training_on_two_local_workers(fixture_data: Path, tmp_path: Path) -> None:
    """Two workers on loopback (TF_CONFIG), a few steps; the chief writes the run."""
    cluster = {"worker": [f"localhost:{_free_port()}" for _ in range(2)]}
    workers = []
    for index in range(2):
        tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "TF_CONFIG": json.dumps(tf_config),
        }
        args = _args(fixture_data, tmp_path, "--strategy", "multi_worker", "--epochs", "1")
        workers.append(
            subprocess.Popen(
                [sys.executable, "-m", "pipeline.translate.train", *args],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    try:
        outputs = [worker.communicate(timeout=240)[0] for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    for worker, output in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, output[-3000:]
    report = json.loads((tmp_path / "reports" / "train_translate.json").read_text())
    # MultiWorkerMirroredStrategy's class is CollectiveAllReduceStrategy.
    assert report["strategy"] == "CollectiveAllReduceStrategy"
    assert report["replicas"] == 2
    assert report["steps"] == PRESETS["smoke"].translate.steps_per_epoch
