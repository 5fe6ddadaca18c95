"""The translate and classify CLIs: bytes that are not UTF-8 give U+FFFD and a warning, and
every input line still gets its output line."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from pipeline.config import TranslateConfig
from pipeline.lm import sample
from pipeline.lm.export import TextCodec
from pipeline.lm.export import export as export_lm
from pipeline.lm.model import LanguageModel
from pipeline.sentiment import classify
from pipeline.sentiment.export import export as export_classifier
from pipeline.sentiment.models import build_model as build_classifier
from pipeline.text import Tokenizer, Vocabulary
from pipeline.translate import __main__ as translate
from pipeline.translate.codec import WordCodec
from pipeline.translate.export import ExportedTranslator
from pipeline.translate.export import export as export_translator
from pipeline.translate.saved import build_model as build_translator

REPO = Path(__file__).resolve().parent.parent
WORDS = ["das", "ist", "gut", "a", "great", "film", "."]
# Line 2 holds bytes that are not UTF-8 (a lone 0xff 0xfe, a truncated 3-byte sequence).
STDIN = b"Das ist gut.\nDas ist \xff\xfe gut.\n\na \xe2\x82 great film\n"
DECODED = ["Das ist gut.", "Das ist \ufffd\ufffd gut.", "", "a \ufffd great film"]
WARNINGS = [
    "stdin line 2 is not valid UTF-8; its undecodable bytes became U+FFFD",
    "stdin line 4 is not valid UTF-8; its undecodable bytes became U+FFFD",
]


def vocabulary(words: list[str]) -> Vocabulary:
    return Vocabulary.build({w: len(words) - i for i, w in enumerate(words)})


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Random tiny SavedModels of the translator and the sentiment classifier."""
    keras.utils.set_random_seed(5)
    root = tmp_path_factory.mktemp("saved")
    vocab = vocabulary(WORDS)
    config = TranslateConfig(embed_dim=8, units=8, attention_units=8, dropout=0.0)
    model = build_translator(config, len(vocab), len(vocab))
    codec = WordCodec((Tokenizer("de"), vocab), (Tokenizer("en"), vocab), 8)
    export_translator(ExportedTranslator(model, codec, max_beam=2), root / "translator")
    matrix = np.random.default_rng(1).normal(size=(len(vocab), 4)).astype(np.float32)
    export_classifier(build_classifier("average", matrix), vocab, 8, root / "sentiment")
    lm = LanguageModel(len(vocab), embed_dim=4, units=4, cell="gru")
    lm(tf.zeros([1, 2], tf.int32))
    export_lm(lm, TextCodec(vocab, "word"), 4, root / "lm")
    return {name: root / name for name in ("translator", "sentiment", "lm")}


def fake_stdin(data: bytes, errors: str) -> io.TextIOWrapper:
    """stdin as Python opens it: ``surrogateescape`` under the C locale, ``strict`` otherwise."""
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors=errors)


def expected_translations(model: Path, lines: list[str]) -> list[str]:
    out = tf.saved_model.load(str(model)).signatures["serving_default"](
        sentences=tf.constant(lines),
        beam_size=tf.constant(2),
        alpha=tf.constant(0.6),
        n_best=tf.constant(1),
        prefix=tf.constant([""] * len(lines)),
    )
    return [t.decode() for t in out["translations"].numpy()]


@pytest.mark.parametrize("errors", ["surrogateescape", "strict"])
def test_translate_gives_every_stdin_line_its_translation(
    models, monkeypatch, capsys, caplog, errors
) -> None:
    monkeypatch.setattr(sys, "stdin", fake_stdin(STDIN, errors))
    assert translate.main(["--model", str(models["translator"]), "--beam-size", "2"]) == 0
    expected = expected_translations(models["translator"], DECODED)
    assert capsys.readouterr().out.split("\n") == [*expected, ""]
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == WARNINGS


@pytest.mark.parametrize("errors", ["surrogateescape", "strict"])
def test_classify_gives_every_stdin_line_its_label(
    models, monkeypatch, capsys, caplog, errors
) -> None:
    monkeypatch.setattr(sys, "stdin", fake_stdin(STDIN, errors))
    assert classify.main(["--model", str(models["sentiment"])]) == 0
    printed = capsys.readouterr().out.split("\n")
    assert [line.split("\t")[2] for line in printed[:-1]] == DECODED
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        *WARNINGS,
        "text 3 has no word the model knows; its label is a guess",  # the empty line
    ]


def test_arguments_that_are_not_utf8_do_not_crash_either(models, tmp_path: Path) -> None:
    """The command line as the shell gives it: Python decodes argv with surrogateescape."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    translated = subprocess.run(
        [sys.executable, "-m", "pipeline.translate", "--model",
         str(models["translator"]), "--beam-size", "2", "--text", "gut", "--text", b"\xff gut"],
        capture_output=True, env=env, check=False,
    )  # fmt: skip
    assert translated.returncode == 0, translated.stderr.decode()
    assert translated.stdout.decode().split("\n") == [
        *expected_translations(models["translator"], ["gut", "\ufffd gut"]),
        "",
    ]
    assert b"--text 2 is not valid UTF-8; its undecodable bytes became U+FFFD" in (
        translated.stderr
    )
    classified = subprocess.run(
        [sys.executable, "-m", "pipeline.sentiment.classify", "--model",
         str(models["sentiment"]), "a great film", b"a \xff film"],
        capture_output=True, env=env, check=False,
    )  # fmt: skip
    assert classified.returncode == 0, classified.stderr.decode()
    texts = [line.split("\t")[2] for line in classified.stdout.decode().splitlines()]
    assert texts == ["a great film", "a \ufffd film"]
    assert b"argument 2 is not valid UTF-8; its undecodable bytes became U+FFFD" in (
        classified.stderr
    )


def test_sample_prefix_and_scored_texts_that_are_not_utf8(models, capsys, caplog) -> None:
    escaped = b"ist \xff gut".decode("utf-8", "surrogateescape")  # as argv would hold it
    argv = ["--model", str(models["lm"]), "-n", "1", "--seed", "0", "--prefix", escaped]
    assert sample.main([*argv, "--score", "das ist gut", escaped]) == 0
    scored = capsys.readouterr().out.splitlines()[1:]
    assert [line.rsplit(")  ", 1)[1] for line in scored] == ["das ist gut", "ist \ufffd gut"]
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        "--prefix is not valid UTF-8; its undecodable bytes became U+FFFD",
        "--score 2 is not valid UTF-8; its undecodable bytes became U+FFFD",
    ]
