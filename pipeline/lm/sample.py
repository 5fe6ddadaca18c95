"""``python -m pipeline.lm.sample``: sentences from an exported language model.

Loads the SavedModel with plain ``tf.saved_model.load`` (no ``pipeline`` code runs in the
model), so this is also the reference for using it from other TF programs.
"""

from __future__ import annotations

import argparse
import math
import sys

import tensorflow as tf

from pipeline.artifacts import lm_name, saved_model
from pipeline.config import Paths
from pipeline.io import decode_lines, decode_text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.lm.sample", description=__doc__)
    parser.add_argument(
        "--model",
        default=str(saved_model(Paths(), lm_name("word"))),
        help="SavedModel version folder",
    )
    parser.add_argument("-n", "--num", type=int, default=5, help="sentences to generate")
    parser.add_argument(
        "-t", "--temperature", type=float, default=0.8, help="softmax temperature; 0 is greedy"
    )
    parser.add_argument("--prefix", default="", help="text the sentences continue")
    parser.add_argument("--score", nargs="*", default=[], help="also print log P of these texts")
    parser.add_argument("--seed", type=int, help="random seed for reproducible samples")
    args = parser.parse_args(argv)
    if args.num < 1 or not (math.isfinite(args.temperature) and args.temperature >= 0):
        parser.error("--num must be positive and --temperature a finite number >= 0")
    try:
        lm = tf.saved_model.load(args.model)
    except OSError as err:
        print(f"cannot load {args.model}: {err}. Run `make lm` first.", file=sys.stderr)
        return 1
    if args.seed is not None:
        tf.random.set_seed(args.seed)
    n, temperature = tf.constant(args.num), tf.constant(args.temperature)
    prefix, texts = decode_text(args.prefix, "--prefix"), list(decode_lines(args.score, "--score"))
    if prefix:
        out = lm.sample_prefix(prefix=tf.constant(prefix), n=n, temperature=temperature)
    else:
        out = lm.sample(n=n, temperature=temperature)
    for sentence in out["sentences"].numpy():
        print(sentence.decode("utf-8"))
    if texts:
        scores = lm.score(tf.constant(texts))
        for text, log_prob, tokens in zip(
            texts, scores["log_prob"].numpy(), scores["tokens"].numpy(), strict=True
        ):
            print(
                f"{log_prob:9.2f} log P  ({tokens} tokens, perplexity "
                f"{float(tf.exp(-log_prob / tokens)):.1f})  {text}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
