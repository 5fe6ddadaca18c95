"""``python -m pipeline.userdata.parallel``: your own parallel text, ready for the translator.

``make train-translate RUN=name PAIRS=train.tsv`` (source<TAB>target lines) or ``SOURCE=train.xx
TARGET=train.yy`` (line-aligned files) runs this first. The pairs are normalized
(:func:`pipeline.data.clean.normalize`) and split into train, dev and test: the dev and test
files given (``--dev``/``--test``: one TSV, or two line-aligned files), or else sources held
out by a hash of their normalized text, the rule of the embedded de-en data
(:func:`pipeline.data.ding.hold_out`), so the held-out sets stay put when the corpus grows.
No training pair shares a source or a target with dev or test, and a dev pair whose source is
also in test leaves dev. The splits become the run's TFDS dataset ``user_parallel/<src>-<tgt>``
(features named by the language codes) and are encoded as ``make tokenize`` encodes the
embedded corpus (:func:`pipeline.encode.tokenize_translate`): the same word vocabularies,
joint SentencePiece model and id records, under the run's ``data/processed/user/<run>``, which
the translator's stages read with ``--run``. The languages are the files' extensions
(``train.en``, ``train.de``) or ``--source``/``--target``; the tokenizer applies its rules for a
language it knows (de, en) and its generic rules to any other.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import tensorflow_datasets as tfds

from pipeline import artifacts, encode
from pipeline.config import Paths, TokenizeConfig
from pipeline.data import ding
from pipeline.data.clean import normalize
from pipeline.data.tfds_builders import read_tsv
from pipeline.stage import run_stage, stage_parser
from pipeline.text import subwords
from pipeline.userdata import files, prepare

log = logging.getLogger(__name__)

KIND = "parallel"
DATASET = "user_parallel"
# The builder's files in the run's input/parallel folder, by TFDS split.
SPLIT_FILES = {"train": "train.tsv", "validation": "dev.tsv", "test": "test.tsv"}
# A language code names a record feature and the translator's run folder (<src>-<tgt>).
LANG_CODE = re.compile(r"[A-Za-z]{2,8}(?:_[A-Za-z0-9]{1,8})?")
RESERVED = ("kind",)  # the records' own feature
TEXT_SUFFIXES = ("txt", "tsv", "csv", "text")  # file extensions that name no language
HELD_OUT_SHARE = 0.05  # of the distinct sources, for each of dev and test when no file is given
HELD_OUT_MAX = 1000
# The tokenize settings that shape a run's encoding (the corpus and polarity ones do not apply).
TOKENIZE_FLAGS = (
    "lowercase",
    "translate_min_count",
    "translate_max_size",
    "translate_subword_size",
    "translate_subword_model",
    "batch_size",
)


@dataclasses.dataclass(eq=False)
class LanguagePair(tfds.core.BuilderConfig):
    """A run's two languages: the dataset's feature names."""

    source: str = ""
    target: str = ""


class UserParallel(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Your sentence pairs, features named by their language codes; train/validation/test.

    Unregistered: the module is also run as ``__main__``, which would register the class
    twice. The stages load the dataset by name from its own files (TFDS reads a dataset
    whose builder it does not know from them), which is also how a run's language pair
    config, unknown to the class, is found.
    """

    VERSION = tfds.core.Version("1.0.0")
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Give your files to `python -m pipeline.userdata.parallel --run NAME --pairs F` (or "
        "--source-file F --target-file F); it writes this folder."
    )

    def _info(self) -> tfds.core.DatasetInfo:
        pair = self.builder_config
        return tfds.core.DatasetInfo(
            builder=self,
            description="Sentence pairs from the user's files (pipeline.userdata.parallel).",
            features=tfds.features.FeaturesDict(
                {pair.source: tfds.features.Text(), pair.target: tfds.features.Text()}
            ),
            supervised_keys=(pair.source, pair.target),
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
        root = Path(dl_manager.manual_dir)
        return {split: self._generate_examples(root / name) for split, name in SPLIT_FILES.items()}

    def _generate_examples(self, path: Path) -> Iterator[tuple[int, dict[str, str]]]:
        pair = self.builder_config
        for i, (source, target) in enumerate(read_tsv(path)):
            yield i, {pair.source: source, pair.target: target}


def dataset_name(source: str, target: str) -> str:
    return f"{DATASET}/{source}-{target}"


def read_pairs(paths: Sequence[Path], decoding: files.Decoding) -> list[ding.Pair]:
    """One TSV or two line-aligned files -> normalized pairs (checked before any is used)."""
    if len(paths) == 1:
        rows = files.parallel_tsv(paths[0], decoding)
    else:
        rows = files.aligned_lines(paths[0], paths[1], decoding)
    pairs = []
    for number, source, target in rows:
        pair = ding.Pair(normalize(source), normalize(target), "sentence")
        if not pair.de or not pair.en:
            side = "source" if not pair.de else "target"
            where = paths[0] if len(paths) == 1 or not pair.de else paths[1]
            raise files.UserDataError(
                f"{where}:{number}: the {side} side holds only invisible or control characters."
            )
        pairs.append(pair)
    return pairs


def check_language(code: str, flag: str) -> str:
    if not LANG_CODE.fullmatch(code) or code in RESERVED:
        raise files.UserDataError(
            f"{flag} {code!r} is not a usable language code: give 2-8 letters, optionally "
            "followed by _ and a region or script (en, de, pt_BR, zh_Hant)."
        )
    return code


def languages(source: str | None, target: str | None, train: Sequence[Path]) -> tuple[str, str]:
    """``--source``/``--target``, else the extensions of two line-aligned files (fairseq's
    ``train.en``/``train.de`` convention)."""
    if source is None or target is None:
        suffixes = [Path(p.name.removesuffix(".gz")).suffix[1:] for p in train]
        guessed = [s for s in suffixes if s and s.lower() not in TEXT_SUFFIXES]
        if len(train) != 2 or len(guessed) != 2 or not all(map(LANG_CODE.fullmatch, guessed)):
            raise files.UserDataError(
                "Give the languages with --source and --target (e.g. --source fr --target en; "
                'with make: DATA_ARGS="--source fr --target en"), or name two line-aligned '
                "files by them (train.fr, train.en)."
            )
        source, target = source or guessed[0], target or guessed[1]
        log.info("languages from the file names: %s -> %s", source, target)
    source, target = check_language(source, "--source"), check_language(target, "--target")
    if source == target:
        raise files.UserDataError(
            f"--source and --target are both {source!r}; the two languages need different "
            "codes (e.g. en and en_simple)."
        )
    return source, target


def held_out_size(requested: int | None, sources: int) -> int:
    """``requested``, or 5% of the distinct sources, at least 1 and at most 1,000."""
    if requested is not None:
        return requested
    return max(1, min(HELD_OUT_MAX, round(HELD_OUT_SHARE * sources)))


def _keys(pairs: Sequence[ding.Pair]) -> set[str]:
    return {ding.sentence_key(p.de) for p in pairs}  # ding's Pair: de is the source side


def split(
    train: list[ding.Pair],
    dev: list[ding.Pair] | None,
    test: list[ding.Pair] | None,
    sizes: tuple[int | None, int | None] = (None, None),
) -> tuple[dict[str, list[ding.Pair]], dict[str, int]]:
    """train/dev/test and what was dropped: the given dev and test pairs, or sources held out
    of ``train`` by hash (``sizes``: dev, test); then no training pair shares a source or a
    target with dev or test, and no dev source is a test source (test keeps it)."""
    read, distinct = len(train), len(_keys(train))
    n_dev = 0 if dev is not None else held_out_size(sizes[0], distinct)
    n_test = 0 if test is not None else held_out_size(sizes[1], distinct)
    held: dict[str, list[ding.Pair]] = {"train": train, "dev": [], "test": []}
    if n_dev + n_test:
        if distinct < n_dev + n_test + 1:
            raise files.UserDataError(
                f"The training pairs have {distinct:,} distinct source sentences: too few to "
                f"hold out {n_dev:,} for dev and {n_test:,} for test and still train. Give "
                "smaller --dev-size/--test-size, or your own dev and test files (DEV=, TEST=)."
            )
        held = ding.hold_out(train, lambda _: True, n_test=n_test, n_dev=n_dev)
    dev = held["dev"] if dev is None else dev
    test = held["test"] if test is None else test
    in_test = _keys(test)
    kept_dev = [p for p in dev if ding.sentence_key(p.de) not in in_test]
    if not kept_dev:
        raise files.UserDataError(
            "Every dev source is also a test source, so dev would be empty: give a dev file "
            "with other sentences (or none, to hold dev out of the training pairs)."
        )
    kept_train = ding.without_keys(held["train"], ding.held_keys(kept_dev + test))
    if not kept_train:
        raise files.UserDataError(
            "Every training pair shares its source or target with a dev or test pair; give "
            "training pairs with other sentences."
        )
    dropped = {
        "dev_pairs_in_test": len(dev) - len(kept_dev),
        "train_pairs_in_dev_or_test": read - len(kept_train) - len(held["dev"] + held["test"]),
    }
    return {"train": kept_train, "dev": kept_dev, "test": test}, dropped


# Which of the user's files hold which split: one path (TSV) or two (source, target).
Inputs = dict[str, tuple[Path, ...]]


def build(
    paths: Paths,
    inputs: Inputs,
    pair: tuple[str, str],
    config: TokenizeConfig,
    sizes: tuple[int | None, int | None],
    decoding: files.Decoding,
) -> tuple[dict[str, Any], list[str]]:
    """Read and split the pairs, write the run's TSVs and TFDS dataset, and encode it."""
    read = {name: read_pairs(given, decoding) for name, given in inputs.items()}
    splits, dropped = split(read["train"], read.get("dev"), read.get("test"), sizes)
    for name, tfds_split in (("train", "train"), ("dev", "validation"), ("test", "test")):
        rows = ((p.de, p.en) for p in splits[name])
        prepare.write_input(paths, KIND, SPLIT_FILES[tfds_split], rows)
    source, target = pair
    builder_config = LanguagePair(name=f"{source}-{target}", source=source, target=target)
    prepare.build_tfds(UserParallel, paths, KIND, config=builder_config)
    config = dataclasses.replace(
        config, translate_dataset=dataset_name(source, target), translate_langs=pair
    )
    encoded = encode.tokenize_translate(paths, config, artifacts.user_datasets(paths, KIND))
    report = {
        "source": source,
        "target": target,
        "dataset": config.translate_dataset,
        "config": dataclasses.asdict(config),
        "pairs_read": {name: len(pairs) for name, pairs in read.items()},
        "held_out": {name: "file" if name in inputs else "hash" for name in ("dev", "test")},
        "dropped": dropped,
        "translate": encoded,
    }
    names = encode.translate_outputs(config, encoded["splits"])
    outputs = [str((paths.processed / name).relative_to(paths.data)) for name in names]
    return report, [*prepare.dataset_files(paths, KIND), *outputs]


def summary(report: dict[str, Any]) -> str:
    read = ", ".join(f"{name} {n:,}" for name, n in report["pairs_read"].items())
    held = ", ".join(f"{name} from the {how}" for name, how in report["held_out"].items())
    dropped = report["dropped"]
    return "\n".join(
        [
            f"run {report['run']}: {report['source']} -> {report['target']}; pairs read: {read}; "
            f"{held}; dropped {dropped['train_pairs_in_dev_or_test']:,} training pairs sharing "
            f"a sentence with dev/test, {dropped['dev_pairs_in_test']:,} dev pairs in test",
            *encode.translate_summary(report["translate"]),
        ]
    )


def _file_set(values: Sequence[Path] | None, flag: str) -> tuple[Path, ...] | None:
    if values is not None and len(values) not in (1, 2):
        raise files.UserDataError(
            f"{flag} takes one TSV (source<TAB>target) or two line-aligned files (source, "
            f"then target), not {len(values)} files."
        )
    return tuple(values) if values is not None else None


def inputs_from_args(args: argparse.Namespace) -> Inputs:
    """The training files (``--pairs``, or ``--source-file`` with ``--target-file``), dev, test."""
    two = (args.source_file, args.target_file)
    tsv = args.pairs is not None and two == (None, None)
    if not tsv and (args.pairs is not None or None in two):
        raise files.UserDataError(
            "Give the training pairs as --pairs FILE (source<TAB>target lines; make: PAIRS=) "
            "or as --source-file FILE --target-file FILE (line-aligned; make: SOURCE=, TARGET=)."
        )
    given = {"train": (args.pairs,) if args.pairs else two}
    for name in ("dev", "test"):
        held = _file_set(getattr(args, name), f"--{name}")
        if held is not None:
            given[name] = held
    return given


def run(args: argparse.Namespace, paths: Paths, config: TokenizeConfig) -> dict[str, Any]:
    """The prepare step: nothing is redone when the files and settings are the same."""
    # TFDS warns of a "custom data configuration", which a run's language pair always is.
    logging.getLogger("absl").setLevel(logging.ERROR)
    given = (args.pairs, args.source_file, args.target_file, args.dev, args.test)
    if all(item is None for item in given) and (report := prepare.as_it_is(paths, KIND)):
        return report
    inputs = inputs_from_args(args)
    pair = languages(args.source, args.target, inputs["train"])
    for flag, size in (("--dev-size", args.dev_size), ("--test-size", args.test_size)):
        if size is not None and size < 1:
            raise files.UserDataError(f"{flag} must be at least 1, not {size}.")
    decoding = files.Decoding(args.encoding, args.encoding_errors)
    settings = {
        "files": {name: [str(p) for p in given] for name, given in inputs.items()},
        "languages": pair,
        "sizes": [args.dev_size, args.test_size],
        "tokenize": {name: getattr(config, name) for name in TOKENIZE_FLAGS},
        "decoding": dataclasses.asdict(decoding),
    }
    every = [path for given in inputs.values() for path in given]
    return prepare.prepare(
        paths,
        KIND,
        every,
        settings,
        lambda: build(paths, inputs, pair, config, (args.dev_size, args.test_size), decoding),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = stage_parser(
        __spec__.name,
        __doc__,
        TokenizeConfig,
        only=TOKENIZE_FLAGS,
        choices={"translate_subword_model": subwords.MODEL_TYPES},
    )
    add = parser.add_argument
    add("--pairs", type=Path, metavar="FILE", help="training pairs, source<TAB>target lines")
    add("--source-file", type=Path, metavar="FILE", help="training sources, a sentence a line")
    add("--target-file", type=Path, metavar="FILE", help="their translations, line by line")
    for name in ("dev", "test"):
        add(
            f"--{name}",
            type=Path,
            nargs="+",
            metavar="FILE",
            help=f"{name} pairs: one TSV or two line-aligned files (source, target); default: "
            "sources held out of the training pairs by hash",
        )
        add(
            f"--{name}-size",
            type=int,
            metavar="N",
            help=f"sources held out for {name} without --{name} (default: 5%% of the distinct "
            "sources, at least 1, at most 1000)",
        )
    add("--source", help="source language code (default: the --source-file extension)")
    add("--target", help="target language code (default: the --target-file extension)")
    add("--encoding", default="utf-8", help="the files' text encoding (default: %(default)s)")
    add(
        "--encoding-errors",
        choices=("strict", "replace"),
        default="strict",
        help="undecodable bytes stop with their line (strict) or become U+FFFD (replace)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_stage(
        build_parser().parse_args(argv),
        lambda args, paths, config: summary(run(args, paths, config)),
        log,
        writes=lambda paths: (paths.processed, paths.tfds),
        config="tokenize",
    )


if __name__ == "__main__":
    sys.exit(main())
