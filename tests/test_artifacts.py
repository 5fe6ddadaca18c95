"""The Makefile's artifact paths are the ones :mod:`pipeline.artifacts` gives the stages.

make needs the paths as its own variables; this holds each one equal to the stage's, as GNU
make itself reads the Makefile (``make -pn`` prints every variable it defined).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline import artifacts
from pipeline.config import PRESETS, Paths

REPO = Path(__file__).resolve().parent.parent
PATHS = Paths()  # make runs the stages without location flags
DEFAULT = PRESETS["default"]  # and with PRESET=default
SAVED_MODEL_PB = "saved_model.pb"  # TensorFlow's file in every SavedModel folder
TRAINED_TRANSLATOR = artifacts.run_dir(PATHS, DEFAULT.translate) / artifacts.BEST


def stage_outputs(paths: Paths) -> dict[str, Path]:
    """What the training stages write, as the Makefile names it, for the default or a named run."""
    return {
        "LM_MODEL": artifacts.saved_model(paths, artifacts.lm_name("word")) / SAVED_MODEL_PB,
        "LM_CHAR_MODEL": artifacts.saved_model(paths, artifacts.lm_name("char")) / SAVED_MODEL_PB,
        "W2V_VECTORS": artifacts.embedding_dir(paths, "word2vec") / artifacts.VECTORS_FILE,
        "GLOVE_VECTORS": artifacts.embedding_dir(paths, "glove") / artifacts.VECTORS_FILE,
        "EMB_REPORT": artifacts.report(paths, artifacts.EMBEDDINGS),
        "EMB_MODEL": artifacts.saved_model(paths, artifacts.EMBEDDINGS) / SAVED_MODEL_PB,
        "SENT_MODEL": artifacts.saved_model(
            paths, artifacts.sentiment_name(DEFAULT.sentiment.dataset)
        )
        / SAVED_MODEL_PB,
        "SENT_REPORT": artifacts.report(paths, artifacts.sentiment_name(DEFAULT.sentiment.dataset)),
        "TR_SAVED": artifacts.saved_model(paths, artifacts.TRANSLATOR) / SAVED_MODEL_PB,
    }


EXPECTED = {
    "DATA_MANIFEST": artifacts.manifest(PATHS, "data"),
    "DATA_STAMP": artifacts.stamp(PATHS, "data"),
    "DATA_LISTING": artifacts.outputs_listing(PATHS, "data"),
    "TOKENIZE_MANIFEST": artifacts.manifest(PATHS, "tokenize"),
    "TOKENIZE_STAMP": artifacts.stamp(PATHS, "tokenize"),
    "TOKENIZE_LISTING": artifacts.outputs_listing(PATHS, "tokenize"),
    **stage_outputs(PATHS),
    "GRAD_REPORT": artifacts.report(PATHS, artifacts.GRADIENTS),
    "TR_MODEL": artifacts.report(
        PATHS, artifacts.run_report("train_translate", artifacts.run_name(DEFAULT.translate))
    ),
    "BLEU_REPORT": artifacts.report(
        PATHS, artifacts.run_report("bleu", artifacts.run_of(TRAINED_TRANSLATOR))
    ),
    "ERRORS_REPORT": artifacts.report(
        PATHS, artifacts.run_report("error_analysis", artifacts.run_of(TRAINED_TRANSLATOR))
    ),
    "AVERAGING_REPORT": artifacts.report(
        PATHS,
        artifacts.run_report(artifacts.TRANSLATE_AVERAGING, artifacts.run_of(TRAINED_TRANSLATOR)),
    ),
    # What the training stages read: the tokenize stage's stamp.
    "CORPUS_INPUT": artifacts.stamp(PATHS, "tokenize"),
    "PARALLEL_INPUT": artifacts.stamp(PATHS, "tokenize"),
    "USER_DATA": PATHS.processed,
    "WL_MODEL": artifacts.saved_model(PATHS, artifacts.WORD_LANGUAGE) / SAVED_MODEL_PB,
    "WL_REPORT": artifacts.report(PATHS, artifacts.WORD_LANGUAGE),
    "LSTM_VARIANTS_REPORT": artifacts.report(PATHS, artifacts.LSTM_VARIANTS),
}
# A value that is one path below a folder of Paths: an artifact the Makefile names.
ARTIFACT_VALUE = re.compile(r"(data|reports|saved_models|runs)/\S+")


def makefile_variables(makefile: Path, cwd: Path, *settings: str) -> dict[str, str]:
    """Every ``NAME := value`` make defines reading ``makefile``, values expanded, stripped.

    ``help`` under ``-n`` runs nothing; ``-p`` prints make's database of variables.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    result = subprocess.run(
        ["make", "-pn", "--no-print-directory", "-f", str(makefile), *settings, "help"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = re.findall(r"^([A-Z][A-Z0-9_]*) :?= (.*)$", result.stdout, flags=re.MULTILINE)
    return {name: value.strip().removesuffix("/") for name, value in lines}


@pytest.fixture
def variables(tmp_path) -> dict[str, str]:
    if shutil.which("make") is None:
        pytest.skip("GNU make is not installed")
    return makefile_variables(REPO / "Makefile", tmp_path)


def test_each_makefile_path_is_the_one_the_stage_uses(variables):
    assert {name: variables.get(name) for name in EXPECTED} == {
        name: str(path) for name, path in EXPECTED.items()
    }


def test_every_artifact_path_of_the_makefile_is_held_here(variables):
    named = {name for name, value in variables.items() if ARTIFACT_VALUE.fullmatch(value)}
    assert named == set(EXPECTED)


def test_a_named_run_writes_below_its_own_folders(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("GNU make is not installed")
    variables = makefile_variables(
        REPO / "Makefile", tmp_path, "CORPUS=/some/where/my.corpus.txt.gz"
    )
    named = PATHS.named("my.corpus")
    # A named run's translator reports have plain names for the run's own language pair.
    pair = replace(DEFAULT.translate, source="en", target="fr")
    own = artifacts.run_name(pair)
    trained = artifacts.run_dir(named, pair) / artifacts.BEST
    expected = {
        **stage_outputs(named),
        "TR_MODEL": artifacts.report(named, artifacts.run_report("train_translate", own, own)),
        "BLEU_REPORT": artifacts.report(
            named, artifacts.run_report("bleu", artifacts.run_of(trained), own)
        ),
        "ERRORS_REPORT": artifacts.report(
            named, artifacts.run_report("error_analysis", artifacts.run_of(trained), own)
        ),
        "AVERAGING_REPORT": artifacts.report(
            named,
            artifacts.run_report(artifacts.TRANSLATE_AVERAGING, artifacts.run_of(trained), own),
        ),
        "USER_DATA": named.processed,
        **{
            f"{kind.upper()}_INPUT": artifacts.stamp(named, kind) for kind in ("corpus", "parallel")
        },
        "SENT_INPUT": artifacts.stamp(named, "labeled"),
    }
    assert {name: variables.get(name) for name in expected} == {
        name: str(path) for name, path in expected.items()
    }
