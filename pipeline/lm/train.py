"""``python -m pipeline.lm.train``: train the recurrent language model and export it.

Reads the corpus of ``make tokenize`` (word level: the id stream and its vocabulary; character
level: the corpus text), holds out the last sentences of the (shuffled) corpus, trains with
Keras ``fit`` (TensorBoard logs and a backup after each epoch under ``runs/<name>``, from
which a killed run resumes when rerun), measures held-out perplexity against a unigram
baseline, and exports ``saved_models/<name>/1``. Writes ``reports/<name>.json``.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
import warnings
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from pipeline import artifacts
from pipeline.checkpoints import latest_intact, training_state
from pipeline.config import LMConfig, Paths
from pipeline.io import write_json
from pipeline.lm import data
from pipeline.lm.export import LEVELS, TextCodec, export
from pipeline.lm.model import LanguageModel
from pipeline.rnn import KINDS
from pipeline.stage import run_stage, stage_parser
from pipeline.text import EOS_ID, PAD_ID, UNK_ID, Vocabulary
from pipeline.text.vocab import RESERVED
from pipeline.userdata.corpus import corpus_lines, corpus_text, missing_corpus

log = logging.getLogger("pipeline.lm")

# Keras warns that fit ignores shuffle for a tf.data input (ours shuffles itself) and that the
# finite validation set "ran out of data"; neither is actionable.
warnings.filterwarnings("ignore", message=".*shuffle=True.*", category=UserWarning)
warnings.filterwarnings("ignore", message=".*ran out of data.*", category=UserWarning)


def level_sizes(config: LMConfig) -> tuple[int, int]:
    """Tokens per training sentence and steps per epoch at ``config``'s level."""
    if config.level == "word":
        return config.max_len, config.steps_per_epoch
    return config.char_max_len, config.char_steps_per_epoch


def word_corpus(paths: Paths, config: LMConfig) -> tuple[tf.RaggedTensor, Vocabulary]:
    ids_path = paths.processed / artifacts.CORPUS_IDS
    if not ids_path.exists():
        raise FileNotFoundError(missing_corpus(paths, ids_path))
    vocab = Vocabulary.load(paths.processed / artifacts.CORPUS_VOCAB)
    vocab = Vocabulary(vocab.tokens[: config.vocab_size])
    return data.sentences_from_stream(np.load(ids_path), len(vocab)), vocab


def char_corpus(
    paths: Paths, config: LMConfig, lines: int | None = None
) -> tuple[tf.RaggedTensor, Vocabulary]:
    """Characters of every corpus line, or of the first ``lines`` (the corpus is shuffled);
    rare characters (stray symbols, scripts) become UNK."""
    codec = corpus_codec(paths, Vocabulary.build({}), "char")
    texts = corpus_lines(paths)
    if lines is not None:
        texts = texts.take(lines)
    chunks = list(texts.batch(4096).map(codec.tf_units, num_parallel_calls=tf.data.AUTOTUNE))
    if not chunks:
        raise ValueError("the English corpus is empty; run `make data` again")
    counts: Counter[str] = Counter()
    for chars in chunks:
        values, freq = np.unique(chars.flat_values.numpy(), return_counts=True)
        counts.update({v.decode("utf-8"): int(f) for v, f in zip(values, freq, strict=True)})
    vocab = Vocabulary.build(counts, config.char_min_count, config.vocab_size)
    if len(vocab) - len(RESERVED) < 2:
        raise ValueError(
            f"The corpus has {sum(counts.values()):,} characters, {len(counts)} distinct, and "
            f"{len(vocab) - len(RESERVED)} of them occur --char-min-count "
            f"{config.char_min_count} times or more; a character model needs 2 or more. Give "
            f'more text or a lower count (STAGE_ARGS="--char-min-count 1").'
        )
    table = vocab.lookup_table()
    sentences = tf.concat([tf.cast(table.lookup(chars), tf.int32) for chars in chunks], axis=0)
    return data.with_eos(sentences), vocab


def corpus_codec(paths: Paths, vocab: Vocabulary, level: str) -> TextCodec:
    """The codec that cuts text as the run's corpus was cut (a named run's own language)."""
    text = corpus_text(paths)
    return TextCodec(vocab, level, lowercase=text.lowercase, lang=text.lang)


def unigram_perplexity(train: tf.RaggedTensor, held: tf.RaggedTensor, vocab_size: int) -> float:
    """The no-context baseline: add-one unigram probabilities from the training sentences."""
    counts = np.bincount(train.flat_values.numpy(), minlength=vocab_size).astype(np.float64)
    counts[PAD_ID] = 0.0
    log_p = np.log((counts + 1.0) / (counts.sum() + vocab_size))
    return float(np.exp(-log_p[held.flat_values.numpy()].mean()))


class Backup(keras.callbacks.Callback):
    """The run's state after each epoch, so that a killed run resumes where it was.

    Beside what the training continues from (:func:`pipeline.checkpoints.training_state`),
    it holds the per-epoch logs and the training seconds so far: a resumed run reports the
    whole run. The two newest epochs are kept, so a truncated newest backup falls back to
    the one before it (Keras' ``BackupAndRestore`` keeps one by default and saves no logs).

    With the full softmax a resumed run trains exactly as an uninterrupted one; the sampled
    softmax draws its negatives from a stateful sampler whose position is not saved, so
    after a resume they are other draws from the same distribution.
    """

    def __init__(self, model: LanguageModel, directory: str) -> None:
        super().__init__()
        self.epochs_done = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.seconds = tf.Variable(0.0, dtype=tf.float64, trainable=False)
        self._logs = tf.Variable("{}", dtype=tf.string, trainable=False)  # JSON of history
        self.history: dict[str, list[float]] = {}
        checkpoint = tf.train.Checkpoint(
            **training_state(model, model.optimizer),
            epochs_done=self.epochs_done,
            seconds=self.seconds,
            logs=self._logs,
        )
        self.manager = tf.train.CheckpointManager(checkpoint, directory, max_to_keep=2)
        self._epoch_start = 0.0

    def restore(self) -> int:
        """The epochs already done: those of the newest intact backup, if there is one."""
        path = latest_intact(self.manager)
        if path:
            self.manager.checkpoint.restore(path).assert_existing_objects_matched()
            self.history = json.loads(self._logs.numpy().decode("utf-8"))
            log.info("resuming %s after epoch %d", path, int(self.epochs_done))
        return int(self.epochs_done)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        self.seconds.assign_add(time.perf_counter() - self._epoch_start)
        self.epochs_done.assign(epoch + 1)
        self._logs.assign(json.dumps(self.history))
        self.manager.save(checkpoint_number=epoch + 1)


def fit(
    model: LanguageModel,
    config: LMConfig,
    train_sents: tf.RaggedTensor,
    val_sents: tf.RaggedTensor,
    run_dir: Path,
    epochs: int,
) -> Backup:
    """Train up to epoch ``epochs``, resuming from the run's backup; returns the backup.

    A resumed run skips the batches of the epochs done, so it continues with the batches an
    uninterrupted run would use.
    """
    max_len, steps_per_epoch = level_sizes(config)
    model.optimizer.build(model.trainable_variables)  # its variables are in the backup
    backup = Backup(model, str(run_dir / "backup"))
    done = backup.restore()
    batches = dict(batch_size=config.batch_size, max_len=max_len)
    train_ds = data.batches(
        train_sents, **batches, shuffle=True, seed=config.seed, repeat=True,
        skip=done * steps_per_epoch,
    )  # fmt: skip
    model.fit(
        train_ds,
        initial_epoch=done,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        validation_data=data.batches(val_sents, **batches, shuffle=False),
        callbacks=[
            backup,
            keras.callbacks.TensorBoard(str(run_dir / "tensorboard"), update_freq=50),
        ],
        verbose=1 if sys.stderr.isatty() else 2,  # one line per epoch in log files
    )
    return backup


def read_corpus(
    paths: Paths, config: LMConfig
) -> tuple[tf.RaggedTensor, tf.RaggedTensor, Vocabulary]:
    """The training sentences, the held-out ones and the vocabulary at ``config``'s level."""
    corpus = word_corpus if config.level == "word" else char_corpus
    sentences, vocab = corpus(paths, config)
    n = int(sentences.nrows())
    if n <= config.held_out:
        raise ValueError(
            f"The corpus has {n:,} sentences, too few to hold out --held-out "
            f"{config.held_out:,} for perplexity and train on the rest. Give more text, or "
            f'hold out fewer (STAGE_ARGS="--held-out {max(1, n // 10)}").'
        )
    train_sents, held = data.split_held_out(sentences, config.held_out)
    log.info(
        "%s-level LM: %d training sentences (%d tokens), %d held out, vocabulary %d",
        config.level, int(train_sents.nrows()), int(tf.size(train_sents.flat_values)),
        int(held.nrows()), len(vocab),
    )  # fmt: skip
    return train_sents, held, vocab


def compiled_model(config: LMConfig, vocab_size: int) -> LanguageModel:
    """A fresh model of ``config``; :func:`fit` restores a resumed run's weights into it."""
    model = LanguageModel(
        vocab_size,
        embed_dim=config.embed_dim,
        units=config.units,
        layers=config.layers,
        cell=config.cell,
        dropout=config.dropout,
        num_sampled=config.num_sampled,
    )
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate, clipnorm=config.clipnorm))
    return model


def evaluate_held_out(
    model: LanguageModel, config: LMConfig, train_sents: tf.RaggedTensor, held: tf.RaggedTensor
) -> dict[str, Any]:
    """The report's held-out figures: perplexity, its unigram baseline, what the lines hold.

    Training truncates lines to max_len, and so does evaluation (95% of word-level lines are
    shorter); the baseline and the token counts are over the same truncated lines.
    """
    max_len, _ = level_sizes(config)
    held = held[:, :max_len]
    evaluation = model.evaluate(
        data.batches(held, config.batch_size, max_len, shuffle=False), return_dict=True, verbose=0
    )
    targets = held.flat_values.numpy()
    return {
        "held_out_sentences": int(held.nrows()),
        "held_out_tokens": int(targets.size),
        "held_out_unk_rate": round(float(np.mean(targets == UNK_ID)), 5),
        "held_out_eos_share": round(float(np.mean(targets == EOS_ID)), 5),
        "held_out_max_len": max_len,
        "perplexity": round(float(evaluation["perplexity"]), 2),
        "unigram_perplexity": round(unigram_perplexity(train_sents, held, model.vocab_size), 2),
    }


def export_and_sample(
    model: LanguageModel, config: LMConfig, codec: TextCodec, directory: Path
) -> tuple[Path, dict[str, Any]]:
    """Export the model and sample the export as a user will: where it is, and the samples."""
    sample_max_len = config.sample_max_len * (1 if config.level == "word" else 4)
    saved = export(model, codec, sample_max_len, directory)
    reloaded = tf.saved_model.load(str(saved))
    tf.random.set_seed(config.seed)
    samples = reloaded.sample(n=tf.constant(5), temperature=tf.constant(0.8))["sentences"]
    greedy = reloaded.sample(n=tf.constant(1), temperature=tf.constant(0.0))["sentences"]
    return saved, {
        "samples_t0.8": [s.decode("utf-8") for s in samples.numpy()],
        "greedy": greedy.numpy()[0].decode("utf-8"),
    }


def train(paths: Paths, config: LMConfig, max_epochs: int | None = None) -> dict[str, Any]:
    """The whole stage; returns the report it writes to ``reports/<name>.json``.

    ``max_epochs`` ends this process after that many epochs, as if killed after that epoch's
    backup: tests use it to check resumption.
    """
    name = artifacts.lm_name(config.level)
    keras.utils.set_random_seed(config.seed)
    train_sents, held, vocab = read_corpus(paths, config)
    model = compiled_model(config, len(vocab))
    run_dir = paths.runs / name
    epochs = config.epochs if max_epochs is None else min(config.epochs, max_epochs)
    backup = fit(model, config, train_sents, held[: config.val_sentences], run_dir, epochs)
    if epochs < config.epochs:
        return {"epochs": int(backup.epochs_done), "train_seconds": round(float(backup.seconds), 1)}

    held_out = evaluate_held_out(model, config, train_sents, held)
    codec = corpus_codec(paths, vocab, config.level)
    saved, samples = export_and_sample(model, config, codec, artifacts.saved_model(paths, name))
    report = {
        "config": asdict(config),
        "model": str(saved),
        "vocab_size": len(vocab),
        "train_sentences": int(train_sents.nrows()),
        "train_tokens": int(tf.size(train_sents.flat_values)),
        "train_steps": int(backup.epochs_done) * level_sizes(config)[1],
        **held_out,
        "train_seconds": round(float(backup.seconds), 1),
        "history": {k: [round(v, 4) for v in vs] for k, vs in backup.history.items()},
        **samples,
    }
    write_json(artifacts.report(paths, name), report)
    if (run_dir / "backup").exists():
        shutil.rmtree(run_dir / "backup")  # the run is done: a rerun trains afresh
    return report


def summary(report: dict[str, Any]) -> str:
    lines = [
        f"{report['model']}: held-out perplexity {report['perplexity']:.1f} "
        f"(unigram baseline {report['unigram_perplexity']:.1f}) over "
        f"{report['held_out_tokens']:,} tokens, UNK {report['held_out_unk_rate']:.2%}; "
        f"trained {report['train_seconds']:.0f} s",
        "samples (temperature 0.8):",
        *(f"  {s}" for s in report["samples_t0.8"]),
        f"greedy: {report['greedy']}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = stage_parser(
        __spec__.name,
        __doc__,
        LMConfig,
        outputs=True,
        choices={"level": LEVELS, "cell": KINDS},
    )
    return run_stage(
        parser.parse_args(argv),
        lambda args, paths, config: summary(train(paths, config)),
        log,
        writes=lambda paths: (paths.reports, paths.saved_models, paths.runs),
        config="lm",
    )


if __name__ == "__main__":
    sys.exit(main())
