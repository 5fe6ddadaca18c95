"""Decoding and evaluation of the translator: the SavedModel, the CLIs, BLEU, error analysis.

A tiny translator with random weights stands in for the trained one: these tests check the
plumbing (strings in, strings out, equal to the Python decoders), not translation quality.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from fresh_process import without_pipeline

from pipeline.config import TranslateConfig
from pipeline.text import EOS_ID, Tokenizer, Vocabulary
from pipeline.translate import __main__ as translate
from pipeline.translate import bleu, decoding, error_analysis, export
from pipeline.translate.beam import greedy_decode
from pipeline.translate.codec import WordCodec, detokenize, max_target_len, output_tokens
from pipeline.translate.decode_bench import bench_batching
from pipeline.translate.decoding import EvalSet, Setting
from pipeline.translate.heatmap import plot_attention
from pipeline.translate.saved import build_model

MAX_BEAM = 2
MAX_TOKENS = 8
SOURCE_WORDS = ["ich", "bin", "hier", "das", "haus", "ist", "klein", ".", "?"]
TARGET_WORDS = ["i", "am", "here", "the", "house", "is", "small", ".", "?"]
SENTENCES = ["Ich bin hier.", "Das Haus ist klein!", "das"]
BAD = ["", "   ", "\t \u200b", "xyzzy quux", "ich " * 30, "Привет мир", "你好世界", "Das Haus?"]


def vocabulary(words: list[str]) -> Vocabulary:
    return Vocabulary.build({w: len(words) - i for i, w in enumerate(words)})


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A random tiny translator, its vocabularies and its SavedModel (a seed whose outputs all
    end in EOS, which the error-analysis test needs to find its outputs among references)."""
    keras.utils.set_random_seed(4)
    source_vocab, target_vocab = vocabulary(SOURCE_WORDS), vocabulary(TARGET_WORDS)
    config = TranslateConfig(embed_dim=8, units=8, attention_units=8, dropout=0.0)
    model = build_model(config, len(source_vocab), len(target_vocab))
    codec = WordCodec((Tokenizer("de"), source_vocab), (Tokenizer("en"), target_vocab), MAX_TOKENS)
    dest = tmp_path_factory.mktemp("saved") / "translator" / "1"
    module = export.ExportedTranslator(model, codec, max_beam=MAX_BEAM)
    export.export(module, dest)
    return {
        "model": model,
        "codec": codec,
        "target_vocab": target_vocab,
        "dest": dest,
        "loaded": tf.saved_model.load(str(dest)),
    }


def serve(
    loaded,
    sentences: list[str],
    beam_size: int = 2,
    alpha: float = 0.6,
    n_best: int = 1,
    prefix: list[str] | None = None,
) -> dict:
    out = loaded.signatures["serving_default"](
        sentences=tf.constant(sentences, tf.string),
        beam_size=tf.constant(beam_size),
        alpha=tf.constant(alpha),
        n_best=tf.constant(n_best),
        prefix=tf.constant([""] * len(sentences) if prefix is None else prefix, tf.string),
    )
    return {key: value.numpy() for key, value in out.items()}


def test_detokenize_attaches_punctuation_and_stops_at_eos() -> None:
    vocab = tf.constant(["<pad>", "<unk>", "<s>", "</s>", "hi", ",", "you", "!", "(", "x", ")"])
    ids = tf.constant([[4, 5, 6, 7, 3, 4], [8, 9, 10, 1, 0, 0]])
    assert detokenize(output_tokens(ids, vocab)).numpy().tolist() == [b"hi, you!", b"(x) <unk>"]


def test_unknown_outputs_copy_the_most_attended_source_word() -> None:
    vocab = tf.constant(["<pad>", "<unk>", "<s>", "</s>", "is", "."])
    ids = tf.constant([[1, 4, 1, 3], [1, 5, 3, 0]])
    source = tf.ragged.constant([["geocaching", "ist", "andys"], ["x"]])
    # Rows: output steps; columns: source words + EOS (+ PAD for the shorter sentence).
    attention = tf.constant(
        [
            [[0.1, 0.1, 0.7, 0.1], [0.2, 0.6, 0.1, 0.1], [0.8, 0.1, 0.0, 0.1], [0, 0, 0, 1.0]],
            [[0.1, 0.9, 0.0, 0.0], [0.9, 0.1, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0], [1.0, 0, 0, 0]],
        ]
    )
    words = output_tokens(ids, vocab, attention, source)
    assert words.to_list() == [[b"andys", b"is", b"geocaching"], [b"<unk>", b"."]]
    assert output_tokens(ids, vocab).to_list() == [[b"<unk>", b"is", b"<unk>"], [b"<unk>", b"."]]


def test_saved_model_runs_without_the_pipeline_package(tiny: dict) -> None:
    body = f"""
        model = tf.saved_model.load({str(tiny["dest"])!r})
        out = model.signatures["serving_default"](
            sentences=tf.constant({SENTENCES!r}), beam_size=tf.constant(2),
            alpha=tf.constant(0.6), n_best=tf.constant(2),
            prefix=tf.constant([""] * {len(SENTENCES)}))
        default = model.signatures["translate"](sentences=tf.constant({SENTENCES!r}))
        result = [[t.decode() for t in o["translations"].numpy()] for o in (out, default)]
        """
    beam2, default = without_pipeline(body, cwd=tiny["dest"].parent)
    assert beam2 == [t.decode() for t in serve(tiny["loaded"], SENTENCES)["translations"]]
    expected = serve(tiny["loaded"], SENTENCES, beam_size=MAX_BEAM)["translations"]
    assert default == [t.decode() for t in expected]  # default beam: min(5, max_beam)


def test_beam_size_one_equals_greedy_decoding(tiny: dict) -> None:
    out = serve(tiny["loaded"], SENTENCES, beam_size=1, alpha=1.0)
    ids = tiny["codec"].encode(tf.constant(SENTENCES)).ids
    model = tiny["model"]
    greedy = greedy_decode(model.encode, model.decode_step, ids, max_target_len(ids))
    words = np.array(tiny["target_vocab"].tokens)[greedy["tokens"].numpy()]
    words[greedy["tokens"].numpy() == 0] = ""
    assert out["target_tokens"].astype(str).tolist() == words.tolist()
    np.testing.assert_allclose(out["log_probs"], greedy["scores"].numpy(), rtol=1e-5)
    np.testing.assert_allclose(out["attention"], greedy["attention"].numpy(), atol=1e-6)


def test_bad_input_is_translated_deterministically(tiny: dict) -> None:
    first, second = serve(tiny["loaded"], BAD), serve(tiny["loaded"], BAD)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])
    translations = first["translations"].tolist()
    assert translations[:3] == [b"", b"", b""]  # empty and blank lines
    assert first["truncated"].tolist() == [False] * 4 + [True] + [False] * 3
    assert first["source_tokens"].shape[1] == MAX_TOKENS + 1  # the longest, cut, plus EOS
    assert first["source_tokens"][3, :3].tolist() == [b"xyzzy", b"quux", b"</s>"]  # UNK words
    n, t, s = first["attention"].shape
    assert (n, t, s) == (len(BAD), first["target_tokens"].shape[1], MAX_TOKENS + 1)
    # A sentence's translation does not depend on the others in its batch.
    alone = [serve(tiny["loaded"], [text])["translations"][0] for text in BAD[3::2]]
    assert alone == translations[3::2]


def test_an_empty_batch_gives_empty_outputs(tiny: dict) -> None:
    out = serve(tiny["loaded"], [])
    assert out["translations"].shape == (0,)


@pytest.mark.parametrize(("beam_size", "alpha"), [(0, 0.6), (MAX_BEAM + 1, 0.6), (2, -0.5)])
def test_bad_settings_are_clear_errors(tiny: dict, beam_size: int, alpha: float) -> None:
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"beam_size|alpha"):
        serve(tiny["loaded"], SENTENCES, beam_size, alpha)


def test_n_best_lists_start_with_the_translation(tiny: dict) -> None:
    one = serve(tiny["loaded"], SENTENCES, beam_size=2)
    two = serve(tiny["loaded"], SENTENCES, beam_size=2, n_best=2)
    assert one["hypotheses"].shape == (3, 1) and two["hypotheses"].shape == (3, 2)
    assert two["hypotheses"][:, 0].tolist() == one["translations"].tolist()
    assert two["translations"].tolist() == one["translations"].tolist()
    assert np.all(two["hypothesis_scores"][:, 0] >= two["hypothesis_scores"][:, 1])
    np.testing.assert_allclose(two["hypothesis_log_probs"][:, 0], one["log_probs"], rtol=1e-6)
    assert all(a != b for a, b in two["hypotheses"][:2])  # distinct hypotheses
    with pytest.raises(tf.errors.InvalidArgumentError, match="n_best must be <= beam_size"):
        serve(tiny["loaded"], SENTENCES, beam_size=1, n_best=2)


def test_a_prefix_starts_every_hypothesis(tiny: dict) -> None:
    prefix = ["the house", "", "I am"]
    out = serve(tiny["loaded"], SENTENCES, n_best=2, prefix=prefix)
    assert all(h.startswith(b"the house") for h in out["hypotheses"][0])
    assert all(h.startswith(b"i am") for h in out["hypotheses"][2])  # tokenized like output
    free = serve(tiny["loaded"], SENTENCES, n_best=2)
    assert out["hypotheses"][1].tolist() == free["hypotheses"][1].tolist()
    assert out["target_tokens"][0, :2].tolist() == [b"the", b"house"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"cannot produce.*xyzzy"):
        serve(tiny["loaded"], SENTENCES, prefix=["the xyzzy", "", ""])
    with pytest.raises(tf.errors.InvalidArgumentError, match="the prefix is as long as"):
        serve(tiny["loaded"], SENTENCES, prefix=["the " * 20, "", ""])
    with pytest.raises(tf.errors.InvalidArgumentError, match="need one prefix per sentence"):
        serve(tiny["loaded"], SENTENCES, prefix=[""])


def test_heatmap_is_written_as_png(tiny: dict, tmp_path: Path) -> None:
    out = serve(tiny["loaded"], ["Das Haus ist klein.", ""])
    path = tmp_path / "plots" / "0001.png"
    assert plot_attention(
        out["attention"][0], out["source_tokens"][0], out["target_tokens"][0], path
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plot_attention(
        out["attention"][1], out["source_tokens"][1], out["target_tokens"][1], tmp_path / "x.png"
    )
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["0001.png", "plots"]


def test_translate_cli_prints_one_line_per_input(
    tiny: dict, tmp_path: Path, capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture
) -> None:
    argv = ["--model", str(tiny["dest"]), "--beam-size", "2", "--plot", str(tmp_path)]
    assert translate.main([*argv, "--text", SENTENCES[0], "--text", "", "--text", "ich " * 30]) == 0
    expected = serve(tiny["loaded"], [SENTENCES[0], "", "ich " * 30])["translations"]
    assert capsys.readouterr().out.split("\n")[:3] == [t.decode() for t in expected]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0001.png", "0003.png"]  # not blank
    assert translate.main([*argv, "--beam-size", "0", "--text", "x"]) == 2
    assert translate.main([*argv, "--beam-size", str(MAX_BEAM + 1), "--text", "x"]) == 2
    assert caplog.records[-1].getMessage() == f"beam_size must be <= {MAX_BEAM}"


def test_translate_cli_prints_n_best_lists_and_forces_prefixes(
    tiny: dict, capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture
) -> None:
    argv = ["--model", str(tiny["dest"]), "--beam-size", "2", "--n-best", "2"]
    texts = ["--text", SENTENCES[0], "--text", SENTENCES[1]]
    assert translate.main([*argv, *texts, "--prefix", "the house", "--prefix", ""]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    expected = serve(tiny["loaded"], SENTENCES[:2], n_best=2, prefix=["the house", ""])
    assert [(r[0], r[1]) for r in rows] == [("1", "1"), ("1", "2"), ("2", "1"), ("2", "2")]
    assert [r[4] for r in rows] == [h.decode() for h in expected["hypotheses"].ravel()]
    assert [float(r[2]) for r in rows] == pytest.approx(
        expected["hypothesis_scores"].ravel().tolist(), abs=1e-4
    )
    assert translate.main([*argv, *texts, "--prefix", "a", "--prefix", "b", "--prefix", "c"]) == 2
    assert caplog.records[-1].getMessage().startswith("give --prefix once")
    assert translate.main([*argv, "--n-best", "3", *texts]) == 2
    assert translate.main([*argv, *texts, "--prefix", "the xyzzy"]) == 2
    assert "cannot produce" in caplog.records[-1].getMessage()


def test_bleu_scores_agree_with_sacrebleu_on_folded_text() -> None:
    test = decoding.group_references(
        [("a", "It’s a deal!"), ("b", "The house is small."), ("a", "Done!"), ("c", "Go.")]
    )
    assert test.sources == ["a", "b", "c"]
    assert test.references == [["It’s a deal!", "Done!"], ["The house is small."], ["Go."]]
    scores = bleu.score_bleu(["it's a deal!", "the house is little.", "go ."], test.references)
    assert scores["equal"] and scores["bleu"] == pytest.approx(scores["sacrebleu"])
    assert 0 < scores["bleu"] < 100 and scores["chrf"] > 0
    assert "nrefs:var|case:lc" in scores["signature"]
    # Cased, the lowercase hypotheses miss every capitalized reference word.
    assert scores["equal_cased"] and scores["bleu_cased"] < scores["bleu"]
    assert "case:mixed" in scores["signature_cased"]


def test_evaluate_runs_a_small_grid(tiny: dict) -> None:
    test = EvalSet(
        SENTENCES, [["i am here."], ["the house is small!", "the house is tiny."], ["the"]]
    )
    source = tiny["codec"].encode(tf.constant(SENTENCES))
    grid = (Setting(0), Setting(2, 0.6, "gnmt"))
    result = bleu.evaluate(tiny["model"], tiny["codec"], source, test, grid)
    assert [r["setting"] for r in result["results"]] == [s.name for s in grid]
    assert all(r["equal"] and r["equal_cased"] for r in result["results"])
    assert result["bleu_timing"]["sentences"] == 3 and len(result["examples"]) == 3
    greedy, beam = result["results"]
    assert greedy["p_vs_greedy"] is None and 0 < beam["p_vs_greedy"] <= 1
    assert all(r["ci95"] >= 0 and r["ter"] >= 0 for r in result["results"])
    assert result["significance"]["method"].startswith("sacrebleu paired bootstrap, 1000")
    batching = bleu.batching_figure(tiny["model"], source.ids, 3)
    assert batching["sentences"] == 3
    report = {
        "model_dir": "m", "tokens": "word", "weights": ["m/weights/ckpt-1"],
        "sets": {"test": result}, "batching": batching,
    }  # fmt: skip
    text = bleu.markdown(report)
    assert "| greedy |" in text and "p vs greedy" in text
    assert "Weights: the best dev-loss ones (`m/weights/ckpt-1`)." in text


def _scored(bleu_by_setting: dict[str, float]) -> dict:
    rows = [{"setting": name, "bleu": value} for name, value in bleu_by_setting.items()]
    best = max(bleu_by_setting, key=bleu_by_setting.__getitem__)
    return {"results": rows, "best": best, "metric": "bleu"}


def test_the_quoted_setting_is_the_one_best_on_dev_not_on_test() -> None:
    sets = {
        "test": _scored({"greedy": 5.0, "beam 5": 7.0, "beam 10": 8.0}),
        "dev": _scored({"greedy": 4.0, "beam 5": 6.5, "beam 10": 6.0}),
        "loc_test": _scored({"greedy": 20.0, "beam 5": 22.0}),  # its dev split not scored
    }
    bleu.choose_on_dev(sets)
    chosen = sets["test"]["chosen_on_dev"]
    assert chosen["dev_set"] == "dev" and chosen["setting"] == "beam 5"
    assert chosen["row"]["bleu"] == 7.0
    assert "chosen_on_dev" not in sets["dev"] and "chosen_on_dev" not in sets["loc_test"]
    line = bleu._best_line(sets["test"])
    assert "**beam 5**, 7.00 lowercased BLEU here" in line
    assert "Best on this set itself: beam 10" in line
    assert bleu._best_line(sets["loc_test"]) == "Best by lowercased BLEU: beam 5."


@pytest.mark.parametrize(
    ("flags", "sets"),
    [
        ([], ("test", "loc_test", "dev", "loc_dev")),
        (["--sets", "test"], ("test",)),
        (["--quick"], None),
        (["--run", "mine"], None),
    ],
)
def test_make_bleu_scores_the_dev_splits_that_choose_the_quoted_settings(
    flags: list[str], sets: tuple | None, tmp_path: Path, monkeypatch
) -> None:
    seen = []

    def load_setup(args):
        seen.append(args.sets)
        raise ValueError("stop here")

    monkeypatch.setattr(bleu, "load_setup", load_setup)
    assert bleu.main(["--reports-dir", str(tmp_path), *flags]) == 1
    assert seen == [sets]


def test_bench_batching(tiny: dict) -> None:
    """The batching figure times the BLEU stage's own decoder, batch by batch and alone."""
    decode = decoding.decode_function(tiny["model"], Setting(2))
    calls = []

    def counted(ids: tf.Tensor) -> object:
        calls.append(int(ids.shape[0]))
        return decode(ids)

    ids = tiny["codec"].encode(tf.constant(SENTENCES)).ids
    result = bench_batching(counted, [ids, ids[:2]], repeats=2)
    assert result["sentences"] == 5 and result["batches"] == 2 and result["repeats"] == 2
    # A warm-up pass each way (2 batches, then 5 single sentences), then two timed passes.
    assert calls == [3, 2] + [1] * 5 + [3, 2] * 2 + [1] * 5 * 2
    assert result["batched_s"] > 0 and result["one_by_one_s"] > 0


def test_classify_separates_search_and_model_errors() -> None:
    hyp = [5, 6, EOS_ID, 0]
    assert error_analysis.classify(hyp, -2.0, [([5, 6, EOS_ID], -9.0)]) == "correct"
    assert (
        error_analysis.classify(hyp, -2.0, [([7, EOS_ID], -3.0), ([8, EOS_ID], -1.5)]) == "search"
    )
    assert error_analysis.classify(hyp, -2.0, [([7, EOS_ID], -3.0)]) == "model"


def test_error_analysis_counts_every_sentence(tiny: dict) -> None:
    model, codec = tiny["model"], tiny["codec"]
    ids = tiny["codec"].encode(tf.constant(SENTENCES)).ids
    setting = Setting(2, 0.6)
    batches, order = decoding.length_sorted_batches(ids, setting.beam_size)
    decoded = decoding.run_decoding(decoding.decode_function(model, setting), batches, order)
    hyps = decoded.tokens
    texts = decoding.to_text(hyps, codec)
    refs = [[texts[0]], ["the house is small ."], ["i am here", texts[2]]]  # 2 outputs are refs
    report = error_analysis.analyse(
        model, codec.encode_target, ids, SENTENCES, refs, hyps, texts, setting
    )
    assert report["correct"] == 2 and report["errors"] == 1
    assert report["search_errors"] + report["model_errors"] == 1
    assert len(report["examples"]["search"]) + len(report["examples"]["model"]) == 1
    averaged = [f"ckpt/ckpt-{step}" for step in (100, 200, 300)]
    markdown = error_analysis.markdown(
        {"model_dir": "m", "weights": averaged, "sets": {"test": report}}
    )
    assert "Search errors vs model errors" in markdown
    assert "Weights: the mean of the run's last 3 checkpoints (ckpt-100, ckpt-200, " in markdown


@pytest.mark.parametrize("cli", [export, translate, bleu, error_analysis])
def test_every_cli_has_help(cli, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out


@pytest.mark.parametrize("cli", [bleu, error_analysis])
def test_unknown_test_sets_are_a_clear_error(cli, tmp_path: Path, caplog) -> None:
    assert cli.main(["--sets", "test,nope", "--reports-dir", str(tmp_path)]) == 1
    assert "unknown --sets ['nope']; choose from ['train', 'dev', 'test'" in caplog.text
