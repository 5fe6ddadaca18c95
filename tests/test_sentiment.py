"""Sentiment stage: masking, the averaging arithmetic, order sensitivity, folds, export, CLI."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from fresh_process import without_pipeline

from pipeline import artifacts, encode
from pipeline.artifacts import embedding_dir
from pipeline.config import PRESETS, Paths
from pipeline.embeddings.keyed_vectors import KeyedVectors
from pipeline.sentiment import baseline, data, ensemble, training
from pipeline.sentiment import train as sentiment_train
from pipeline.sentiment.export import ExportedClassifier, export
from pipeline.sentiment.models import build_model, compile_model
from pipeline.text import PAD_ID, UNK_ID, Vocabulary

POSITIVE = ("wonderful", "great", "moving", "fine")
NEGATIVE = ("dull", "awful", "boring", "flat")
FILLER = ("a", "film", "the", "story", "with", "cast")
VOCAB = Vocabulary.build({w: 10 - i % 7 for i, w in enumerate(FILLER + POSITIVE + NEGATIVE)})

BAD_INPUTS = [
    "",
    "   \t\n ",
    "zzqx unseenword",
    "日本語のテキスト は 素晴らしい",
    "Это ужасный фильм",
    "great " * 5000,
    "\xad\u200b",
]


def _fixture_reviews(n: int, seed: int = 0) -> tuple[list[list[str]], list[int]]:
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        label = i % 2
        words = list(rng.choice(FILLER, size=rng.integers(2, 6)))
        words.insert(int(rng.integers(0, len(words))), rng.choice(POSITIVE if label else NEGATIVE))
        texts.append([str(w) for w in words])
        labels.append(label)
    return texts, labels


@pytest.fixture(scope="module")
def fixture_paths(tmp_path_factory) -> Paths:
    """MR-like records, the corpus vocabulary and two sets of 8-d vectors, in a tmp tree."""
    root = tmp_path_factory.mktemp("sentiment")
    paths = Paths(
        data=root / "data",
        reports=root / "reports",
        saved_models=root / "saved_models",
        runs=root / "runs",
    )
    VOCAB.save(paths.processed / artifacts.CORPUS_VOCAB)
    VOCAB.save(paths.processed / artifacts.POLARITY_VOCAB)
    texts, labels = _fixture_reviews(40)
    examples = (
        {"ids": np.array(VOCAB.encode(t)), "label": y, "fold": i // 2 % 2}
        for i, (t, y) in enumerate(zip(texts, labels, strict=True))
    )
    encode.write_records(paths.processed / artifacts.POLARITY_RECORDS, examples)
    rng = np.random.default_rng(0)
    words = VOCAB.tokens[4:-2]  # two words without a pretrained vector
    for model in ("word2vec", "glove"):
        KeyedVectors(words, rng.normal(size=(len(words), 8))).save(embedding_dir(paths, model))
    return paths


def _run(argv: list[str]) -> int:
    return sentiment_train.main(argv)


def _stage_args(paths: Paths) -> list[str]:
    return [
        "--preset", "smoke",
        "--data-dir", str(paths.data),
        "--reports-dir", str(paths.reports),
        "--saved-models-dir", str(paths.saved_models),
        "--runs-dir", str(paths.runs),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def smoke_report(fixture_paths) -> dict:
    argv = [*_stage_args(fixture_paths), "--configs", "average/word2vec,recurrent/random"]
    assert _run(argv) == 0
    return json.loads((fixture_paths.reports / "sentiment.json").read_text())


def test_average_model_equals_hand_computation():
    matrix = np.array([[0, 0], [1, 2], [3, -1], [0.5, 0.5]], dtype=np.float32)
    model = build_model("average", matrix, dropout=0.0)
    w = np.array([[1.0, -1.0], [2.0, 0.5]], dtype=np.float32)
    b = np.array([0.1, -0.2], dtype=np.float32)
    model.get_layer("softmax").set_weights([w, b])
    ids = np.array([[1, 2, 3, 0, 0], [2, 0, 0, 0, 0], [0, 0, 0, 0, 0]], dtype=np.int32)
    means = np.array([matrix[[1, 2, 3]].mean(0), matrix[2], np.zeros(2)])
    logits = means @ w + b
    expected = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(model.predict(ids, verbose=0), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("kind", "cell", "pooling"),
    [
        ("average", "keras_gru", "final"),
        ("recurrent", "keras_gru", "final"),
        ("recurrent", "lstm", "final"),
        ("recurrent", "keras_gru", "final+max"),
        ("recurrent", "lstm", "final+max"),
    ],
)
def test_padding_does_not_change_predictions(kind, cell, pooling):
    keras.utils.set_random_seed(0)
    matrix = np.random.default_rng(0).normal(size=(12, 6)).astype(np.float32)
    model = build_model(kind, matrix, cell=cell, units=5, layers=2, pooling=pooling)
    short = np.array([[3, 4, 5], [7, 0, 0]], dtype=np.int32)
    long = np.pad(short, [[0, 0], [0, 9]])
    np.testing.assert_allclose(
        model.predict(short, verbose=0), model.predict(long, verbose=0), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("cell", ["keras_gru", "lstm"])
def test_final_and_max_pooling_holds_the_final_states_and_a_masked_max(cell):
    keras.utils.set_random_seed(0)
    matrix = np.random.default_rng(0).normal(size=(12, 6)).astype(np.float32)
    pooled = build_model("recurrent", matrix, cell=cell, units=5, pooling="final+max")
    plain = build_model("recurrent", matrix, cell=cell, units=5)
    plain.get_layer("birnn").set_weights(pooled.get_layer("birnn").get_weights())
    ids = np.array([[3, 4, 5, 0], [7, 0, 0, 0], [0, 0, 0, 0]], dtype=np.int32)
    features = keras.Model(pooled.input, pooled.get_layer("pool").output).predict(ids, verbose=0)
    finals = keras.Model(plain.input, plain.get_layer("birnn").output).predict(ids, verbose=0)
    np.testing.assert_allclose(features[:, :10], finals, rtol=1e-5, atol=1e-6)
    outputs = keras.Model(pooled.input, pooled.get_layer("birnn").output).predict(ids, verbose=0)
    np.testing.assert_allclose(features[0, 10:], outputs[0, :3].max(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(features[1, 10:], outputs[1, 0], rtol=1e-5, atol=1e-6)
    assert not features[2].any()  # an empty text pools to zeros
    with pytest.raises(ValueError, match="unknown pooling"):
        build_model("recurrent", matrix, pooling="mean")


def test_nbsvm_baseline_features_and_learning():
    ids = np.array([[5, 6, 5, 0], [6, 7, 0, 0]], dtype=np.int32)
    keys = baseline.ngram_keys(ids, 8)
    assert keys[0].tolist() == sorted({5, 6, -(5 * 8 + 6) - 1, -(6 * 8 + 5) - 1})
    columns = np.unique(keys[0])
    x = baseline.features(keys, columns).toarray()
    assert x[0].tolist() == [1, 1, 1, 1] and x[1].tolist() == [0, 0, 0, 1]  # only 6 is known
    r = baseline.log_count_ratio(baseline.features(keys, columns), np.array([1, 0]), 1.0)
    assert (r[x[0] > x[1]] > 0).all()

    texts, labels = _fixture_reviews(200)
    examples = data.Examples(
        data.pad([VOCAB.encode(t) for t in texts], 8), np.array(labels), np.arange(200) % 4
    )
    result = baseline.cross_validate(examples)
    assert len(result["fold_accuracy"]) == 4 and result["mean"] > 0.95


def test_nbsvm_keys_move_to_the_full_vocabulary_unchanged():
    texts, labels = _fixture_reviews(200)
    ids = data.pad([VOCAB.encode(t) for t in texts], 8)
    kept = data.compact_vocabulary(ids)
    compact = data.remap(ids, kept)
    nbsvm = baseline.NBSVM.fit(baseline.ngram_keys(compact, len(kept)), np.array(labels), len(kept))
    full = nbsvm.keys_in(kept, len(VOCAB))
    assert len(kept) < len(VOCAB) and full.base == len(VOCAB)
    np.testing.assert_allclose(
        full.log_odds(baseline.ngram_keys(ids, len(VOCAB))),
        nbsvm.log_odds(baseline.ngram_keys(compact, len(kept))),
    )


def test_vote_weight_follows_the_better_model_on_held_out_labels():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 500)
    good = np.where(labels == 1, 0.9, 0.1)
    noise = rng.uniform(0, 1, 500)
    assert ensemble.choose_weight(good, noise, labels) == 1.0
    assert ensemble.choose_weight(noise, good, labels) == 0.0
    # Two equally informative, independent models: both get a share.
    a = np.clip(good + rng.normal(0, 0.3, 500), 0.01, 0.99)
    b = np.clip(good + rng.normal(0, 0.3, 500), 0.01, 0.99)
    assert 0.2 <= ensemble.choose_weight(a, b, labels) <= 0.8
    np.testing.assert_allclose(ensemble.mix(a, b, 0.25), 0.25 * a + 0.75 * b)


def _order_task(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Tokens 2 and 3 each once among fillers 4..7; the label says whether 2 comes first."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((n, 6), dtype=np.int32)
    labels = rng.integers(0, 2, size=n)
    for i in range(n):
        length = rng.integers(2, 7)
        row = rng.integers(4, 8, size=length)
        a, b = sorted(rng.choice(length, size=2, replace=False))
        row[a], row[b] = (2, 3) if labels[i] else (3, 2)
        ids[i, :length] = row
    return ids, labels


def test_recurrent_model_learns_word_order_and_average_cannot():
    x, y = _order_task(1200, 0)
    x_test, y_test = _order_task(300, 1)
    matrix = np.random.default_rng(0).normal(0, 0.3, size=(8, 8)).astype(np.float32)
    scores = {}
    for kind in ("average", "recurrent"):
        keras.utils.set_random_seed(0)
        model = compile_model(build_model(kind, matrix, units=16, dropout=0.0), 1e-2)
        model.fit(x, y, batch_size=32, epochs=8, verbose=0)
        scores[kind] = model.evaluate(x_test, y_test, verbose=0)[1]
    assert scores["recurrent"] > 0.95
    assert scores["average"] < 0.65  # the bag of words is the same for both labels


@pytest.mark.parametrize("finetune", [False, True])
def test_frozen_embeddings_stay_fixed_and_finetuned_ones_move(finetune):
    texts, labels = _fixture_reviews(24)
    examples = data.Examples(
        data.pad([VOCAB.encode(t) for t in texts], 8), np.array(labels), np.zeros(24, np.int64)
    )
    matrix = np.random.default_rng(0).normal(size=(len(VOCAB), 4)).astype(np.float32)
    config = dataclasses.replace(PRESETS["smoke"].sentiment, patience=2)
    model, info = training.fit("average", matrix, finetune, examples, config, None, 0)
    trained = model.get_layer("embedding").get_weights()[0]
    assert np.allclose(trained, matrix) != finetune
    assert info["epochs"] == config.epochs and 0 <= info["val_accuracy"] <= 1


def test_cv_folds_are_disjoint_and_cover_the_data():
    folds = np.repeat(np.arange(10), 7)[np.random.default_rng(0).permutation(70)]
    tests = []
    for fold, train, test in data.cv_splits(folds):
        assert not set(train) & set(test)
        assert set(train) | set(test) == set(range(70))
        assert (folds[test] == fold).all()
        tests.append(test)
    assert sorted(np.concatenate(tests).tolist()) == list(range(70))
    assert len(list(data.cv_splits(folds, limit=3))) == 3
    with pytest.raises(ValueError, match="at least 2 folds"):
        list(data.cv_splits(np.zeros(5, np.int64)))


def test_validation_split_is_stratified_and_disjoint():
    labels = np.array([0] * 30 + [1] * 70)
    fit, val = data.validation_split(labels, 0.1, seed=0)
    assert not set(fit) & set(val) and len(fit) + len(val) == 100
    assert np.bincount(labels[val]).tolist() == [3, 7]


def test_embedding_matrix_compact_vocabulary_and_expand(fixture_paths):
    matrix, info = data.embedding_matrix(fixture_paths, VOCAB, "glove", dim=8, seed=0)
    kv = KeyedVectors.load(embedding_dir(fixture_paths, "glove"))
    assert matrix.shape == (len(VOCAB), 8) and not matrix[PAD_ID].any()
    np.testing.assert_array_equal(matrix[VOCAB.id("great")], kv["great"])
    assert info["pretrained_rows"] == len(kv)
    random, _ = data.embedding_matrix(fixture_paths, VOCAB, "random", dim=8, seed=0)
    assert not np.allclose(random[VOCAB.id("great")], kv["great"])

    ids = np.array([[9, 5, 0], [5, 12, 1]])
    kept = data.compact_vocabulary(ids)
    assert kept.tolist() == [PAD_ID, UNK_ID, 5, 9, 12]
    compact = data.remap(ids, kept)
    np.testing.assert_array_equal(kept[compact], ids)
    trained = matrix[kept] + 1.0
    full = data.expand(matrix, trained, kept)
    np.testing.assert_array_equal(full[kept], trained)
    np.testing.assert_array_equal(full[6], matrix[6])  # untouched rows keep their init


def test_export_tokenizes_in_graph_and_matches_the_keras_model(tmp_path):
    keras.utils.set_random_seed(0)
    matrix = np.random.default_rng(1).normal(size=(len(VOCAB), 4)).astype(np.float32)
    model = build_model("recurrent", matrix, units=4)
    saved = export(model, VOCAB, max_len=5, dest=tmp_path / "sentiment" / "1")
    module = tf.saved_model.load(str(saved))
    texts = ["A GREAT film", "the film , boring", "a film a film a film great great"]
    out = module.signatures["serving_default"](texts=tf.constant(texts))
    ids = data.pad([VOCAB.encode(t.lower().split()) for t in texts], 5)
    expected = model.predict(ids, verbose=0)[:, 1]
    np.testing.assert_allclose(out["probability"].numpy(), expected, rtol=1e-5, atol=1e-6)
    assert out["label"].numpy().tolist() == (expected >= 0.5).astype(int).tolist()
    # Truncation: tokens past max_len are ignored.
    in_graph = ExportedClassifier(model, VOCAB, 5).ids(tf.constant(["a film a film a film x"]))
    assert in_graph.shape == (1, 5)


def test_export_votes_with_nbsvm_as_numpy_does(tmp_path):
    texts, labels = _fixture_reviews(200)
    ids = data.pad([VOCAB.encode(t) for t in texts], 8)
    nbsvm = baseline.NBSVM.fit(baseline.ngram_keys(ids, len(VOCAB)), np.array(labels), len(VOCAB))
    matrix = np.random.default_rng(1).normal(size=(len(VOCAB), 4)).astype(np.float32)
    model = build_model("average", matrix)
    saved = export(model, VOCAB, 8, tmp_path / "sentiment" / "1", nbsvm=nbsvm, neural_weight=0.3)
    module = tf.saved_model.load(str(saved))
    probe = ["a wonderful wonderful film", "the film , dull", "", "great awful great a b c d e"]
    out = module.signatures["serving_default"](texts=tf.constant(probe))
    probe_ids = data.pad([VOCAB.encode(t.split()) for t in probe], 8)
    keys = baseline.ngram_keys(probe_ids, len(VOCAB))
    expected = 0.3 * model.predict(probe_ids, verbose=0)[:, 1] + 0.7 * nbsvm.probability(keys)
    np.testing.assert_allclose(out["probability"].numpy(), expected, rtol=1e-5, atol=1e-6)
    assert out["probability"].numpy()[0] > 0.5 > out["probability"].numpy()[1]
    fresh = _classify_in_fresh_process(saved, [*probe, *BAD_INPUTS])
    np.testing.assert_allclose(fresh["probability"][: len(probe)], expected, rtol=1e-5, atol=1e-6)
    assert np.isfinite(fresh["probability"]).all()
    with pytest.raises(ValueError, match="keys_in"):
        ExportedClassifier(model, VOCAB, 8, nbsvm.keys_in(np.arange(len(VOCAB)), 99))


def test_smoke_run_reports_logs_and_exports(fixture_paths, smoke_report):
    report = smoke_report
    voted = {"average/word2vec+nbsvm", "recurrent/random+nbsvm"}
    assert set(report["results"]) == {"average/word2vec", "recurrent/random"} | voted
    for name in voted:
        assert all(0 <= w <= 1 for w in report["results"][name]["neural_weight"])
    for result in report["results"].values():
        assert len(result["fold_accuracy"]) == 2 and 0 <= result["mean"] <= 1
    md = (fixture_paths.reports / "sentiment.md").read_text()
    assert "average/word2vec" in md and "81.5" in md
    nbsvm = report["baselines"][baseline.NAME]
    assert len(nbsvm["fold_accuracy"]) == 2 and baseline.NAME in md
    assert (fixture_paths.saved_models / "sentiment" / "1" / "saved_model.pb").exists()
    assert any(
        (fixture_paths.runs / "sentiment" / "average_word2vec" / "fold0").rglob("*tfevents*")
    )


def _classify_in_fresh_process(saved: Path, texts: list[str]) -> dict:
    """The SavedModel's outputs for ``texts`` from a process that never imports ``pipeline``."""
    body = f"""
        clf = tf.saved_model.load({str(saved)!r})
        out = clf.signatures["serving_default"](texts=tf.constant(json.loads(sys.stdin.read())))
        result = {{
            "probability": out["probability"].numpy().tolist(),
            "label": out["label"].numpy().tolist(),
            "label_name": [s.decode() for s in out["label_name"].numpy()],
        }}
        """
    return without_pipeline(body, cwd=Path(saved).parent, stdin=json.dumps(texts))


def test_savedmodel_round_trip_in_fresh_process_with_bad_inputs(fixture_paths, smoke_report):
    saved = fixture_paths.saved_models / "sentiment" / "1"
    texts = ["a wonderful film", "the dull story", *BAD_INPUTS]
    out = _classify_in_fresh_process(saved, texts)
    probs = np.array(out["probability"])
    assert probs.shape == (len(texts),) and np.isfinite(probs).all()
    assert ((probs >= 0) & (probs <= 1)).all()
    assert out["label"] == (probs >= 0.5).astype(int).tolist()
    assert {n for n in out["label_name"]} <= {"positive", "negative"}
    loaded = tf.saved_model.load(str(saved))  # kept alive: its variables back the function
    here = loaded.classify(tf.constant(texts))
    np.testing.assert_allclose(here["probability"].numpy(), probs, rtol=1e-5, atol=1e-6)
    # Whitespace-only and empty texts have no tokens, hence the same prediction.
    assert probs[2] == pytest.approx(probs[3])


def test_classify_cli(fixture_paths, smoke_report, capsys):
    from pipeline.sentiment import classify

    model = fixture_paths.saved_models / "sentiment" / "1"
    assert classify.main(["--model", str(model), "a wonderful film", ""]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].split("\t")[0] in {"positive", "negative"}
    assert classify.main(["--model", str(model.parent / "9"), "text"]) == 1
    assert "make sentiment" in capsys.readouterr().err


def test_missing_inputs_say_which_make_target(tmp_path, caplog):
    paths = Paths(data=tmp_path / "data", reports=tmp_path / "reports")
    assert _run([*_stage_args(paths), "--configs", "average/random"]) == 1
    assert "make tokenize" in caplog.text
    with pytest.raises(FileNotFoundError, match="make train-embeddings"):
        data.embedding_matrix(paths, VOCAB, "word2vec", dim=8, seed=0)
    with pytest.raises(ValueError, match="bad configuration"):
        training.parse_config("cnn/word2vec")


def test_imdb_reviews_through_the_same_code(fixture_paths, tmp_path):
    paths = Paths(
        data=fixture_paths.data,
        reports=tmp_path / "reports",
        saved_models=tmp_path / "saved_models",
        runs=tmp_path / "runs",
    )
    argv = [*_stage_args(paths), "--dataset", "imdb_reviews", "--configs", "average/glove"]
    with tfds.testing.mock_data(num_examples=12, policy=tfds.testing.MockPolicy.USE_CODE):
        assert _run(argv) == 0
    report = json.loads((paths.reports / "sentiment_imdb_reviews.json").read_text())
    assert report["examples"] == 12 and report["test_examples"] == 12
    assert 0 <= report["results"]["average/glove"]["test_accuracy"] <= 1
    assert (paths.saved_models / "sentiment_imdb_reviews" / "1" / "saved_model.pb").exists()
