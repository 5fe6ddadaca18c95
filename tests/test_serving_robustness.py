"""The four SavedModels under bad input, from processes that never import ``pipeline``.

Tiny models with random weights stand in for the trained ones: what is checked is that no
input breaks a signature, that a wrong call gets a message saying what to change, and that
results are the same in every process and under concurrent calls.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from fresh_process import without_pipeline

from pipeline.config import TranslateConfig
from pipeline.embeddings.export import export_savedmodel
from pipeline.embeddings.keyed_vectors import KeyedVectors
from pipeline.lm.export import TextCodec
from pipeline.lm.export import export as export_lm
from pipeline.lm.model import LanguageModel
from pipeline.sentiment.export import export as export_sentiment
from pipeline.sentiment.models import build_model as sentiment_model
from pipeline.text import Vocabulary, subwords
from pipeline.translate import export as translate_export
from pipeline.translate.codec import SubwordCodec
from pipeline.translate.saved import build_model as translator_model

ENGLISH = ["the", "cat", "sat", "a", "film", "great", "dull", "."]
GERMAN = ["die", "katze", "ist", "ein", "film", "."]
BATCH_ERROR = "must be a 1-D batch of strings"
BAD_BATCH = [
    b"",
    b"   \t\n ",
    b"the cat sat . " * 300,
    b"caf\xc3 \xff\xfe the cat",  # not UTF-8
    "你好世界 Привет мир".encode(),
    b"$(rm -rf /); `ls` | cat > /dev/null & echo '\"'",
    b"the cat sat .",
]


def vocabulary(words: list[str]) -> Vocabulary:
    return Vocabulary.build({w: len(words) - i for i, w in enumerate(words)})


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Smoke-size LM, classifier, translator and embeddings SavedModels, built once."""
    root = tmp_path_factory.mktemp("serving")
    keras.utils.set_random_seed(0)
    english = vocabulary(ENGLISH)
    lm = LanguageModel(len(english), embed_dim=8, units=8)
    matrix = np.random.default_rng(1).normal(size=(len(english), 4)).astype(np.float32)
    config = TranslateConfig(embed_dim=8, units=8, attention_units=8, dropout=0.0)
    pieces = subwords.train(
        [" ".join(GERMAN), " ".join(ENGLISH).title()], root / "subwords.model", vocab_size=300
    )
    codec = SubwordCodec(subwords.load_model(pieces), max_tokens=8)
    translator = translator_model(config, *codec.sizes)
    vectors = np.random.default_rng(2).normal(size=(len(ENGLISH), 5))
    return {
        "lm": export_lm(lm, TextCodec(english, "word"), 6, root / "lm" / "1"),
        "sentiment": export_sentiment(
            sentiment_model("recurrent", matrix, units=4), english, 5, root / "sentiment" / "1"
        ),
        "translator": translate_export.export(
            translate_export.ExportedTranslator(translator, codec, max_beam=2),
            root / "translator" / "1",
        ),
        "embeddings": export_savedmodel(KeyedVectors(ENGLISH, vectors), root / "emb" / "1"),
    }


@pytest.fixture(scope="module")
def loaded(saved: dict[str, Path]) -> dict:
    return {name: tf.saved_model.load(str(path)) for name, path in saved.items()}


def test_lm_empty_batches_give_empty_results(loaded):
    lm = loaded["lm"]
    scores = lm.signatures["score"](sentences=tf.constant([], tf.string))
    assert scores["log_prob"].dtype == tf.float32 and scores["log_prob"].shape == (0,)
    assert scores["tokens"].dtype == tf.int32 and scores["tokens"].shape == (0,)
    one = tf.constant(1.0)
    assert lm.sample(n=tf.constant(0), temperature=one)["sentences"].shape == (0,)
    out = lm.sample_prefix(prefix=tf.constant("the cat"), n=tf.constant(0), temperature=one)
    assert out["sentences"].dtype == tf.string and out["sentences"].shape == (0,)


@pytest.mark.parametrize("temperature", [-1.0, float("nan"), float("inf"), -float("inf")])
def test_lm_rejects_a_temperature_that_is_not_finite_and_non_negative(loaded, temperature):
    with pytest.raises(tf.errors.InvalidArgumentError, match="temperature must be a finite"):
        loaded["lm"].sample(n=tf.constant(2), temperature=tf.constant(temperature))
    with pytest.raises(tf.errors.InvalidArgumentError, match="temperature must be a finite"):
        loaded["lm"].signatures["sample_prefix"](
            prefix=tf.constant("the"), n=tf.constant(2), temperature=tf.constant(temperature)
        )


@pytest.mark.parametrize("alpha", [-1.0, float("nan"), float("inf")])
def test_translator_rejects_an_alpha_that_is_not_finite_and_non_negative(loaded, alpha):
    with pytest.raises(tf.errors.InvalidArgumentError, match="alpha must be a finite number"):
        loaded["translator"].signatures["serving_default"](
            sentences=tf.constant(["gut"]),
            beam_size=tf.constant(2),
            alpha=tf.constant(alpha),
            n_best=tf.constant(1),
            prefix=tf.constant([""]),
        )


def test_lm_rejects_a_negative_count(loaded):
    with pytest.raises(tf.errors.InvalidArgumentError, match="n must be >= 0"):
        loaded["lm"].sample(n=tf.constant(-1), temperature=tf.constant(1.0))


SCALAR_CALLS = {
    "translator": lambda m, x: m["translator"].signatures["serving_default"](
        sentences=x,
        beam_size=tf.constant(2),
        alpha=tf.constant(0.6),
        n_best=tf.constant(1),
        prefix=x,  # as long as sentences, so that only sentences' shape is wrong
    ),
    "translator default": lambda m, x: m["translator"].signatures["translate"](sentences=x),
    "sentiment": lambda m, x: m["sentiment"].signatures["serving_default"](texts=x),
    "lm": lambda m, x: m["lm"].signatures["score"](sentences=x),
}


@pytest.mark.parametrize("call", SCALAR_CALLS)
@pytest.mark.parametrize("text", [tf.constant("the cat"), tf.constant([["the cat"]])])
def test_text_that_is_not_a_vector_is_a_clear_error(loaded, call, text):
    with pytest.raises(tf.errors.InvalidArgumentError, match=BATCH_ERROR):
        SCALAR_CALLS[call](loaded, text)


def test_sentiment_counts_known_tokens_and_keeps_its_other_outputs(loaded, saved):
    texts = ["", "  \t ", "the cat", "你好世界", "the xyzzy", "the cat sat a film great dull"]
    out = loaded["sentiment"].signatures["serving_default"](texts=tf.constant(texts))
    assert out["known_tokens"].dtype == tf.int32
    assert out["known_tokens"].numpy().tolist() == [0, 0, 2, 0, 1, 5]  # max_len is 5
    probability = out["probability"].numpy()
    assert probability[0] == probability[1]  # no tokens at all: the same bias-only guess
    assert out["label"].numpy().tolist() == (probability >= 0.5).astype(int).tolist()
    assert sorted(out) == ["known_tokens", "label", "label_name", "probability"]


def _run_bad_batches(saved: dict[str, Path], threads: bool) -> dict:
    """The four models' outputs for the bad batch, from a process without ``pipeline``."""
    body = f"""
        from concurrent.futures import ThreadPoolExecutor

        paths = {json.dumps({k: str(v) for k, v in saved.items()})}
        models = {{name: tf.saved_model.load(path) for name, path in paths.items()}}
        batch = tf.constant({BAD_BATCH!r})

        def as_json(out):
            return {{
                key: [s.decode("utf-8") for s in v.numpy().ravel()]
                if v.dtype == tf.string else v.numpy().tolist()
                for key, v in sorted(out.items())
            }}

        def translate():
            return as_json(models["translator"].signatures["serving_default"](
                sentences=batch, beam_size=tf.constant(2), alpha=tf.constant(0.6),
                n_best=tf.constant(1), prefix=tf.fill(tf.shape(batch), "")))

        def classify():
            return as_json(models["sentiment"].signatures["serving_default"](texts=batch))

        lm, greedy = models["lm"], tf.constant(0.0)
        tf.random.set_seed(7)
        result = {{
            "translator": translate(),
            "translator_default": as_json(models["translator"].translate(batch)),
            "sentiment": classify(),
            "lm_score": as_json(lm.signatures["serving_default"](sentences=batch)),
            "lm_sample": as_json(lm.sample(n=tf.constant(3), temperature=tf.constant(1.0))),
            "lm_greedy": [
                as_json(lm.sample_prefix(prefix=text, n=tf.constant(2), temperature=greedy))
                for text in batch
            ],
            "embeddings": as_json(models["embeddings"].lookup(words=batch)),
            "nearest": as_json(models["embeddings"].nearest(words=batch, k=tf.constant(3))),
        }}
        if {threads}:
            with ThreadPoolExecutor(8) as pool:
                jobs = [pool.submit(f) for _ in range(8) for f in (translate, classify)]
                result["threaded"] = [job.result() for job in jobs]
        """
    return without_pipeline(body, cwd=saved["lm"].parent, tensorflow_text=True)


def test_bad_batches_in_fresh_processes_are_identical_and_thread_safe(saved):
    first = _run_bad_batches(saved, threads=True)
    second = _run_bad_batches(saved, threads=False)
    threaded = first.pop("threaded")
    assert first == second
    rows = len(BAD_BATCH)
    assert len(first["translator"]["translations"]) == rows
    assert first["translator"]["translations"][:2] == ["", ""]  # blank lines: nothing to say
    assert first["translator"]["truncated"][2] is True
    assert first["sentiment"]["known_tokens"][:2] == [0, 0]
    assert first["sentiment"]["known_tokens"][-1] == 4
    assert all(np.isfinite(first["lm_score"]["log_prob"]))
    assert first["lm_score"]["tokens"][:2] == [1, 1]  # EOS only
    assert len(first["lm_sample"]["sentences"]) == 3
    assert len(first["embeddings"]["vectors"]) == rows
    assert threaded == [first["translator"], first["sentiment"]] * 8


def test_export_command_lines_list_the_signatures(saved, capsys):
    from pipeline.lm import export as lm_export
    from pipeline.sentiment import export as sentiment_export

    assert lm_export.main(["--model", str(saved["lm"])]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == str(saved["lm"])
    assert "sample_prefix:" in lines and "  in  temperature: float32 []" in lines
    assert "  out log_prob: float32 [N]" in lines
    assert sentiment_export.main(["--model", str(saved["sentiment"])]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:] == [
        "classify:",
        "  in  texts: string [N]",
        "  out known_tokens: int32 [N]",
        "  out label: int64 [N]",
        "  out label_name: string [N]",
        "  out probability: float32 [N]",
        "serving_default:",
        "  in  texts: string [N]",
        "  out known_tokens: int32 [N]",
        "  out label: int64 [N]",
        "  out label_name: string [N]",
        "  out probability: float32 [N]",
    ]
