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
from collections.abc import Iterable, Iterator
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
    translator: Any, lines: Iterable[str], beam_size: int, alpha: float
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(input line, that line's outputs as numpy values) for each line, in order."""
    for batch in _batches(lines, BATCH):
        out = translator.signatures["serving_default"](
            sentences=tf.constant(batch, tf.string),
            beam_size=tf.constant(beam_size, tf.int32),
            alpha=tf.constant(alpha, tf.float32),
        )
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
    parser.add_argument("--plot", type=Path, help="folder for one attention heatmap per line")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    if args.beam_size < 1:
        log.error("--beam-size must be >= 1")
        return 2
    if not math.isfinite(args.alpha) or args.alpha < 0:
        log.error("--alpha must be a finite number >= 0")
        return 2
    if not (args.model / "saved_model.pb").exists():
        log.error("%s is not a SavedModel; run `make export-translator` first", args.model)
        return 1
    translator = tf.saved_model.load(str(args.model))
    lines = decode_lines(args.text, "--text") if args.text is not None else stdin_lines()
    try:
        for number, (line, out) in enumerate(
            translate_lines(translator, lines, args.beam_size, args.alpha), start=1
        ):
            translation = out["translations"].decode("utf-8")
            if out["truncated"]:
                log.warning("line %d is too long: only its first words were translated", number)
            print(translation, flush=True)
            if args.plot:
                path = args.plot / f"{number:04d}.png"
                if plot_attention(
                    out["attention"], out["source_tokens"], out["target_tokens"], path,
                    title=f"{line[:80]}\n{translation[:80]}",
                ):  # fmt: skip
                    log.info("wrote %s", path)
    except tf.errors.InvalidArgumentError as err:  # a setting the model rejects
        reason = re.search(r"assertion failed: \[([^\]]*)\]", err.message)
        log.error("%s", reason[1] if reason else err.message)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
