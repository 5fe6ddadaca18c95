"""Trained word vectors in formats other tools read.

* word2vec text format (``<model>.txt``): gensim's ``KeyedVectors.load_word2vec_format``,
  the original word2vec tools and most embedding libraries read it.
* TensorBoard projector TSVs (``projector/vectors.tsv`` and ``metadata.tsv``, the most
  frequent words only, since the projector slows down beyond about 10k points).
* A SavedModel for TF code that never imports ``pipeline``::

      m = tf.saved_model.load("saved_models/embeddings/1")
      m.lookup(words=tf.constant(["King", "queen"]))["vectors"]  # float32 [2, dim]
      out = m.nearest(words=tf.constant(["king"]), k=tf.constant(5))
      out["words"], out["scores"]  # string [1, 5], float32 [1, 5] (cosine, best first)

  Words are normalized in the graph as the corpus was (``Tokenizer.tf_normalize``: UTF-8
  repair, lowercasing unless a named run's corpus kept its case) and stripped of
  surrounding whitespace. An unknown word gets the zero vector, so it adds nothing to sums
  or means of word vectors and has cosine 0 with every word; ``nearest`` returns empty
  strings with score 0 for it. ``lookup`` is also ``serving_default``.

The files go to ``data/processed/embeddings_export/<model>/`` and the SavedModel of one model
(``--model``) to ``saved_models/embeddings/<version>``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

from pipeline import artifacts
from pipeline.config import Paths
from pipeline.embeddings.keyed_vectors import MODELS, KeyedVectors, add_vectors_arg, load_trained
from pipeline.io import atomic_path
from pipeline.stage import comma_list, run_stage, stage_parser
from pipeline.text import Tokenizer
from pipeline.userdata.corpus import corpus_text

log = logging.getLogger(__name__)

PROJECTOR_LIMIT = 10_000


def export_dir(paths: Paths, model: str) -> Path:
    return paths.processed / "embeddings_export" / model


def export_projector(kv: KeyedVectors, directory: Path, limit: int = PROJECTOR_LIMIT) -> Path:
    """``vectors.tsv`` (one tab-separated vector per line) and ``metadata.tsv`` (its word).

    A single-column metadata file has no header line in the projector's format.
    """
    with atomic_path(directory, directory=True) as tmp:
        np.savetxt(tmp / "vectors.tsv", kv.vectors[:limit], fmt="%.6g", delimiter="\t")
        (tmp / "metadata.tsv").write_text(
            "".join(w + "\n" for w in kv.words[:limit]), encoding="utf-8"
        )
    return directory


class EmbeddingModule(tf.Module):
    """Word -> vector and word -> nearest words, on raw strings.

    The matrix has one extra last row of zeros that every unknown word maps to. It is a
    variable, so the SavedModel stores it once rather than as a constant in each signature.
    """

    def __init__(self, kv: KeyedVectors, tokenizer: Tokenizer | None = None) -> None:
        super().__init__()
        self._tokenizer = tokenizer or Tokenizer("en")
        self.size = len(kv)
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(kv.words), tf.range(self.size, dtype=tf.int64)
            ),
            default_value=self.size,
        )
        unknown = np.zeros((1, kv.dim), dtype=np.float32)
        self.vectors = tf.Variable(np.concatenate([kv.vectors, unknown]), trainable=False)
        self.words = tf.Variable(kv.words, trainable=False, dtype=tf.string)

    def _ids(self, words: tf.Tensor) -> tf.Tensor:
        return self.table.lookup(tf.strings.strip(self._tokenizer.tf_normalize(words)))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="words")])
    def lookup(self, words: tf.Tensor) -> dict[str, tf.Tensor]:
        """``vectors``: float32 [n, dim], the zero vector for unknown words."""
        return {"vectors": tf.gather(self.vectors, self._ids(words))}

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.string, name="words"),
            tf.TensorSpec([], tf.int32, name="k"),
        ]
    )
    def nearest(self, words: tf.Tensor, k: tf.Tensor) -> dict[str, tf.Tensor]:
        """The ``k`` words of highest cosine with each word, itself excluded, best first.

        ``words``: string [n, k]; ``scores``: float32 [n, k]. ``k`` is capped at the
        vocabulary size minus one. Unknown words get empty strings and scores of 0.
        """
        ids = self._ids(words)
        unit = tf.math.l2_normalize(self.vectors, axis=1)  # the unknown row stays zero
        scores = tf.matmul(tf.gather(unit, ids), unit[: self.size], transpose_b=True)
        itself = tf.range(self.size, dtype=ids.dtype)[None, :] == ids[:, None]
        scores = tf.where(itself, tf.constant(-np.inf, tf.float32), scores)
        top = tf.math.top_k(scores, k=tf.minimum(k, self.size - 1))
        known = (ids < self.size)[:, None]
        return {
            "words": tf.where(known, tf.gather(self.words, top.indices), ""),
            "scores": tf.where(known, top.values, 0.0),
        }


def export_savedmodel(kv: KeyedVectors, dest: Path, tokenizer: Tokenizer | None = None) -> Path:
    """Write the SavedModel to ``dest`` (a version folder) atomically."""
    module = EmbeddingModule(kv, tokenizer)
    with atomic_path(dest, directory=True) as tmp:
        tf.saved_model.save(
            module,
            str(tmp),
            signatures={
                "serving_default": module.lookup,
                "lookup": module.lookup,
                "nearest": module.nearest,
            },
        )
    return dest


def run(
    paths: Paths,
    models: tuple[str, ...],
    savedmodel: str,
    version: int,
    vectors_dir: Path | None = None,
) -> list[Path]:
    """Export every trained model of ``models``; ``savedmodel`` names the one served."""
    kvs = load_trained(paths, models, vectors_dir)
    if savedmodel not in kvs:
        raise FileNotFoundError(
            f"{savedmodel} is not trained; run `make train-embeddings` or pick --savedmodel "
            f"from {', '.join(kvs)}"
        )
    written = []
    for name, kv in kvs.items():
        out = export_dir(paths, name)
        kv.save_word2vec_format(out / f"{name}.txt")
        written += [out / f"{name}.txt", export_projector(kv, out / "projector")]
    dest = artifacts.saved_model(paths, artifacts.EMBEDDINGS, version)
    written.append(export_savedmodel(kvs[savedmodel], dest, corpus_text(paths).tokenizer()))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = stage_parser(__spec__.name, __doc__)
    add_vectors_arg(parser)
    parser.add_argument(
        "--saved-models-dir",
        type=Path,
        default=Paths.saved_models,
        help="SavedModel root (default: %(default)s)",
    )
    parser.add_argument(
        "--models",
        type=comma_list(str),
        default=MODELS,
        help="comma-separated models whose files are exported (default: word2vec,glove)",
    )
    parser.add_argument(
        "--savedmodel",
        default=MODELS[0],
        help="model exported as the SavedModel (default: %(default)s)",
    )
    parser.add_argument("--version", type=int, default=1, help="SavedModel version folder")
    return run_stage(
        parser.parse_args(argv),
        lambda args, paths, _: "\n".join(
            map(str, run(paths, args.models, args.savedmodel, args.version, args.vectors_dir))
        ),
        log,
        writes=lambda paths: (paths.processed, paths.saved_models),
    )


if __name__ == "__main__":
    sys.exit(main())
