import pytest
import tensorflow as tf

from pipeline.text.tokenizer import Tokenizer

HARD_CASES = [
    "Ich hab’s z.B. 525,600 Mal gesagt: „Nein!“ — 東京",
    "He said, e.g. that Mr. Smith's dog didn't bark... (really?)",
    "jdm. etw. geben; sb. sth. give",
    "",
    "   \t\n  ",
    "ΟΔΟΣ İstanbul ẞtraße",
    "soft\u00adhyphen zero\u200bwidth nbsp\u00a0x ideographic\u3000space",
    "ctrl\x00chars\x1cand\x85nel",
    "mixed العربية हिन्दी 한국어 emoji 🙂🙂 math ∑x²",
    "e-mail, 3.14, 1,000,000, U.S.A., rock'n'roll",
]


@pytest.mark.parametrize("lang", ["en", "de", "pt"])
def test_graph_equals_python(lang):
    tokenizer = Tokenizer(lang)
    graph = tokenizer.tf_tokenize(tf.constant(HARD_CASES)).to_list()
    for text, tokens in zip(HARD_CASES, graph, strict=True):
        assert tokenizer.tokenize(text) == [t.decode("utf-8") for t in tokens], text


def test_english_rules():
    tok = Tokenizer("en")
    assert tok.tokenize("He said, e.g. that Mr. Smith’s dog didn't bark.") == [
        "he", "said", ",", "e.g.", "that", "mr.", "smith's", "dog", "didn't", "bark", ".",
    ]  # fmt: skip
    assert tok.tokenize("Is 9.5 or 525,600 my e-mail?") == [
        "is", "9.5", "or", "525,600", "my", "e-mail", "?",
    ]  # fmt: skip


def test_german_rules_keep_abbreviations_and_split_quotes():
    tok = Tokenizer("de", lowercase=False)
    assert tok.tokenize("Er gab jdm. z.B. „Geld“ usw.") == [
        "Er", "gab", "jdm.", "z.B.", "„", "Geld", "“", "usw.",
    ]  # fmt: skip
    # the same text in English mode has no German abbreviations
    assert Tokenizer("en", lowercase=False).tokenize("jdm. usw.") == ["jdm", ".", "usw", "."]


def test_bad_input_never_raises():
    tok = Tokenizer("en")
    assert tok.tokenize("") == []
    assert tok.tokenize(" \t\u3000\n ") == []
    assert tok.tokenize(b"ok \xff\xfe bad \xc3") == ["ok", "\ufffd", "\ufffd", "bad", "\ufffd"]
    graph = tok.tf_tokenize(tf.constant([b"ok \xff\xfe bad \xc3"])).to_list()[0]
    assert [t.decode() for t in graph] == ["ok", "\ufffd", "\ufffd", "bad", "\ufffd"]
    long_text = "word " * 200_000 + "end."
    assert len(tok.tokenize(long_text)) == 200_002
    assert tok.tf_tokenize(tf.constant([long_text])).row_lengths().numpy().tolist() == [200_002]


def test_lowercase_is_configurable_and_shapes_are_kept():
    assert Tokenizer("en", lowercase=False).tokenize("Hello World") == ["Hello", "World"]
    ragged = Tokenizer("en").tf_tokenize(tf.constant([["A b", "c"], ["", "D e f"]]))
    assert ragged.shape.as_list()[:2] == [2, 2]
    assert ragged.to_list() == [[[b"a", b"b"], [b"c"]], [[], [b"d", b"e", b"f"]]]
