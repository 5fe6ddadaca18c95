"""``python -m pipeline.userdata.corpus``: the user's own text as a named run's corpus.

``make train-embeddings CORPUS="a.txt b.txt.gz" RUN=name`` (and ``lm``, ``lm-char``,
``sample``, ``eval-embeddings``) run this first. Each non-blank line of the files is one
sentence or paragraph; it is normalized as the embedded corpora are, written to the run's
``input/corpus/corpus.tsv`` (``file<TAB>line``), built into the run's TFDS dataset
``user_corpus`` and encoded exactly as ``make tokenize`` encodes the English corpus: a
vocabulary by frequency (``--lang`` picks the tokenizer's abbreviations, any other code gets
the language-neutral rules) and the EOS-ended id stream, under the run's
``data/processed/user/<name>``. The training stages then read them with ``--run name``.

A vocabulary too small to train on is refused here with its sizes, before any model is built.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline import artifacts
from pipeline.config import Paths, TokenizeConfig
from pipeline.data.clean import normalize
from pipeline.data.tfds_builders import EnCorpus
from pipeline.stage import run_stage, stage_parser
from pipeline.text.tokenizer import ABBREVIATIONS, Tokenizer
from pipeline.text.vocab import RESERVED, Vocabulary
from pipeline.userdata import files, prepare

log = logging.getLogger("pipeline.userdata.corpus")

KIND = "corpus"
INPUT_FILE = "corpus.tsv"  # in the run's input/corpus folder: source file name, line
# Fewest embedded words: a vocabulary of one word has no neighbours and nothing to contrast.
MIN_WORDS = 2


class UserCorpus(EnCorpus, skip_registration=True):
    """The user's text, one sentence or paragraph a line, with the file each line came from.

    Built and read through this class only, never by name, so it stays out of TFDS' registry:
    ``python -m`` runs this file once as ``__main__`` and imports it once more (below).
    """

    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Run `make train-embeddings CORPUS=your.txt RUN=name` (python -m "
        "pipeline.userdata.corpus --run name your.txt): it writes this folder."
    )

    def _split_generators(self, dl_manager: Any) -> dict[str, Any]:
        return {"train": self._generate_examples(self._path(dl_manager, INPUT_FILE))}


@dataclass(frozen=True)
class CorpusText:
    """How a run's corpus was cut into words: every stage reading or serving it cuts alike."""

    lang: str = "en"
    lowercase: bool = True

    def tokenizer(self) -> Tokenizer:
        return Tokenizer(self.lang, lowercase=self.lowercase)


def missing_corpus(paths: Paths, path: Path) -> str:
    """What to run when the encoded corpus ``path`` is missing."""
    if not paths.run:
        return f"{path} is missing; run `make tokenize` first"
    return (
        f"Run {paths.run!r} has no corpus ({path} is missing). Give its text: "
        f"make train-embeddings RUN={paths.run} CORPUS=your.txt"
    )


def corpus_text(paths: Paths) -> CorpusText:
    """The English defaults for the embedded corpus; a named run's own settings otherwise."""
    if not paths.run:
        return CorpusText()
    manifest = artifacts.manifest(paths, KIND)
    try:
        settings = json.loads(manifest.read_text(encoding="utf-8"))["settings"]
    except (OSError, ValueError, KeyError):
        raise FileNotFoundError(missing_corpus(paths, manifest)) from None
    return CorpusText(settings["lang"], settings["lowercase"])


def corpus_lines(paths: Paths) -> Any:
    """The corpus lines as a string ``tf.data.Dataset``: ``make data``'s or the run's own."""
    from pipeline.data.load import load

    if not paths.run:
        dataset = load("en_corpus", "train", data_dir=paths.tfds)
    else:
        corpus_text(paths)  # a run without a corpus says so rather than a TFDS error
        builder = UserCorpus(data_dir=str(artifacts.user_datasets(paths, KIND)))
        dataset = builder.as_dataset(split="train")
    return dataset.map(lambda ex: ex["text"])


def read_lines(sources: list[Path], decoding: files.Decoding) -> list[tuple[str, str]]:
    """``(file name, normalized line)`` of every line with text; all read before any write."""
    rows = []
    for path, _, line in files.text_lines(sources, decoding):
        text = normalize(line)
        if text:
            rows.append((path.name, text))
    return rows


def check_vocabulary(
    texts: list[str], tokenizer: Tokenizer, config: TokenizeConfig
) -> dict[str, int]:
    """The corpus' sizes; a vocabulary the embeddings and the language model could not train
    on is refused with them, before anything is written."""
    from pipeline.encode import count_tokens

    lines = tf_lines(texts)
    counts = count_tokens(lines, tokenizer, config.batch_size)
    words = len(Vocabulary.build(counts, config.corpus_min_count, config.corpus_max_size))
    words -= len(RESERVED)
    sizes = {"lines": len(texts), "tokens": sum(counts.values()), "distinct": len(counts)}
    if words < MIN_WORDS:
        raise files.UserDataError(
            f"The corpus has {sizes['lines']:,} lines, {sizes['tokens']:,} tokens and "
            f"{sizes['distinct']:,} distinct words, of which {words} occur at least "
            f"--corpus-min-count {config.corpus_min_count} times; training needs {MIN_WORDS} "
            "or more. Give more text, or a lower --corpus-min-count "
            '(DATA_ARGS="--corpus-min-count 1").'
        )
    return sizes


def tf_lines(texts: list[str]) -> Any:
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(tf.constant(texts, tf.string))


def build(
    paths: Paths, sources: list[Path], config: TokenizeConfig, lang: str, decoding: files.Decoding
) -> tuple[dict[str, Any], list[str]]:
    """Read and check the files, then write, build and encode the run's corpus."""
    from pipeline.encode import tokenize_corpus

    rows = read_lines(sources, decoding)
    check_vocabulary([text for _, text in rows], Tokenizer(lang, config.lowercase), config)
    path = prepare.write_input(paths, KIND, INPUT_FILE, rows)
    builder = prepare.build_tfds(UserCorpus, paths, KIND)
    texts = builder.as_dataset(split="train").map(lambda ex: ex["text"])
    report = tokenize_corpus(paths, config, texts, lang)
    report["lines_per_file"] = dict(Counter(name for name, _ in rows))
    written = (artifacts.CORPUS_VOCAB, artifacts.CORPUS_IDS)
    outputs = [
        str(path.relative_to(paths.data)),
        *prepare.dataset_files(paths, KIND),
        *(str((paths.processed / name).relative_to(paths.data)) for name in written),
    ]
    return report, outputs


def run(
    paths: Paths, sources: list[Path], config: TokenizeConfig, lang: str, decoding: files.Decoding
) -> dict[str, Any]:
    """Prepare the run's corpus from ``sources``; with none, the run's corpus as it is.

    ``make lm RUN=name`` without CORPUS reruns this stage when the code changed, and a run's
    corpus is only ever rebuilt from files the user names.
    """
    if not sources and paths.run:
        report = prepare.as_it_is(paths, KIND)
        if report is None:
            raise files.UserDataError(
                f"Run {paths.run!r} has no corpus yet; give its text files: make "
                f'train-embeddings RUN={paths.run} CORPUS="a.txt b.txt.gz"'
            )
        return report
    for path in sources:  # the digest reads them first: a missing one is named as here
        next(files.numbered_lines(path, decoding), None)
    settings = {
        "lang": lang,
        "lowercase": config.lowercase,
        "corpus_min_count": config.corpus_min_count,
        "corpus_max_size": config.corpus_max_size,
        "encoding": decoding.encoding,
        "encoding_errors": decoding.errors,
    }
    return prepare.prepare(
        paths, KIND, sources, settings, lambda: build(paths, sources, config, lang, decoding)
    )


def summary(report: dict[str, Any]) -> str:
    rules = "its own" if report["settings"]["lang"] in ABBREVIATIONS else "language-neutral"
    return (
        f"run {report['run']}: {report['sequences']:,} lines, {report['tokens']:,} tokens "
        f"({report['settings']['lang']}, {rules} tokenizer rules); "
        f"{report['vocab_size'] - len(RESERVED):,} of {report['distinct_tokens']:,} distinct "
        f"words kept, the rest UNK ({report['unk_rate']:.2%} of tokens)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = stage_parser(
        __spec__.name,
        __doc__,
        TokenizeConfig,
        only=("lowercase", "corpus_min_count", "corpus_max_size", "batch_size"),
        help={"corpus_min_count": "rarer words become UNK", "corpus_max_size": "most words kept"},
    )
    parser.add_argument(
        "--lang",
        default="en",
        help="language code of the text: en and de have their abbreviations kept whole, any "
        "other code gets the language-neutral rules (default: %(default)s)",
    )
    parser.add_argument("--encoding", default="utf-8", help="the files' text encoding")
    parser.add_argument(
        "--encoding-errors",
        choices=("strict", "replace"),
        default="strict",
        help="strict: stop at the first undecodable line; replace: keep it with U+FFFD",
    )
    parser.add_argument("files", nargs="*", type=Path, help="text files (.gz too), a line each")

    def work(args: argparse.Namespace, paths: Paths, config: TokenizeConfig) -> str:
        decoding = files.Decoding(args.encoding, args.encoding_errors)
        return summary(run(paths, args.files, config, args.lang, decoding))

    return run_stage(
        parser.parse_args(argv),
        work,
        log,
        writes=lambda paths: (paths.processed, paths.tfds),
        config="tokenize",
    )


if __name__ == "__main__":
    # TFDS reads a builder's metadata from its module's package, which __main__ has not.
    from pipeline.userdata import corpus

    sys.exit(corpus.main())
