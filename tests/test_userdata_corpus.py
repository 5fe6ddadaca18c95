"""A user's own text as a named run's corpus: prepared, then embeddings and LMs train on it."""

from __future__ import annotations

import gzip
import json
import logging
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from test_makefile import Make

from pipeline import artifacts
from pipeline.config import PRESETS, Paths
from pipeline.data import tfds_builders
from pipeline.embeddings import evaluate as emb_evaluate
from pipeline.embeddings import export as emb_export
from pipeline.embeddings import train as emb_train
from pipeline.embeddings.keyed_vectors import load_trained
from pipeline.lm import train as lm_train
from pipeline.text import EOS_ID, Tokenizer, Vocabulary
from pipeline.userdata import corpus

RUN = "mine"
NOUNS = ["Haus", "Hund", "Katze", "König", "Königin", "Stadt", "Straße", "Baum", "Mädchen"]
VERBS = ["sieht", "mag", "sucht", "findet", "malt", "grüßt"]
ADJECTIVES = ["große", "kleine", "alte", "schöne", "grüne"]


def german_lines(n: int, seed: int = 0) -> list[str]:
    """Sentences of a small grammar, so every word recurs and the sizes are known."""
    rng = random.Random(seed)
    return [
        f"Die {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {rng.choice(VERBS)} "
        f"z.B. den {rng.choice(NOUNS)} ."
        for _ in range(n)
    ]


def dirs(root: Path) -> list[str]:
    return [
        "--data-dir", str(root / "data"), "--reports-dir", str(root / "reports"),
        "--saved-models-dir", str(root / "saved_models"), "--runs-dir", str(root / "runs"),
    ]  # fmt: skip


def data_dir(root: Path) -> list[str]:
    return dirs(root)[:2]


def named(root: Path, run: str = RUN) -> Paths:
    return Paths(root / "data", root / "reports", root / "saved_models", root / "runs").named(run)


def prepare(root: Path, *args: str, run: str = RUN) -> int:
    return corpus.main(["--preset", "smoke", "--run", run, *data_dir(root), *args])


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A German run: two files (one gzip, blank lines), prepared, then every model trained."""
    root = tmp_path_factory.mktemp("corpus")
    lines = german_lines(300)
    plain, packed = root / "one.txt", root / "two.txt.gz"
    plain.write_text("\n\n".join(lines[:200]) + "\n", encoding="utf-8")
    packed.write_bytes(gzip.compress(("\n".join(lines[200:]) + "\n").encode()))
    assert prepare(root, "--lang", "de", str(plain), str(packed)) == 0
    stages = ["--preset", "smoke", "--run", RUN, *dirs(root)]
    assert emb_train.main(stages) == 0
    assert emb_evaluate.main(["--preset", "smoke", "--run", RUN, *dirs(root)[:4]]) == 0
    export = ["--run", RUN, *data_dir(root), "--saved-models-dir", str(root / "saved_models")]
    assert emb_export.main(export) == 0
    for level in ("word", "char"):
        assert lm_train.main([*stages, "--level", level]) == 0
    return root, lines


def test_the_run_holds_the_files_lines_encoded_as_make_tokenize_does(trained) -> None:
    root, lines = trained
    paths = named(root)
    report = json.loads(artifacts.manifest(paths, "corpus").read_text())
    assert report["lines_per_file"] == {"one.txt": 200, "two.txt.gz": 100}
    assert report["settings"]["lang"] == "de" and report["sequences"] == 300
    assert report["tokens"] == 300 * 8  # "z.b." is one German token
    vocab = Vocabulary.load(paths.processed / artifacts.CORPUS_VOCAB)
    ids = np.load(paths.processed / artifacts.CORPUS_IDS)
    assert ids[-1] == EOS_ID and int(np.sum(ids == EOS_ID)) == 300
    ends = np.flatnonzero(ids == EOS_ID)
    decoded = [
        " ".join(vocab.tokens[i] for i in sentence)
        for sentence in np.split(ids, ends + 1)[:-1]
        for sentence in [sentence[:-1]]
    ]
    tokenizer = Tokenizer("de")
    # TFDS shuffles the lines, as it does the English corpus; the multiset is the files'.
    assert Counter(decoded) == Counter(" ".join(tokenizer.tokenize(line)) for line in lines)
    assert "z.b." in vocab and "königin" in vocab


def test_models_are_the_runs_and_the_default_folders_stay_untouched(trained) -> None:
    root, _ = trained
    for top in ("data/processed", "reports", "saved_models", "runs"):
        assert sorted(p.name for p in (root / top).iterdir()) == ["user"]
    assert sorted(p.name for p in (root / "data" / "tfds").iterdir()) == ["user"]
    paths = named(root)
    assert sorted(p.name for p in paths.saved_models.iterdir()) == ["embeddings", "lm", "lm_char"]
    lm = json.loads(artifacts.report(paths, "lm").read_text())
    assert lm["train_sentences"] + lm["held_out_sentences"] == 300
    assert 1 < lm["perplexity"] < lm["vocab_size"]
    char = json.loads(artifacts.report(paths, "lm_char").read_text())
    _, chars = lm_train.char_corpus(paths, PRESETS["smoke"].lm)  # the run's own lines
    assert {"ä", "ö", "ß", "z", "."} <= set(chars.tokens) and char["vocab_size"] == len(chars)


def test_the_exports_cut_words_as_the_runs_corpus(trained) -> None:
    root, _ = trained
    paths = named(root)
    kv = load_trained(paths)["word2vec"]
    module = tf.saved_model.load(str(artifacts.saved_model(paths, artifacts.EMBEDDINGS)))
    vectors = module.lookup(words=tf.constant(["KÖNIGIN", "z.B."]))["vectors"].numpy()
    np.testing.assert_allclose(vectors, kv.vectors[kv.indices(["königin", "z.b."])], rtol=1e-6)
    lm = tf.saved_model.load(str(artifacts.saved_model(paths, "lm")))
    tokens = lm.score(tf.constant(["Die alte Katze malt z.B. den Baum ."]))["tokens"]
    assert int(tokens.numpy()[0]) == 9  # eight German tokens and EOS


def test_a_german_run_is_not_scored_on_the_english_sets(trained) -> None:
    root, _ = trained
    report = json.loads(artifacts.report(named(root), artifacts.EMBEDDINGS).read_text())
    assert (
        report["skipped"]
        == "the run's corpus is --lang de, the analogy and similarity sets English"
    )
    w2v = report["models"]["word2vec"]
    assert "analogy" not in w2v and w2v["vocab_size"] == len(load_trained(named(root))["word2vec"])
    words = load_trained(named(root))["word2vec"].words
    letters = [w for w in words if w.isalpha() and len(w) > 3]
    assert list(w2v["neighbours"]) == [letters[0], letters[2], letters[8]]  # ranks 1, 3, 9
    md = (named(root).reports / "embeddings.md").read_text()
    assert md.startswith(
        "# Word embeddings\n\nNot scored on analogies and word similarity: the run"
    )


def build_english_sets(tfds_dir: Path, manual: Path) -> None:
    """One analogy and one similarity pair per set, built as `make data` builds them."""
    import tensorflow_datasets as tfds

    rows = {
        tfds_builders.ANALOGY_FILE: "family\tman\tking\twoman\tqueen\n",
        **dict.fromkeys(tfds_builders.SIMILARITY_FILES.values(), "king\tqueen\t8.0\n"),
    }
    for name, text in rows.items():
        (manual / name).parent.mkdir(parents=True, exist_ok=True)
        (manual / name).write_text(text)
    config = tfds.download.DownloadConfig(manual_dir=str(manual))
    for name in ("word_analogy", *emb_evaluate.SIMILARITY_DATASETS.values()):
        tfds.builder(name, data_dir=str(tfds_dir)).download_and_prepare(download_config=config)


def test_an_english_run_is_scored_on_the_english_sets_once_built(tmp_path: Path) -> None:
    paths = named(tmp_path, "en-text")
    text = tmp_path / "en.txt"
    words = ["the", "king", "and", "the", "queen", "saw", "a", "man", "and", "a", "woman"]
    text.write_text("\n".join(" ".join(words[i:] + words[:i]) for i in range(11)) + "\n")
    assert prepare(tmp_path, str(text), run="en-text") == 0
    stages = ["--preset", "smoke", "--run", "en-text", *dirs(tmp_path)]
    assert emb_train.main(stages) == 0
    assert emb_evaluate.main(stages[:-4]) == 0
    report = json.loads(artifacts.report(paths, artifacts.EMBEDDINGS).read_text())
    assert report["skipped"] == (
        f"the English analogy and similarity sets are not built under {paths.tfds}"
    )
    letters = [w for w in load_trained(paths)["word2vec"].words if w.isalpha() and len(w) > 3]
    assert letters == ["king", "queen", "woman"]  # as frequent, in alphabetical order
    assert list(report["models"]["word2vec"]["neighbours"]) == ["king", "woman"]  # ranks 1, 3
    build_english_sets(paths.tfds, tmp_path / "manual")
    assert emb_evaluate.main(stages[:-4]) == 0
    report = json.loads(artifacts.report(paths, artifacts.EMBEDDINGS).read_text())
    assert "skipped" not in report
    w2v = report["models"]["word2vec"]
    assert w2v["analogy"]["covered"] == 1 and w2v["wordsim353"]["covered"] == 1
    assert list(w2v["neighbours"]) == ["king"]  # the English probes in the vocabulary


def test_the_same_files_again_rewrite_nothing_and_new_settings_rebuild(tmp_path: Path) -> None:
    text = tmp_path / "a.txt"
    text.write_text("\n".join(german_lines(20)) + "\n", encoding="utf-8")
    paths = named(tmp_path)
    outputs = [
        artifacts.manifest(paths, "corpus"),
        artifacts.stamp(paths, "corpus"),
        paths.processed / artifacts.CORPUS_IDS,
    ]
    assert prepare(tmp_path, "--lang", "de", str(text)) == 0
    before = [path.stat().st_mtime_ns for path in outputs]
    assert prepare(tmp_path, "--lang", "de", str(text)) == 0
    assert prepare(tmp_path) == 0  # no files: the run's corpus as it is
    assert [path.stat().st_mtime_ns for path in outputs] == before
    assert prepare(tmp_path, "--lang", "de", "--corpus-min-count", "20", str(text)) == 0
    report = json.loads(outputs[0].read_text())
    assert (
        report["settings"]["corpus_min_count"] == 20 and outputs[0].stat().st_mtime_ns > before[0]
    )
    # "die", "den", "z.b." and "." are on every line; no other word is 20 times in 20 lines.
    assert report["vocab_size"] == 4 + 4


def run_error(caplog: pytest.LogCaptureFixture, main, args: list[str]) -> str:
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        assert main(args) == 1
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    return record.getMessage()


@pytest.mark.parametrize(
    ("data", "args", "message"),
    [
        (None, [], "{path}: no such file. Check the path (it is read as given)."),
        (b"\n \n", [], "{path}: the file is empty (no line with text)."),
        (
            b"fine\ncaf\xe9\n",
            [],
            "{path}:2: byte(s) e9 at column 4 are not valid utf-8. Give the file's encoding "
            "with --encoding (e.g. --encoding latin-1), or keep the rest of the file by "
            "replacing such bytes with --encoding-errors replace.",
        ),
        (
            b"ein Haus\nein Baum\nein Hund\n",
            ["--corpus-min-count", "3"],
            "The corpus has 3 lines, 6 tokens and 4 distinct words, of which 1 occur at least "
            "--corpus-min-count 3 times; training needs 2 or more. Give more text, or a lower "
            '--corpus-min-count (DATA_ARGS="--corpus-min-count 1").',
        ),
    ],
)
def test_unusable_text_is_one_message_and_writes_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, data: bytes | None, args, message
) -> None:
    path = tmp_path / "text.txt"
    if data is not None:
        path.write_bytes(data)
    argv = ["--preset", "smoke", "--run", RUN, *data_dir(tmp_path), *args, str(path)]
    assert run_error(caplog, corpus.main, argv) == message.format(path=path)
    assert not (tmp_path / "data").exists()


def test_latin1_text_reads_with_its_encoding(tmp_path: Path) -> None:
    path = tmp_path / "text.txt"
    path.write_bytes("Café au lait\nein Café\n".encode("latin-1"))
    assert prepare(tmp_path, "--encoding", "latin-1", str(path)) == 0
    vocab = Vocabulary.load(named(tmp_path).processed / artifacts.CORPUS_VOCAB)
    assert "café" in vocab


def test_a_corpus_too_small_for_a_model_says_its_sizes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stages = ["--preset", "smoke", "--run", RUN, *dirs(tmp_path)]
    assert run_error(caplog, lm_train.main, stages) == (
        f"Run {RUN!r} has no corpus ({named(tmp_path).processed / artifacts.CORPUS_IDS} is "
        f"missing). Give its text: make train-embeddings RUN={RUN} CORPUS=your.txt"
    )
    assert run_error(caplog, corpus.main, stages[:6]) == (
        f"Run {RUN!r} has no corpus yet; give its text files: make train-embeddings RUN={RUN} "
        'CORPUS="a.txt b.txt.gz"'
    )
    text = tmp_path / "words.txt"
    text.write_text("Haus\nBaum\nHaus\nBaum\n", encoding="utf-8")
    assert prepare(tmp_path, str(text)) == 0
    assert run_error(caplog, lm_train.main, stages) == (
        "The corpus has 4 sentences, too few to hold out --held-out 4 for perplexity and train "
        'on the rest. Give more text, or hold out fewer (STAGE_ARGS="--held-out 1").'
    )
    char = [*stages, "--level", "char", "--char-min-count", "50"]
    assert run_error(caplog, lm_train.main, char) == (
        "The corpus has 16 characters, 6 distinct, and 0 of them occur --char-min-count 50 "
        "times or more; a character model needs 2 or more. Give more text or a lower count "
        '(STAGE_ARGS="--char-min-count 1").'
    )
    assert run_error(caplog, emb_train.main, stages) == (
        "The corpus has 4 embedded words (2 distinct) in 4 lines, and no line holds two of "
        "them: word2vec and GloVe learn from the words within --window 2 of each other in a "
        "line. Give more text, with several words a line."
    )


def test_make_passes_the_files_and_the_run_to_every_stage(tmp_path: Path) -> None:
    make = Make(tmp_path)
    result = make("-s", "train-embeddings", "CORPUS=my.txt b.txt.gz", "DATA_ARGS=--lang de")
    assert result.returncode == 0, result.stderr
    calls = make.calls()
    assert calls[0] == [
        "-m", "pipeline.userdata.corpus", "--preset", "default", "--run", "my",
        "--lang", "de", "--", "my.txt", "b.txt.gz",
    ]  # fmt: skip
    assert [argv[1] for argv in calls[1:]] == [
        "pipeline.embeddings.train", "pipeline.embeddings.train",
        "pipeline.embeddings.evaluate", "pipeline.embeddings.export",
    ]  # fmt: skip
    assert all(argv[argv.index("--run") + 1] == "my" for argv in calls[1:])
    assert make("-s", "sample", "RUN=my").returncode == 0
    calls = make.calls()
    assert calls[0][-2:] == ["my", "--"]  # no files: the run's corpus as it is
    assert calls[1][:2] == ["-m", "pipeline.lm.train"] and "my" in calls[1]
    assert calls[2][:4] == ["-m", "pipeline.lm.sample", "--model", "saved_models/user/my/lm/1/"]
