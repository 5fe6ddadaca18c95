"""``python -m pipeline.sentiment.classify``: label texts with the exported sentiment model.

Texts come from the arguments, or one per line from standard input when there are none;
bytes that are not UTF-8 become U+FFFD, with a warning naming the line.
Prints ``label<TAB>P(positive)<TAB>text`` per text (with more than two classes,
``label<TAB>class=P class=P ...<TAB>text``, the classes in the model's order), and warns
of a text without a single word the model knows (empty, or unknown words only), whose
label is only the model's bias.
Only TensorFlow is needed: the SavedModel tokenizes in its own graph.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from pipeline.artifacts import saved_model, sentiment_name
from pipeline.config import Paths
from pipeline.io import decode_lines, stdin_lines

log = logging.getLogger(__name__)

DEFAULT_MODEL = saved_model(Paths(), sentiment_name("mr"))


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
    columns = (out[k].numpy() for k in ("label_name", "known_tokens"))
    for number, (text, name, known, scores) in enumerate(
        zip(texts, *columns, _scores(out), strict=True), 1
    ):
        if known == 0:  # the label is the model's bias alone
            log.warning("text %d has no word the model knows; its label is a guess", number)
        print(f"{name.decode()}\t{scores}\t{text}")
    return 0


def _scores(out: dict) -> list[str]:
    """P(positive) of each text, or every class' probability of a model of more classes."""
    if "probabilities" not in out:
        return [f"{p:.3f}" for p in out["probability"].numpy()]
    names = [name.decode() for name in out["class_names"].numpy()]
    return [
        " ".join(f"{name}={p:.3f}" for name, p in zip(names, row, strict=True))
        for row in out["probabilities"].numpy()
    ]


if __name__ == "__main__":
    sys.exit(main())
