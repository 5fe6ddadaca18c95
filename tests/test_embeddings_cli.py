"""The embedding stages' command lines keep their outputs where they are told."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline import artifacts
from pipeline.embeddings import evaluate, export
from pipeline.embeddings import train as emb_train
from pipeline.text import EOS_ID, Vocabulary


def tiny_corpus(data: Path) -> None:
    """``make tokenize``'s corpus files for 40 short sentences over 8 words."""
    words = [f"w{i}" for i in range(8)]
    vocab = Vocabulary.build({w: 10 - i for i, w in enumerate(words)})
    rng = np.random.default_rng(0)
    ids = [i for _ in range(40) for i in [*(rng.integers(4, 12, 6).tolist()), EOS_ID]]
    vocab.save(data / "processed" / artifacts.CORPUS_VOCAB)
    (data / "processed" / artifacts.CORPUS_IDS).parent.mkdir(parents=True)
    np.save(data / "processed" / artifacts.CORPUS_IDS, np.array(ids, np.int32))


def files_under(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*") if p.is_file()}


def test_train_with_output_flags_writes_nothing_in_the_default_places(
    tmp_path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    monkeypatch.chdir(tmp_path)  # the default runs/, reports/, saved_models/ are relative
    tiny_corpus(tmp_path / "data")
    before = files_under(tmp_path)
    trial = tmp_path / "trial"
    flags = ["--preset", "smoke", "--reports-dir", str(trial / "reports")]
    flags += ["--runs-dir", str(trial / "runs"), "--vectors-dir", str(trial / "vectors")]
    assert emb_train.main([*flags, "--models", "word2vec,glove", "--epochs", "1"]) == 0
    written = files_under(tmp_path) - before
    assert written and all(p.parts[0] == "trial" for p in written), sorted(written)
    assert (trial / "vectors" / "word2vec" / "vectors.npy").exists()
    assert (trial / "vectors" / "glove" / "vectors.npy").exists()
    assert any((trial / "runs" / "glove").rglob("ckpt-*.index"))
    report = json.loads((trial / "reports" / "train_word2vec.json").read_text())
    assert report["resumed_after"] == 0 and len(report["epochs"]) == 1

    # The readers take the same flag: export finds the trial's vectors...
    out = ["--data-dir", str(trial / "data"), "--saved-models-dir", str(trial / "saved")]
    vectors = ["--vectors-dir", str(trial / "vectors")]
    assert export.main([*out, *vectors, "--models", "word2vec"]) == 0
    assert (trial / "saved" / "embeddings" / "1" / "saved_model.pb").exists()
    # ...and evaluate looks where it is told, not under the data dir.
    empty = tmp_path / "no-vectors"
    assert evaluate.main(["--vectors-dir", str(empty)]) == 1
    assert f"no trained embeddings (word2vec, glove) under {empty}; run" in caplog.text
