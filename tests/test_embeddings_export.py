"""Exported embeddings read back by gensim, the projector's format and plain TensorFlow."""

from pathlib import Path

import gensim
import numpy as np
import pytest
from fresh_process import without_pipeline

from pipeline.embeddings.export import export_projector, export_savedmodel
from pipeline.embeddings.keyed_vectors import KeyedVectors

WORDS = ["the", "king", "queen", "man", "woman", "café", "x-ray"]


def small_kv() -> KeyedVectors:
    rng = np.random.default_rng(0)
    return KeyedVectors(WORDS, rng.normal(size=(len(WORDS), 5)) * 10 ** rng.uniform(-3, 3))


def test_word2vec_format_round_trips_through_gensim(tmp_path):
    kv = small_kv()
    kv.save_word2vec_format(tmp_path / "ours.txt")
    theirs = gensim.models.KeyedVectors.load_word2vec_format(tmp_path / "ours.txt")
    assert theirs.index_to_key == WORDS
    np.testing.assert_allclose(theirs.vectors, kv.vectors, rtol=1e-6)
    ours_top, gensim_top = kv.most_similar(["king"], topn=3), theirs.most_similar("king", topn=3)
    assert [w for w, _ in gensim_top] == [w for w, _ in ours_top]
    np.testing.assert_allclose([s for _, s in gensim_top], [s for _, s in ours_top], rtol=1e-5)

    theirs.save_word2vec_format(str(tmp_path / "gensim.txt"))
    back = KeyedVectors.load_word2vec_format(tmp_path / "gensim.txt")
    assert back.words == WORDS
    np.testing.assert_allclose(back.vectors, kv.vectors, rtol=1e-6)
    exact = KeyedVectors.load_word2vec_format(tmp_path / "ours.txt")
    np.testing.assert_array_equal(exact.vectors, kv.vectors)  # %.9g round-trips float32


def test_word2vec_format_rejects_a_short_file(tmp_path):
    (tmp_path / "bad.txt").write_text("2 3\na 1 2 3\nb 1 2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected 2 lines"):
        KeyedVectors.load_word2vec_format(tmp_path / "bad.txt")


def test_projector_tsvs(tmp_path):
    kv = small_kv()
    export_projector(kv, tmp_path / "projector", limit=4)
    vectors = np.loadtxt(tmp_path / "projector" / "vectors.tsv", delimiter="\t")
    assert vectors.shape == (4, 5)
    np.testing.assert_allclose(vectors, kv.vectors[:4], rtol=1e-5)
    metadata = (tmp_path / "projector" / "metadata.tsv").read_text(encoding="utf-8")
    assert metadata.splitlines() == WORDS[:4]


def test_savedmodel_in_a_fresh_process(tmp_path):
    kv = small_kv()
    dest = export_savedmodel(kv, tmp_path / "embeddings" / "1")
    body = f"""
        m = tf.saved_model.load({str(dest)!r})
        words = tf.constant(["King", " queen ", "CAFÉ", "nowhere"])
        served = m.signatures["serving_default"](words=words)["vectors"]
        near = m.signatures["nearest"](words=tf.constant(["king", "nowhere"]), k=tf.constant(3))
        result = {{
            "signatures": sorted(m.signatures),
            "vectors": m.lookup(words)["vectors"].numpy().tolist(),
            "served": served.numpy().tolist(),
            "near_words": [[w.decode() for w in row] for row in near["words"].numpy()],
            "near_scores": near["scores"].numpy().tolist(),
            "all": m.nearest(words=tf.constant(["the"]), k=tf.constant(99))["words"].shape[1],
        }}
        """
    out = without_pipeline(body, cwd=Path(dest).parent)
    assert out["signatures"] == ["lookup", "nearest", "serving_default"]
    expected = np.stack([kv["king"], kv["queen"], kv["café"], np.zeros(5)])
    np.testing.assert_allclose(out["vectors"], expected, rtol=1e-6)
    np.testing.assert_allclose(out["served"], expected, rtol=1e-6)
    top = kv.most_similar(["king"], topn=3)
    assert out["near_words"] == [[w for w, _ in top], ["", "", ""]]
    np.testing.assert_allclose(out["near_scores"][0], [s for _, s in top], rtol=1e-5)
    assert out["near_scores"][1] == [0, 0, 0]
    assert out["all"] == len(WORDS) - 1  # k is capped: the query word is never returned
