"""Embedding evaluation on tiny hand-built vectors whose answers are known."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from pipeline.artifacts import embedding_dir
from pipeline.config import EmbeddingsConfig, Paths
from pipeline.data.evalsets import Analogy, SimilarityPair
from pipeline.embeddings import evaluate
from pipeline.embeddings.keyed_vectors import KeyedVectors

# Features: male, female, royal, young, other. Words most frequent first.
FEATURES = {
    "man": [1, 0, 0, 0, 0],
    "woman": [0, 1, 0, 0, 0],
    "king": [1, 0, 1, 0, 0],
    "queen": [0, 1, 1, 0, 0],
    "boy": [1, 0, 0, 1, 0],
    "girl": [0, 1, 0, 1, 0],
    "prince": [1, 0, 1, 1, 0],
    "princess": [0, 1, 1, 1, 0],  # the rarest word: outside restrict=7
}


def family() -> KeyedVectors:
    return KeyedVectors(list(FEATURES), np.array(list(FEATURES.values()), dtype=np.float32))


def random_kv(n: int = 60, dim: int = 6, seed: int = 0) -> KeyedVectors:
    rng = np.random.default_rng(seed)
    return KeyedVectors([f"w{i}" for i in range(n)], rng.normal(size=(n, dim)))


def test_most_similar_3cosadd_known_answer():
    kv = family()
    assert kv.most_similar(["king", "woman"], ["man"], topn=1)[0][0] == "queen"
    assert kv.most_similar(["boy", "woman"], ["man"], topn=1)[0][0] == "girl"
    ranked = kv.most_similar(["king", "woman"], ["man"], topn=100)
    assert len(ranked) == len(kv) - 3
    assert not {"king", "woman", "man"} & {w for w, _ in ranked}
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)
    assert kv.most_similar(["king"], restrict=3) == [
        ("man", pytest.approx(2**-0.5)),
        ("woman", pytest.approx(0.0)),
    ]


def test_keyed_vectors_basics(tmp_path):
    kv = KeyedVectors(["a", "b", "zero"], np.array([[3, 4], [0, 2], [0, 0]], dtype=np.float32))
    assert len(kv) == 3 and "a" in kv and "c" not in kv and kv.index["b"] == 1
    np.testing.assert_array_equal(kv["a"], [3, 4])
    np.testing.assert_allclose(kv.unit, [[0.6, 0.8], [0, 1], [0, 0]])  # zero row stays zero
    assert kv.similarity("a", "b") == pytest.approx(0.8)
    kv.save(tmp_path / "kv")
    loaded = KeyedVectors.load(tmp_path / "kv")
    assert loaded.words == kv.words and loaded.vectors.dtype == np.float32
    np.testing.assert_array_equal(loaded.vectors, kv.vectors)
    with pytest.raises(ValueError, match="duplicate"):
        KeyedVectors(["a", "a"], np.zeros((2, 2)))
    with pytest.raises(ValueError, match="whitespace"):
        KeyedVectors(["a b"], np.zeros((1, 2)))
    with pytest.raises(ValueError, match="one vector row per word"):
        KeyedVectors(["a"], np.zeros((2, 2)))
    with pytest.raises(FileNotFoundError, match="train-embeddings"):
        KeyedVectors.load(tmp_path / "missing")


def test_analogies_known_answers_coverage_and_aggregation():
    questions = [
        Analogy("family", "man", "king", "woman", "queen"),  # right
        Analogy("family", "Man", "Boy", "Woman", "Girl"),  # right (case folded)
        Analogy("family", "man", "king", "girl", "princess"),  # beyond restrict: uncovered
        Analogy("capital-x", "man", "woman", "king", "queen"),  # right
        Analogy("capital-x", "man", "woman", "boy", "king"),  # wrong: girl is the answer
        Analogy("gram1-x", "king", "queen", "man", "woman"),  # right
        Analogy("gram1-x", "king", "queen", "man", "unseen"),  # out of vocabulary: uncovered
    ]
    result = evaluate.evaluate_analogies(family(), questions, restrict=7, batch_size=2)
    assert result["sections"]["family"] == {
        "correct": 2,
        "total": 2,
        "questions": 3,
        "accuracy": 1.0,
    }
    assert result["sections"]["capital-x"]["accuracy"] == 0.5
    assert list(result["sections"]) == ["capital-x", "family", "gram1-x"]
    assert result["semantic"] == {"correct": 3, "total": 4, "questions": 5, "accuracy": 0.75}
    assert result["syntactic"] == {"correct": 1, "total": 1, "questions": 2, "accuracy": 1.0}
    assert result["total"]["correct"] == 4 and result["total"]["total"] == 5
    assert result["coverage"] == pytest.approx(5 / 7) and result["covered"] == 5
    assert result["restrict"] == 7


def test_analogies_exclude_query_words():
    # b is a small step from a, so b - a + c is nearly c: c wins unless excluded, then d.
    vectors = [[0, 0, 1], [0, 0.2, 1], [1, 0, 0], [1, 1, 0], [-1, 0, 0]]
    kv = KeyedVectors(["a", "b", "c", "d", "e"], np.array(vectors, dtype=np.float32))
    query = kv.unit[1] - kv.unit[0] + kv.unit[2]
    assert np.argmax(kv.unit @ query) == 2  # c itself would be the raw answer
    result = evaluate.evaluate_analogies(kv, [("gram", "a", "b", "c", "d")])
    assert result["total"]["accuracy"] == 1.0


def test_analogies_match_most_similar_on_random_vectors():
    kv = random_kv()
    rng = np.random.default_rng(1)
    questions = []
    for i, (a, b, c, d) in enumerate(rng.choice(len(kv), size=(300, 4))):
        words = [f"w{j}" for j in (a, b, c)]
        if i % 2 and max(a, b, c) < 40 and len({a, b, c}) == 3:  # half of them answerable
            d = kv.index[kv.most_similar(words[1:], words[:1], topn=1, restrict=40)[0][0]]
        questions.append(("gram" if i % 3 else "sem", *(w.upper() for w in words), f"W{d}"))
    result = evaluate.evaluate_analogies(kv, questions, restrict=40, batch_size=16)
    covered = [q for q in questions if all(int(w[1:]) < 40 for w in q[1:])]
    expected = sum(
        kv.most_similar([b.lower(), c.lower()], [a.lower()], topn=1, restrict=40)[0][0] == d.lower()
        for _, a, b, c, d in covered
    )
    assert result["total"]["total"] == len(covered)
    assert result["total"]["correct"] == expected > len(covered) / 4


def test_similarity_spearman_over_covered_pairs():
    kv = random_kv()
    pairs = [SimilarityPair(f"W{i}", f"w{i + 7}", float(s)) for i, s in enumerate([3, 1, 4, 1, 5])]
    pairs += [SimilarityPair("w1", "nowhere", 2.0), SimilarityPair("absent", "w2", 9.0)]
    result = evaluate.evaluate_similarity(kv, pairs)
    cosines = [kv.similarity(p.word1.lower(), p.word2) for p in pairs[:5]]
    gold = [p.score for p in pairs[:5]]
    assert result["spearman"] == pytest.approx(stats.spearmanr(gold, cosines).statistic)
    assert result["pearson"] == pytest.approx(stats.pearsonr(gold, cosines).statistic)
    assert (result["pairs"], result["covered"]) == (7, 5)
    assert result["coverage"] == pytest.approx(5 / 7)
    empty = evaluate.evaluate_similarity(kv, [("absent", "w1", 1.0)])
    assert empty["spearman"] is None and empty["coverage"] == 0.0


def test_nearest_neighbours_match_most_similar():
    kv = random_kv()
    neighbours = evaluate.nearest_neighbours(kv, ["w3", "W10", "missing"], k=4)
    assert list(neighbours) == ["w3", "w10"]
    for word, found in neighbours.items():
        expected = kv.most_similar([word], topn=4)
        assert [w for w, _ in found] == [w for w, _ in expected]
        np.testing.assert_allclose([s for _, s in found], [s for _, s in expected], rtol=1e-5)


def test_evaluate_models_writes_one_table_for_both_models(tmp_path):
    paths = Paths(data=tmp_path / "data", reports=tmp_path / "reports")
    config = EmbeddingsConfig(analogy_restrict=7)
    with pytest.raises(FileNotFoundError, match="make train-embeddings"):
        evaluate.evaluate_models(paths, config)
    family().save(embedding_dir(paths, "word2vec"))
    noisy = family().vectors + np.random.default_rng(0).normal(0, 0.3, (len(FEATURES), 5))
    KeyedVectors(list(FEATURES), noisy).save(embedding_dir(paths, "glove"))
    sets = evaluate.EvalSets(
        [Analogy("family", "man", "king", "woman", "queen")],
        {
            "wordsim353": [SimilarityPair("king", "queen", 8.0), SimilarityPair("man", "girl", 2)],
            "simlex999": [SimilarityPair("boy", "man", 7.0), SimilarityPair("x", "man", 1.0)],
        },
    )
    report = evaluate.evaluate_models(paths, config, sets=sets)
    assert list(report["models"]) == ["word2vec", "glove"]
    w2v = report["models"]["word2vec"]
    assert w2v["analogy"]["total"]["accuracy"] == 1.0
    assert w2v["simlex999"]["coverage"] == 0.5
    assert [w for w, _ in w2v["neighbours"]["king"]][:2] == ["prince", "man"]
    assert json.loads((paths.reports / "embeddings.json").read_text()) == json.loads(
        json.dumps(report)
    )
    md = (paths.reports / "embeddings.md").read_text()
    assert "| metric | word2vec | glove |" in md
    assert "| analogy total | 100.0% |" in md and "| SimLex-999 coverage | 50.0% (1/2)" in md
    assert (paths.reports / "embeddings_projection.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "pipeline.embeddings.evaluate", "--help"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "--models" in out and "--preset" in out
    empty = str(tmp_path / "nothing")
    assert evaluate.main(["--data-dir", empty, "--reports-dir", empty]) == 1
    assert not Path(empty).exists()
