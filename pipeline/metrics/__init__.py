"""Evaluation metrics: BLEU that agrees with sacrebleu, and a comparison against it."""

from pipeline.metrics.bleu import BleuScore, corpus_bleu, sentence_bleu, tokenize_13a
from pipeline.metrics.compare import bench_bleu, sacrebleu_signature

__all__ = [
    "BleuScore",
    "bench_bleu",
    "corpus_bleu",
    "sacrebleu_signature",
    "sentence_bleu",
    "tokenize_13a",
]
