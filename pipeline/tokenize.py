"""``python -m pipeline.tokenize``: vocabularies and id-encoded splits for the later stages.

Reads the TFDS datasets built by ``make data`` and writes, under ``data/processed``:

- ``vocab/corpus_en.txt``: English corpus vocabulary (embeddings, language model)
- ``vocab/polarity_en.txt``: the corpus vocabulary with MR's own frequent words appended
- ``vocab/translate_<lang>.txt``: one per language, from the translation train split
- ``corpus/ids.npy``: the corpus as one int32 id stream, EOS after every line
- ``translate/{train,dev,test}.tfrecord``: an id list per language (``de``, ``en``), EOS-ended
- ``polarity/mr.tfrecord``: ``ids`` (polarity vocabulary), ``label``, ``fold``

plus ``reports/tokenize.json`` (vocabulary sizes, UNK rates, lengths), the stamp and output
list of :mod:`pipeline.stamps`, and last ``data/processed/tokenize_manifest.json``.
Tokenization runs in the graph (``tf.data`` + ``tf.strings``), batched, on both cores.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from tqdm import tqdm

from pipeline import stamps
from pipeline.config import (
    PRESETS,
    Paths,
    TokenizeConfig,
    add_common_args,
    override,
    paths_from_args,
    setup_logging,
)
from pipeline.data.load import load
from pipeline.io import atomic_path, check_writable, write_json
from pipeline.text.tokenizer import Tokenizer
from pipeline.text.vocab import EOS_ID, UNK_ID, Vocabulary

log = logging.getLogger("pipeline.tokenize")

MANIFEST = "tokenize_manifest.json"
CORPUS_VOCAB = "vocab/corpus_en.txt"
CORPUS_IDS = "corpus/ids.npy"
TRANSLATE_RECORDS = {
    "train": "translate/train.tfrecord",
    "dev": "translate/dev.tfrecord",
    "test": "translate/test.tfrecord",
    "loc_dev": "translate/loc_dev.tfrecord",
    "loc_test": "translate/loc_test.tfrecord",
}
TFDS_SPLIT = {
    "train": "train",
    "dev": "validation",
    "test": "test",
    "loc_dev": "loc_validation",
    "loc_test": "loc_test",
}


def vocab_file(lang: str) -> str:
    return f"vocab/translate_{lang}.txt"


POLARITY_VOCAB = "vocab/polarity_en.txt"
POLARITY_RECORDS = "polarity/mr.tfrecord"


def _token_batches(
    texts: tf.data.Dataset, tokenizer: Tokenizer, batch_size: int
) -> tf.data.Dataset:
    return (
        texts.batch(batch_size)
        .map(tokenizer.tf_tokenize, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def _progress(dataset: tf.data.Dataset, desc: str) -> Iterator[Any]:
    cardinality = int(dataset.cardinality())
    total = cardinality if cardinality >= 0 else None
    return tqdm(dataset, desc=desc, total=total, unit="batch", leave=False, mininterval=1.0)


def count_tokens(texts: tf.data.Dataset, tokenizer: Tokenizer, batch_size: int) -> Counter[str]:
    counts: Counter[bytes] = Counter()
    for tokens in _progress(_token_batches(texts, tokenizer, batch_size), "counting"):
        counts.update(tokens.flat_values.numpy().tolist())
    return Counter({token.decode("utf-8"): n for token, n in counts.items()})


def encode_batches(
    texts: tf.data.Dataset, tokenizer: Tokenizer, vocab: Vocabulary, batch_size: int, *, eos: bool
) -> tf.data.Dataset:
    """Batches of ragged id sequences (EOS appended when ``eos``), built in the graph."""
    table = vocab.lookup_table()

    def encode(tokens: tf.RaggedTensor) -> tf.RaggedTensor:
        ids = tf.ragged.map_flat_values(table.lookup, tokens)
        if eos:
            end = tf.fill([ids.nrows(), 1], tf.constant(EOS_ID, tf.int64))
            ids = tf.concat([ids, tf.RaggedTensor.from_tensor(end)], axis=1)
        return ids

    return _token_batches(texts, tokenizer, batch_size).map(encode).prefetch(tf.data.AUTOTUNE)


class EncodingStats:
    """Token, UNK and length statistics of encoded sequences (EOS not counted as a token)."""

    def __init__(self) -> None:
        self.lengths: list[np.ndarray] = []
        self.unk = 0

    def add(self, ids: tf.RaggedTensor, eos: bool) -> None:
        flat = ids.flat_values.numpy()
        self.unk += int(np.count_nonzero(flat == UNK_ID))
        self.lengths.append(ids.row_lengths().numpy() - int(eos))

    def summary(self) -> dict[str, Any]:
        lengths = np.concatenate(self.lengths) if self.lengths else np.zeros(0, np.int64)
        tokens = int(lengths.sum())
        return {
            "sequences": len(lengths),
            "tokens": tokens,
            "unk_tokens": self.unk,
            "unk_rate": round(self.unk / tokens, 5) if tokens else 0.0,
            "mean_length": round(float(lengths.mean()), 2) if len(lengths) else 0.0,
            "p95_length": int(np.percentile(lengths, 95)) if len(lengths) else 0,
            "max_length": int(lengths.max()) if len(lengths) else 0,
            "empty_sequences": int(np.count_nonzero(lengths == 0)),
        }


def _int64_feature(values: np.ndarray) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values.tolist()))


def write_records(path: Path, examples: Iterator[dict[str, np.ndarray]]) -> None:
    """One ``tf.train.Example`` per example, its features in a fixed order.

    Protobuf writes a map's entries in an order that varies between processes unless asked to
    be deterministic, and the stage's stamp digests these bytes: identical data must give
    identical files.
    """
    with atomic_path(path) as tmp, tf.io.TFRecordWriter(str(tmp)) as writer:
        for example in examples:
            features = {k: _int64_feature(np.atleast_1d(v)) for k, v in example.items()}
            proto = tf.train.Example(features=tf.train.Features(feature=features))
            writer.write(proto.SerializeToString(deterministic=True))


def tokenize_corpus(paths: Paths, config: TokenizeConfig) -> dict[str, Any]:
    tokenizer = Tokenizer("en", lowercase=config.lowercase)
    texts = load("en_corpus", "train", data_dir=paths.tfds).map(lambda ex: ex["text"])
    counts = count_tokens(texts, tokenizer, config.batch_size)
    vocab = Vocabulary.build(counts, config.corpus_min_count, config.corpus_max_size)
    vocab.save(paths.processed / CORPUS_VOCAB)
    stats = EncodingStats()
    chunks = []
    for ids in _progress(
        encode_batches(texts, tokenizer, vocab, config.batch_size, eos=True), "encoding"
    ):
        stats.add(ids, eos=True)
        chunks.append(ids.flat_values.numpy().astype(np.int32))
    with atomic_path(paths.processed / CORPUS_IDS) as tmp, open(tmp, "wb") as f:
        np.save(f, np.concatenate(chunks) if chunks else np.zeros(0, np.int32))
    return {"distinct_tokens": len(counts), "vocab_size": len(vocab), **stats.summary()}


def tokenize_translate(paths: Paths, config: TokenizeConfig) -> dict[str, Any]:
    """Vocabularies from the train split, one per language; every split encoded with EOS."""
    langs = config.translate_langs
    tokenizers = {lang: Tokenizer(lang, lowercase=config.lowercase) for lang in langs}
    splits = {"train": load(config.translate_dataset, "train", data_dir=paths.tfds)}
    # A dataset without some split (ted_hrlr_translate has no loc_*) gets empty records for it.
    available = tfds.builder(config.translate_dataset, data_dir=str(paths.tfds)).info.splits
    for name, tfds_split in TFDS_SPLIT.items():
        if name != "train":
            splits[name] = (
                load(config.translate_dataset, tfds_split, data_dir=paths.tfds)
                if tfds_split in available
                else splits["train"].take(0)
            )
    missing = [lang for lang in langs if lang not in splits["train"].element_spec]
    if missing:
        raise ValueError(
            f"{config.translate_dataset} has no feature(s) {missing}; it has "
            f"{sorted(splits['train'].element_spec)}. Set --translate-langs to two of those."
        )
    vocabs = {}
    for lang, tokenizer in tokenizers.items():
        texts = splits["train"].map(lambda ex, k=lang: ex[k])
        counts = count_tokens(texts, tokenizer, config.batch_size)
        vocabs[lang] = Vocabulary.build(
            counts, config.translate_min_count, config.translate_max_size
        )
        vocabs[lang].save(paths.processed / vocab_file(lang))
    report: dict[str, Any] = {
        "dataset": config.translate_dataset,
        "vocab_size": {lang: len(v) for lang, v in vocabs.items()},
        "splits": {},
    }
    for name, dataset in splits.items():
        stats = {lang: EncodingStats() for lang in langs}
        encoded = [
            encode_batches(
                dataset.map(lambda ex, k=lang: ex[k]),
                tokenizers[lang],
                vocabs[lang],
                config.batch_size,
                eos=True,
            )
            for lang in langs
        ]
        has_kind = "kind" in dataset.element_spec
        kinds = dataset.map(lambda ex, k=has_kind: ex["kind"] if k else tf.constant(0, tf.int64))
        kinds = kinds.batch(config.batch_size)

        def examples(encoded=encoded, kinds=kinds, stats=stats) -> Iterator[dict[str, np.ndarray]]:
            for *batches, kind in zip(*encoded, kinds, strict=True):
                for lang, ids in zip(langs, batches, strict=True):
                    stats[lang].add(ids, eos=True)
                rows = [ids.numpy() for ids in batches]
                for k, *seqs in zip(kind.numpy(), *rows, strict=True):
                    yield {**dict(zip(langs, seqs, strict=True)), "kind": k}

        write_records(paths.processed / TRANSLATE_RECORDS[name], examples())
        report["splits"][name] = {lang: s.summary() for lang, s in stats.items()}
    return report


def tokenize_polarity(paths: Paths, config: TokenizeConfig) -> dict[str, Any]:
    """MR encoded with the corpus vocabulary extended by MR's frequent unknown words.

    The extension keeps every corpus id, so the word vectors (trained on corpus ids) still
    index the first rows of the sentiment models' embedding matrix.
    """
    tokenizer = Tokenizer("en", lowercase=config.lowercase)
    corpus_vocab = Vocabulary.load(paths.processed / CORPUS_VOCAB)
    dataset = load("rt_polarity", "train", data_dir=paths.tfds)
    texts = dataset.map(lambda ex: ex["text"])
    vocab = corpus_vocab.extended(
        count_tokens(texts, tokenizer, config.batch_size), config.polarity_min_count
    )
    vocab.save(paths.processed / POLARITY_VOCAB)
    encoded = encode_batches(texts, tokenizer, vocab, config.batch_size, eos=False)
    labels = dataset.map(lambda ex: (ex["label"], ex["fold"])).batch(config.batch_size)
    stats, corpus_unk = EncodingStats(), 0

    def examples() -> Iterator[dict[str, np.ndarray]]:
        nonlocal corpus_unk
        for ids, (label, fold) in zip(encoded, labels, strict=True):
            stats.add(ids, eos=False)
            flat = ids.flat_values.numpy()
            corpus_unk += int(np.sum((flat == UNK_ID) | (flat >= len(corpus_vocab))))
            for i, y, f in zip(ids.numpy(), label.numpy(), fold.numpy(), strict=True):
                yield {"ids": i, "label": y, "fold": f}

    write_records(paths.processed / POLARITY_RECORDS, examples())
    summary = stats.summary()
    return {
        **summary,
        "vocab_size": len(vocab),
        "added_words": len(vocab) - len(corpus_vocab),
        "corpus_vocab_unk_rate": round(corpus_unk / max(summary["tokens"], 1), 4),
    }


def run(paths: Paths, config: TokenizeConfig) -> dict[str, Any]:
    (paths.processed / MANIFEST).unlink(missing_ok=True)  # stale until this run completes
    start = time.time()
    report = {
        "config": asdict(config),
        "corpus": tokenize_corpus(paths, config),
        "translate": tokenize_translate(paths, config),
        "polarity": tokenize_polarity(paths, config),
    }
    report["seconds"] = round(time.time() - start, 1)
    write_json(paths.reports / "tokenize.json", report)
    files = outputs(paths, config)
    if not stamps.publish(paths.data, "tokenize", files, stamps.digest(paths.data, files)):
        log.info("the encoded data is identical to the last run's; later stages stay current")
    write_json(paths.processed / MANIFEST, report)
    return report


def outputs(paths: Paths, config: TokenizeConfig) -> list[str]:
    """The files later stages read, relative to the data root."""
    names = [
        CORPUS_VOCAB,
        CORPUS_IDS,
        *(vocab_file(lang) for lang in config.translate_langs),
        *TRANSLATE_RECORDS.values(),
        POLARITY_VOCAB,
        POLARITY_RECORDS,
    ]
    return [str((paths.processed / name).relative_to(paths.data)) for name in names]


def summary(report: dict[str, Any]) -> str:
    c, t, p = report["corpus"], report["translate"], report["polarity"]
    lines = [
        f"corpus    vocab {c['vocab_size']:>7,} (of {c['distinct_tokens']:,} distinct)  "
        f"tokens {c['tokens']:>11,}  UNK {c['unk_rate']:.2%}",
        f"translate {t['dataset']}: vocab "
        + ", ".join(f"{lang} {size:,}" for lang, size in t["vocab_size"].items()),
    ]
    for name, split in t["splits"].items():
        pairs = next(iter(split.values()))["sequences"]
        per_lang = "  ".join(
            f"{lang}: UNK {s['unk_rate']:.2%} mean len {s['mean_length']}"
            for lang, s in split.items()
        )
        lines.append(f"  {name:<6} {pairs:>7,} pairs  {per_lang}")
    lines.append(
        f"polarity  {p['sequences']:,} reviews  UNK {p['unk_rate']:.2%} with {p['added_words']:,} "
        f"MR words added ({p['corpus_vocab_unk_rate']:.2%} with the corpus vocabulary alone)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.tokenize", description=__doc__.split("\n")[0]
    )
    add_common_args(parser)
    parser.add_argument(
        "--lowercase",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="lowercase before tokenizing (preset default: yes)",
    )
    parser.add_argument("--corpus-min-count", type=int, help="rarer corpus words become UNK")
    parser.add_argument("--corpus-max-size", type=int, help="corpus vocabulary size cap")
    parser.add_argument(
        "--translate-min-count", type=int, help="rarer translation words become UNK"
    )
    parser.add_argument("--translate-max-size", type=int, help="translation vocabulary size cap")
    parser.add_argument(
        "--polarity-min-count", type=int, help="rarer MR words outside the corpus vocab stay UNK"
    )
    parser.add_argument("--batch-size", type=int, help="lines per tokenization batch")
    parser.add_argument(
        "--translate-dataset", help="TFDS name of the parallel corpus (default: de_en_translate)"
    )
    parser.add_argument(
        "--translate-langs",
        type=lambda s: tuple(s.split(",")),
        help="its two language features, e.g. pt,en (default: de,en)",
    )
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    paths = paths_from_args(args)
    if not check_writable(paths.processed, paths.reports):
        return 1
    config = override(PRESETS[args.preset].tokenize, **vars(args))
    try:
        report = run(paths, config)
    except (FileNotFoundError, ValueError) as err:
        log.error("%s", err)
        return 1
    print(summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
