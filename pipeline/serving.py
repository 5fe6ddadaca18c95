"""What the exported SavedModels share: input checks in their graphs and a describing CLI.

A signature declares its input shape, but a concrete function loaded from a SavedModel does
not enforce it: a scalar string reaches the graph and fails deep inside with "slice index 0
of dimension 0 out of bounds". The checks here say what was wrong instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import tensorflow as tf

from pipeline.text import PAD_ID


def assert_batch(texts: tf.Tensor, name: str) -> tf.Operation:
    """An op failing unless ``texts`` is 1-D at run time.

    ``tf.rank`` (and an ``assert_rank``) is folded to the declared rank 1 when the graph is
    optimized, so the rank is read from the run-time shape padded with -1s: a vector's first
    entry is its length (>= 0) and its second is padding.
    """
    dims = tf.concat([tf.shape(texts), [-1, -1]], axis=0)
    return tf.debugging.Assert(
        (dims[0] >= 0) & (dims[1] < 0),
        [
            f"{name} must be a 1-D batch of strings, one text per element; "
            f"wrap a single text in a list, e.g. {name}=tf.constant([text])"
        ],
    )


def at_least_one_column(ids: tf.Tensor) -> tf.Tensor:
    """``ids`` [n, width] PAD-padded to width >= 1.

    A batch of empty texts (or no texts) has width 0, and a recurrent layer cannot run
    zero steps; one PAD column is masked out and changes no result.
    """
    missing = tf.maximum(0, 1 - tf.shape(ids)[1])
    return tf.pad(ids, [[0, 0], [0, missing]], constant_values=PAD_ID)


def signature_lines(model_dir: Path) -> list[str]:
    """Each signature of the SavedModel at ``model_dir`` with its inputs and outputs."""
    loaded = tf.saved_model.load(str(model_dir))
    lines = []
    for key in sorted(loaded.signatures):
        function = loaded.signatures[key]
        _, inputs = function.structured_input_signature
        lines.append(f"{key}:")
        lines += [f"  in  {n}: {_spec(s)}" for n, s in sorted(inputs.items())]
        outputs = function.structured_outputs
        lines += [f"  out {n}: {_spec(s)}" for n, s in sorted(outputs.items())]
    return lines


def _spec(spec: tf.TensorSpec) -> str:
    shape = "[" + ", ".join("N" if d is None else str(d) for d in spec.shape) + "]"
    return f"{spec.dtype.name} {shape}"


def describe_main(
    argv: list[str] | None, prog: str, description: str, default: Path, make_target: str
) -> int:
    """The command line of an export module: what the SavedModel at ``--model`` serves.

    The training stage writes the SavedModel and keeps no other copy of the weights, so
    there is nothing to re-export from; this shows a user (or a script's author) the
    signatures an existing export offers, loaded as any TF program would load it.
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "--model", type=Path, default=default, help="SavedModel folder (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    if not (args.model / "saved_model.pb").exists():
        print(
            f"error: no SavedModel at {args.model}; `{make_target}` trains and exports it, "
            "or pass --model with the folder of another export",
            file=sys.stderr,
        )
        return 1
    print(args.model)
    print("\n".join(signature_lines(args.model)))
    return 0
