"""Interrupted embedding runs: resumed exactly, past a damaged checkpoint, and fully reported.

Two uninterrupted runs of either model give bit-identical losses and vectors on this machine
(checked first in each test), so a resumed run is held to exact equality, not a tolerance.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from faults import truncate_checkpoint

from pipeline.embeddings import cooccurrence, glove, word2vec
from pipeline.embeddings.corpus import Corpus
from pipeline.embeddings.word2vec import SGNSConfig


class SimulatedKillError(Exception):
    """Stands for the process dying right after an epoch's checkpoint was written."""


def zipf_corpus(sentences: int = 600, vocab_size: int = 60, seed: int = 0) -> Corpus:
    rng = np.random.default_rng(seed)
    p = 1 / np.arange(1, vocab_size + 1)
    lengths = rng.integers(3, 15, sentences)
    tokens = rng.choice(vocab_size, size=int(lengths.sum()), p=p / p.sum()).astype(np.int32)
    splits = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    counts = np.bincount(tokens, minlength=vocab_size).astype(np.int64)
    return Corpus([f"w{i}" for i in range(vocab_size)], counts, tokens, splits)


W2V = SGNSConfig(dim=8, window=3, epochs=4, batch_size=256, share_negatives=4)


def w2v_run(ckpt: Path, kill_after: int | None = None) -> tuple[list[float], np.ndarray, dict]:
    """Per-epoch losses, vectors and stats of a run; ``kill_after`` epochs then it dies."""
    losses: list[float] = []

    def on_epoch(epoch: int, stats: dict[str, float]) -> None:
        losses.append(stats["loss"])
        if kill_after is not None and epoch + 1 == kill_after:
            raise SimulatedKillError

    try:
        vectors, stats = word2vec.train(zipf_corpus(), W2V, ckpt, on_epoch=on_epoch)
    except SimulatedKillError:
        return losses, np.empty(0), {}
    return losses, vectors, stats


@pytest.fixture
def many_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Several chunks per epoch, which tf.data pairs in parallel as on a real corpus."""
    monkeypatch.setattr(word2vec, "CHUNK_TOKENS", 500)


def test_word2vec_resumed_run_equals_an_uninterrupted_one(tmp_path, many_chunks):
    losses, vectors, stats = w2v_run(tmp_path / "a")
    again, vectors_again, _ = w2v_run(tmp_path / "b")
    assert again == losses and np.array_equal(vectors_again, vectors)  # deterministic

    first, _, _ = w2v_run(tmp_path / "c", kill_after=2)
    rest, resumed, resumed_stats = w2v_run(tmp_path / "c")
    assert first + rest == losses
    np.testing.assert_array_equal(resumed, vectors)
    # The report covers the whole run, not only the part after the resume.
    assert [e["loss"] for e in resumed_stats["epochs"]] == losses
    assert resumed_stats["pairs"] == stats["pairs"] and resumed_stats["words"] == stats["words"]
    assert resumed_stats["resumed_after"] == 2 and stats["resumed_after"] == 0
    assert resumed_stats["seconds"] == pytest.approx(
        sum(e["seconds"] for e in resumed_stats["epochs"])
    )


def test_word2vec_rerun_of_a_finished_run_keeps_its_report(tmp_path):
    _, vectors, stats = w2v_run(tmp_path / "a")
    rest, again, again_stats = w2v_run(tmp_path / "a")
    assert rest == [] and again_stats["resumed_after"] == W2V.epochs
    np.testing.assert_array_equal(again, vectors)
    assert again_stats == {**stats, "resumed_after": W2V.epochs}


def test_word2vec_falls_back_past_a_truncated_checkpoint(tmp_path, caplog):
    losses, vectors, _ = w2v_run(tmp_path / "a")
    w2v_run(tmp_path / "c", kill_after=3)
    truncate_checkpoint(tmp_path / "c" / "ckpt-3")
    with caplog.at_level(logging.WARNING, logger="pipeline.checkpoints"):
        rest, resumed, stats = w2v_run(tmp_path / "c")
    assert "ckpt-3 is damaged" in caplog.text and "trying the one before it" in caplog.text
    assert rest == losses[2:]  # epoch 3 again, then epoch 4
    np.testing.assert_array_equal(resumed, vectors)
    assert stats["resumed_after"] == 2 and len(stats["epochs"]) == 4


GLOVE = {"dim": 4, "batch_size": 16, "seed": 1, "progress": False, "epochs": 4}


def glove_matrix():
    return cooccurrence.count(zipf_corpus(200, 30), window=2)


def glove_run(ckpt: Path, kill_after: int | None = None) -> tuple[list[float], np.ndarray, dict]:
    losses: list[float] = []

    def callback(epoch: int, loss: float) -> None:
        losses.append(loss)
        if kill_after is not None and epoch == kill_after:
            raise SimulatedKillError

    try:
        vectors, stats = glove.train_glove(
            glove_matrix(), checkpoint_dir=ckpt, callback=callback, **GLOVE
        )
    except SimulatedKillError:
        return losses, np.empty(0), {}
    return losses, vectors, stats


def test_glove_resumed_run_equals_an_uninterrupted_one(tmp_path):
    losses, vectors, stats = glove_run(tmp_path / "a")
    again, vectors_again, _ = glove_run(tmp_path / "b")
    assert again == losses and np.array_equal(vectors_again, vectors)

    first, _, _ = glove_run(tmp_path / "c", kill_after=2)
    rest, resumed, resumed_stats = glove_run(tmp_path / "c")
    assert first + rest == losses
    np.testing.assert_array_equal(resumed, vectors)
    assert [e["loss"] for e in resumed_stats["epochs"]] == losses
    assert resumed_stats["resumed_after"] == 2 and stats["resumed_after"] == 0
    assert resumed_stats["seconds"] == pytest.approx(
        sum(e["seconds"] for e in resumed_stats["epochs"])
    )


def test_glove_falls_back_past_a_truncated_checkpoint(tmp_path, caplog):
    losses, vectors, _ = glove_run(tmp_path / "a")
    glove_run(tmp_path / "c", kill_after=3)
    truncate_checkpoint(tmp_path / "c" / "ckpt-3")
    with caplog.at_level(logging.WARNING, logger="pipeline.checkpoints"):
        rest, resumed, stats = glove_run(tmp_path / "c")
    assert "ckpt-3 is damaged" in caplog.text
    assert rest == losses[2:]
    np.testing.assert_array_equal(resumed, vectors)
    assert stats["resumed_after"] == 2 and len(stats["epochs"]) == 4
