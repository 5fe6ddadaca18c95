"""Presets and paths shared by every stage.

``smoke`` runs in seconds on fixture data (tests), ``default`` is sized for a 2-core CPU and
finishes in minutes, ``full`` is for bigger machines. A stage's flags override its preset.
"""

from __future__ import annotations

import argparse
import logging
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Paths:
    """Where artifacts live; every stage reads its inputs from here and writes below it."""

    data: Path = Path("data")
    reports: Path = Path("reports")
    saved_models: Path = Path("saved_models")

    @property
    def raw(self) -> Path:
        return self.data / "raw"

    @property
    def processed(self) -> Path:
        return self.data / "processed"

    @property
    def tfds(self) -> Path:
        return self.data / "tfds"


@dataclass(frozen=True)
class DataConfig:
    n_test: int = 1000
    n_dev: int = 1000
    n_folds: int = 10
    # English corpus sources to use; empty means every source in pipeline.data.english.
    corpus_sources: tuple[str, ...] = ()
    min_corpus_tokens: int = 10_000_000


@dataclass(frozen=True)
class TokenizeConfig:
    lowercase: bool = True
    # Embedding corpus vocabulary (also used for sentiment, which reuses the embeddings).
    corpus_min_count: int = 5
    corpus_max_size: int = 100_000
    # Translation vocabularies, one per language, built on the training split only. Any
    # TFDS parallel corpus works, e.g. ted_hrlr_translate/pt_to_en with langs ("pt", "en").
    translate_dataset: str = "ding_de_en"
    translate_langs: tuple[str, ...] = ("de", "en")
    translate_min_count: int = 2
    translate_max_size: int = 30_000
    batch_size: int = 1024


@dataclass(frozen=True)
class Preset:
    data: DataConfig
    tokenize: TokenizeConfig


PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        DataConfig(n_test=3, n_dev=3, n_folds=2, min_corpus_tokens=0),
        TokenizeConfig(corpus_min_count=1, translate_min_count=1, batch_size=16),
    ),
    "default": Preset(DataConfig(), TokenizeConfig()),
    "full": Preset(
        DataConfig(),
        TokenizeConfig(corpus_min_count=3, corpus_max_size=300_000, translate_min_count=1),
    ),
}


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="default",
        help="size preset (default: %(default)s)",
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Paths.data, help="data root (default: %(default)s)"
    )
    parser.add_argument(
        "--reports-dir",
        type=Path,
        default=Paths.reports,
        help="reports folder (default: %(default)s)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def paths_from_args(args: argparse.Namespace) -> Paths:
    return Paths(data=args.data_dir, reports=args.reports_dir)


def setup_logging(verbose: bool = False) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname).1s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


def override(config: T, **values: Any) -> T:
    """``config`` with the given fields replaced, ignoring values left at None (unset flags)."""
    names = {f.name for f in fields(config)}  # type: ignore[arg-type]
    return replace(config, **{k: v for k, v in values.items() if k in names and v is not None})  # type: ignore[type-var]
