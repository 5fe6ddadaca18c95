"""Translate sentences with the exported translator (``make translate``).

Reads ``--text`` (repeatable) or, without it, one sentence per line from stdin, and prints
one translation per input line, in order (an empty line gives an empty line; bytes that are
not UTF-8 become U+FFFD, with a warning naming the line). Only the
SavedModel is used, as any other program would use it; ``--plot DIR`` also writes each
sentence's attention heatmap to ``DIR/NNNN.png``.
"""

from __future__ import annotations

import argparse
import logging
import math
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the SentencePiece ops the SavedModel uses)

from pipeline.artifacts import TRANSLATOR, saved_model
from pipeline.config import Paths
from pipeline.io import decode_lines, stdin_lines
from pipeline.stage import setup_logging
from pipeline.translate.heatmap import plot_attention

log = logging.getLogger(__name__)

DEFAULT_MODEL = saved_model(Paths(), TRANSLATOR)
BATCH = 64  # lines translated together


def _batches(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def translate_lines(
    translator: Any,
    lines: Iterable[str],
    beam_size: int,
    alpha: float,
    n_best: int = 1,
    prefixes: Sequence[str] = ("",),
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(input line, that line's outputs as numpy values) for each line, in order.

    ``prefixes`` holds one prefix for every line, or one per line."""
    prefix_of = (lambda _: prefixes[0]) if len(prefixes) == 1 else prefixes.__getitem__
    done = 0
    for batch in _batches(lines, BATCH):
        out = translator.signatures["serving_default"](
            sentences=tf.constant(batch, tf.string),
            beam_size=tf.constant(beam_size, tf.int32),
            alpha=tf.constant(alpha, tf.float32),
            n_best=tf.constant(n_best, tf.int32),
            prefix=tf.constant([prefix_of(done + i) for i in range(len(batch))], tf.string),
        )
        done += len(batch)
        out = {key: value.numpy() for key, value in out.items()}
        for i, line in enumerate(batch):
            yield line, {key: value[i] for key, value in out.items()}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.translate", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="SavedModel folder")
    parser.add_argument(
        "--text", action="append", help="a sentence to translate (repeatable; default: stdin)"
    )
    parser.add_argument("--beam-size", type=int, default=5, help="beam width (default: 5)")
    parser.add_argument(
        "--alpha", type=float, default=0.6, help="length penalty T^alpha (default: 0.6)"
    )
    parser.add_argument(
        "--n-best",
        type=int,
        default=1,
        help="print the N best translations of each line as 'line<TAB>rank<TAB>score<TAB>"
        "log P<TAB>translation' (N <= beam size; default: 1, the translation alone)",
    )
    parser.add_argument(
        "--prefix",
        action="append",
        help="text every translation must start with: once for all lines, or once per --text",
    )
    parser.add_argument("--plot", type=Path, help="folder for one attention heatmap per line")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def _settings_error(args: argparse.Namespace) -> str | None:
    """What is wrong with the flags before any model is loaded, or None."""
    if args.beam_size < 1:
        return "--beam-size must be >= 1"
    if not math.isfinite(args.alpha) or args.alpha < 0:
        return "--alpha must be a finite number >= 0"
    if not 1 <= args.n_best <= args.beam_size:
        return "--n-best must be between 1 and --beam-size"
    many = args.prefix is not None and len(args.prefix) > 1
    if many and (args.text is None or len(args.prefix) != len(args.text)):
        return "give --prefix once (for every line) or once per --text, in the same order"
    return None


def _print(number: int, line: str, out: dict[str, Any], args: argparse.Namespace) -> None:
    translation = out["translations"].decode("utf-8")
    if out["truncated"]:
        log.warning("line %d is too long: only its first words were translated", number)
    if args.n_best == 1:
        print(translation, flush=True)
    else:
        ranked = zip(
            out["hypotheses"], out["hypothesis_scores"], out["hypothesis_log_probs"], strict=True
        )
        for rank, (text, score, log_prob) in enumerate(ranked, start=1):
            print(f"{number}\t{rank}\t{score:.4f}\t{log_prob:.4f}\t{text.decode()}", flush=True)
    if args.plot:
        path = args.plot / f"{number:04d}.png"
        if plot_attention(
            out["attention"], out["source_tokens"], out["target_tokens"], path,
            title=f"{line[:80]}\n{translation[:80]}",
        ):  # fmt: skip
            log.info("wrote %s", path)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    error = _settings_error(args)
    if error:
        log.error("%s", error)
        return 2
    if not (args.model / "saved_model.pb").exists():
        log.error("%s is not a SavedModel; run `make export-translator` first", args.model)
        return 1
    translator = tf.saved_model.load(str(args.model))
    lines = decode_lines(args.text, "--text") if args.text is not None else stdin_lines()
    prefixes = list(decode_lines(args.prefix, "--prefix")) if args.prefix else [""]
    try:
        outputs = translate_lines(
            translator, lines, args.beam_size, args.alpha, args.n_best, prefixes
        )
        for number, (line, out) in enumerate(outputs, start=1):
            _print(number, line, out, args)
    except tf.errors.InvalidArgumentError as err:  # a setting the model rejects
        reason = re.search(r"assertion failed: \[([^\]]*)\]", err.message)
        log.error("%s", reason[1] if reason else err.message)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
