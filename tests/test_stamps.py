"""The stamps and output lists the data and tokenize stages leave for make (smoke preset)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tensorflow as tf
from test_pipeline_smoke import DATA_CONFIG, _fixture_artifacts

from pipeline import artifacts, encode
from pipeline.config import PRESETS, Paths
from pipeline.data import __main__ as data_stage


@pytest.fixture
def stage(tmp_path):
    """Runs the data stage (``force`` and config overrides allowed) on fixture archives."""
    paths = Paths(data=tmp_path / "data", reports=tmp_path / "reports")
    artifacts = _fixture_artifacts(paths.raw)
    base = DATA_CONFIG

    def run(force: bool = False, **config) -> dict:
        return data_stage.run(
            paths, dataclasses.replace(base, **config), artifacts=artifacts, force=force
        )

    run()
    return paths, run


def _mtimes(paths: Paths, *stages: str) -> list[int]:
    return [artifacts.stamp(paths, s).stat().st_mtime_ns for s in stages]


def test_a_rebuild_with_identical_outputs_keeps_both_stamps(stage):
    paths, run = stage
    encode.run(paths, PRESETS["smoke"].tokenize)
    before = _mtimes(paths, "data", "tokenize")
    manifests = [artifacts.manifest(paths, s) for s in ("data", "tokenize")]
    ran = [m.stat().st_mtime_ns for m in manifests]
    run(force=True)
    encode.run(paths, PRESETS["smoke"].tokenize)
    assert _mtimes(paths, "data", "tokenize") == before
    assert all(m.stat().st_mtime_ns > t for m, t in zip(manifests, ran, strict=True))


def test_changed_outputs_change_the_stamps(stage):
    paths, run = stage
    encode.run(paths, PRESETS["smoke"].tokenize)
    before = [artifacts.stamp(paths, s).read_text() for s in ("data", "tokenize")]
    run(n_test=2)  # a different split: other TSV rows, TFRecords and vocabularies
    encode.run(paths, PRESETS["smoke"].tokenize)
    after = [artifacts.stamp(paths, s).read_text() for s in ("data", "tokenize")]
    assert after[0] != before[0] and after[1] != before[1]


def test_a_deleted_output_makes_the_data_stage_rebuild(stage):
    paths, run = stage
    stamp_before = _mtimes(paths, "data")
    missing = paths.processed / "translate" / "train.tsv"
    missing.unlink()
    run()
    assert missing.is_file()
    assert _mtimes(paths, "data") == stamp_before  # the same data again


def test_a_deleted_stamp_is_restored_without_a_rebuild(stage):
    paths, run = stage
    stamp = artifacts.stamp(paths, "data")
    content = stamp.read_text()
    stamp.unlink()
    artifacts.outputs_listing(paths, "data").unlink()
    manifest = artifacts.manifest(paths, "data")
    ran = manifest.stat().st_mtime_ns
    run()
    assert stamp.read_text() == content and artifacts.outputs_listing(paths, "data").exists()
    assert manifest.stat().st_mtime_ns == ran


def _listed(paths: Paths, stage: str) -> list[str]:
    text = artifacts.outputs_listing(paths, stage).read_text()
    variable, files = text.splitlines()[1].split(" := ")[0], text.split(" := ")[1]
    assert variable == f"{stage.upper()}_OUTPUTS"
    return files.replace("\\\n", " ").split()


def test_the_output_lists_name_what_later_stages_read(stage):
    paths, _ = stage
    encode.run(paths, PRESETS["smoke"].tokenize)
    data = _listed(paths, "data")
    assert "processed/translate/train.tsv" in data and "processed/corpus/en.tsv" in data
    assert "tfds/de_en_translate/2.0.0/de_en_translate-train.tfrecord-00000-of-00001" in data
    assert all((paths.data / name).is_file() for name in data)
    assert _listed(paths, "tokenize") == [
        "processed/corpus/ids.npy",
        "processed/polarity/mr.tfrecord",
        *(
            f"processed/translate/{units}/{split}.tfrecord"
            for units in ("subword", "word")
            for split in ("dev", "loc_dev", "loc_test", "test", "train")
        ),
        "processed/vocab/corpus_en.txt",
        "processed/vocab/polarity_en.txt",
        "processed/vocab/translate_de.txt",
        "processed/vocab/translate_en.txt",
        "processed/vocab/translate_subwords.model",
    ]


def test_the_data_stamp_does_not_hang_on_the_bytes_of_tfds_shards(stage):
    """TFDS orders each example's features differently in each process; the data is the same."""
    paths, _ = stage
    stamp = artifacts.stamp(paths, "data")
    before, mtime = stamp.read_text(), stamp.stat().st_mtime_ns
    (shard,) = (paths.tfds / "de_en_translate").rglob("*-train.tfrecord-*")
    records = [r.numpy() for r in tf.data.TFRecordDataset(str(shard))]
    with tf.io.TFRecordWriter(str(shard)) as writer:  # other bytes, the same examples
        for record in reversed(records):
            writer.write(record)
    manifest = json.loads(artifacts.manifest(paths, "data").read_text())
    data_stage._finish(paths, manifest["fingerprint"], manifest["report"])
    assert stamp.read_text() == before and stamp.stat().st_mtime_ns == mtime


def test_tokenize_records_are_the_same_bytes_in_every_process(tmp_path):
    script = (
        "import sys, numpy as np; from pathlib import Path; from pipeline import encode\n"
        "encode.write_records(Path(sys.argv[1]), iter([{k: np.arange(3) + i for i, k in "
        "enumerate('source target_in target_out label fold'.split())}] * 4))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    for name in ("a", "b", "c"):
        subprocess.run([sys.executable, "-c", script, str(tmp_path / name)], env=env, check=True)
    files = [(tmp_path / name).read_bytes() for name in ("a", "b", "c")]
    assert files[0] == files[1] == files[2]
