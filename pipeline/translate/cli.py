"""Flags shared by the stages that read a trained translator (export, BLEU, error analysis)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline import artifacts
from pipeline.config import PRESETS, Paths, override
from pipeline.stage import add_common_args, paths_from_args


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


def model_dir_from_args(args: argparse.Namespace) -> Path:
    """``--model-dir``, or where ``make train-translate`` puts the best weights."""
    if args.model_dir:
        return args.model_dir
    config = override(
        PRESETS[args.preset].translate, source=args.source, target=args.target, tokens=args.tokens
    )
    return artifacts.run_dir(paths_from_args(args), config) / artifacts.BEST
