"""``python -m pipeline.translate.bench``: our translator vs the tutorial-style Keras reference.

Each model trains for the same wall-clock budget (``--minutes``, default 3) on the same
data with the same sizes, optimizer and batch size, each in its own subprocess, one after
the other. Reported: training throughput in target tokens per second (non-PAD tokens the
loss covers, over the training steps after the first two, which trace the graph) and the
dev perplexity reached within the budget (dev pairs up to ``max_len`` tokens, the length
both models train on). Dropout and label smoothing are off for both (the tutorial has
neither). Writes ``reports/bench_translate.{json,md}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import tensorflow as tf

from pipeline import artifacts
from pipeline.config import PRESETS, Paths, TranslateConfig
from pipeline.io import write_report
from pipeline.stage import EXPECTED, run_stage, stage_parser

log = logging.getLogger("pipeline.translate.bench")

MODELS = {
    "ours": "pipeline.translate (bucketed batches, graph-loop decoder, one output projection)",
    "reference": "Keras tutorial style (padded to max_len, unrolled per-step decoder calls)",
}


def time_bounded(
    train_step: Callable[..., tuple[tf.Tensor, tf.Tensor]],
    eval_step: Callable[..., tuple[tf.Tensor, tf.Tensor]],
    batches: Iterable[tuple[tf.Tensor, ...]],
    dev_batches: Iterable[tuple[tf.Tensor, ...]],
    seconds: float,
) -> dict[str, Any]:
    """Train until ``seconds`` have passed, then the mean dev NLL per target token.

    Both steps return (summed NLL, target token count) of a batch.
    """
    start = time.perf_counter()
    steps = tokens = timed_tokens = 0
    timed_seconds = 0.0
    for batch in batches:
        step_start = time.perf_counter()
        _, count = train_step(*batch)
        count = int(count)
        steps, tokens = steps + 1, tokens + count
        if steps > 2:  # the first steps trace and compile the graph
            timed_tokens += count
            timed_seconds += time.perf_counter() - step_start
        if time.perf_counter() - start >= seconds:
            break
    train_seconds = time.perf_counter() - start
    nll = count_sum = 0.0
    for batch in dev_batches:
        batch_nll, batch_count = eval_step(*batch)
        nll, count_sum = nll + float(batch_nll), count_sum + float(batch_count)
    dev_loss = nll / max(count_sum, 1.0)
    return {
        "steps": steps,
        "train_tokens": tokens,
        "train_seconds": round(train_seconds, 1),
        "tokens_per_second": round(timed_tokens / max(timed_seconds, 1e-9), 1),
        "dev_loss": round(dev_loss, 4),
        "dev_perplexity": round(math.exp(min(dev_loss, 50.0)), 2),
        "dev_tokens": int(count_sum),
    }


def _inputs(
    paths: Paths, config: TranslateConfig
) -> tuple[int, int, tf.data.Dataset, tf.data.Dataset]:
    from pipeline.translate import data
    from pipeline.translate.saved import codec_files, load_codec

    # Case does not change the vocabulary sizes.
    sizes = load_codec(codec_files(paths.processed, config), config, lowercase=True).sizes
    records = {
        s: paths.processed / artifacts.translate_records(config.tokens, s) for s in ("train", "dev")
    }
    train = data.read_pairs(records["train"], config.source, config.target)
    dev = data.read_pairs(records["dev"], config.source, config.target).filter(
        lambda s, t: tf.maximum(tf.size(s), tf.size(t)) <= config.max_len
    )
    return sizes[0], sizes[1], train, dev


def run_ours(paths: Paths, config: TranslateConfig, seconds: float) -> dict[str, Any]:
    from pipeline.translate import data
    from pipeline.translate.train import Trainer, training_batches

    source_vocab, target_vocab, train, dev = _inputs(paths, config)
    tf.keras.utils.set_random_seed(config.seed)
    trainer = Trainer(config, source_vocab, target_vocab, tf.distribute.get_strategy())
    spec = [tf.TensorSpec([None, None], tf.int32)] * 3

    @tf.function(input_signature=spec)
    def train_step(*batch: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        _, nll, count = trainer.strategy.run(trainer._replica_step, args=(batch,))
        return nll, count

    batches = training_batches(train, config)
    dev_batches = data.eval_batches(dev, config.batch_size)
    result = time_bounded(train_step, trainer._eval, batches, dev_batches, seconds)
    params = sum(int(tf.size(v)) for v in trainer.model.trainable_variables)
    return result | {"parameters": params}


def run_reference(paths: Paths, config: TranslateConfig, seconds: float) -> dict[str, Any]:
    from pipeline.translate.tutorial_baseline import TutorialBaseline, padded_pairs

    source_vocab, target_vocab, train, dev = _inputs(paths, config)
    tf.keras.utils.set_random_seed(config.seed)
    model = TutorialBaseline(config, source_vocab, target_vocab)
    batches = (
        padded_pairs(train, config.max_len)
        .cache()
        .shuffle(config.shuffle_buffer, seed=config.seed)
        .repeat()
        .batch(config.batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
    dev_batches = padded_pairs(dev, config.max_len).batch(config.batch_size)
    result = time_bounded(model.train_step, model.eval_step, batches, dev_batches, seconds)
    return result | {"parameters": model.parameters()}


def bench_config(preset: str) -> TranslateConfig:
    # The corpus' own mix: the reference model reads the pairs without their kinds.
    return dataclasses.replace(PRESETS[preset].translate, dropout=0.0, label_smoothing=0.0, mix="")


def run_worker(model: str, paths: Paths, preset: str, seconds: float, out: Path) -> None:
    runner = run_ours if model == "ours" else run_reference
    result = runner(paths, bench_config(preset), seconds)
    out.write_text(json.dumps(result), encoding="utf-8")


def _subprocess(args: argparse.Namespace, model: str, out: Path) -> dict[str, Any]:
    command = [
        sys.executable, "-m", "pipeline.translate.bench", "--worker", model, "--out", str(out),
        "--minutes", str(args.minutes), "--preset", args.preset,
        "--data-dir", str(args.data_dir), "--reports-dir", str(args.reports_dir),
    ]  # fmt: skip
    log.info("benchmarking %s for %.1f min", model, args.minutes)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    subprocess.run(command, check=True, env=env)
    return json.loads(out.read_text(encoding="utf-8"))


def markdown(report: dict[str, Any]) -> str:
    config = report["config"]
    lines = [
        "# Translation training benchmark",
        "",
        f"{report['minutes']:g} min of training each, one after the other, on "
        f"{os.cpu_count()} CPU cores; embed {config['embed_dim']}, units {config['units']}, "
        f"attention {config['attention_units']}, batch {config['batch_size']}, "
        f"max_len {config['max_len']}, Adam {config['learning_rate']:g}.",
        "",
        "| model | parameters | steps | target tokens/s | dev perplexity |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, result in report["models"].items():
        lines.append(
            f"| {name} | {result['parameters']:,} | {result['steps']:,} | "
            f"{result['tokens_per_second']:,.0f} | {result['dev_perplexity']:.1f} |"
        )
    lines += [
        "",
        f"Speed-up (tokens/s, ours / reference): **{report['speedup']:.2f}x** "
        f"(target {report['target_speedup']}x).",
        "",
        *(f"- {name}: {MODELS[name]}" for name in report["models"]),
        "",
    ]
    return "\n".join(lines)


def command(args: argparse.Namespace, paths: Paths, _: None) -> str | None:
    """One worker's timed run (``--worker``), or both models', each in its own process."""
    if args.worker:
        run_worker(args.worker, paths, args.preset, args.minutes * 60.0, args.out)
        return None
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for model in MODELS:
            try:
                results[model] = _subprocess(args, model, Path(tmp) / f"{model}.json")
            except subprocess.CalledProcessError as err:
                failed = f"the {model} benchmark failed (exit {err.returncode})"
                raise RuntimeError(failed) from err
    report = {
        "minutes": args.minutes,
        "preset": args.preset,
        "config": dataclasses.asdict(bench_config(args.preset)),
        "models": results,
        "speedup": round(
            results["ours"]["tokens_per_second"]
            / max(results["reference"]["tokens_per_second"], 1e-9),
            2,
        ),
        "target_speedup": 1.5,
    }
    text = markdown(report)
    write_report(paths.reports, "bench_translate", report, text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = stage_parser(__spec__.name, __doc__)
    parser.add_argument("--minutes", type=float, default=3.0, help="training budget per model")
    parser.add_argument("--worker", choices=sorted(MODELS), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    return run_stage(
        parser.parse_args(argv),
        command,
        log,
        writes=lambda paths: (paths.reports,),
        expected={**EXPECTED, RuntimeError: 1},  # a worker's failure, too
    )


if __name__ == "__main__":
    sys.exit(main())
