"""A trained translator on disk: weights checkpoint + ``translator.json`` + its text codec.

Training writes the best weights to ``runs/translate/<run>/best/``; :func:`load_trained`
rebuilds the model and its codec (:mod:`pipeline.translate.codec`) from that folder alone,
for decoding, BLEU and export. The codec's files are copied in: the joint SentencePiece
model of a subword translator, or both vocabularies of a word-level one.

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

from pipeline import artifacts
from pipeline.artifacts import (
    MODEL_META,
    MODEL_SOURCE_VOCAB,
    MODEL_SUBWORDS,
    MODEL_TARGET_VOCAB,
    MODEL_WEIGHTS,
)
from pipeline.checkpoints import indexed
from pipeline.config import TranslateConfig
from pipeline.io import write_json
from pipeline.text import Tokenizer, Vocabulary
from pipeline.text.subwords import load_model
from pipeline.translate.codec import Codec, SubwordCodec, WordCodec
from pipeline.translate.model import Translator


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


def codec_files(processed: Path, config: TranslateConfig) -> dict[str, Path]:
    """The tokenize files a model of ``config.tokens`` needs, by their name in its folder."""
    if config.tokens == "subword":
        return {MODEL_SUBWORDS: processed / artifacts.SUBWORD_MODEL}
    return {
        MODEL_SOURCE_VOCAB: processed / artifacts.vocab_file(config.source),
        MODEL_TARGET_VOCAB: processed / artifacts.vocab_file(config.target),
    }


def prepare_model_dir(
    model_dir: Path, config: TranslateConfig, files: dict[str, Path], lowercase: bool
) -> None:
    """Copy the codec's files and write ``translator.json`` (weights come with each save)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    for name, source in files.items():
        shutil.copyfile(source, model_dir / name)
    meta = {"config": asdict(config), "lowercase": lowercase, "weights": MODEL_WEIGHTS}
    write_json(model_dir / MODEL_META, meta)


def load_codec(files: dict[str, Path], config: TranslateConfig, lowercase: bool) -> Codec:
    """The codec from its files, named as :func:`codec_files` names them."""
    if config.tokens == "subword":
        return SubwordCodec(load_model(files[MODEL_SUBWORDS]))
    return WordCodec(
        (Tokenizer(config.source, lowercase), Vocabulary.load(files[MODEL_SOURCE_VOCAB])),
        (Tokenizer(config.target, lowercase), Vocabulary.load(files[MODEL_TARGET_VOCAB])),
    )


def load_trained(path: str | os.PathLike[str]) -> tuple[Translator, Codec, TranslateConfig]:
    """(model, codec, config) from a model folder.

    ``path`` is the folder holding ``translator.json`` (e.g. ``runs/translate/de-en/best``)
    or that file itself. Dropout is inactive unless a call passes ``training=True``.
    """
    path = Path(path)
    model_dir = path.parent if path.name == MODEL_META else path
    meta_path = model_dir / MODEL_META
    if not meta_path.exists():
        raise FileNotFoundError(f"{meta_path} is missing; run `make train-translate` first")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    known = {f.name for f in fields(TranslateConfig)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["config"].items()}
    config = TranslateConfig(**{k: v for k, v in values.items() if k in known})
    names = codec_files(model_dir, config)
    codec = load_codec({name: model_dir / name for name in names}, config, meta["lowercase"])
    model = build_model(config, *codec.sizes)
    latest = tf.train.latest_checkpoint(str(model_dir / meta["weights"]))
    if latest is None:
        raise FileNotFoundError(f"no weights checkpoint under {model_dir / meta['weights']}")
    status = tf.train.Checkpoint(model=indexed(model.weights)).restore(latest)
    status.assert_existing_objects_matched()
    return model, codec, config
