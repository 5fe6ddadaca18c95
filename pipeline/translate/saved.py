"""A trained translator on disk: weights checkpoint + ``translator.json`` + both vocabularies.

Training writes the best weights to ``runs/translate/<src>-<tgt>/best/``;
:func:`load_trained` rebuilds the model from that folder alone (the vocabularies are copied
in), for decoding, BLEU and export.

Variables are checkpointed by their position in ``model.weights`` rather than through
Keras' object graph: TF's checkpoint tracking does not follow Keras 3 layers kept in lists
(our deep encoder, the bridge), which would silently leave them out of the checkpoint.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, fields
from pathlib import Path

import tensorflow as tf

from pipeline.checkpoints import indexed
from pipeline.config import TranslateConfig
from pipeline.io import write_json
from pipeline.text import Vocabulary
from pipeline.translate.model import Translator

META = "translator.json"
SOURCE_VOCAB = "source_vocab.txt"
TARGET_VOCAB = "target_vocab.txt"


def build_model(
    config: TranslateConfig, source_vocab_size: int, target_vocab_size: int
) -> Translator:
    model = Translator(
        source_vocab_size,
        target_vocab_size,
        embed_dim=config.embed_dim,
        units=config.units,
        attention_units=config.attention_units,
        cell=config.cell,
        encoder_layers=config.encoder_layers,
        dropout=config.dropout,
    )
    model.warm_up()
    return model


def prepare_model_dir(
    model_dir: Path, config: TranslateConfig, source_vocab: Path, target_vocab: Path
) -> None:
    """Copy the vocabularies and write ``translator.json`` (weights come with each save)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source_vocab, model_dir / SOURCE_VOCAB)
    shutil.copyfile(target_vocab, model_dir / TARGET_VOCAB)
    write_json(
        model_dir / META,
        {
            "config": asdict(config),
            "source_vocab": SOURCE_VOCAB,
            "target_vocab": TARGET_VOCAB,
            "weights": "ckpt",
        },
    )


def load_trained(
    path: str | os.PathLike[str],
) -> tuple[Translator, Vocabulary, Vocabulary, TranslateConfig]:
    """(model, source vocabulary, target vocabulary, config) from a model folder.

    ``path`` is the folder holding ``translator.json`` (e.g. ``runs/translate/de-en/best``)
    or that file itself. Dropout is inactive unless a call passes ``training=True``.
    """
    path = Path(path)
    model_dir = path.parent if path.name == META else path
    meta_path = model_dir / META
    if not meta_path.exists():
        raise FileNotFoundError(f"{meta_path} is missing; run `make train-translate` first")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    known = {f.name for f in fields(TranslateConfig)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["config"].items()}
    config = TranslateConfig(**{k: v for k, v in values.items() if k in known})
    source_vocab = Vocabulary.load(model_dir / meta["source_vocab"])
    target_vocab = Vocabulary.load(model_dir / meta["target_vocab"])
    model = build_model(config, len(source_vocab), len(target_vocab))
    latest = tf.train.latest_checkpoint(str(model_dir / meta["weights"]))
    if latest is None:
        raise FileNotFoundError(f"no weights checkpoint under {model_dir / meta['weights']}")
    status = tf.train.Checkpoint(model=indexed(model.weights)).restore(latest)
    status.assert_existing_objects_matched()
    return model, source_vocab, target_vocab, config
