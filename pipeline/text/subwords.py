"""Joint German+English subwords: SentencePiece trained in Python, applied in the graph by TF Text.

A word vocabulary closes the translator's world: a word outside it is UNK, which the model
learns to emit as the cheapest guess. Subwords open it (Sennrich et al. 2016; Kudo 2018's
unigram model): every word is a sequence of pieces, frequent words are one piece, rare ones
and compounds ("Pflegekräfte" -> "▁Pflege" "kräfte") split into known pieces. One model for
both languages lets names, numbers and placeholders share pieces and pass through unchanged.

Byte fallback spells a character that training never saw as its UTF-8 bytes, so no input
needs UNK. The ids keep the reserved layout of :mod:`pipeline.text.vocab` (PAD 0, UNK 1,
BOS 2, EOS 3), so the translator's data, model and search treat both vocabularies alike.

The model is cased and keeps punctuation as pieces; SentencePiece's own NFKC normalization
is the only change made to the text, identically in Python and in the graph.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import tensorflow as tf

from pipeline.io import atomic_path
from pipeline.text.vocab import BOS, BOS_ID, EOS, EOS_ID, PAD, PAD_ID, UNK, UNK_ID

MODEL_TYPES = ("unigram", "bpe")
# SentencePiece's complaint when the requested size cannot hold the text's characters.
_TOO_SMALL = re.compile(r"Vocabulary size is smaller than required_chars\. \d+ vs (\d+)")


def train(
    texts: Iterable[str],
    path: Path,
    vocab_size: int,
    model_type: str = "unigram",
    *,
    seed: int = 0,
    max_sentences: int = 400_000,
) -> Path:
    """Train a SentencePiece model on ``texts`` and write it to ``path`` atomically.

    At most ``max_sentences`` lines are used, drawn with ``seed`` here rather than by the
    trainer, whose own sampling differs from one process to the next: the model must be a
    function of the text, or identical data would give a new model and retrain every later
    stage. ``vocab_size`` is an upper bound: a corpus too small for it gets fewer pieces.
    """
    import sentencepiece as spm

    if model_type not in MODEL_TYPES:
        raise ValueError(f"unknown subword model {model_type!r}; choose from {MODEL_TYPES}")
    lines = list(texts)
    if len(lines) > max_sentences:
        keep = np.random.default_rng(seed).choice(len(lines), max_sentences, replace=False)
        lines = [lines[i] for i in np.sort(keep)]
    buffer = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines),
            model_writer=buffer,
            vocab_size=vocab_size,
            model_type=model_type,
            pad_id=PAD_ID, unk_id=UNK_ID, bos_id=BOS_ID, eos_id=EOS_ID,
            pad_piece=PAD, unk_piece=UNK, bos_piece=BOS, eos_piece=EOS,
            byte_fallback=True,
            hard_vocab_limit=False,  # a small corpus gets fewer pieces, not an error
            character_coverage=0.9995,
            input_sentence_size=0,  # all of ``lines``
            num_threads=2,
            minloglevel=2,
        )  # fmt: skip
    except RuntimeError as err:
        needed = _TOO_SMALL.search(str(err))
        if needed:  # every character of the text, the 256 bytes and 4 reserved ids need a piece
            raise ValueError(
                f"A subword vocabulary of {vocab_size:,} pieces is too small for this text: its "
                f"characters, the 256 byte pieces and the 4 reserved ids need "
                f"{int(needed[1]):,}. Ask for at least that many (--translate-subword-size)."
            ) from None
        raise ValueError(f"SentencePiece could not train {vocab_size:,} pieces: {err}") from err
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())
    return path


def load_model(path: str | Path) -> bytes:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; run `make tokenize` first")
    return path.read_bytes()


class Subwords(tf.Module):
    """A SentencePiece model in the graph: strings <-> ragged int32 ids, and id -> piece.

    A module, so a SavedModel keeps the model inside. Loading such a SavedModel needs
    ``import tensorflow_text`` first, which registers the SentencePiece ops.
    """

    def __init__(self, model: bytes) -> None:
        import tensorflow_text as tf_text

        super().__init__()
        self.tokenizer = tf_text.SentencepieceTokenizer(model=model, out_type=tf.int32)
        self.size = int(self.tokenizer.vocab_size())

    def tokenize(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """(N,) strings -> (N, None) ids; undecodable bytes become U+FFFD first, as the CLIs'
        decoding does, so the graph and Python see the same text."""
        texts = tf.strings.unicode_transcode(
            tf.convert_to_tensor(texts, tf.string), "UTF-8", "UTF-8", errors="replace"
        )
        return self.tokenizer.tokenize(texts)

    def detokenize(self, ids: tf.RaggedTensor) -> tf.Tensor:
        return self.tokenizer.detokenize(ids)

    def pieces(self, ids: tf.Tensor) -> tf.Tensor:
        return self.tokenizer.id_to_string(ids)
