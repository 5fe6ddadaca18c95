"""``python -m pipeline.translate.train``: train the attention translator (default de -> en).

Teacher forcing with a masked, label-smoothed cross-entropy, Adam with gradient clipping by
global norm, and dropout, in a custom ``tf.distribute`` loop (``--strategy``). The run lives
in ``runs/translate/<src>-<tgt>/``: checkpoints every ``save_every`` steps, the last
``keep_checkpoints`` kept (a killed run resumes from the newest one that reads back whole when
rerun; decoding and export use their mean, :mod:`pipeline.translate.averaging`), TensorBoard
logs, and ``best/``, the weights with the lowest dev loss plus everything
:func:`pipeline.translate.load_trained` needs. Training stops
after ``epochs`` epochs of ``steps_per_epoch`` steps, after ``patience`` epochs without a
better dev loss (under the default schedule the rate halves after each, see
:mod:`pipeline.translate.schedule` for it and the cosine one), or
after ``max_minutes``. Writes ``reports/train_translate.json``.

With ``--run NAME`` it trains on the run's own parallel text (:mod:`pipeline.userdata.parallel`),
in its languages unless ``--source``/``--target`` say otherwise, every pair weighed alike.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from pipeline import artifacts
from pipeline.checkpoints import indexed, latest_intact, training_state
from pipeline.config import Paths, TranslateConfig
from pipeline.data.tfds_builders import TRANSLATE_KINDS
from pipeline.io import write_json
from pipeline.rnn import KINDS
from pipeline.stage import EXPECTED, run_stage, stage_parser
from pipeline.text import PAD_ID
from pipeline.translate import data, schedule
from pipeline.translate.cli import default_run, run_config, user_corpus
from pipeline.translate.model import Translator
from pipeline.translate.saved import build_model, codec_files, load_codec, prepare_model_dir

log = logging.getLogger("pipeline.translate")

STRATEGIES = ("default", "mirrored", "multi_worker")
SUMMARY_EVERY = 20  # steps between TensorBoard points
LOG_EVERY = 100  # steps between log lines when there is no progress bar
# The reasons a run stops by its rules; a rerun of a stopped run reports the one that holds.
EARLY_STOP = "early stop: no better dev loss for {patience} epochs"
TIME_UP = "time budget of {minutes:g} min used"


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; the checkpoints on disk predate it."""


def make_strategy(name: str) -> tf.distribute.Strategy:
    """``multi_worker`` reads the cluster from ``TF_CONFIG``; create it before any TF op."""
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "default":
        return tf.distribute.get_strategy()
    raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker" and resolver.task_id == 0
    )


def token_losses(
    logits: tf.Tensor, labels: tf.Tensor, smoothing: float = 0.0
) -> tuple[tf.Tensor, tf.Tensor]:
    """Per-token (training loss, negative log-likelihood) for logits (K, V), labels (K,).

    The training loss mixes the NLL with the cross-entropy against the uniform distribution
    (label smoothing); perplexities always use the plain NLL.
    """
    log_probs = tf.nn.log_softmax(logits)
    nll = -tf.gather(log_probs, labels, axis=1, batch_dims=1)
    if not smoothing:
        return nll, nll
    uniform = -tf.reduce_mean(log_probs, axis=-1)
    return (1.0 - smoothing) * nll + smoothing * uniform, nll


def masked_loss(
    model: Translator, batch: data.Batch, smoothing: float = 0.0, training: bool = False
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Sums over the non-PAD targets of (training loss, NLL), and their count."""
    source, target_in, target_out = batch
    positions = tf.not_equal(target_out, PAD_ID)
    logits = model.teacher_forced(source, target_in, positions, training=training)
    loss, nll = token_losses(logits, tf.boolean_mask(target_out, positions), smoothing)
    count = tf.reduce_sum(tf.cast(positions, tf.float32))
    return tf.reduce_sum(loss), tf.reduce_sum(nll), count


def learning_rate(config: TranslateConfig) -> float | keras.optimizers.schedules.CosineDecay:
    """Adam's step: a number the dev-loss rule halves, or a cosine decay over the whole run."""
    if config.lr_schedule == "cosine":
        total_steps = config.epochs * config.steps_per_epoch
        return keras.optimizers.schedules.CosineDecay(config.learning_rate, total_steps)
    return config.learning_rate


class Trainer:
    """The model, optimizer and compiled steps of one run under one strategy."""

    def __init__(
        self,
        config: TranslateConfig,
        source_vocab_size: int,
        target_vocab_size: int,
        strategy: tf.distribute.Strategy,
    ) -> None:
        self.config = config
        self.strategy = strategy
        with strategy.scope():
            self.model = build_model(config, source_vocab_size, target_vocab_size)
            self.optimizer = keras.optimizers.Adam(learning_rate(config))
            self.optimizer.build(self.model.trainable_variables)
        # Run state, saved with the weights so an interrupted run resumes where it was.
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.best_dev = tf.Variable(math.inf, dtype=tf.float64, trainable=False)
        self.bad_epochs = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.elapsed = tf.Variable(0.0, dtype=tf.float64, trainable=False)
        self.stopped = tf.Variable(False, trainable=False)
        # The NLL sum and target count of the epoch so far, so that an epoch resumed mid-way
        # reports its mean over all its steps.
        self.epoch_nll = tf.Variable(0.0, dtype=tf.float64, trainable=False)
        self.epoch_targets = tf.Variable(0.0, dtype=tf.float64, trainable=False)
        self.checkpoint = tf.train.Checkpoint(
            **training_state(self.model, self.optimizer),
            step=self.step,
            best_dev=self.best_dev,
            bad_epochs=self.bad_epochs,
            elapsed=self.elapsed,
            stopped=self.stopped,
            epoch_nll=self.epoch_nll,
            epoch_targets=self.epoch_targets,
        )
        self.weights_only = tf.train.Checkpoint(model=indexed(self.model.weights))
        self._eval = tf.function(
            lambda s, t_in, t_out: masked_loss(self.model, (s, t_in, t_out))[1:],
            input_signature=[tf.TensorSpec([None, None], tf.int32)] * 3,
        )

    def learning_rate(self) -> float:
        # Through a tensor: float() fails on a distributed (mirrored) variable.
        return float(tf.convert_to_tensor(self.optimizer.learning_rate))

    def _replica_step(self, batch: data.Batch) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        context = tf.distribute.get_replica_context()
        replicas = self.strategy.num_replicas_in_sync
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            loss_sum, nll_sum, count = masked_loss(
                self.model, batch, self.config.label_smoothing, training=True
            )
            # Mean over the tokens of the global batch, whatever each replica holds.
            total = context.all_reduce(tf.distribute.ReduceOp.SUM, count)
            loss = loss_sum / tf.maximum(total, 1.0)
        grads = tape.gradient(loss, variables)
        if replicas > 1:
            # Clip the norm of the summed gradient, as one device would; the optimizer sums
            # the replicas' gradients again, hence the division.
            grads = context.all_reduce(
                tf.distribute.ReduceOp.SUM, [tf.convert_to_tensor(g) for g in grads]
            )
            grads, _ = tf.clip_by_global_norm(grads, self.config.clipnorm)
            grads = [g / replicas for g in grads]
        else:
            grads, _ = tf.clip_by_global_norm(grads, self.config.clipnorm)
        self.optimizer.apply_gradients(zip(grads, variables, strict=True))
        return loss_sum, nll_sum, count

    def make_train_fn(self) -> Any:
        @tf.function
        def train_fn(iterator: Any) -> tuple[tf.Tensor, ...]:
            results = self.strategy.run(self._replica_step, args=(next(iterator),))
            return tuple(
                self.strategy.reduce(tf.distribute.ReduceOp.SUM, r, axis=None) for r in results
            )

        return train_fn

    def evaluate(self, batches: tf.data.Dataset) -> tuple[float, int]:
        """Mean NLL per target token over ``batches``, and the token count."""
        nll, count = 0.0, 0.0
        for source, target_in, target_out in batches:
            batch_nll, batch_count = self._eval(source, target_in, target_out)
            nll += float(batch_nll)
            count += float(batch_count)
        return nll / max(count, 1.0), int(count)


def kind_weights(mix: str) -> list[float] | None:
    """``"sentence=0.3,lexical=0.1"`` as a weight per kind of the data stage (kinds left out
    get 0); ``""`` is None, the corpus' own mix."""
    if not mix.strip():
        return None
    weights = dict.fromkeys(TRANSLATE_KINDS, 0.0)
    for item in mix.split(","):
        name, _, value = item.partition("=")
        name = name.strip()
        if name not in weights:
            raise ValueError(f"--mix names kind {name!r}; the kinds are {', '.join(weights)}")
        try:
            weights[name] = float(value)
        except ValueError:
            raise ValueError(f"--mix gives {name} the weight {value!r}, not a number") from None
        if not math.isfinite(weights[name]) or weights[name] < 0:
            raise ValueError(f"--mix gives {name} the weight {value}; weights must be >= 0")
    if not sum(weights.values()):
        raise ValueError(f"--mix {mix!r} gives every kind weight 0")
    return list(weights.values())


def read_training_pairs(
    path: Path, config: TranslateConfig
) -> tf.data.Dataset | list[tf.data.Dataset]:
    """The training pairs, one dataset per kind when ``config.mix`` weighs the kinds."""
    if kind_weights(config.mix) is None:
        return data.read_pairs(path, config.source, config.target)
    return [
        data.read_pairs(path, config.source, config.target, kind=k)
        for k in range(len(TRANSLATE_KINDS))
    ]


def training_batches(
    pairs: tf.data.Dataset | list[tf.data.Dataset], config: TranslateConfig, skip: int = 0
) -> tf.data.Dataset:
    """The batch stream a run of ``config`` trains on (from batch ``skip``), also benchmarked.

    ``pairs`` are :func:`read_training_pairs`.
    """
    return data.train_batches(
        pairs,
        batch_size=config.batch_size,
        max_len=config.max_len,
        shuffle_buffer=config.shuffle_buffer,
        seed=config.seed,
        skip=skip,
        kind_weights=kind_weights(config.mix),
    )


def read_history(path: Path, up_to_step: int) -> list[dict[str, float]]:
    """The per-epoch records of the run so far, so a resumed run reports its whole curve.

    Records past ``up_to_step`` (epochs finished after the checkpoint being resumed) are
    dropped; they will be redone. A missing or unreadable file starts the curve afresh.
    """
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as err:
        log.warning("ignoring unreadable %s (%s); the report's curve restarts here", path, err)
        return []
    return [r for r in records if r["step"] <= up_to_step]


def _tokenize_lowercase(paths: Paths) -> bool:
    """Whether ``make tokenize`` (or a named run's prepare step) lowercased the word-level
    records the model trains on."""
    if paths.run:
        return bool(user_corpus(paths)["config"]["lowercase"])
    manifest = artifacts.manifest(paths, "tokenize")
    if not manifest.exists():
        raise FileNotFoundError(f"{manifest} is missing; run `make tokenize` first")
    return bool(json.loads(manifest.read_text(encoding="utf-8"))["config"]["lowercase"])


def _dev_pairs(paths: Paths, config: TranslateConfig) -> tf.data.Dataset:
    """Every dev split the data has (Ding's and the localization one): early stopping and
    the learning-rate schedule watch both kinds of text."""
    files = [
        paths.processed / artifacts.translate_records(config.tokens, split)
        for split in ("dev", "loc_dev")
    ]
    present = [f for f in files if f.exists()] or files[:1]
    pairs = [data.read_pairs(f, config.source, config.target) for f in present]
    for more in pairs[1:]:
        pairs[0] = pairs[0].concatenate(more)
    return pairs[0]


@dataclass
class Run:
    """One process' share of a run: what the steps of :func:`train` hand each other."""

    config: TranslateConfig
    strategy: tf.distribute.Strategy
    chief: bool
    trainer: Trainer
    run_dir: Path
    best_dir: Path
    manager: tf.train.CheckpointManager  # the run's state, every ``save_every`` steps
    best_manager: tf.train.CheckpointManager  # the weights of the lowest dev loss
    dev: tf.data.Dataset
    iterator: Any
    train_fn: Any
    writer: Any
    history_path: Path
    history: list[dict[str, float]]
    sizes: tuple[int, int]  # source and target vocabulary
    parameters: int
    budget: float  # seconds of the whole run, over all its processes
    elapsed_before: float  # seconds of the run before this process
    session_start: float = field(default_factory=time.perf_counter)
    # Training steps only, for the report's throughput.
    session_tokens: int = 0
    session_train_seconds: float = 0.0

    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.session_start

    def save(self, epoch_nll: float, epoch_targets: float) -> None:
        self.trainer.elapsed.assign(self.elapsed())
        self.trainer.epoch_nll.assign(epoch_nll)
        self.trainer.epoch_targets.assign(epoch_targets)
        self.manager.save(checkpoint_number=int(self.trainer.step))


@dataclass
class Epoch:
    """The running totals of one epoch; one resumed mid-way starts from the saved ones."""

    index: int
    nll: float
    targets: float
    start: float = field(default_factory=time.perf_counter)
    seconds: float = 0.0  # its steps', evaluation excluded
    tokens: int = 0
    cut_short: str = ""  # "time" (budget used) or "max_steps" (the tests' simulated kill)


def open_checkpoints(
    trainer: Trainer, save_root: Path
) -> tuple[tf.train.CheckpointManager, tf.train.CheckpointManager]:
    """The run's checkpoint managers (state, best weights), resumed from its newest intact one."""
    keep = trainer.config.keep_checkpoints
    if keep < 2:
        raise ValueError(
            f"--keep-checkpoints {keep} is too few: keep at least 2, so that a run killed while "
            "writing its newest checkpoint resumes from the one before it."
        )
    checkpoints = str(save_root / artifacts.RUN_CHECKPOINTS)
    manager = tf.train.CheckpointManager(trainer.checkpoint, checkpoints, keep)
    best_manager = tf.train.CheckpointManager(
        trainer.weights_only, str(save_root / artifacts.BEST / artifacts.MODEL_WEIGHTS), 1
    )
    resume_from = latest_intact(manager)
    if resume_from:
        trainer.checkpoint.restore(resume_from).assert_existing_objects_matched()
        log.info("resuming %s at step %d", resume_from, int(trainer.step))
    return manager, best_manager


def setup(paths: Paths, config: TranslateConfig, strategy: tf.distribute.Strategy) -> Run:
    """Data, model, optimizer and checkpoints of the run, at the step it resumes from."""
    chief = is_chief(strategy)
    keras.utils.set_random_seed(config.seed)
    lowercase = _tokenize_lowercase(paths)
    files = codec_files(paths.processed, config)
    source_size, target_size = load_codec(files, config, lowercase).sizes
    train_pairs = read_training_pairs(
        paths.processed / artifacts.translate_records(config.tokens, "train"), config
    )
    dev = data.eval_batches(_dev_pairs(paths, config), config.batch_size)
    run_dir = artifacts.run_dir(paths, config)
    # Non-chief workers must save too (saving is collective) but into throwaway folders.
    save_root = run_dir if chief else Path(tempfile.mkdtemp(prefix="translate_worker_"))
    trainer = Trainer(config, source_size, target_size, strategy)
    manager, best_manager = open_checkpoints(trainer, save_root)
    if chief:
        prepare_model_dir(save_root / artifacts.BEST, config, files, lowercase)
    params = sum(int(np.prod(v.shape)) for v in trainer.model.trainable_variables)
    log.info(
        "%s -> %s: vocabularies %d / %d, %s parameters, %d replica(s)",
        config.source, config.target, source_size, target_size, f"{params:,}",
        strategy.num_replicas_in_sync,
    )  # fmt: skip
    stream = training_batches(train_pairs, config, skip=int(trainer.step))
    writer = tf.summary.create_noop_writer()
    if chief:
        writer = tf.summary.create_file_writer(str(run_dir / "tensorboard"))
    history_path = save_root / "history.json"
    return Run(
        config=config,
        strategy=strategy,
        chief=chief,
        trainer=trainer,
        run_dir=run_dir,
        best_dir=save_root / artifacts.BEST,
        manager=manager,
        best_manager=best_manager,
        dev=dev,
        iterator=iter(strategy.experimental_distribute_dataset(stream)),
        train_fn=trainer.make_train_fn(),
        writer=writer,
        history_path=history_path,
        history=read_history(history_path, int(trainer.step)),
        sizes=(source_size, target_size),
        parameters=params,
        budget=config.max_minutes * 60.0 if config.max_minutes > 0 else math.inf,
        elapsed_before=float(trainer.elapsed),
    )


def train_step(run: Run, step: int) -> tuple[float, float]:
    """One global step after ``step``: its NLL sum and target count.

    A NaN or infinite loss stops the run before anything is saved.
    """
    start = time.perf_counter()
    loss, nll, count = (float(x) for x in run.train_fn(run.iterator))
    run.session_train_seconds += time.perf_counter() - start
    if not (math.isfinite(loss) and math.isfinite(nll)):
        raise NonFiniteLossError(
            f"training loss became {loss} at step {step + 1}; stopped without saving, "
            f"so the checkpoints in {run.run_dir} (last: {run.manager.latest_checkpoint}) "
            "are intact. Lower --learning-rate or --clipnorm and rerun."
        )
    run.trainer.step.assign_add(1)
    return nll, count


def show_progress(run: Run, step: int, epoch: Epoch, bar: tqdm, nll: float, count: float) -> None:
    """The progress bar (a log line instead when there is none) and TensorBoard's curves."""
    rate = epoch.tokens / max(time.perf_counter() - epoch.start, 1e-9)
    bar.update(1)
    bar.set_postfix(loss=f"{nll / max(count, 1):.3f}", tok_s=f"{rate:,.0f}")
    if step % LOG_EVERY == 0 and bar.disable:
        log.info("step %d: loss %.3f, %.0f tokens/s", step, nll / max(count, 1), rate)
    if step % SUMMARY_EVERY == 0:
        mean = epoch.nll / max(epoch.targets, 1.0)
        with run.writer.as_default(step=step):
            tf.summary.scalar("train/loss", mean)
            tf.summary.scalar("train/perplexity", math.exp(min(mean, 50.0)))
            tf.summary.scalar("train/tokens_per_second", rate)
            tf.summary.scalar("train/learning_rate", run.trainer.learning_rate())


def run_epoch(run: Run, max_steps: int | None) -> Epoch:
    """Train to the end of the current epoch, or until the time budget or ``max_steps``."""
    config, trainer = run.config, run.trainer
    step = int(trainer.step)
    index = step // config.steps_per_epoch
    epoch_end = (index + 1) * config.steps_per_epoch
    bar = tqdm(
        total=config.steps_per_epoch,
        initial=step - index * config.steps_per_epoch,
        desc=f"epoch {index + 1}/{config.epochs}",
        unit="step",
        disable=not sys.stderr.isatty(),
        leave=False,
    )
    epoch = Epoch(index, float(trainer.epoch_nll), float(trainer.epoch_targets))
    while step < epoch_end:
        nll, count = train_step(run, step)
        step += 1
        epoch.tokens += int(count)
        run.session_tokens += int(count)
        epoch.nll, epoch.targets = epoch.nll + nll, epoch.targets + count
        show_progress(run, step, epoch, bar, nll, count)
        # An epoch's last step is saved after its evaluation, so that a checkpoint at an
        # epoch's end always has that epoch's record in the history.
        if step % config.save_every == 0 and step < epoch_end:
            run.save(epoch.nll, epoch.targets)
        if run.elapsed() >= run.budget:
            epoch.cut_short = "time"
            break
        if max_steps is not None and step >= max_steps:
            epoch.cut_short = "max_steps"
            break
    bar.close()
    epoch.seconds = time.perf_counter() - epoch.start
    return epoch


def record_epoch(run: Run, epoch: Epoch, dev_loss: float) -> dict[str, float]:
    """The epoch's entry in the history (written at once) and TensorBoard."""
    step = int(run.trainer.step)
    train_loss = epoch.nll / max(epoch.targets, 1.0)
    entry = {
        "step": step,
        "train_loss": round(train_loss, 4),
        "dev_loss": round(dev_loss, 4),
        "dev_perplexity": round(math.exp(min(dev_loss, 50.0)), 2),
        "tokens_per_second": round(epoch.tokens / max(epoch.seconds, 1e-9), 1),
        "learning_rate": run.trainer.learning_rate(),
    }
    run.history.append(entry)
    if run.chief:
        write_json(run.history_path, run.history)
    with run.writer.as_default(step=step):
        tf.summary.scalar("dev/loss", dev_loss)
        tf.summary.scalar("dev/perplexity", entry["dev_perplexity"])
    run.writer.flush()
    return entry


def evaluate_and_schedule(run: Run, epoch: Epoch) -> str:
    """Evaluate the epoch on dev, keep the best weights and apply :func:`schedule.after_epoch`;
    the reason to stop, or ``""`` to go on."""
    config, trainer = run.config, run.trainer
    dev_loss, _ = trainer.evaluate(run.dev)
    entry = record_epoch(run, epoch, dev_loss)
    before = schedule.Schedule(
        float(trainer.best_dev), int(trainer.bad_epochs), trainer.learning_rate()
    )
    after, stop = schedule.after_epoch(before, dev_loss, config.patience)
    improved = after.bad_epochs == 0
    log.info(
        "epoch %d (step %d): train loss %.3f, dev loss %.3f (perplexity %.1f)%s, %.0f tok/s",
        epoch.index + 1, entry["step"], epoch.nll / max(epoch.targets, 1.0), dev_loss,
        entry["dev_perplexity"], " *" if improved else "", entry["tokens_per_second"],
    )  # fmt: skip
    trainer.best_dev.assign(after.best_dev)
    trainer.bad_epochs.assign(after.bad_epochs)
    if config.lr_schedule == "plateau":
        trainer.optimizer.learning_rate.assign(after.learning_rate)
    if improved:
        run.best_manager.save(checkpoint_number=entry["step"])
    return EARLY_STOP.format(patience=config.patience) if stop else ""


def still_stopped(run: Run) -> str:
    """Why a run that stopped stays stopped, or ``""``: the rule that stopped it, if it still
    holds. A rerun with a longer time budget or more patience resumes instead, as one with more
    epochs does; one that stays stopped reports the same reason its run ended with."""
    trainer, config = run.trainer, run.config
    if not bool(trainer.stopped):
        return ""
    if int(trainer.bad_epochs) >= config.patience:
        return EARLY_STOP.format(patience=config.patience)
    if run.elapsed() >= run.budget:
        return TIME_UP.format(minutes=config.max_minutes)
    return ""


def train_epochs(run: Run, max_steps: int | None) -> str:
    """Epochs until one of the stopping rules holds; returns which one."""
    trainer, total_steps = run.trainer, run.config.epochs * run.config.steps_per_epoch
    stop_reason = still_stopped(run)
    trainer.stopped.assign(bool(stop_reason))
    while not stop_reason:
        if int(trainer.step) >= total_steps:
            return "epochs done"
        epoch = run_epoch(run, max_steps)
        if epoch.cut_short == "max_steps":
            # Like a kill: no save, so the rerun redoes the steps since the last checkpoint.
            return f"max_steps {max_steps} reached"
        stop_reason = evaluate_and_schedule(run, epoch)
        if epoch.cut_short == "time" and not stop_reason:
            stop_reason = TIME_UP.format(minutes=run.config.max_minutes)
        if stop_reason:
            trainer.stopped.assign(True)
        run.save(0.0, 0.0)
    return stop_reason


def write_report(paths: Paths, run: Run, stop_reason: str) -> dict[str, Any]:
    """The dev loss of the best weights, rebuilt as a later stage will, and the run's figures."""
    config, trainer, history = run.config, run.trainer, run.history
    if run.best_manager.latest_checkpoint:
        trainer.weights_only.restore(run.best_manager.latest_checkpoint).assert_consumed()
    dev_loss, dev_tokens = trainer.evaluate(run.dev)
    report = {
        "config": asdict(config),
        "strategy": type(run.strategy).__name__,
        "replicas": run.strategy.num_replicas_in_sync,
        "model_dir": str(run.best_dir),
        "parameters": run.parameters,
        "source_vocab_size": run.sizes[0],
        "target_vocab_size": run.sizes[1],
        "dev_loss": round(dev_loss, 4),
        "dev_perplexity": round(math.exp(min(dev_loss, 50.0)), 2),
        "dev_tokens": dev_tokens,
        "steps": int(trainer.step),
        "stop_reason": stop_reason,
        "train_seconds": round(float(trainer.elapsed), 1),
        # Training steps only (evaluation and checkpoints excluded) of this process, or the
        # epochs' mean if it only rewrote the report of a finished run.
        "tokens_per_second": round(
            run.session_tokens / run.session_train_seconds
            if run.session_tokens
            else float(np.mean([r["tokens_per_second"] for r in history] or [0.0])),
            1,
        ),
        "history": history,
    }
    if run.chief:
        name = artifacts.run_report(
            "train_translate", artifacts.run_name(config), default_run(paths)
        )
        write_json(artifacts.report(paths, name), report)
    return report


def train(
    paths: Paths,
    config: TranslateConfig,
    strategy: tf.distribute.Strategy | None = None,
    max_steps: int | None = None,
) -> dict[str, Any]:
    """The whole stage; returns the report it writes to ``reports/train_translate.json``.

    ``max_steps`` ends this process after that many global steps, as if killed there (no
    checkpoint is written): tests use it to check resumption.
    """
    run = setup(paths, config, strategy or tf.distribute.get_strategy())
    stop_reason = train_epochs(run, max_steps)
    log.info("stopped: %s", stop_reason)
    if max_steps is not None and not bool(run.trainer.stopped):
        return {"stop_reason": stop_reason, "steps": int(run.trainer.step)}
    return write_report(paths, run, stop_reason)


def summary(report: dict[str, Any]) -> str:
    return (
        f"{report['model_dir']}: dev loss {report['dev_loss']:.3f} "
        f"(perplexity {report['dev_perplexity']:.1f}) over {report['dev_tokens']:,} tokens; "
        f"{report['steps']} steps in {report['train_seconds']:.0f} s "
        f"({report['tokens_per_second']:,.0f} target tokens/s; {report['stop_reason']})"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = stage_parser(
        __spec__.name,
        __doc__,
        TranslateConfig,
        outputs=True,
        choices={"tokens": artifacts.UNITS, "cell": KINDS, "lr_schedule": schedule.KINDS},
        help={
            "mix": "shares of the training pairs by kind, e.g. sentence=0.3,phrase=0.15,"
            "lexical=0.15,catalogue=0.4 (the default); '' follows the corpus"
        },
    )
    parser.add_argument("--strategy", choices=STRATEGIES, default="default")
    parser.add_argument(
        "--restart",
        action="store_true",
        help="discard this direction's checkpoints and train from scratch (otherwise an "
        "interrupted run resumes, and a finished one only rewrites its report)",
    )
    parser.add_argument("--max-steps", type=int, help=argparse.SUPPRESS)  # tests
    return parser


def command(args: argparse.Namespace, paths: Paths, config: TranslateConfig) -> str | None:
    """The training run of the command line; only the chief (multi-worker) has a summary."""
    # A line per checkpoint (absl) or per collective (tf.distribute) otherwise.
    logging.getLogger("absl").setLevel(logging.WARNING)
    logging.getLogger("tensorflow").setLevel(logging.WARNING)
    strategy = make_strategy(args.strategy)  # first: multi-worker must precede other TF ops
    config = run_config(paths, config, args)
    if args.restart:
        shutil.rmtree(
            artifacts.run_dir(paths, config) / artifacts.RUN_CHECKPOINTS, ignore_errors=True
        )
    report = train(paths, config, strategy, max_steps=args.max_steps)
    return summary(report) if "model_dir" in report else None


def main(argv: list[str] | None = None) -> int:
    return run_stage(
        build_parser().parse_args(argv),
        command,
        log,
        writes=lambda paths: (paths.reports, paths.runs),
        config="translate",
        expected={**EXPECTED, NonFiniteLossError: 3},
    )


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
