"""Checks on the real corpora; they run once `make data tokenize` has built them (CI does)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from pipeline import artifacts
from pipeline.config import PRESETS, Paths
from pipeline.data import ding
from pipeline.data.load import load
from pipeline.text import EOS_ID, Tokenizer, Vocabulary

PATHS = Paths()
pytestmark = pytest.mark.skipif(
    not artifacts.manifest(PATHS, "tokenize").exists(),
    reason="real data not built: run `make tokenize` first",
)


def _texts(name: str, split: str, *keys: str, limit: int = -1) -> list[tuple[str, ...]]:
    """Rows of ``keys``; TFDS stores examples shuffled, so the first ``limit`` are a sample."""
    dataset = load(name, split, data_dir=PATHS.tfds).take(limit)
    batches = dataset.map(lambda ex: tuple(ex[k] for k in keys)).batch(8192)
    return [
        tuple(t.decode("utf-8") for t in row)
        for batch in batches.as_numpy_iterator()
        for row in zip(*batch, strict=True)
    ]


def test_translation_split_sizes_and_no_leakage():
    config = PRESETS["default"].data
    splits = {n: _texts("de_en_translate", s, "de", "en") for n, s in artifacts.TFDS_SPLIT.items()}
    key = ding.sentence_key
    assert len({key(de) for de, _ in splits["test"]}) == config.n_test
    assert len({key(de) for de, _ in splits["dev"]}) == config.n_dev
    assert len({key(de) for de, _ in splits["loc_test"]}) == config.n_loc_test
    assert len({key(de) for de, _ in splits["loc_dev"]}) == config.n_loc_dev
    for held in (splits["test"] + splits["dev"], splits["loc_test"] + splits["loc_dev"]):
        held_de, held_en = {key(de) for de, _ in held}, {key(en) for _, en in held}
        assert not any(key(de) in held_de or key(en) in held_en for de, en in splits["train"])
    assert len(splits["train"]) > 50_000


@pytest.mark.parametrize(
    ("name", "split", "key", "lang"),
    [("en_corpus", "train", "text", "en"), ("de_en_translate", "test", "de", "de"),
     ("de_en_translate", "train", "en", "en"), ("rt_polarity", "train", "text", "en")],
)  # fmt: skip
def test_graph_tokenizer_equals_nltk_on_real_text(name, split, key, lang):
    sample = [text for (text,) in _texts(name, split, key, limit=3000)]
    tokenizer = Tokenizer(lang)
    graph = tokenizer.tf_tokenize(tf.constant(sample)).to_list()
    mismatches = [
        (text, tokens)
        for text, tokens in zip(sample, graph, strict=True)
        if tokenizer.tokenize(text) != [t.decode("utf-8") for t in tokens]
    ]
    assert mismatches == []


@pytest.mark.parametrize("split", ["train", "test", "loc_test"])
def test_graph_subwords_equal_sentencepiece_on_real_text(split):
    import sentencepiece as spm

    from pipeline.text import subwords

    path = PATHS.processed / artifacts.SUBWORD_MODEL
    rows = _texts("de_en_translate", artifacts.TFDS_SPLIT[split], "de", "en", limit=3000)
    sample = [text for row in rows for text in row]
    graph = subwords.Subwords(subwords.load_model(path)).tokenize(tf.constant(sample)).to_list()
    python = spm.SentencePieceProcessor(model_file=str(path))
    expected = [python.encode(text) for text in sample]
    # The two libraries break ties between equally likely segmentations differently ("...."
    # as "." + "..." or "..." + "."); training and serving both use the graph's.
    ties = [(g, e) for g, e in zip(graph, expected, strict=True) if g != e]
    assert len(ties) <= len(sample) // 1000, ties[:3]
    for g, e in ties:
        assert python.decode(g) == python.decode(e) and len(g) == len(e)
        score = lambda ids: sum(python.get_score(i) for i in ids)  # noqa: E731
        assert abs(score(g) - score(e)) < 1e-4
    assert python.unk_id() not in {i for ids in graph for i in ids}
    # Cased: the pieces keep the capitals of German nouns and English sentence starts.
    assert any(python.id_to_piece(i)[1:2].isupper() for ids in graph[:100] for i in ids)


def test_vocabularies_and_corpus_stream_match_the_report():
    report = json.loads(artifacts.report(PATHS, "tokenize").read_text())
    vocab = Vocabulary.load(PATHS.processed / artifacts.CORPUS_VOCAB)
    assert len(vocab) == report["corpus"]["vocab_size"] > 30_000
    ids = np.load(PATHS.processed / artifacts.CORPUS_IDS, mmap_mode="r")
    assert int(np.count_nonzero(ids == EOS_ID)) == report["corpus"]["sequences"]
    assert len(ids) == report["corpus"]["tokens"] + report["corpus"]["sequences"]
    assert report["corpus"]["tokens"] >= PRESETS["default"].data.min_corpus_tokens
    for lang in ("de", "en"):
        assert len(Vocabulary.load(Path(PATHS.processed / artifacts.vocab_file(lang)))) > 5_000
    # MR's own words extend the corpus vocabulary and halve its UNK rate there.
    polarity = Vocabulary.load(PATHS.processed / artifacts.POLARITY_VOCAB)
    assert polarity.tokens[: len(vocab)] == vocab.tokens
    assert len(polarity) == report["polarity"]["vocab_size"] > len(vocab) + 1_000
    assert report["polarity"]["unk_rate"] < 0.6 * report["polarity"]["corpus_vocab_unk_rate"]


LM_REPORT = PATHS.reports / "lm.json"


@pytest.mark.skipif(not LM_REPORT.exists(), reason="language model not trained: run `make lm`")
def test_language_model_beats_the_unigram_baseline_and_samples_sentences():
    report = json.loads(LM_REPORT.read_text())
    assert report["perplexity"] < 0.5 * report["unigram_perplexity"]
    lm = tf.saved_model.load(report["model"])
    scores = lm.score(tf.constant(["the president said that the economy is strong .",
                                   "strong is economy the that said president the ."]))  # fmt: skip
    fluent, shuffled = scores["log_prob"].numpy()
    assert fluent > shuffled + 5
    tf.random.set_seed(0)
    sentences = lm.sample(n=tf.constant(20), temperature=tf.constant(0.7))["sentences"].numpy()
    cap = report["config"]["sample_max_len"]
    assert all(0 < len(s.split()) <= cap for s in sentences)


EMBEDDINGS_REPORT = PATHS.reports / "embeddings.json"


@pytest.mark.skipif(
    not EMBEDDINGS_REPORT.exists(), reason="embeddings not trained: run `make train-embeddings`"
)
def test_trained_embeddings_capture_analogies_and_similarity():
    models = json.loads(EMBEDDINGS_REPORT.read_text())["models"]
    for name, scores in models.items():
        assert scores["analogy"]["total"]["accuracy"] > 0.05, name
        assert scores["wordsim353"]["spearman"] > 0.3, name
    module = tf.saved_model.load(str(PATHS.saved_models / "embeddings" / "1"))
    nearest = module.nearest(words=tf.constant(["tuesday"]), k=tf.constant(10))["words"]
    days = {b"monday", b"wednesday", b"thursday", b"friday", b"saturday", b"sunday"}
    assert days & set(nearest.numpy()[0].tolist())
