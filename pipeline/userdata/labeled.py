"""``python -m pipeline.userdata.labeled``: your labeled texts as a named run's classifier data.

``make sentiment LABELED=reviews.tsv [TEST=test.tsv] RUN=name`` runs this step, then the
sentiment stage on what it writes. A file is a table, TSV (split at every tab, no quoting) or
CSV (RFC 4180 quoting), optionally gzipped, with a text column and a label column:

- a first row that names the columns (``--text-column`` and ``--label-column``, by default
  ``text`` and ``label``) is the header; without one the columns are taken by 0-based position
  (by default 0 and 1). Each flag takes a name or a position.
- labels are any strings. The class names are sorted (numerically when every label is an
  integer); with two classes the second is the one whose probability the binary outputs give.

Without ``--test`` every example gets a stratified fold for k-fold cross-validation
(``--folds``, the preset's; 10 by default); with it the classifier trains on all of the
files and is scored once on the test file, whose labels must all occur in them.

The vocabulary is the texts' words (those used ``polarity_min_count`` times). When word
vectors exist, the run's own (``make train-embeddings CORPUS=... RUN=name``) or else the
default pipeline's, and their corpus vocabulary holds most of the texts' words, the texts'
words extend that vocabulary, as MR's do (:func:`pipeline.encode.tokenize_polarity`), and
the ``word2vec``/``glove`` configurations start from the vectors. Otherwise every
configuration starts from random vectors and the report says so.
"""

from __future__ import annotations

import logging
import re
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

from pipeline import artifacts
from pipeline.config import PRESETS, Paths, TokenizeConfig
from pipeline.data.clean import normalize
from pipeline.data.polarity import stratified_folds
from pipeline.data.tfds_builders import _ManualTsvBuilder, read_tsv
from pipeline.encode import count_tokens, encode_labeled
from pipeline.io import sha256_file, write_json
from pipeline.stage import run_stage, stage_parser
from pipeline.text import Tokenizer, Vocabulary
from pipeline.userdata import prepare
from pipeline.userdata.files import Decoding, UserDataError, table_rows

log = logging.getLogger("pipeline.userdata.labeled")

KIND = "labeled"
TRAIN_FILE, TEST_FILE, CLASSES_FILE = "train.tsv", "test.tsv", "classes.txt"
DEFAULT_COLUMNS = {"text": ("text", 0), "label": ("label", 1)}  # name, else position
# Below this share of the texts' words in a corpus vocabulary, the texts are not (mostly) in
# that corpus' language: its vectors would cover too little to be worth extending it.
MIN_COVERAGE = 0.5
INTEGER = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class Example:
    """One labeled row, with the file and line it came from for messages about it."""

    path: Path
    line: int
    text: str
    label: str


def _header_columns(
    path: Path, line: int, header: list[str], names: dict[str, str]
) -> dict[str, int]:
    """The position of each named column in the header row, refusing an ambiguous name."""
    columns = {}
    for role, name in names.items():
        where = [i for i, cell in enumerate(header) if cell == name]
        if len(where) > 1:
            raise UserDataError(
                f"{path}:{line}: the header names {len(where)} columns {name!r} (positions "
                f"{', '.join(map(str, where))}); rename all but one, or choose the {role} "
                f"column by its 0-based position (--{role}-column {where[0]})."
            )
        columns[role] = where[0]
    return columns


def resolve_columns(
    path: Path, line: int, first: list[str], text: str | None, label: str | None
) -> tuple[dict[str, int], bool]:
    """``({"text": i, "label": j}, has_header)`` from the flags and the file's first row.

    A flag is a column name or a 0-based position (digits). The first row is a header when
    it holds every named column; names given on the command line must then be in it, while
    the default names fall back to the default positions of a file without a header.
    """
    given = {"text": text, "label": label}
    flags = {role: flag or DEFAULT_COLUMNS[role][0] for role, flag in given.items()}
    names = {role: flag for role, flag in flags.items() if not flag.isdigit()}
    header = [cell.strip() for cell in first]
    if names and all(name in header for name in names.values()):
        columns = _header_columns(path, line, header, names)
        return {
            role: columns[role] if role in columns else int(flags[role]) for role in flags
        }, True
    explicit = [name for role, name in names.items() if given[role] is not None]
    if explicit:
        missing = [name for name in explicit if name not in header] or explicit
        raise UserDataError(
            f"{path}:{line}: no column named {missing[0]!r} in the first row (its cells: "
            f"{', '.join(repr(c) for c in header[:10])}). Name a column of the header row, or "
            "give the column's 0-based position (--text-column 0 --label-column 1)."
        )
    columns = {
        role: int(flag) if flag.isdigit() else DEFAULT_COLUMNS[role][1]
        for role, flag in flags.items()
    }
    if columns["text"] == columns["label"]:
        raise UserDataError(
            f"{path}: the text and label columns are both position {columns['text']}; "
            "give different --text-column and --label-column."
        )
    return columns, False


def _example(path: Path, line: int, cells: list[str], columns: dict[str, int]) -> Example:
    """The row's normalized text and label, refusing a row that lacks either."""
    need = max(columns.values()) + 1
    if len(cells) < need:
        raise UserDataError(
            f"{path}:{line}: the row has {len(cells)} cell(s) but needs {need} (text in column "
            f"{columns['text']}, label in column {columns['label']}, 0-based). Check the "
            "separator (.csv files are read as CSV, any other as TSV) and the columns."
        )
    text, label = normalize(cells[columns["text"]]), normalize(cells[columns["label"]])
    for role, value in (("text", text), ("label", label)):
        if not value:
            raise UserDataError(
                f"{path}:{line}: the {role} cell (column {columns[role]}) is empty; every row "
                f"needs a text and a label."
            )
    return Example(path, line, text, label)


def read_examples(
    path: Path, decoding: Decoding, text: str | None = None, label: str | None = None
) -> list[Example]:
    """Every row of one table as an example; any bad row stops the read with its line."""
    rows = table_rows(path, decoding)
    first = next(rows, None)
    if first is None:
        raise UserDataError(f"{path}: the file is empty (no row with text).")
    columns, has_header = resolve_columns(path, *first, text, label)
    examples = [] if has_header else [_example(path, *first, columns)]
    examples += [_example(path, line, cells, columns) for line, cells in rows]
    if not examples:
        raise UserDataError(f"{path}: the file has a header row and no examples.")
    return examples


def class_names(examples: Sequence[Example]) -> list[str]:
    """The labels in class order, refusing a single class (nothing to tell apart)."""
    counts = Counter(example.label for example in examples)
    if len(counts) < 2:
        (name, count), path = counts.popitem(), examples[0].path
        raise UserDataError(
            f"{path}: every example has the label {name!r} ({count:,} rows); a classifier "
            "needs at least two classes. Check the label column (--label-column) or add "
            "examples of the other classes."
        )
    if all(INTEGER.fullmatch(name) for name in counts):
        return sorted(counts, key=int)
    return sorted(counts)


def check_test_labels(test: Sequence[Example], classes: Sequence[str]) -> None:
    """Refuse test labels the training files lack: no model trained on them can predict them."""
    first: dict[str, Example] = {}
    for example in test:
        if example.label not in classes:
            first.setdefault(example.label, example)
    if first:
        unseen = ", ".join(f"{name!r} (line {e.line})" for name, e in list(first.items())[:10])
        raise UserDataError(
            f"{test[0].path}: label(s) not in the training file(s): {unseen}. The classifier "
            f"can only predict the classes it trained on ({', '.join(map(repr, classes[:10]))}"
            f"{', ...' if len(classes) > 10 else ''}); remove those rows from the test file or "
            "add examples of them to the training file."
        )


class UserLabeled(_ManualTsvBuilder, skip_registration=True):
    """A named run's labeled texts: ``train`` (with CV folds) and, if given, ``test``.

    Built and read through this class only, never by name, so it stays out of TFDS' registry:
    ``python -m`` runs this file once as ``__main__`` and imports it once more (below).
    """

    VERSION = tfds.core.Version("1.0.0")
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Run `make sentiment LABELED=file.tsv RUN=name` (python -m pipeline.userdata.labeled "
        "--run name -- file.tsv): it writes this folder from your file."
    )

    def _info(self) -> tfds.core.DatasetInfo:
        # The class names are the run's, set from its classes file when the data is built
        # and read back from the dataset's own files when it is loaded.
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "text": tfds.features.Text(),
                    "label": tfds.features.ClassLabel(),
                    "fold": tfds.features.Scalar(dtype=np.int32),
                }
            ),
            supervised_keys=("text", "label"),
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
        names = [row[0] for row in read_tsv(self._path(dl_manager, CLASSES_FILE))]
        self.info.features["label"].names = names
        splits = {"train": self._generate_examples(self._path(dl_manager, TRAIN_FILE))}
        if (Path(dl_manager.manual_dir) / TEST_FILE).exists():
            splits["test"] = self._generate_examples(self._path(dl_manager, TEST_FILE))
        return splits

    def _generate_examples(self, path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
        for i, (text, label, fold) in enumerate(read_tsv(path)):
            yield i, {"text": text, "label": int(label), "fold": int(fold)}


def _vector_sources(paths: Paths) -> list[Paths]:
    """Whose corpus vocabulary has trained vectors: the run's own, then the default pipeline's."""
    found = []
    for owner in (paths, Paths(data=paths.data)):
        has_vectors = any(
            (artifacts.embedding_dir(owner, model) / artifacts.VECTORS_FILE).exists()
            for model in ("word2vec", "glove")
        )
        if has_vectors and (owner.processed / artifacts.CORPUS_VOCAB).exists():
            found.append(owner)
    return found


def base_vocabulary(paths: Paths, counts: Counter[str]) -> tuple[Vocabulary | None, dict[str, Any]]:
    """The corpus vocabulary the run extends (None: its own words only), and where its vectors
    are, relative to the data root, with the share of the texts' tokens it holds."""
    tokens = max(sum(counts.values()), 1)
    for owner in _vector_sources(paths):
        vocab = Vocabulary.load(owner.processed / artifacts.CORPUS_VOCAB)
        coverage = round(sum(n for word, n in counts.items() if word in vocab) / tokens, 4)
        if coverage >= MIN_COVERAGE:
            vectors = artifacts.vectors_root(owner).relative_to(paths.data)
            return vocab, {"vectors": str(vectors), "coverage": coverage}
        log.info("%s covers %.0f%% of the texts' words: not used", owner.processed, 100 * coverage)
    return None, {"vectors": None}


def _write_inputs(
    paths: Paths, train: Sequence[Example], test: Sequence[Example] | None, classes: list[str],
    n_folds: int,
) -> None:  # fmt: skip
    """The TSV files the TFDS builder reads: label ids, folds (-1 in the test file), classes."""
    index = {name: i for i, name in enumerate(classes)}
    labels = [index[e.label] for e in train]
    folds = stratified_folds([e.text for e in train], labels, n_folds)
    rows = zip([e.text for e in train], labels, folds, strict=True)
    prepare.write_input(paths, KIND, TRAIN_FILE, rows)
    prepare.write_input(paths, KIND, CLASSES_FILE, ([name] for name in classes))
    test_path = artifacts.user_input(paths, KIND) / TEST_FILE
    if test is None:
        test_path.unlink(missing_ok=True)
    else:
        prepare.write_input(paths, KIND, TEST_FILE, ((e.text, index[e.label], -1) for e in test))


def encode(paths: Paths, builder: Any, config: TokenizeConfig, test: bool) -> dict[str, Any]:
    """The vocabulary and the id records of the train (and test) split, as for MR."""
    train = builder.as_dataset(split="train")
    tokenizer = Tokenizer("en", lowercase=config.lowercase)
    counts = count_tokens(train.map(lambda ex: ex["text"]), tokenizer, config.batch_size)
    base, vectors = base_vocabulary(paths, counts)
    min_count = config.polarity_min_count
    vocab = base.extended(counts, min_count) if base else Vocabulary.build(counts, min_count)
    vocab.save(paths.processed / artifacts.POLARITY_VOCAB)
    report = {**vectors, "train": encode_labeled(
        train, vocab, config, paths.processed / artifacts.POLARITY_RECORDS, base
    )}  # fmt: skip
    test_records = paths.processed / artifacts.LABELED_TEST_RECORDS
    test_records.unlink(missing_ok=True)
    if test:
        split = builder.as_dataset(split="test")
        report["test"] = encode_labeled(split, vocab, config, test_records, base)
    return report


def outputs(paths: Paths, test: bool) -> list[str]:
    """What the sentiment stage reads (and the stamp digests), relative to the data root."""
    names = [artifacts.POLARITY_VOCAB, artifacts.POLARITY_RECORDS, artifacts.LABELED_INFO]
    names += [artifacts.LABELED_TEST_RECORDS] if test else []
    files = [str((paths.processed / name).relative_to(paths.data)) for name in names]
    return files + prepare.dataset_files(paths, KIND)


@dataclass(frozen=True)
class Request:
    """What the user gave: the files and how to read them."""

    files: list[Path]
    test: Path | None
    text_column: str | None
    label_column: str | None
    folds: int
    decoding: Decoding

    def read(self, path: Path) -> list[Example]:
        return read_examples(path, self.decoding, self.text_column, self.label_column)


def run(paths: Paths, request: Request, config: TokenizeConfig) -> dict[str, Any]:
    """Check every file, then (unless the run is current) build and encode the run's data."""
    if not request.files and request.test is None and (report := prepare.as_it_is(paths, KIND)):
        return report
    if not request.files:
        raise UserDataError(
            "No labeled file given: make sentiment LABELED=reviews.tsv RUN=name "
            "(python -m pipeline.userdata.labeled --run name -- reviews.tsv)."
        )
    if request.folds < 2:
        raise UserDataError(f"--folds must be at least 2, not {request.folds}.")
    inputs = [*request.files, *([request.test] if request.test else [])]
    settings = {
        "text_column": request.text_column, "label_column": request.label_column,
        "folds": request.folds, "test": str(request.test) if request.test else None,
        "encoding": request.decoding.encoding, "encoding_errors": request.decoding.errors,
        "lowercase": config.lowercase, "min_count": config.polarity_min_count,
        "vocabularies": [
            sha256_file(owner.processed / artifacts.CORPUS_VOCAB)
            for owner in _vector_sources(paths)
        ],
    }  # fmt: skip
    return prepare.prepare(paths, KIND, inputs, settings, lambda: build(paths, request, config))


def build(
    paths: Paths, request: Request, config: TokenizeConfig
) -> tuple[dict[str, Any], list[str]]:
    """Read and check every file, then write the inputs, the TFDS dataset and the encoding."""
    train = [example for path in request.files for example in request.read(path)]
    classes = class_names(train)
    test = request.read(request.test) if request.test else None
    if test is not None:
        check_test_labels(test, classes)
    _write_inputs(paths, train, test, classes, request.folds)
    builder = prepare.build_tfds(UserLabeled, paths, KIND)
    report = encode(paths, builder, config, test is not None)
    info = {"classes": classes, "vectors": report["vectors"], "test": test is not None}
    write_json(paths.processed / artifacts.LABELED_INFO, info)
    counts = Counter(example.label for example in train)
    report = {
        "examples": len(train),
        "test_examples": len(test) if test is not None else None,
        "classes": {name: counts[name] for name in classes},
        "folds": None if test is not None else request.folds,
        "duplicate_texts": len(train) - len({example.text for example in train}),
        **report,
    }
    return report, outputs(paths, test is not None)


def summary(report: dict[str, Any]) -> str:
    """The run's data in one line: examples, classes, evaluation, vocabulary, vectors."""
    classes = ", ".join(f"{name} {n:,}" for name, n in list(report["classes"].items())[:10])
    how = (
        f"{report['folds']}-fold CV"
        if report["folds"]
        else f"test file of {report['test_examples']:,}"
    )
    vectors = report["vectors"] or "none (random init)"
    return (
        f"run {report['run']}: {report['examples']:,} examples, {len(report['classes'])} "
        f"classes ({classes}); {how}; vocabulary {report['train']['vocab_size']:,} words, "
        f"UNK {report['train']['unk_rate']:.2%}; word vectors: {vectors}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = stage_parser(__spec__.name, __doc__)
    parser.add_argument("files", nargs="*", type=Path, metavar="FILE", help="labeled tables")
    parser.add_argument("--test", type=Path, help="a test table (default: k-fold CV)")
    for role in ("text", "label"):
        name, position = DEFAULT_COLUMNS[role]
        parser.add_argument(
            f"--{role}-column",
            help=f"the {role} column: a header name or a 0-based position (default: {name!r} "
            f"if the first row names it, else position {position})",
        )
    parser.add_argument("--folds", type=int, help="cross-validation folds (default: preset's)")
    parser.add_argument("--encoding", default="utf-8", help="the files' text encoding")
    parser.add_argument(
        "--encoding-errors",
        choices=("strict", "replace"),
        default="strict",
        help="undecodable bytes: stop at their line (strict) or replace them with U+FFFD",
    )
    args = parser.parse_args(argv)
    preset = PRESETS[args.preset]
    request = Request(
        args.files, args.test, args.text_column, args.label_column,
        args.folds or preset.data.n_folds, Decoding(args.encoding, args.encoding_errors),
    )  # fmt: skip
    return run_stage(
        args,
        lambda args, paths, _: summary(run(paths, request, preset.tokenize)),
        log,
        writes=lambda paths: (paths.processed, paths.tfds),
    )


if __name__ == "__main__":
    # TFDS reads a builder's metadata from its module's package, which __main__ has not.
    from pipeline.userdata import labeled

    sys.exit(labeled.main())
