"""Your own labeled texts: the tables read, checked and encoded, then a classifier trained on them.

Every run here is a named run in tmp_path; the default pipeline's folders must stay empty.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from fresh_process import without_pipeline

from pipeline import artifacts
from pipeline.config import PRESETS, Paths
from pipeline.data.tfds_builders import read_tsv
from pipeline.embeddings.keyed_vectors import KeyedVectors
from pipeline.sentiment import data
from pipeline.sentiment import train as sentiment_train
from pipeline.text import Vocabulary
from pipeline.userdata import labeled
from pipeline.userdata.files import Decoding, UserDataError

TOPICS = {
    "food": ("tasty", "bread", "cheese", "soup"),
    "sport": ("goal", "match", "team", "score"),
    "tech": ("code", "chip", "cloud", "laptop"),
}
FILLER = ("the", "a", "of", "and", "with", "this")


def _texts(n: int, classes: tuple[str, ...], seed: int = 0) -> list[tuple[str, str]]:
    """``n`` (text, label) pairs, the labels in turn, each text with two of its topic's words."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = classes[i % len(classes)]
        words = [*rng.choice(FILLER, 3), *rng.choice(TOPICS[label], 2)]
        rows.append((" ".join(map(str, rng.permutation(words))), label))
    return rows


def _csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    """A CSV with a header, an id column first, and quoted texts holding commas and quotes."""
    lines = ["id,text,label"]
    lines += [f'{i},"{text}, ""quoted""",{label}' for i, (text, label) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _tsv(path: Path, rows: list[tuple[str, ...]]) -> Path:
    path.write_text("".join("\t".join(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _paths(root: Path) -> Paths:
    return Paths(root / "data", root / "reports", root / "saved_models", root / "runs")


def _dirs(paths: Paths) -> list[str]:
    return [
        "--data-dir", str(paths.data), "--reports-dir", str(paths.reports),
        "--saved-models-dir", str(paths.saved_models), "--runs-dir", str(paths.runs),
    ]  # fmt: skip


def _prepare(paths: Paths, run: str, *args: str) -> int:
    return labeled.main(["--preset", "smoke", "--run", run, *_dirs(paths)[:2], *args])


def _train(paths: Paths, run: str, *args: str) -> dict:
    argv = ["--preset", "smoke", "--run", run, *_dirs(paths), "--configs", "average/random"]
    assert sentiment_train.main([*argv, *args]) == 0
    return json.loads(artifacts.report(paths.named(run), "sentiment").read_text())


@pytest.fixture(scope="module")
def three(tmp_path_factory) -> tuple[Paths, dict]:
    """A 3-class CSV run, prepared and trained (2-fold CV)."""
    root = tmp_path_factory.mktemp("three")
    paths = _paths(root)
    source = _csv(root / "topics.csv", _texts(60, tuple(TOPICS)))
    assert _prepare(paths, "topics", "--", str(source)) == 0
    return paths, _train(paths, "topics")


def test_csv_with_quotes_and_a_header_is_read_by_column_name(tmp_path):
    source = _csv(tmp_path / "t.csv", [("a b", "x"), ("c d", "y")])
    examples = labeled.read_examples(source, Decoding())
    assert [(e.line, e.text, e.label) for e in examples] == [
        (2, 'a b, "quoted"', "x"),
        (3, 'c d, "quoted"', "y"),
    ]


def test_tsv_without_header_uses_positions_and_flags_take_names_or_positions(tmp_path):
    plain = _tsv(tmp_path / "a.tsv", [("good day", "pos"), ("bad day", "neg")])
    assert [(e.text, e.label) for e in labeled.read_examples(plain, Decoding())] == [
        ("good day", "pos"),
        ("bad day", "neg"),
    ]
    swapped = _tsv(tmp_path / "b.tsv", [("pos", "x", "good day"), ("neg", "y", "bad day")])
    by_position = labeled.read_examples(swapped, Decoding(), text="2", label="0")
    assert [(e.line, e.text, e.label) for e in by_position] == [
        (1, "good day", "pos"),
        (2, "bad day", "neg"),
    ]
    named = _tsv(tmp_path / "c.tsv", [("stars", "note", "review"), ("5", "-", "great stuff")])
    by_name = labeled.read_examples(named, Decoding(), text="review", label="stars")
    assert [(e.line, e.text, e.label) for e in by_name] == [(2, "great stuff", "5")]


def test_class_order_is_numeric_for_integer_labels_else_sorted(tmp_path):
    def names(*labels: str) -> list[str]:
        return labeled.class_names([labeled.Example(tmp_path, 1, "t", y) for y in labels])

    assert names("10", "2", "-1", "2") == ["-1", "2", "10"]
    assert names("pos", "neg", "10") == ["10", "neg", "pos"]


def test_folds_are_stratified_by_class(three):
    paths, _ = three
    folder = artifacts.user_input(paths.named("topics"), "labeled")
    rows = list(read_tsv(folder / "train.tsv"))
    counts = np.zeros((3, 2), int)
    for _, label, fold in rows:
        counts[int(label), int(fold)] += 1
    assert counts.tolist() == [[10, 10]] * 3


def test_prepare_writes_the_run_encoding_and_a_tfds_dataset_with_the_class_names(three):
    paths, _ = three
    run = paths.named("topics")
    info = json.loads((run.processed / artifacts.LABELED_INFO).read_text())
    assert info == {"classes": ["food", "sport", "tech"], "vectors": None, "test": False}
    examples, test = data.load_labeled(run, 16, info)
    assert test is None and len(examples) == 60 and examples.classes == 3
    assert np.bincount(examples.labels).tolist() == [20, 20, 20]
    vocab = Vocabulary.load(run.processed / artifacts.POLARITY_VOCAB)
    assert "cheese" in vocab and "quoted" in vocab  # the texts' own words, random init
    builder = labeled.UserLabeled(data_dir=str(artifacts.user_datasets(run, "labeled")))
    assert builder.info.features["label"].names == ["food", "sport", "tech"]
    first = next(iter(builder.as_dataset(split="train")))
    assert b'"quoted"' in first["text"].numpy()


def test_three_classes_train_report_and_plot(three):
    paths, report = three
    run = paths.named("topics")
    assert report["run"] == "topics" and report["classes"] == ["food", "sport", "tech"]
    assert report["evaluation"] == "2-fold CV" and report["majority_class_accuracy"] == 0.3333
    row = report["results"]["average/random"]
    assert len(row["fold_accuracy"]) == 2 and len(row["fold_macro_f1"]) == 2
    confusion = np.array(row["confusion"])
    assert confusion.shape == (3, 3) and confusion.sum(axis=1).tolist() == [20, 20, 20]
    assert row["mean"] == pytest.approx(np.trace(confusion) / 60, abs=0.01)
    assert not report["baselines"] and "average/random+nbsvm" not in report["results"]
    md = (run.reports / "sentiment.md").read_text()
    assert "macro-F1" in md and "No NBSVM rows" in md and "81.5" not in md
    png = run.reports / sentiment_train.CONFUSION_PLOT
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_named_run_leaves_the_default_folders_alone(three):
    paths, _ = three
    assert not (paths.reports / "sentiment.json").exists()
    assert not (paths.saved_models / "sentiment").exists()
    assert not (paths.runs / "sentiment").exists()
    assert not (paths.data / "processed" / artifacts.POLARITY_RECORDS).exists()
    assert (paths.named("topics").saved_models / "sentiment" / "1" / "saved_model.pb").exists()


def _in_fresh_process(saved: Path, texts: list[str]) -> dict:
    """The SavedModel's outputs for ``texts`` from a process that never imports ``pipeline``."""
    body = f"""
        clf = tf.saved_model.load({str(saved)!r})
        out = clf.signatures["serving_default"](texts=tf.constant(json.loads(sys.stdin.read())))
        result = {{
            "probabilities": out["probabilities"].numpy().tolist(),
            "class_names": [s.decode() for s in out["class_names"].numpy()],
            "label_name": [s.decode() for s in out["label_name"].numpy()],
        }}
        """
    return without_pipeline(body, cwd=saved.parent, stdin=json.dumps(texts))


def test_three_class_savedmodel_in_a_fresh_process(three):
    paths, _ = three
    saved = paths.named("topics").saved_models / "sentiment" / "1"
    texts = ["tasty cheese soup", "the team score a goal", "", "日本語"]
    out = _in_fresh_process(saved, texts)
    probabilities = np.array(out["probabilities"])
    assert probabilities.shape == (4, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert out["class_names"] == ["food", "sport", "tech"]
    names = np.array(out["class_names"])[probabilities.argmax(axis=1)]
    assert out["label_name"] == names.tolist()


def test_classify_prints_every_class_probability(three, capsys):
    from pipeline.sentiment import classify

    paths, _ = three
    model = paths.named("topics").saved_models / "sentiment" / "1"
    assert classify.main(["--model", str(model), "tasty bread"]) == 0
    label, scores, text = capsys.readouterr().out.rstrip("\n").split("\t")
    shares = dict(part.split("=") for part in scores.split())
    assert list(shares) == ["food", "sport", "tech"] and text == "tasty bread"
    assert sum(map(float, shares.values())) == pytest.approx(1.0, abs=0.002)
    assert label in shares


def test_a_second_prepare_with_the_same_files_rewrites_nothing(three, caplog):
    paths, _ = three
    run = paths.named("topics")
    source = paths.data.parent / "topics.csv"
    files = [artifacts.stamp(run, "labeled"), artifacts.manifest(run, "labeled")]
    files.append(run.processed / artifacts.POLARITY_RECORDS)
    before = [path.stat().st_mtime_ns for path in files]
    caplog.set_level("INFO")
    assert _prepare(paths, "topics", "--", str(source)) == 0
    assert [path.stat().st_mtime_ns for path in files] == before
    assert "current" in caplog.text
    # Without files (make reruns the step after a code change), the run is used as it is.
    assert _prepare(paths, "topics") == 0
    assert [path.stat().st_mtime_ns for path in files] == before
    assert "no files given; its labeled is used as it is" in caplog.text


def test_binary_tsv_with_a_test_file_keeps_the_binary_outputs(tmp_path):
    paths = _paths(tmp_path)
    rows = _texts(40, ("food", "sport"))
    train = _tsv(tmp_path / "train.tsv", [("review", "verdict"), *rows[:30]])
    test = _tsv(tmp_path / "test.tsv", [("review", "verdict"), *rows[30:]])
    args = ["--text-column", "review", "--label-column", "verdict", "--test", str(test)]
    assert _prepare(paths, "binary", *args, "--", str(train)) == 0
    report = _train(paths, "binary")
    assert report["evaluation"] == "train/test split" and report["test_examples"] == 10
    assert set(report["results"]) == {"average/random", "average/random+nbsvm"}
    assert np.array(report["results"]["average/random"]["confusion"]).sum() == 10
    loaded = tf.saved_model.load(str(paths.named("binary").saved_models / "sentiment" / "1"))
    out = loaded.signatures["serving_default"](texts=tf.constant(["tasty soup", "goal"]))
    assert set(out) == {"probability", "label", "label_name", "known_tokens"}
    assert {name.decode() for name in out["label_name"].numpy()} <= {"food", "sport"}
    assert out["probability"].shape == (2,)


def test_english_texts_extend_the_default_vocabulary_and_use_its_vectors(tmp_path):
    paths = _paths(tmp_path)
    known = [*FILLER, ",", '"', "quoted", "tasty", "bread", "goal", "team"]
    corpus = Vocabulary.build(dict.fromkeys(known, 5))
    corpus.save(paths.processed / artifacts.CORPUS_VOCAB)
    words = corpus.tokens[2:]
    vectors = np.random.default_rng(0).normal(size=(len(words), 8))
    KeyedVectors(words, vectors).save(artifacts.embedding_dir(paths, "word2vec"))
    source = _csv(tmp_path / "t.csv", _texts(40, ("food", "sport")))
    assert _prepare(paths, "english", "--", str(source)) == 0
    run = paths.named("english")
    info = json.loads((run.processed / artifacts.LABELED_INFO).read_text())
    assert info["vectors"] == "processed/embeddings"
    vocab = Vocabulary.load(run.processed / artifacts.POLARITY_VOCAB)
    assert vocab.tokens[: len(corpus)] == corpus.tokens and "cheese" in vocab
    report = _train(paths, "english", "--configs", "average/word2vec", "--no-nbsvm-vote")
    assert report["embeddings"]["word2vec"]["pretrained_rows"] == len(words)
    assert not report["notes"]


def test_texts_the_corpus_vocabulary_does_not_cover_get_their_own(tmp_path):
    paths = _paths(tmp_path)
    Vocabulary.build({"zebra": 5}).save(paths.processed / artifacts.CORPUS_VOCAB)
    KeyedVectors(["zebra"], np.ones((1, 8))).save(artifacts.embedding_dir(paths, "glove"))
    source = _csv(tmp_path / "t.csv", _texts(20, ("food", "tech")))
    assert _prepare(paths, "other", "--", str(source)) == 0
    run = paths.named("other")
    assert json.loads((run.processed / artifacts.LABELED_INFO).read_text())["vectors"] is None
    assert "zebra" not in Vocabulary.load(run.processed / artifacts.POLARITY_VOCAB)


def _fails(tmp_path: Path, content: bytes, *, name: str = "bad.csv", **flags: str) -> str:
    """The message of preparing a file of ``content``; nothing of the run may be written."""
    path = tmp_path / name
    path.write_bytes(content)
    paths = _paths(tmp_path).named("bad")
    request = labeled.Request(
        [path], flags.pop("test", None), flags.pop("text", None), flags.pop("label", None), 2,
        Decoding(),
    )  # fmt: skip
    with pytest.raises(UserDataError) as err:
        labeled.run(paths, request, PRESETS["smoke"].tokenize)
    assert not paths.processed.exists()
    return str(err.value)


def test_one_class_names_the_class_and_its_count(tmp_path):
    message = _fails(tmp_path, b"text,label\na,spam\nb,spam\nc,spam\n")
    assert message == (
        f"{tmp_path / 'bad.csv'}: every example has the label 'spam' (3 rows); a classifier "
        "needs at least two classes. Check the label column (--label-column) or add examples "
        "of the other classes."
    )


def test_unseen_test_labels_are_listed_with_their_first_lines(tmp_path):
    test = tmp_path / "test.csv"
    test.write_bytes(b"text,label\nx,a\ny,c\nz,d\nw,c\n")
    message = _fails(tmp_path, b"text,label\na,a\nb,b\n", test=test)
    assert message.startswith(
        f"{test}: label(s) not in the training file(s): 'c' (line 3), 'd' (line 4). "
        "The classifier can only predict the classes it trained on ('a', 'b')"
    )


def test_duplicate_header_name_is_refused(tmp_path):
    message = _fails(tmp_path, b"text,label,text\na,x,b\n")
    assert message == (
        f"{tmp_path / 'bad.csv'}:1: the header names 2 columns 'text' (positions 0, 2); rename "
        "all but one, or choose the text column by its 0-based position (--text-column 0)."
    )


def test_a_named_column_missing_from_the_header(tmp_path):
    message = _fails(tmp_path, b"review,label\na,x\n", text="body")
    assert message.startswith(f"{tmp_path / 'bad.csv'}:1: no column named 'body' in the first row")
    assert "'review', 'label'" in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"text,label\na,x\n ,y\n", ":3: the text cell (column 0) is empty"),
        (b"text,label\na,x\nb,\n", ":3: the label cell (column 1) is empty"),
        (b"text,label\na,x\nlonely\n", ":3: the row has 1 cell(s) but needs 2"),
    ],
)
def test_a_bad_row_names_its_line(tmp_path, content, expected):
    assert f"{tmp_path / 'bad.csv'}{expected}" in _fails(tmp_path, content)


def test_undecodable_line_names_its_line(tmp_path):
    message = _fails(tmp_path, b"good\tx\ncaf\xe9\ty\n", name="bad.tsv")
    assert message.startswith(f"{tmp_path / 'bad.tsv'}:2: byte(s) e9 at column 4")
    assert "--encoding" in message


def test_command_line_errors_exit_1_with_one_line(tmp_path, caplog):
    paths = _paths(tmp_path)
    one = _tsv(tmp_path / "one.tsv", [("a", "x"), ("b", "x")])
    assert _prepare(paths, "cli", "--", str(one)) == 1
    assert "every example has the label 'x' (2 rows)" in caplog.text
    assert _prepare(paths, "cli") == 1
    assert "No labeled file given: make sentiment LABELED=reviews.tsv RUN=name" in caplog.text
    argv = ["--preset", "smoke", "--run", "nothing", *_dirs(paths)]
    assert sentiment_train.main(argv) == 1
    assert "run 'nothing' has no labeled texts" in caplog.text
    assert "make sentiment LABELED=reviews.tsv RUN=nothing" in caplog.text
