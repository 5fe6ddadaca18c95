from collections import Counter

import pytest
import tensorflow as tf

from pipeline.text.vocab import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Vocabulary, token_counts


@pytest.fixture
def vocab() -> Vocabulary:
    return Vocabulary.build(Counter({"the": 5, "cat": 3, "sat": 3, "rare": 1}), min_count=2)


def test_reserved_ids_and_frequency_order(vocab):
    assert (PAD_ID, UNK_ID, BOS_ID, EOS_ID) == (0, 1, 2, 3)
    assert vocab.tokens == ["<pad>", "<unk>", "<s>", "</s>", "the", "cat", "sat"]
    assert "rare" not in vocab and vocab.id("rare") == UNK_ID


def test_max_size_counts_reserved_tokens():
    vocab = Vocabulary.build(Counter({"a": 3, "b": 2, "c": 1}), max_size=6)
    assert len(vocab) == 6 and vocab.tokens[4:] == ["a", "b"]


def test_extended_keeps_every_id_and_appends_new_tokens(vocab):
    task = Counter({"cat": 9, "clunky": 2, "mesmerizing": 4, "once": 1, "<unk>": 7})
    extended = vocab.extended(task, min_count=2)
    assert extended.tokens[: len(vocab)] == vocab.tokens
    assert extended.tokens[len(vocab) :] == ["mesmerizing", "clunky"]
    assert extended.id("once") == UNK_ID and vocab.extended({}) == vocab


def test_encode_decode_round_trip_with_eos(vocab):
    ids = vocab.encode(["the", "cat", "flew"], add_bos=True, add_eos=True)
    assert ids == [BOS_ID, 4, 5, UNK_ID, EOS_ID]
    assert vocab.decode(ids) == ["the", "cat", "<unk>"]
    assert vocab.decode([4, EOS_ID, 5]) == ["the"]  # stops at EOS
    assert vocab.decode(ids, keep_special=True) == ["<s>", "the", "cat", "<unk>", "</s>"]
    assert vocab.decode(vocab.encode(["sat", "the", "cat"])) == ["sat", "the", "cat"]


def test_save_load_round_trip_and_plain_format(vocab, tmp_path):
    path = tmp_path / "vocab.txt"
    vocab.save(path)
    assert path.read_text(encoding="utf-8").splitlines()[:4] == ["<pad>", "<unk>", "<s>", "</s>"]
    assert Vocabulary.load(path) == vocab
    assert [p.name for p in tmp_path.iterdir()] == ["vocab.txt"]  # no temp file left


def test_missing_and_corrupt_files_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="make tokenize"):
        Vocabulary.load(tmp_path / "absent.txt")
    (tmp_path / "bad.txt").write_text("the\ncat\n")
    with pytest.raises(ValueError, match="not a valid vocabulary"):
        Vocabulary.load(tmp_path / "bad.txt")
    (tmp_path / "binary.txt").write_bytes(b"<pad>\n<unk>\n<s>\n</s>\n\xff\n")
    with pytest.raises(ValueError, match="not a valid vocabulary"):
        Vocabulary.load(tmp_path / "binary.txt")
    with pytest.raises(ValueError, match="duplicate"):
        Vocabulary(["<pad>", "<unk>", "<s>", "</s>", "a", "a"])


def test_graph_lookup_matches_python(vocab):
    table = vocab.lookup_table()
    tokens = ["the", "cat", "flew", "<pad>", "sat"]
    assert table.lookup(tf.constant(tokens)).numpy().tolist() == vocab.encode(tokens)


def test_token_counts_skip_only_padding():
    ids = tf.constant([[4, 5, EOS_ID, PAD_ID], [PAD_ID] * 4, [UNK_ID, PAD_ID, BOS_ID, PAD_ID]])
    counts = token_counts(ids)
    assert counts.dtype == tf.int32 and counts.numpy().tolist() == [3, 0, 2]
