"""`make word-language`: word lists from fixture .debs, the split, naive Bayes, bucketing, the
stage end to end on the smoke preset and its SavedModel in a process without ``pipeline``."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import logging
from collections import Counter
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from fixtures_archives import make_deb
from fresh_process import without_pipeline

from pipeline.config import PRESETS, Paths
from pipeline.data.archives import ArchiveError
from pipeline.text import Vocabulary
from pipeline.wordlang import __main__ as stage
from pipeline.wordlang.baseline import NaiveBayes, char_ngrams
from pipeline.wordlang.model import CharCodec, length_batches
from pipeline.wordlang.sources import ARTIFACTS, WORD_LISTS, chosen
from pipeline.wordlang.words import (
    clean,
    drop_shared,
    read_entries,
    split,
    word_hashes,
)

CODES = ("en", "de", "es")
# Each fixture language's words end in its own suffixes, so a model can learn them.
SUFFIXES = {"en": ("ing", "ness"), "de": ("ung", "heit"), "es": ("ción", "idad")}
STEMS = [a + b for a in "bdfklmprst" for b in ("a", "e", "o", "u", "i", "ar", "el", "on")]


def fixture_entries(code: str) -> list[str]:
    """80 words of one language, and entries every rule of ``clean`` drops."""
    words = [stem + SUFFIXES[code][i % 2] for i, stem in enumerate(STEMS)]
    if code == "de":  # German nouns are capitalised, and stay
        words = [w.capitalize() if i % 3 == 0 else w for i, w in enumerate(words)]
    return [*words, "shared", "x", "ACPI", "dog's", "e-mail", "Berlin", "a" * 40]


def fixture_archives(raw: Path) -> dict:
    """The pinned packages' file names holding fixture lists, re-pinned to their checksums."""
    raw.mkdir(parents=True, exist_ok=True)
    pins = {}
    for code in CODES:
        word_list = WORD_LISTS[code]
        artifact = ARTIFACTS[word_list.artifact]
        text = "\n".join(fixture_entries(code)) + "\n"
        path = make_deb(
            raw / artifact.filename, {word_list.member: text.encode(word_list.encoding)}
        )
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        pins[artifact.name] = dataclasses.replace(artifact, sha256=digest)
    return pins


# -- the word lists ---------------------------------------------------------------------------


def test_a_latin1_list_is_read_from_the_deb_and_cleaned(tmp_path):
    word_list = WORD_LISTS["sv"]  # Swedish is Latin-1
    entries = ["björn", "Åsa", "A-aktie", "hund's", "SAS", "", "  hus  ", "flöjt"]
    deb = make_deb(
        tmp_path / "wswedish.deb",
        {word_list.member: "\n".join(entries).encode("latin-1"), "usr/share/doc/x": b"doc"},
    )
    read = read_entries(deb, word_list)
    assert read == ["björn", "Åsa", "A-aktie", "hund's", "SAS", "hus", "flöjt"]
    kept, dropped = clean(read, "sv", min_chars=2, max_chars=32)
    assert kept == {"björn", "hus", "flöjt"}
    assert dropped == Counter(
        {
            "capitalised (proper noun)": 1,
            "not only letters": 1,
            "apostrophe": 1,
            "acronym or mixed case": 1,
        }
    )


def test_german_keeps_its_capitalised_nouns_lowercased():
    kept, dropped = clean(["Fenster", "laufen", "ABC", "Ab", "o"], "de", 2, 32)
    assert kept == {"fenster", "laufen", "ab"}
    assert dropped == Counter({"acronym or mixed case": 1, "length": 1})


def test_a_list_in_the_wrong_encoding_or_a_missing_member_is_explained(tmp_path):
    word_list = WORD_LISTS["en"]
    deb = make_deb(tmp_path / "wbritish.deb", {word_list.member: "naïve".encode("latin-1")})
    with pytest.raises(ArchiveError, match=r"is not utf-8 text .*`make word-language` again"):
        read_entries(deb, word_list)
    other = make_deb(tmp_path / "other.deb", {"usr/share/dict/words": b"a\n"})
    with pytest.raises(ArchiveError, match="has no member 'usr/share/dict/british-english'"):
        read_entries(other, word_list)


def test_languages_are_checked_before_anything_is_fetched():
    assert chosen(()) == list(WORD_LISTS)
    assert chosen(("de", "en", "de")) == ["de", "en"]
    with pytest.raises(ValueError, match=r"unknown word-list languages \['xx'\]"):
        chosen(("en", "xx"))
    with pytest.raises(ValueError, match="at least two languages"):
        chosen(("en",))


def test_words_in_two_lists_leave_both():
    lists = {"a": {"pan", "sol", "eins"}, "b": {"pan", "sol", "sun"}, "c": {"sol", "zwei"}}
    unique, lost, overlaps = drop_shared(lists)
    assert unique == {"a": {"eins"}, "b": {"sun"}, "c": {"zwei"}}
    assert lost == {"a": 2, "b": 2, "c": 1}
    assert overlaps == {"a-b": 2, "a-c": 1, "b-c": 1}


# -- the split --------------------------------------------------------------------------------


def reference_hash(word: str) -> int:
    """FNV-1a 64 then the splitmix64 finalizer, one Python integer at a time."""
    mask = (1 << 64) - 1
    h = 0xCBF29CE484222325
    for byte in word.encode("utf-8"):
        h = ((h ^ byte) * 0x100000001B3) & mask
    for multiplier in (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53):
        h = ((h ^ (h >> 33)) * multiplier) & mask
    return h ^ (h >> 33)


def test_word_hashes_are_the_reference_hash():
    words = ["a", "hund", "fenêtre", "źdźbło", "x" * 32, "ß"]
    assert word_hashes(words).tolist() == [reference_hash(w) for w in words]


def test_the_split_is_deterministic_disjoint_capped_and_a_function_of_the_word():
    lists = {code: {f"{code}{i}" for i in range(500)} for code in ("p", "q")}
    caps = {"train": 300, "dev": 30, "test": 30}
    first = split(lists, caps)
    reordered = split(
        {code: set(sorted(words, reverse=True)) for code, words in lists.items()}, caps
    )
    assert all(first[s].words == reordered[s].words for s in first)
    sets = {name: set(ex.words) for name, ex in first.items()}
    assert not (
        sets["train"] & sets["dev"] or sets["train"] & sets["test"] or sets["dev"] & sets["test"]
    )
    for name, ex in first.items():
        assert Counter(ex.labels.tolist()) == {0: caps[name], 1: caps[name]}
        assert all(w.startswith("pq"[label]) for w, label in zip(ex.words, ex.labels, strict=True))
        residues = {reference_hash(w) % 10 for w in ex.words}
        assert residues <= {"test": {0}, "dev": {1}, "train": set(range(2, 10))}[name]
    # more words elsewhere move no word to another split
    grown = split({**lists, "r": {f"r{i}" for i in range(500)}}, caps)
    assert set(grown["test"].words) >= sets["test"]


# -- naive Bayes ------------------------------------------------------------------------------


def test_char_ngrams_mark_the_word_boundaries():
    assert char_ngrams("ab", 2) == ["<", "a", "b", ">", "<a", "ab", "b>"]


def test_naive_bayes_gives_the_hand_computed_posterior():
    # Unigrams of <aa> for class 0 and of <ab> for class 1, alpha 1, |V| = 4 ({<, >, a, b}):
    # theta_0 = (2, 2, 3, 1)/8 and theta_1 = (2, 2, 2, 2)/8 for (<, >, a, b). "<b>" scores
    # 1/2 * 2*2*1/8^3 under class 0 and 1/2 * 2*2*2/8^3 under class 1: P(1 | b) = 8/12.
    nb = NaiveBayes.fit(["aa", "ab"], np.array([0, 1]), n_classes=2, max_n=1)
    posterior = np.exp(nb.log_posterior(["b", "aa"], alpha=1.0))
    assert posterior[0].tolist() == pytest.approx([1 / 3, 2 / 3], abs=1e-12)
    # "<aa>": 2*2*3*3 against 2*2*2*2 -> P(0 | aa) = 36/52
    assert posterior[1, 0] == pytest.approx(float(Fraction(36, 52)), abs=1e-12)
    best, accuracy = nb.best_alpha(["b", "aa"], np.array([1, 0]), (0.5, 1.0))
    assert best == 0.5 and accuracy == {0.5: 1.0, 1.0: 1.0}
    with pytest.raises(ValueError, match="alpha must be > 0"):
        nb.log_posterior(["a"], 0.0)


# -- the GRU's batches ------------------------------------------------------------------------


def test_batches_hold_words_of_one_length_and_every_word_once():
    words = ["ab", "cd", "abc", "bca", "cab", "abcd", "a", "dcba", "ba", "bb", "cc"]
    labels = np.arange(len(words), dtype=np.int32)
    codec = CharCodec(CharCodec.vocabulary(words, 1), max_chars=32)
    seen = []
    for ids, batch_labels in length_batches(codec.ids(tf.constant(words)), labels, 2, seed=3):
        assert ids.shape[0] <= 2 and ids.shape[0] == batch_labels.shape[0]
        assert 0 not in ids.numpy()  # no padding inside a batch
        for row, label in zip(ids.numpy(), batch_labels.numpy(), strict=True):
            assert len(row) == len(words[label])
            seen.append(int(label))
    assert sorted(seen) == labels.tolist()


def test_the_codec_normalizes_and_truncates_in_the_graph():
    codec = CharCodec(Vocabulary.build({"a": 1, "ä": 1, "b": 1}), max_chars=3)
    ids = codec.ids(tf.constant(["  ÄB ", "abab", "a\xadb", b"a\xffb"])).to_list()
    a, ae, b, unk = codec.vocab.id("a"), codec.vocab.id("ä"), codec.vocab.id("b"), 1
    assert ids == [[ae, b], [a, b, a], [a, b], [a, unk, b]]


# -- the stage end to end ---------------------------------------------------------------------

SMOKE = dataclasses.replace(PRESETS["smoke"].word_language, languages=CODES)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("wordlang")
    paths = Paths(data=root / "data", reports=root / "reports", saved_models=root / "saved")
    pins = fixture_archives(paths.raw)
    return paths, stage.run(paths, SMOKE, artifacts=pins)


def test_the_report_counts_the_fixture_lists(smoke_run):
    paths, report = smoke_run
    assert list(report["languages"]) == list(CODES)
    for code, row in report["languages"].items():
        # 80 words, "shared" (in every list, dropped), "x" (too short), ACPI, dog's, e-mail,
        # Berlin (a proper noun, except in German) and a 40-letter word
        assert row["entries"] == 87
        assert row["kept"] == (82 if code == "de" else 81)
        assert row["shared"] == 1  # "shared"; "berlin" is a German noun and no other's word
        assert row["train"] + row["dev"] + row["test"] <= 80
        assert row["train"] == 40 and 0 < row["test"] <= 8
    assert report["list_overlaps"] == {"en-de": 1, "en-es": 1, "de-es": 1}
    gru, nb = report["gru"], report["naive_bayes"]
    counts = np.array(gru["confusion"])
    assert counts.sum(axis=1).tolist() == [r["test"] for r in report["languages"].values()]
    assert gru["test_accuracy"] == round(float(np.trace(counts) / counts.sum()), 4)
    assert nb["alpha"] in SMOKE.nb_alphas and gru["epochs"] == 2
    for name in ("word_language.md", "word_language.json", "word_language_confusion.png"):
        assert (paths.reports / name).stat().st_size > 0
    assert (paths.reports / "word_language_confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((paths.reports / "word_language.json").read_text())["model"] == str(
        paths.saved_models / "word_language" / "1"
    )
    assert "| en English | 87 | 81 | 1 | 40 |" in (paths.reports / "word_language.md").read_text()


def test_naive_bayes_separates_the_fixture_suffixes(smoke_run):
    # Each language's words end in its own suffixes: the baseline gets every test word right.
    assert smoke_run[1]["naive_bayes"]["test_accuracy"] == 1.0


def test_a_tampered_package_is_refused_with_this_stages_advice(tmp_path, caplog):
    raw = tmp_path / "data" / "raw"
    fixture_archives(raw)  # the real pins do not match fixture bytes
    folders = {"data": "data", "reports": "reports", "saved-models": "saved"}
    argv = ["--preset", "smoke", "--languages", "en,de"]
    argv += [
        arg for flag, name in folders.items() for arg in (f"--{flag}-dir", str(tmp_path / name))
    ]
    with caplog.at_level(logging.ERROR, logger="pipeline.wordlang"):
        assert stage.main(argv) == 1
    (message,) = [r.getMessage() for r in caplog.records if r.name == "pipeline.wordlang"]
    assert message.startswith("Checksum mismatch for wbritish (wbritish=2020.12.07-2)")
    assert "Run `make word-language` again" in message
    assert "update the pin in pipeline/wordlang/sources.py deliberately" in message
    assert not (raw / ARTIFACTS["wbritish"].filename).exists()
    assert not (tmp_path / "reports").exists()


# -- the SavedModel ---------------------------------------------------------------------------

PROBES = ["reading", "Zeitung", "nación", "", "   ", b"\xff\xfeab", "ing" * 200, "日本語", "\xad"]


def _classify_in_fresh_process(saved: Path, words: list[str | bytes]) -> dict:
    """The export's outputs for ``words`` from a process that never imports ``pipeline``."""
    body = f"""
        import base64
        clf = tf.saved_model.load({str(saved)!r})
        words = [base64.b64decode(w) for w in json.loads(sys.stdin.read())]
        out = clf.signatures["serving_default"](words=tf.constant(words))
        languages = clf.signatures["languages"]()
        try:
            clf.signatures["classify"](words=tf.constant("scalar"))
            scalar = "accepted"
        except tf.errors.InvalidArgumentError as err:
            scalar = err.message
        result = {{
            "probabilities": out["probabilities"].numpy().tolist(),
            "language": [s.decode() for s in out["language"].numpy()],
            "language_name": [s.decode() for s in out["language_name"].numpy()],
            "characters": out["characters"].numpy().tolist(),
            "codes": [s.decode() for s in languages["codes"].numpy()],
            "scalar": scalar,
        }}
        """
    encoded = [base64.b64encode(w if isinstance(w, bytes) else w.encode()).decode() for w in words]
    return without_pipeline(body, cwd=saved.parent, stdin=json.dumps(encoded))


def test_the_savedmodel_answers_raw_words_in_a_fresh_process(smoke_run):
    saved = smoke_run[0].saved_models / "word_language" / "1"
    out = _classify_in_fresh_process(saved, PROBES)
    probabilities = np.array(out["probabilities"])
    assert probabilities.shape == (len(PROBES), len(CODES))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert out["codes"] == list(CODES)
    assert out["language"] == [CODES[i] for i in probabilities.argmax(axis=1)]
    names = {"en": "English", "de": "German", "es": "Spanish"}
    assert out["language_name"] == [names[c] for c in out["language"]]
    assert out["characters"] == [7, 7, 6, 0, 0, 4, SMOKE.max_chars, 3, 0]
    assert "words must be a 1-D batch of strings" in out["scalar"]
    # a word's answer does not depend on the batch it came in (padding is masked)
    loaded = tf.saved_model.load(str(saved))
    alone = loaded.classify(tf.constant(["reading"]))["probabilities"].numpy()[0]
    np.testing.assert_allclose(alone, probabilities[0], rtol=1e-5, atol=1e-6)
