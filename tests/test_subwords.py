"""The joint SentencePiece model: in-graph tokenization equals Python's, detokenization
round-trips, and a subword translator's SavedModel works in a process without ``pipeline``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import sentencepiece as spm
import tensorflow as tf
from fresh_process import without_pipeline

from pipeline.config import TranslateConfig
from pipeline.text import EOS_ID, PAD_ID, subwords
from pipeline.translate import export
from pipeline.translate.beam import greedy_decode
from pipeline.translate.codec import SubwordCodec, max_target_len
from pipeline.translate.saved import build_model

# Training text in the shape of the real corpus: dictionary sentences, software messages with
# placeholders and accelerators already removed, both languages, cased.
TRAINING = [
    "Meine Großmutter hat mir zum Geburtstag ein Buch geschenkt.",
    "My grandmother gave me a book for my birthday.",
    "Das Krankenhaus sucht dringend neue Pflegekräfte.",
    "The hospital is urgently looking for new nurses.",
    "Klicken Sie auf Speichern, um die Änderungen zu übernehmen.",
    "Click Save to apply the changes.",
    "%s Dateien werden in %1$s kopiert",
    "Copying %s files to %1$s",
    "Die Datei {name} konnte nicht geöffnet werden.",
    "The file {name} could not be opened.",
    "Am Mittwoch gehe ich ins Kino.",
    "On Wednesday I am going to the cinema.",
] * 5
LINES = [
    "Donaudampfschifffahrtsgesellschaftskapitän",  # a compound no piece covers whole
    "Übergrößenträger ÄÖÜ äöü ß",
    "Öffne %1$s in {app} mit %PRODUCTNAME",
    "中文 テスト 한국어",  # scripts the model never saw: byte pieces
    "",
    "   \t ",
    "Die Datei  wurde\tgespeichert.",
    "Ein Satz. Noch ein Satz!",
]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return subwords.train(TRAINING, tmp_path_factory.mktemp("spm") / "m.model", vocab_size=400)


@pytest.fixture(scope="module")
def python_model(model_file: Path) -> spm.SentencePieceProcessor:
    return spm.SentencePieceProcessor(model_file=str(model_file))


def test_reserved_ids_are_the_vocabularies(python_model: spm.SentencePieceProcessor) -> None:
    assert [python_model.id_to_piece(i) for i in range(4)] == ["<pad>", "<unk>", "<s>", "</s>"]
    assert (python_model.pad_id(), python_model.eos_id()) == (PAD_ID, EOS_ID)


def test_graph_encoding_equals_python(model_file: Path, python_model) -> None:
    graph = subwords.Subwords(subwords.load_model(model_file))
    ids = graph.tokenize(tf.constant(LINES)).to_list()
    assert ids == [python_model.encode(line) for line in LINES]
    assert ids[4] == [] and ids[5] == []
    assert python_model.unk_id() not in {i for row in ids for i in row}  # byte fallback


def test_invalid_utf8_is_encoded_as_python_encodes_its_replacement(model_file, python_model):
    graph = subwords.Subwords(subwords.load_model(model_file))
    raw = [b"Die \xff Datei", b"\xc3\x28 ok", b"\xe2\x82"]
    ids = graph.tokenize(tf.constant(raw)).to_list()
    assert ids == [python_model.encode(r.decode("utf-8", "replace")) for r in raw]


def test_detokenization_round_trips(model_file: Path, python_model) -> None:
    graph = subwords.Subwords(subwords.load_model(model_file))
    ids = graph.tokenize(tf.constant(LINES))
    text = [t.decode("utf-8") for t in graph.detokenize(ids).numpy()]
    assert text == [python_model.decode(row) for row in ids.to_list()]
    # SentencePiece keeps everything but runs of whitespace, which it collapses.
    assert text == [" ".join(line.split()) for line in LINES]


def test_a_sampled_corpus_gives_the_same_model_in_every_process(tmp_path: Path) -> None:
    """SentencePiece's own sampling differs between processes; ours must not."""
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from pipeline.text import subwords
        lines = [f"Zeile {i} mit Wort{i % 97} und Text{i % 13}" for i in range(3000)]
        subwords.train(lines, Path(sys.argv[1]), 300, max_sentences=500)
        """
    )
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root), "TF_CPP_MIN_LOG_LEVEL": "3"}
    models = []
    for name in ("a.model", "b.model"):
        subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / name)], env=env, check=True, timeout=300
        )
        models.append((tmp_path / name).read_bytes())
    assert models[0] == models[1]


def test_a_small_corpus_gets_fewer_pieces_not_an_error(tmp_path: Path) -> None:
    path = subwords.train(["ab ba", "ab"], tmp_path / "tiny.model", vocab_size=5000)
    size = spm.SentencePieceProcessor(model_file=str(path)).get_piece_size()
    assert 260 <= size < 5000  # reserved + 256 bytes + a few pieces
    with pytest.raises(ValueError, match="unknown subword model"):
        subwords.train(["ab"], tmp_path / "x.model", 300, model_type="word")
    with pytest.raises(FileNotFoundError, match="make tokenize"):
        subwords.load_model(tmp_path / "missing.model")


@pytest.fixture(scope="module")
def saved(model_file: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    keras.utils.set_random_seed(4)
    codec = SubwordCodec(subwords.load_model(model_file), max_tokens=12)
    config = TranslateConfig(embed_dim=8, units=8, attention_units=8, dropout=0.0)
    model = build_model(config, *codec.sizes)
    dest = tmp_path_factory.mktemp("saved") / "translator" / "1"
    export.export(export.ExportedTranslator(model, codec, max_beam=3), dest)
    return {"model": model, "codec": codec, "dest": dest}


def test_subword_saved_model_in_a_fresh_process(saved: dict) -> None:
    """Raw strings in, detokenized strings out; only tensorflow_text besides TF."""
    body = f"""
        model = tf.saved_model.load({str(saved["dest"])!r})
        out = model.signatures["serving_default"](
            sentences=tf.constant({LINES!r}), beam_size=tf.constant(1), alpha=tf.constant(0.0),
            n_best=tf.constant(1), prefix=tf.constant([""] * {len(LINES)}))
        result = {{k: v.numpy().tolist() if v.dtype != tf.string else
                  [s.decode() for s in v.numpy().ravel()] for k, v in out.items()}}
        """
    out = without_pipeline(body, cwd=saved["dest"].parent, tensorflow_text=True)
    # Beam 1 is greedy decoding; the SavedModel's text is the codec's decoding of its ids.
    codec, model = saved["codec"], saved["model"]
    encoded = codec.encode(tf.constant(LINES))
    greedy = greedy_decode(
        model.encode, model.decode_step, encoded.ids, max_target_len(encoded.ids)
    )
    expected = [t.decode() for t in codec.decode(greedy["tokens"]).numpy()]
    blank = [not line.strip() for line in LINES]
    assert out["translations"] == ["" if b else e for b, e in zip(blank, expected, strict=True)]
    np.testing.assert_array_equal(out["truncated"], encoded.truncated.numpy())
    assert out["truncated"][0]  # the long compound is more than 12 pieces
    # The heatmap labels are pieces, "▁" marking a word start.
    assert "▁Die" in out["source_tokens"] or "▁D" in out["source_tokens"]


def test_decoding_stops_at_eos_and_keeps_case(saved: dict, python_model) -> None:
    codec = saved["codec"]
    ids = python_model.encode("Click Save to apply the changes.")
    first, second = [*ids, EOS_ID, *ids[:2]], [2, *ids[:3], EOS_ID]  # BOS first, then text
    rows = tf.constant([first, second + [PAD_ID] * (len(first) - len(second))])
    texts = [t.decode() for t in codec.decode(rows).numpy()]
    assert texts[0] == "Click Save to apply the changes."
    assert texts[1] == python_model.decode(ids[:3]) and texts[1][0] == "C"
