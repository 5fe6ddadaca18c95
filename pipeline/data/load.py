"""One way to load any dataset: ours (built by ``make data``) or a public TFDS one by name."""

from __future__ import annotations

import os
from pathlib import Path

import tensorflow as tf
import tensorflow_datasets as tfds

from pipeline.data import tfds_builders


def _base_name(name: str) -> str:
    return name.split("/")[0].split(":")[0]


def is_local(name: str) -> bool:
    return _base_name(name) in {_base_name(n) for n in tfds_builders.LOCAL_DATASETS}


def load(
    name: str, split: str, data_dir: str | os.PathLike[str] = "data/tfds", **kwargs
) -> tf.data.Dataset:
    """``tfds.load`` for our datasets and public ones alike.

    Ours never download (their sources are registry packages fetched by ``make data``);
    public ones such as ``imdb_reviews`` or ``ted_hrlr_translate/pt_to_en`` download into
    the same ``data_dir`` on first use where the internet is reachable.
    """
    local = is_local(name)
    try:
        return tfds.load(
            name, split=split, data_dir=os.fspath(data_dir), download=not local, **kwargs
        )
    except (AssertionError, FileNotFoundError, tfds.core.registered.DatasetNotFoundError) as err:
        if local:
            raise FileNotFoundError(
                f"Dataset {name!r} is not built under {Path(data_dir)}. Run `make data` first."
            ) from err
        raise
    except Exception as err:  # network failures surface as many exception types
        if local:
            raise
        raise RuntimeError(
            f"Loading the public TFDS dataset {name!r} failed ({type(err).__name__}: {err}). "
            "It must be downloaded from the internet the first time; on a machine without "
            "it, use the datasets built by `make data`."
        ) from err
