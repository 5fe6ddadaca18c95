"""Flags shared by the stages that read a trained translator (export, BLEU, error analysis),
and a named run's settings, which training shares too."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pipeline import artifacts
from pipeline.config import PRESETS, Paths, TranslateConfig, override
from pipeline.stage import add_common_args, paths_from_args

USER_KIND = "parallel"  # a named run's parallel text (pipeline.userdata.parallel)


def add_model_args(parser: argparse.ArgumentParser) -> None:
    add_common_args(parser)
    parser.add_argument("--runs-dir", type=Path, default=Paths.runs, help="training runs")
    parser.add_argument("--source", help="source language (default: the preset's, de)")
    parser.add_argument("--target", help="target language (default: the preset's, en)")
    parser.add_argument(
        "--tokens",
        choices=artifacts.UNITS,
        help="which trained model: subword (default, RUNS/translate/SRC-TGT) or word "
        "(RUNS/translate/SRC-TGT-word)",
    )
    parser.add_argument(
        "--model-dir", type=Path, help="trained model folder (default: from --tokens, .../best)"
    )


def add_average_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--average-last",
        type=int,
        metavar="K",
        help="decode the mean of the weights of the run's last K checkpoints (RUN/ckpt beside "
        "RUN/best; training keeps --keep-checkpoints of them); 1 is the best dev-loss weights "
        "unaveraged (default: the preset's average_last, "
        f"{PRESETS['default'].translate.average_last} for the default one; a run with fewer "
        "checkpoints than that decodes its best weights)",
    )


def average_from_args(args: argparse.Namespace) -> tuple[int, bool]:
    """K of ``--average-last``, or the preset's, and whether the user gave it."""
    if args.average_last is not None:
        return args.average_last, True
    return PRESETS[args.preset].translate.average_last, False


def model_dir_from_args(args: argparse.Namespace) -> Path:
    """``--model-dir``, or where ``make train-translate`` puts the best weights."""
    if args.model_dir:
        return args.model_dir
    paths = paths_from_args(args)
    config = override(
        PRESETS[args.preset].translate, source=args.source, target=args.target, tokens=args.tokens
    )
    return artifacts.run_dir(paths, run_config(paths, config, args)) / artifacts.BEST


def user_corpus(paths: Paths) -> dict[str, Any]:
    """A named run's parallel text as its prepare step recorded it (languages, dataset,
    tokenize settings): the manifest of :mod:`pipeline.userdata.parallel`."""
    manifest = artifacts.manifest(paths, USER_KIND)
    try:
        return json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{manifest} is missing: run {paths.run!r} has no parallel text yet. Give it with "
            f"`make train-translate RUN={paths.run} PAIRS=train.tsv` (or SOURCE= and TARGET=)."
        ) from None


def run_config(paths: Paths, config: TranslateConfig, args: argparse.Namespace) -> TranslateConfig:
    """``config`` for a named run: its languages where ``--source``/``--target`` are unset, and
    all pairs alike where ``--mix`` is (the preset's mix weighs the embedded corpus' kinds)."""
    if not paths.run:
        return config
    corpus = user_corpus(paths)
    return override(
        config,
        source=corpus["source"] if args.source is None else None,
        target=corpus["target"] if args.target is None else None,
        mix="" if getattr(args, "mix", None) is None else None,
    )


def default_run(paths: Paths) -> str:
    """The translator run whose reports have the plain names (``bleu``, not ``bleu_<run>``):
    de-en, or a named run's own language pair."""
    if not paths.run:
        return artifacts.DEFAULT_RUN
    corpus = user_corpus(paths)
    return artifacts.run_name(TranslateConfig(source=corpus["source"], target=corpus["target"]))
