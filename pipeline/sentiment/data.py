"""Polarity examples as padded id matrices, cross-validation folds and embedding matrices.

MR is small (12.7k short reviews), so it is read once into NumPy; every fold then slices it.
Ids are the polarity vocabulary's (``make tokenize``): the corpus vocabulary the word vectors
were trained on, so a pretrained vector is found by id, followed by MR's own frequent words,
which start from random vectors.

Training uses a *compact* vocabulary, the ids that occur in the task's texts, because Adam
updates every row of a fine-tuned embedding matrix at every step: 64k rows cost several
times the rest of the averaging model. Rows of words absent from the task texts never get a
gradient, so the compact model predicts exactly as the full one would; :func:`expand` puts
the trained rows back into the full matrix for export.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from pipeline import artifacts
from pipeline.config import Paths
from pipeline.data.load import load
from pipeline.embeddings.keyed_vectors import KeyedVectors
from pipeline.text import PAD_ID, UNK_ID, Tokenizer, Vocabulary

INITS = ("word2vec", "glove", "random")
_SPEC = {
    "ids": tf.io.VarLenFeature(tf.int64),
    "label": tf.io.FixedLenFeature([], tf.int64),
    "fold": tf.io.FixedLenFeature([], tf.int64),
}


@dataclass
class Examples:
    """``ids[i]`` (PAD-padded to a fixed width) has ``labels[i]``; ``folds`` is -1 if unset."""

    ids: np.ndarray  # int32 [n, max_len]
    labels: np.ndarray  # int64 [n], in 0 .. classes - 1
    folds: np.ndarray  # int64 [n]
    classes: int = 2

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: np.ndarray) -> Examples:
        return Examples(self.ids[index], self.labels[index], self.folds[index], self.classes)


def pad(rows: list[np.ndarray] | list[list[int]], max_len: int) -> np.ndarray:
    """Rows truncated to ``max_len`` and right-padded with PAD into one int32 matrix."""
    out = np.full((len(rows), max_len), PAD_ID, dtype=np.int32)
    for i, row in enumerate(rows):
        row = np.asarray(row, dtype=np.int32)[:max_len]
        out[i, : len(row)] = row
    return out


def load_mr(paths: Paths, max_len: int) -> Examples:
    """The MR records of ``make tokenize`` with their stratified fold numbers."""
    return load_records(paths.processed / artifacts.POLARITY_RECORDS, max_len, "make tokenize")


def labeled_info(paths: Paths) -> dict[str, Any] | None:
    """A named run's labeled data: its class names, vectors folder and whether it has a test
    file (see :mod:`pipeline.userdata.labeled`); None for the default pipeline's MR."""
    if not paths.run:
        return None
    path = paths.processed / artifacts.LABELED_INFO
    if not path.exists():
        raise FileNotFoundError(
            f"run {paths.run!r} has no labeled texts ({path} is missing); give them: "
            f"make sentiment LABELED=reviews.tsv RUN={paths.run}"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def load_labeled(
    paths: Paths, max_len: int, info: dict[str, Any]
) -> tuple[Examples, Examples | None]:
    """A named run's examples with their folds, and its test examples if it has a test file."""
    again = f"make sentiment LABELED=... RUN={paths.run}"
    classes = len(info["classes"])
    train = load_records(paths.processed / artifacts.POLARITY_RECORDS, max_len, again, classes)
    if not info["test"]:
        return train, None
    path = paths.processed / artifacts.LABELED_TEST_RECORDS
    return train, load_records(path, max_len, again, classes)


def load_records(path: Path, max_len: int, again: str, classes: int = 2) -> Examples:
    """``ids``/``label``/``fold`` records as padded examples; ``again`` is what rebuilds them."""
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; run `{again}` first")
    rows, labels, folds = [], [], []
    for batch in (
        tf.data.TFRecordDataset(str(path))
        .batch(4096)
        .map(lambda raw: tf.io.parse_example(raw, _SPEC))
    ):
        rows += [r for r in tf.RaggedTensor.from_sparse(batch["ids"]).numpy()]
        labels.append(batch["label"].numpy())
        folds.append(batch["fold"].numpy())
    if not rows:
        raise ValueError(f"{path} holds no examples; run `{again}` again")
    return Examples(pad(rows, max_len), np.concatenate(labels), np.concatenate(folds), classes)


def load_tfds(name: str, split: str, vocab: Vocabulary, max_len: int, data_dir: Path) -> Examples:
    """A TFDS text classification split (``text``, ``label``), tokenized as the corpus was."""
    tokenizer, table = Tokenizer("en"), vocab.lookup_table()

    def encode(batch: dict[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        tokens = tokenizer.tf_tokenize(batch["text"])[:, :max_len]
        ids = tf.ragged.map_flat_values(table.lookup, tokens)
        return ids.to_tensor(PAD_ID, shape=[None, max_len]), batch["label"]

    dataset = load(name, split, data_dir=data_dir).batch(1024).map(encode)
    ids, labels = [], []
    for x, y in dataset:
        ids.append(x.numpy().astype(np.int32))
        labels.append(y.numpy().astype(np.int64))
    if not ids:
        raise ValueError(f"{name} {split} holds no examples")
    labels_all = np.concatenate(labels)
    return Examples(np.concatenate(ids), labels_all, np.full(len(labels_all), -1, np.int64))


def cv_splits(folds: np.ndarray, limit: int = 0) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """``(fold, train_index, test_index)`` for each fold number (the first ``limit`` if set).

    Every example is in exactly one test fold; the training part is all the others.
    """
    numbers = np.unique(folds)
    if len(numbers) < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {numbers.tolist()}")
    for fold in numbers[:limit] if limit else numbers:
        yield int(fold), np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)


def validation_split(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of a stratified random ``fraction`` (at least one per class) and the rest."""
    rng = np.random.default_rng(seed)
    val = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        take = min(len(members) - 1, max(1, round(fraction * len(members))))
        val.append(members[:take])
    val_index = np.sort(np.concatenate(val))
    return np.setdiff1d(np.arange(len(labels)), val_index), val_index


def compact_vocabulary(ids: np.ndarray) -> np.ndarray:
    """Sorted corpus ids that occur in ``ids``, PAD first: compact id i is corpus id kept[i]."""
    return np.union1d([PAD_ID], np.unique(ids)).astype(np.int64)


def remap(ids: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Corpus ids -> compact ids (every id in ``ids`` must be in ``kept``)."""
    return np.searchsorted(kept, ids).astype(np.int32)


def embedding_matrix(
    paths: Paths,
    vocab: Vocabulary,
    init: str,
    dim: int,
    seed: int,
    vectors_dir: Path | None = None,
) -> tuple[np.ndarray, dict[str, float]]:
    """A ``[len(vocab), dim]`` matrix for ``vocab``'s ids, and how much of it is pretrained.

    ``vocab`` extends the corpus vocabulary the vectors were trained on (same ids first).
    Words without a pretrained vector (and every word for ``random``) are drawn from a normal
    with the pretrained vectors' own spread (the scale Kim 2014 matched), so random rows
    neither dominate nor vanish beside pretrained ones; PAD's row is zero. The vectors are
    read from ``vectors_dir`` (see :func:`pipeline.artifacts.vectors_root`).
    """
    if init not in INITS:
        raise ValueError(f"unknown embedding init {init!r}; choose one of {', '.join(INITS)}")
    rng = np.random.default_rng(seed)
    if init == "random":
        kv = None
        for model in ("word2vec", "glove"):  # only for the scale, if either is trained
            folder = artifacts.embedding_dir(paths, model, vectors_dir)
            if (folder / artifacts.VECTORS_FILE).exists():
                kv = KeyedVectors.load(folder)
                break
        scale = float(kv.vectors.std()) if kv is not None else 0.1
        dim = kv.dim if kv is not None else dim
        matrix = rng.normal(0.0, scale, (len(vocab), dim)).astype(np.float32)
        covered = 0
    else:
        # A missing model says "run make train-embeddings".
        kv = KeyedVectors.load(artifacts.embedding_dir(paths, init, vectors_dir))
        scale = float(kv.vectors.std())
        matrix = rng.normal(0.0, scale, (len(vocab), kv.dim)).astype(np.float32)
        rows = np.array([vocab.id(w) for w in kv.words], dtype=np.int64)
        inside = (rows != PAD_ID) & (rows != UNK_ID)  # a word outside ``vocab`` maps to UNK
        matrix[rows[inside]] = kv.vectors[inside]
        covered = int(inside.sum())
    matrix[PAD_ID] = 0.0
    return matrix, {"pretrained_rows": covered, "rows": len(vocab), "scale": round(scale, 4)}


def expand(full: np.ndarray, compact: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """The full matrix with the trained rows of the compact one written back."""
    out = full.copy()
    out[kept] = compact
    return out
