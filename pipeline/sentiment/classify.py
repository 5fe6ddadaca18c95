"""``python -m pipeline.sentiment.classify``: label texts with the exported sentiment model.

Texts come from the arguments, or one per line from standard input when there are none;
bytes that are not UTF-8 become U+FFFD, with a warning naming the line.
Prints ``label<TAB>P(positive)<TAB>text`` per text. Only TensorFlow is needed: the
SavedModel tokenizes in its own graph.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipeline.io import decode_lines, stdin_lines

DEFAULT_MODEL = Path("saved_models/sentiment/1")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.sentiment.classify", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("texts", nargs="*", help="texts to classify (default: stdin lines)")
    parser.add_argument(
        "--model", type=Path, default=DEFAULT_MODEL, help="SavedModel (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    if not (args.model / "saved_model.pb").exists():
        print(f"error: no SavedModel at {args.model}; run `make sentiment` first", file=sys.stderr)
        return 1
    texts = list(decode_lines(args.texts, "argument") if args.texts else stdin_lines())
    if not texts:
        print("error: no texts given", file=sys.stderr)
        return 1
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf  # after the checks, so --help and errors are instant

    classify = tf.saved_model.load(str(args.model)).signatures["serving_default"]
    out = classify(texts=tf.constant(texts))
    for text, name, prob in zip(
        texts, out["label_name"].numpy(), out["probability"].numpy(), strict=True
    ):
        print(f"{name.decode()}\t{prob:.3f}\t{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
