"""The Makefile under real GNU make, with a stub interpreter in place of ``.venv/bin/python``.

The stub records its argv and plays the data and tokenize stages (outputs, stamp and manifest
written through :mod:`pipeline.stamps`, as the real stages do), so no model or data is needed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.translate.__main__ import build_parser

REPO = Path(__file__).resolve().parent.parent
STUB = f"""#!{sys.executable}
import json, os, sys
from pathlib import Path

args = sys.argv[1:]
with open(os.environ["STUB_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps(args) + "\\n")
OUTPUTS = {{
    "data": ["processed/translate/train.tsv", "tfds/de_en_translate/2.0.0/train.tfrecord"],
    "tokenize": ["processed/vocab/translate_en.txt", "processed/translate/train.tfrecord"],
}}
stage = {{"pipeline.data": "data", "pipeline.encode": "tokenize"}}.get(args[1])
if stage:
    sys.path.insert(0, {str(REPO)!r})
    from pipeline import artifacts, stamps
    from pipeline.config import Paths
    from pipeline.io import write_json, write_text

    paths = Paths(data=Path("data"))
    for name in OUTPUTS[stage]:
        write_text(paths.data / name, os.environ.get("STUB_CONTENT", "v1") + name)
    stamps.publish(paths, stage, OUTPUTS[stage], stamps.digest(paths.data, OUTPUTS[stage]))
    write_json(artifacts.manifest(paths, stage), {{}})
"""
SENT_REPORT = "reports/sentiment.json"
TR_SAVED = "saved_models/translator/1/saved_model.pb"
TEXTS = [
    "$HOME",
    "a $(shell touch pwned) b",
    "a $$(shell touch pwned) b",
    "it's",
    'say "hi"',
    "back\\slash \\n \\\\",
    "-v ist ein Wort",
    "--help",
    "Das Wetter ist schön, 中文",
    "a; b | c && d",
    "`touch pwned` $(touch pwned)",
    "* ?",
    "spaced  out  ",  # make drops leading blanks of a command-line value; see the test below
]


class Make:
    """A checkout-shaped folder: the Makefile, the real code (for its mtimes) and the stub."""

    def __init__(self, root: Path) -> None:
        self.root = root
        shutil.copy(REPO / "Makefile", root / "Makefile")
        (root / "pipeline").symlink_to(REPO / "pipeline")
        (root / ".venv" / "bin").mkdir(parents=True)
        stub = root / ".venv" / "bin" / "python"
        stub.write_text(STUB, encoding="utf-8")
        stub.chmod(0o755)
        for name in ("requirements.txt", "requirements.lock", ".venv/.installed"):
            (root / name).touch()
        os.utime(root / "requirements.txt", (0, 0))
        os.utime(root / "requirements.lock", (0, 0))
        self.log = root / "argv.jsonl"
        self.env = {
            k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")
        }
        self.env.update(STUB_LOG=str(self.log), HOME="/home/tester")

    def __call__(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["make", "--no-print-directory", *args],
            cwd=self.root,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            check=False,
        )

    def calls(self) -> list[list[str]]:
        """Every argv the stub saw since the last call, then forget them."""
        if not self.log.exists():
            return []
        calls = [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines()]
        self.log.unlink()
        return calls

    def stages(self) -> list[str]:
        return [argv[1] for argv in self.calls()]


def _translate_args(argv: list[str]) -> argparse.Namespace:
    """What the translator's own parser makes of the argv make gave it."""
    assert argv[:2] == ["-m", "pipeline.translate"]
    return build_parser().parse_args(argv[2:])


@pytest.fixture
def make(tmp_path) -> Make:
    if shutil.which("make") is None:
        pytest.skip("GNU make is not installed")
    return Make(tmp_path)


@pytest.mark.parametrize("text", TEXTS)
def test_classify_gets_text_byte_for_byte(make, text):
    result = make("-s", "-o", SENT_REPORT, "classify", f"TEXT={text}")
    assert result.returncode == 0, result.stderr
    model = ["--model", "saved_models/sentiment/1/"]
    assert make.calls() == [["-m", "pipeline.sentiment.classify", *model, "--", text]]
    assert not (make.root / "pwned").exists()


@pytest.mark.parametrize("text", TEXTS)
def test_translate_gets_text_byte_for_byte(make, text):
    result = make("-s", "-o", TR_SAVED, "translate", f"TEXT={text}")
    assert result.returncode == 0, result.stderr
    [argv] = make.calls()
    args = _translate_args(argv)
    assert args.text == [text] and args.model == Path("saved_models/translator/1/")
    assert not (make.root / "pwned").exists()


def test_text_from_the_environment_keeps_its_leading_blanks(make):
    result = make("-s", "-o", SENT_REPORT, "classify", TEXT="  indented $(shell touch pwned)")
    assert result.returncode == 0, result.stderr
    assert make.calls()[0][-1] == "  indented $(shell touch pwned)"
    assert not (make.root / "pwned").exists()


def test_each_line_of_text_is_one_text_and_empty_lines_are_dropped(make):
    text = "Erste Zeile.\n\n-v zweite 'Zeile'\n"
    assert make("-s", "-o", SENT_REPORT, "classify", f"TEXT={text}").returncode == 0
    assert make.calls()[0][-3:] == ["--", "Erste Zeile.", "-v zweite 'Zeile'"]
    result = make("-s", "-o", TR_SAVED, "translate", f"TEXT={text}", "PLOT=1")
    assert result.returncode == 0, result.stderr
    args = _translate_args(make.calls()[0])
    assert args.text == ["Erste Zeile.", "-v zweite 'Zeile'"]
    assert args.plot == Path("reports/attention")


def test_without_text_the_programs_read_stdin(make):
    assert make("-s", "-o", SENT_REPORT, "classify").returncode == 0
    assert make("-s", "-o", TR_SAVED, "translate").returncode == 0
    classify, translate = make.calls()
    model = ["-m", "pipeline.sentiment.classify", "--model", "saved_models/sentiment/1/"]
    assert classify[:4] == model and classify[4:] in ([], ["--"])  # no text: stdin
    assert _translate_args(translate).text is None


def test_args_variables_are_shell_split_and_make_leaves_their_dollars(make):
    sample = "--prefix 'the war' --seed \"$HOME\" $(shell touch pwned)x"
    result = make("-s", "-o", "saved_models/lm/1/saved_model.pb", "sample", f"SAMPLE_ARGS={sample}")
    args = ["--prefix", "the war", "--seed", "/home/tester", "x"]
    assert make.calls() == [["-m", "pipeline.lm.sample", "--model", "saved_models/lm/1/", *args]]
    assert "shell: not found" in result.stderr  # the shell ran `shell touch pwned`, make did not
    assert not (make.root / "pwned").exists()
    translate_args = "--beam-size 10 --alpha '$0.6'"
    assert (
        make("-s", "-o", TR_SAVED, "translate", f"TRANSLATE_ARGS={translate_args}").returncode == 0
    )
    assert make.calls()[0][-4:] == ["--beam-size", "10", "--alpha", "$0.6"]
    result = make("-s", "tokenize", "STAGE_ARGS=--translate-langs 'pt,en' --note '$x'")
    assert result.returncode == 0, result.stderr
    assert [argv[-4:] for argv in make.calls()] == [
        ["--translate-langs", "pt,en", "--note", "$x"]
    ] * 2


def test_help_and_every_target_still_parse(make):
    result = make("help")
    assert result.returncode == 0 and "make classify" in result.stdout
    assert "TEXT reaches the program byte for byte" in result.stdout
    result = make("-n", "all")
    assert result.returncode == 0, result.stderr
    assert "-m pipeline.data --preset default" in result.stdout


def test_a_missing_output_reruns_the_stage_that_writes_it(make):
    assert make("-s", "tokenize").returncode == 0
    assert make.stages() == ["pipeline.data", "pipeline.encode"]
    assert "pipeline." not in make("-n", "tokenize").stdout
    (make.root / "data/processed/vocab/translate_en.txt").unlink()
    plan = make("-n", "tokenize").stdout
    assert "-m pipeline.encode" in plan and "-m pipeline.data" not in plan
    assert make("-s", "tokenize").returncode == 0
    assert make.stages() == ["pipeline.encode"]
    assert (make.root / "data/processed/vocab/translate_en.txt").exists()
    (make.root / "data/tfds/de_en_translate/2.0.0/train.tfrecord").unlink()
    assert "-m pipeline.data" in make("-n", "tokenize").stdout


@pytest.mark.parametrize(
    "listing", ["data/processed/tokenize_outputs.mk", "data/processed/tokenize.stamp"]
)
def test_a_missing_stamp_or_output_list_reruns_the_stage(make, listing):
    assert make("-s", "tokenize").returncode == 0
    make.calls()
    (make.root / listing).unlink()
    assert make("-s", "tokenize").returncode == 0
    assert make.stages() == ["pipeline.encode"]
    assert "pipeline." not in make("-n", "tokenize").stdout


def test_an_identical_rebuild_leaves_later_stages_current(make):
    assert make("-s", "tokenize").returncode == 0
    make.calls()
    stamp = make.root / "data/processed/data.stamp"
    before = stamp.stat().st_mtime_ns
    # A forced rerun of the stage outside make, as in `python -m pipeline.data --force`.
    subprocess.run(
        [".venv/bin/python", "-m", "pipeline.data", "--force"],
        cwd=make.root,
        env=make.env,
        check=True,
    )
    assert stamp.stat().st_mtime_ns == before
    make.calls()
    assert "pipeline." not in make("-n", "tokenize").stdout
    # A rerun under make (its code looks edited): the data stage runs, tokenize does not...
    assert make("-s", "-W", "pipeline/data/build.py", "tokenize").returncode == 0
    assert make.stages() == ["pipeline.data"]
    # ...and afterwards make finds everything current rather than rerunning the data stage.
    assert make("-q", "tokenize").returncode == 0
    assert make("-s", "tokenize").returncode == 0 and make.calls() == []


def test_changed_data_reruns_later_stages(make):
    assert make("-s", "tokenize").returncode == 0
    make.calls()
    result = make("-s", "-W", "pipeline/data/build.py", "tokenize", STUB_CONTENT="v2")
    assert result.returncode == 0, result.stderr
    assert make.stages() == ["pipeline.data", "pipeline.encode"]
    assert make("-q", "tokenize").returncode == 0


def test_a_missing_interpreter_reruns_setup(make):
    assert make("-n", "setup").stdout == "make: Nothing to be done for 'setup'.\n"
    (make.root / ".venv/bin/python").unlink()
    plan = make("-n", "setup").stdout
    assert "|| python3 -m venv .venv" in plan and "pip install" in plan


def test_a_missing_sentiment_model_reruns_the_stage(make):
    vectors = ["data/processed/embeddings/word2vec/vectors.npy"]
    vectors.append("data/processed/embeddings/glove/vectors.npy")
    old = [arg for path in vectors for arg in ("-o", path)]
    (make.root / "reports").mkdir()
    (make.root / SENT_REPORT).write_text("{}")
    assert "-m pipeline.sentiment.train" in make("-n", *old, "sentiment").stdout
    model = make.root / "saved_models/sentiment/1/saved_model.pb"
    model.parent.mkdir(parents=True)
    model.touch()
    assert "pipeline." not in make("-n", *old, "sentiment").stdout
