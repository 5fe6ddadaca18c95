"""``python -m pipeline.encode``: vocabularies and id-encoded splits (``make tokenize``).

Reads the TFDS datasets built by ``make data`` and writes, under ``data/processed``:

- ``vocab/corpus_en.txt``: English corpus vocabulary (embeddings, language model)
- ``vocab/polarity_en.txt``: the corpus vocabulary with MR's own frequent words appended
- ``vocab/translate_<lang>.txt``: one per language, from the translation train split
- ``vocab/translate_subwords.model``: the joint, cased SentencePiece model of both languages
- ``corpus/ids.npy``: the corpus as one int32 id stream, EOS after every line
- ``translate/{word,subword}/<split>.tfrecord``: an id list per language (``de``, ``en``),
  EOS-ended, for the splits train, dev, test, loc_dev, loc_test
- ``polarity/mr.tfrecord``: ``ids`` (polarity vocabulary), ``label``, ``fold``

plus ``reports/tokenize.json`` (vocabulary sizes, UNK rates, lengths), the stamp and output
list of :mod:`pipeline.stamps`, and last ``data/processed/tokenize_manifest.json``.
Tokenization runs in the graph (``tf.data`` + ``tf.strings``), batched, on both cores.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from pipeline import artifacts, stamps
from pipeline.artifacts import (
    CORPUS_IDS,
    CORPUS_VOCAB,
    LOCALIZATION_SPLITS,
    POLARITY_RECORDS,
    POLARITY_VOCAB,
    SUBWORD_MODEL,
    TFDS_SPLIT,
    UNITS,
    translate_records,
    vocab_file,
)
from pipeline.config import Paths, TokenizeConfig
from pipeline.data.load import load
from pipeline.io import atomic_path, write_json
from pipeline.stage import run_stage, stage_parser
from pipeline.text import subwords
from pipeline.text.tokenizer import Tokenizer
from pipeline.text.vocab import EOS_ID, UNK_ID, Vocabulary

log = logging.getLogger("pipeline.encode")


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


def encode_with(
    texts: tf.data.Dataset,
    to_ids: Callable[[tf.Tensor], tf.RaggedTensor],
    batch_size: int,
    *,
    eos: bool,
) -> tf.data.Dataset:
    """Batches of ragged int64 id sequences (EOS appended when ``eos``), built in the graph."""

    def encode(batch: tf.Tensor) -> tf.RaggedTensor:
        ids = to_ids(batch)
        if eos:
            end = tf.fill([ids.nrows(), 1], tf.constant(EOS_ID, tf.int64))
            ids = tf.concat([ids, tf.RaggedTensor.from_tensor(end)], axis=1)
        return ids

    return (
        texts.batch(batch_size)
        .map(encode, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def encode_batches(
    texts: tf.data.Dataset, tokenizer: Tokenizer, vocab: Vocabulary, batch_size: int, *, eos: bool
) -> tf.data.Dataset:
    """Word ids through ``vocab`` (unknown words -> UNK)."""
    table = vocab.lookup_table()
    return encode_with(
        texts,
        lambda batch: tf.ragged.map_flat_values(table.lookup, tokenizer.tf_tokenize(batch)),
        batch_size,
        eos=eos,
    )


class EncodingStats:
    """Token, UNK and length statistics of encoded sequences (EOS not counted as a token)."""

    def __init__(self) -> None:
        self.lengths: list[np.ndarray] = []
        self.unk = 0

    def add(self, ids: tf.RaggedTensor, eos: bool) -> None:
        flat = ids.flat_values.numpy()
        self.unk += int(np.count_nonzero(flat == UNK_ID))
        self.lengths.append(ids.row_lengths().numpy() - int(eos))

    def as_dict(self) -> dict[str, Any]:
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


def tokenize_corpus(
    paths: Paths, config: TokenizeConfig, texts: tf.data.Dataset | None = None, lang: str = "en"
) -> dict[str, Any]:
    """The corpus vocabulary and id stream from ``texts`` in ``lang`` (a named run's own
    corpus, :mod:`pipeline.userdata.corpus`), by default ``make data``'s English corpus."""
    tokenizer = Tokenizer(lang, lowercase=config.lowercase)
    if texts is None:
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
    return {"distinct_tokens": len(counts), "vocab_size": len(vocab), **stats.as_dict()}


def _translate_splits(
    paths: Paths, config: TokenizeConfig, data_dir: Path | None = None
) -> dict[str, tf.data.Dataset]:
    """The parallel corpus' splits; the localization ones only where it has them.

    ``data_dir`` holds a dataset built from the user's files (:mod:`pipeline.userdata`);
    by default the corpus is ours or a public one in ``paths.tfds``.
    """
    import tensorflow_datasets as tfds

    from pipeline.data.load import is_local

    name, root = config.translate_dataset, data_dir or paths.tfds
    known: set[str] = set()
    if data_dir is not None or is_local(name):
        builder = tfds.builder(name, data_dir=str(root))
        known = set(builder.info.splits) if builder.is_prepared() else set()
    splits = {
        key: load(name, split, data_dir=root)
        for key, split in TFDS_SPLIT.items()
        if key not in LOCALIZATION_SPLITS or split in known
    }
    langs = config.translate_langs
    missing = [lang for lang in langs if lang not in splits["train"].element_spec]
    if missing:
        raise ValueError(
            f"{name} has no feature(s) {missing}; it has "
            f"{sorted(splits['train'].element_spec)}. Set --translate-langs to two of those."
        )
    return splits


def _write_translate(
    dataset: tf.data.Dataset,
    encoders: dict[str, Callable[[tf.data.Dataset], tf.data.Dataset]],
    path: Path,
    batch_size: int,
) -> dict[str, Any]:
    """One record per pair: each language's EOS-ended ids and the pair's kind."""
    langs = list(encoders)
    stats = {lang: EncodingStats() for lang in langs}
    encoded = [encoders[lang](dataset.map(lambda ex, k=lang: ex[k])) for lang in langs]
    has_kind = "kind" in dataset.element_spec
    kinds = dataset.map(lambda ex, k=has_kind: ex["kind"] if k else tf.constant(0, tf.int64))

    def examples() -> Iterator[dict[str, np.ndarray]]:
        for *batches, kind in zip(*encoded, kinds.batch(batch_size), strict=True):
            for lang, ids in zip(langs, batches, strict=True):
                stats[lang].add(ids, eos=True)
            rows = [ids.numpy() for ids in batches]
            for k, *seqs in zip(kind.numpy(), *rows, strict=True):
                yield {**dict(zip(langs, seqs, strict=True)), "kind": k}

    write_records(path, examples())
    return {lang: s.as_dict() for lang, s in stats.items()}


def tokenize_translate(
    paths: Paths, config: TokenizeConfig, data_dir: Path | None = None
) -> dict[str, Any]:
    """Both encodings of every split, from vocabularies built on the train split only.

    ``word``: one lowercased word vocabulary per language (rare words -> UNK). ``subword``:
    one joint, cased SentencePiece model for both languages (:mod:`pipeline.text.subwords`).
    ``data_dir``: see :func:`_translate_splits`.
    """
    langs = config.translate_langs
    splits = _translate_splits(paths, config, data_dir)
    encoders = {
        "word": _word_encoders(paths, config, splits["train"]),
        "subword": _subword_encoders(paths, config, splits["train"]),
    }
    report: dict[str, Any] = {"dataset": config.translate_dataset, "splits": {}}
    report["vocab_size"] = {
        "word": {lang: encoders["word"][lang].vocab_size for lang in langs},
        "subword": encoders["subword"][langs[0]].vocab_size,
    }
    for name, dataset in splits.items():
        report["splits"][name] = {
            units: _write_translate(
                dataset,
                per_lang,
                paths.processed / translate_records(units, name),
                config.batch_size,
            )
            for units, per_lang in encoders.items()
        }
    return report


class _Encoder:
    """texts -> batches of EOS-ended ragged ids, with the size of the ids' vocabulary."""

    def __init__(
        self, to_ids: Callable[[tf.Tensor], tf.RaggedTensor], vocab_size: int, batch_size: int
    ) -> None:
        self.to_ids, self.vocab_size, self.batch_size = to_ids, vocab_size, batch_size

    def __call__(self, texts: tf.data.Dataset) -> tf.data.Dataset:
        return encode_with(texts, self.to_ids, self.batch_size, eos=True)


def _word_encoders(
    paths: Paths, config: TokenizeConfig, train: tf.data.Dataset
) -> dict[str, _Encoder]:
    encoders = {}
    for lang in config.translate_langs:
        tokenizer = Tokenizer(lang, lowercase=config.lowercase)
        counts = count_tokens(train.map(lambda ex, k=lang: ex[k]), tokenizer, config.batch_size)
        vocab = Vocabulary.build(counts, config.translate_min_count, config.translate_max_size)
        vocab.save(paths.processed / vocab_file(lang))
        table = vocab.lookup_table()
        encoders[lang] = _Encoder(
            lambda texts, t=tokenizer, table=table: tf.ragged.map_flat_values(
                table.lookup, t.tf_tokenize(texts)
            ),
            len(vocab),
            config.batch_size,
        )
    return encoders


def _subword_encoders(
    paths: Paths, config: TokenizeConfig, train: tf.data.Dataset
) -> dict[str, _Encoder]:
    """One SentencePiece model trained on both languages' training text, cased."""
    langs = config.translate_langs

    def texts() -> Iterator[str]:
        for batch in train.batch(config.batch_size):
            for lang in langs:
                yield from (t.decode("utf-8") for t in batch[lang].numpy())

    path = subwords.train(
        texts(),
        paths.processed / SUBWORD_MODEL,
        config.translate_subword_size,
        config.translate_subword_model,
    )
    model = subwords.Subwords(subwords.load_model(path))
    if model.size < config.translate_subword_size:
        log.info(
            "the training text gave %d subword pieces, fewer than the %d of "
            "--translate-subword-size: a small corpus has fewer pieces worth keeping",
            model.size, config.translate_subword_size,
        )  # fmt: skip
    encoder = _Encoder(
        lambda t: tf.cast(model.tokenize(t), tf.int64), model.size, config.batch_size
    )
    return dict.fromkeys(langs, encoder)


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
    return encode_labeled(dataset, vocab, config, paths.processed / POLARITY_RECORDS, corpus_vocab)


def encode_labeled(
    dataset: tf.data.Dataset,
    vocab: Vocabulary,
    config: TokenizeConfig,
    path: Path,
    base: Vocabulary | None = None,
) -> dict[str, Any]:
    """``text``/``label``/``fold`` examples written to ``path`` as ``ids``/``label``/``fold``
    records, with their statistics (and how many words ``base`` alone would have missed)."""
    tokenizer = Tokenizer("en", lowercase=config.lowercase)
    texts = dataset.map(lambda ex: ex["text"])
    encoded = encode_batches(texts, tokenizer, vocab, config.batch_size, eos=False)
    labels = dataset.map(lambda ex: (ex["label"], ex["fold"])).batch(config.batch_size)
    stats, base_unk = EncodingStats(), 0
    base_size = len(base) if base is not None else 0

    def examples() -> Iterator[dict[str, np.ndarray]]:
        nonlocal base_unk
        for ids, (label, fold) in zip(encoded, labels, strict=True):
            stats.add(ids, eos=False)
            flat = ids.flat_values.numpy()
            base_unk += int(np.sum((flat == UNK_ID) | (flat >= base_size)))
            for i, y, f in zip(ids.numpy(), label.numpy(), fold.numpy(), strict=True):
                yield {"ids": i, "label": y, "fold": f}

    write_records(path, examples())
    counts = stats.as_dict()
    if base is None:
        return {**counts, "vocab_size": len(vocab)}
    return {
        **counts,
        "vocab_size": len(vocab),
        "added_words": len(vocab) - base_size,
        "corpus_vocab_unk_rate": round(base_unk / max(counts["tokens"], 1), 4),
    }


def run(paths: Paths, config: TokenizeConfig) -> dict[str, Any]:
    artifacts.manifest(paths, "tokenize").unlink(missing_ok=True)  # stale until this run completes
    start = time.time()
    report = {
        "config": asdict(config),
        "corpus": tokenize_corpus(paths, config),
        "translate": tokenize_translate(paths, config),
        "polarity": tokenize_polarity(paths, config),
    }
    report["seconds"] = round(time.time() - start, 1)
    write_json(artifacts.report(paths, "tokenize"), report)
    files = outputs(paths, config, report["translate"]["splits"])
    if not stamps.publish(paths, "tokenize", files, stamps.digest(paths.data, files)):
        log.info("the encoded data is identical to the last run's; later stages stay current")
    write_json(artifacts.manifest(paths, "tokenize"), report)
    return report


def outputs(
    paths: Paths, config: TokenizeConfig, translate_splits: Iterable[str] = TFDS_SPLIT
) -> list[str]:
    """The files later stages read, relative to the data root."""
    names = [CORPUS_VOCAB, CORPUS_IDS, *translate_outputs(config, translate_splits)]
    names += [POLARITY_VOCAB, POLARITY_RECORDS]
    return [str((paths.processed / name).relative_to(paths.data)) for name in names]


def translate_outputs(config: TokenizeConfig, splits: Iterable[str]) -> list[str]:
    """What :func:`tokenize_translate` writes, relative to ``paths.processed``."""
    return [
        *(vocab_file(lang) for lang in config.translate_langs),
        SUBWORD_MODEL,
        *(translate_records(units, split) for units in UNITS for split in splits),
    ]


def translate_summary(t: dict[str, Any]) -> list[str]:
    """The lines of :func:`tokenize_translate`'s report: vocabularies, and per split its
    pairs, UNK rates and lengths."""
    lines = [
        f"translate {t['dataset']}: word vocab "
        + ", ".join(f"{lang} {size:,}" for lang, size in t["vocab_size"]["word"].items())
        + f"; joint subwords {t['vocab_size']['subword']:,}",
    ]
    for name, split in t["splits"].items():
        pairs = next(iter(split["word"].values()))["sequences"]
        per_lang = "  ".join(
            f"{lang}: UNK {s['unk_rate']:.2%} len {s['mean_length']} words "
            f"{split['subword'][lang]['mean_length']} pieces"
            for lang, s in split["word"].items()
        )
        lines.append(f"  {name:<8} {pairs:>7,} pairs  {per_lang}")
    return lines


def summary(report: dict[str, Any]) -> str:
    c, t, p = report["corpus"], report["translate"], report["polarity"]
    lines = [
        f"corpus    vocab {c['vocab_size']:>7,} (of {c['distinct_tokens']:,} distinct)  "
        f"tokens {c['tokens']:>11,}  UNK {c['unk_rate']:.2%}",
        *translate_summary(t),
    ]
    lines.append(
        f"polarity  {p['sequences']:,} reviews  UNK {p['unk_rate']:.2%} with {p['added_words']:,} "
        f"MR words added ({p['corpus_vocab_unk_rate']:.2%} with the corpus vocabulary alone)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = stage_parser(
        __spec__.name,
        __doc__,
        TokenizeConfig,
        choices={"translate_subword_model": subwords.MODEL_TYPES},
    )
    return run_stage(
        parser.parse_args(argv),
        lambda args, paths, config: summary(run(paths, config)),
        log,
        writes=lambda paths: (paths.processed, paths.reports),
        config="tokenize",
    )


if __name__ == "__main__":
    sys.exit(main())
