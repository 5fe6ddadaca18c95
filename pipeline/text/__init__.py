"""Tokenizer and vocabulary, usable from Python and inside TF graphs."""

from pipeline.text.tokenizer import Tokenizer
from pipeline.text.vocab import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Vocabulary, token_counts

__all__ = ["BOS_ID", "EOS_ID", "PAD_ID", "UNK_ID", "Tokenizer", "Vocabulary", "token_counts"]
