"""``python -m pipeline.lessons.lstm_variants``: Greff et al.'s LSTM variants on the character LM.

Greff, Srivastava, Koutník, Steunebrink and Schmidhuber (2015), "LSTM: A Search Space Odyssey",
compare the vanilla LSTM (with peepholes) with eight variants that each change one thing;
:class:`pipeline.rnn.cells.LSTMCell` states each variant's equation. Here every variant trains
with the same budget on the character-level language model of ``make lm-char`` (its data
functions and its model, ``P(c_t | c_<t) = softmax(W a_t + b)``): the same lines, units and
steps, and for a given seed the same batch order; only the cell differs. The figure is held-out
bits per character, the mean of ``-log2 P(c_t | c_<t)`` over the held-out lines' characters
(a line's end counts as one), as mean ± standard deviation over seeds. A variant's difference
from vanilla is taken seed by seed, since runs of one seed share their batches, and its
standard error is that of those paired differences.

Writes ``reports/lstm_variants.md``, ``.json`` and ``.png`` (bits per character per variant
and seed, and the training curves).
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure
from tqdm import tqdm

from pipeline import artifacts
from pipeline.config import LMConfig, LstmVariantsConfig, Paths
from pipeline.io import atomic_path, write_report
from pipeline.lm import data
from pipeline.lm.model import LanguageModel
from pipeline.lm.train import char_corpus, unigram_perplexity
from pipeline.rnn.cells import LSTM_VARIANTS
from pipeline.stage import run_stage, stage_parser

log = logging.getLogger("pipeline.lessons.lstm_variants")

REFERENCE = "vanilla"
EVAL_BATCH = 256  # held-out lines per evaluation batch (no gradients: a big batch is cheap)
CHANGES = {
    "vanilla": "peephole LSTM, the reference",
    "nig": "no input gate (Γu = 1)",
    "nfg": "no forget gate (Γf = 1)",
    "nog": "no output gate (Γo = 1)",
    "niaf": "no input activation (g = identity)",
    "noaf": "no output activation (h = identity)",
    "np": "no peepholes",
    "cifg": "coupled gates (Γf = 1 - Γu)",
    "fgr": "full gate recurrence",
}
# Greff et al.'s conclusions: (variant, what they found, the claim as the report words it).
CLAIMS = (
    ("nfg", "hurts", "the forget gate matters most: without it (NFG) the model is clearly worse"),
    ("noaf", "hurts", "the output activation matters most: without it (NOAF) clearly worse"),
    ("cifg", "little", "coupling the input and forget gates (CIFG) costs little"),
    ("np", "little", "dropping the peepholes (NP) costs little"),
)


def check_config(config: LstmVariantsConfig) -> tuple[str, ...]:
    """The variants to train, refusing a setting that cannot give the report's figures."""
    variants = config.variants or tuple(LSTM_VARIANTS)
    unknown = [v for v in variants if v not in LSTM_VARIANTS]
    if unknown:
        raise ValueError(
            f"unknown LSTM variants {', '.join(unknown)}; choose from {', '.join(LSTM_VARIANTS)}"
        )
    if REFERENCE not in variants:
        raise ValueError(f"--variants must include {REFERENCE!r}, the one the others are against")
    if config.seeds < 2:
        raise ValueError(f"--seeds must be at least 2 for a spread over seeds, got {config.seeds}")
    if config.steps <= 0 or config.curve_every <= 0 or config.steps % config.curve_every:
        raise ValueError(
            f"--steps ({config.steps}) must be a positive multiple of --curve-every "
            f"({config.curve_every})"
        )
    return tuple(dict.fromkeys(variants))


def read_lines(
    paths: Paths, config: LstmVariantsConfig
) -> tuple[tf.RaggedTensor, tf.RaggedTensor, int]:
    """Training lines, held-out lines (cut to ``max_len``) and the vocabulary size."""
    level = replace(LMConfig(), level="char", char_min_count=config.char_min_count)
    sentences, vocab = char_corpus(paths, level, lines=config.corpus_lines or None)
    train, held = data.split_held_out(sentences, config.held_out)
    return train, held[:, : config.max_len], len(vocab)


def train_run(
    variant: str,
    seed: int,
    train: tf.RaggedTensor,
    held: tf.RaggedTensor,
    vocab_size: int,
    config: LstmVariantsConfig,
) -> dict[str, Any]:
    """One variant trained from seed ``seed``: held-out bits per character and its curve."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = LanguageModel(
        vocab_size,
        embed_dim=config.embed_dim,
        units=config.units,
        cell="lstm",
        dropout=0.0,
        cell_options={"variant": variant, "peephole": True},  # Greff's vanilla has peepholes
    )
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate, clipnorm=config.clipnorm))
    start = time.perf_counter()
    history = model.fit(
        data.batches(
            train, config.batch_size, config.max_len, shuffle=True, seed=seed, repeat=True
        ),
        epochs=config.steps // config.curve_every,
        steps_per_epoch=config.curve_every,
        verbose=0,
    )
    seconds = time.perf_counter() - start
    evaluation = model.evaluate(
        data.batches(held, EVAL_BATCH, config.max_len, shuffle=False), return_dict=True, verbose=0
    )
    return {
        "variant": variant,
        "seed": seed,
        "held_out_bpc": round(float(evaluation["nll"]) / math.log(2), 4),
        "train_bpc_curve": [round(v / math.log(2), 4) for v in history.history["nll"]],
        "cell_weights": int(sum(np.prod(w.shape) for w in model.rnn.cell.weights)),
        "train_seconds": round(seconds, 1),
    }


def summarize(runs: Sequence[dict[str, Any]], variants: Sequence[str]) -> dict[str, Any]:
    """Per variant: bits per character over seeds, and its paired difference from vanilla."""
    by_seed = {(r["variant"], r["seed"]): r["held_out_bpc"] for r in runs}
    seeds = sorted({r["seed"] for r in runs})
    reference = np.array([by_seed[REFERENCE, s] for s in seeds])
    stats = {}
    for variant in variants:
        bpc = np.array([by_seed[variant, s] for s in seeds])
        delta = bpc - reference
        stats[variant] = {
            "change": CHANGES[variant],
            "cell_weights": next(r["cell_weights"] for r in runs if r["variant"] == variant),
            "bpc_mean": round(float(bpc.mean()), 4),
            "bpc_std": round(float(bpc.std(ddof=1)), 4),
            "delta_mean": round(float(delta.mean()), 4),
            "delta_se": round(float(delta.std(ddof=1) / math.sqrt(len(seeds))), 4),
            "bpc_per_seed": bpc.tolist(),
        }
    ranked = sorted((v for v in variants if v != REFERENCE), key=lambda v: -stats[v]["delta_mean"])
    for rank, variant in enumerate(ranked, start=1):
        stats[variant]["loss_rank"] = rank  # 1: the largest loss against vanilla
    return stats


def verdict(kind: str, stats: dict[str, Any], small: float, losers: int) -> tuple[str, str]:
    """Whether one claim holds: ("supported" | "partly" | "not supported" | "inconclusive", why).

    "Clearly worse" is a mean paired difference above both ``small`` and two standard errors;
    "costs little" is one whose upper two-standard-error bound stays below ``small``.
    """
    delta, se = stats["delta_mean"], stats["delta_se"]
    evidence = f"Δ = {delta:+.3f} ± {se:.3f} bpc (mean ± s.e. over seeds)"
    if kind == "hurts":
        rank = stats["loss_rank"]
        where = f"{evidence}, loss rank {rank} of {losers}"
        if not (delta > small and delta > 2 * se):
            return "not supported", f"{where}: not clearly worse than vanilla"
        if rank <= 2:
            return "supported", f"{where}: clearly worse, among the two largest losses"
        return "partly", f"{where}: clearly worse, but {rank - 1} variants lose more"
    if delta + 2 * se < small:
        return "supported", f"{evidence}: within {small} bpc of vanilla"
    if delta - 2 * se > small:
        return "not supported", f"{evidence}: clearly costs more than {small} bpc"
    return "inconclusive", f"{evidence}: the seeds' spread cannot tell it from {small} bpc"


def conclusions(stats: dict[str, Any], small: float) -> list[dict[str, str]]:
    losers = len(stats) - 1
    found = []
    for variant, kind, claim in CLAIMS:
        if variant not in stats:
            found.append({"claim": claim, "verdict": "not run", "evidence": f"{variant} not run"})
            continue
        outcome, evidence = verdict(kind, stats[variant], small, losers)
        found.append({"claim": claim, "verdict": outcome, "evidence": evidence})
    return found


def plot(report: dict[str, Any], path: Path) -> None:
    """Held-out bits per character by variant (seeds as dots), and the training curves."""
    stats, runs, config = report["variants"], report["runs"], report["config"]
    names = list(stats)
    fig = Figure(figsize=(12, 4.5))
    left, right = fig.subplots(1, 2)
    for x, name in enumerate(names):
        seeds = stats[name]["bpc_per_seed"]
        left.scatter([x] * len(seeds), seeds, s=12, color="grey", zorder=2)
        left.errorbar(
            x, stats[name]["bpc_mean"], yerr=stats[name]["bpc_std"], fmt="o", color="C0",
            capsize=4, zorder=3,
        )  # fmt: skip
    left.axhline(stats[REFERENCE]["bpc_mean"], color="C0", linestyle="--", linewidth=0.8)
    left.set_xticks(range(len(names)), [n.upper() for n in names], rotation=45)
    left.set_ylabel("held-out bits per character")
    left.set_title(f"mean ± sd over {config['seeds']} seeds (dots: seeds)")
    steps = np.arange(1, config["steps"] // config["curve_every"] + 1) * config["curve_every"]
    for name in names:
        curves = np.array([r["train_bpc_curve"] for r in runs if r["variant"] == name])
        right.plot(steps, curves.mean(axis=0), label=name.upper())
    right.set_xlabel("training step")
    right.set_ylabel(f"training bits per character (mean of {config['curve_every']} steps)")
    right.set_title("training curves, mean over seeds")
    right.legend(fontsize=8, ncol=3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def markdown(report: dict[str, Any]) -> str:
    config = report["config"]
    lines = [
        "# LSTM variants (Greff et al. 2015) on the character-level language model",
        "",
        f"{config['seeds']} seeds per variant, each run {config['steps']} steps of "
        f"{config['batch_size']} lines of at most {config['max_len']} characters, "
        f"{config['units']} units; {report['train_lines']:,} training lines, "
        f"{report['held_out_chars']:,} held-out characters. Unigram baseline "
        f"{report['unigram_bpc']:.3f} bits per character. Δ is the paired difference from "
        "vanilla (same seed, same batches). A short fixed budget measures how fast each variant "
        "learns rather than where it converges; Greff et al. tuned every variant's "
        "hyperparameters by random search and trained each to early stopping.",
        "",
        "| variant | change | cell weights | held-out bpc (mean ± sd) | Δ vs vanilla (± s.e.) |",
        "|---|---|---:|---:|---:|",
    ]
    for name, s in report["variants"].items():
        lines.append(
            f"| {name.upper()} | {s['change']} | {s['cell_weights']:,} | "
            f"{s['bpc_mean']:.3f} ± {s['bpc_std']:.3f} | "
            f"{s['delta_mean']:+.3f} ± {s['delta_se']:.3f} |"
        )
    lines += ["", "Greff et al.'s conclusions against these figures:", ""]
    for c in report["conclusions"]:
        lines.append(f"- {c['claim']}: **{c['verdict']}**. {c['evidence']}.")
    lines += [
        "",
        f"The whole run took {report['seconds']:.0f} s. Plot: `{report['plot']}`.",
        "",
    ]
    return "\n".join(lines)


def run(paths: Paths, config: LstmVariantsConfig) -> dict[str, Any]:
    """The whole lesson; returns the report it writes."""
    variants = check_config(config)
    start = time.perf_counter()
    train, held, vocab_size = read_lines(paths, config)
    log.info(
        "%d training lines, %d held out, %d characters in the vocabulary",
        int(train.nrows()), int(held.nrows()), vocab_size,
    )  # fmt: skip
    jobs = [(v, s) for s in range(config.seeds) for v in variants]
    runs = []
    bar = tqdm(jobs, desc="variant runs", unit="run", disable=None)
    for variant, seed in bar:
        runs.append(train_run(variant, seed, train, held, vocab_size, config))
        done = f"{variant} seed {seed}: {runs[-1]['held_out_bpc']:.3f} bpc"
        bar.set_postfix_str(done)
        log.info("%s (%.0f s of training)", done, runs[-1]["train_seconds"])
    stats = summarize(runs, variants)
    name = artifacts.LSTM_VARIANTS
    png = artifacts.report(paths, name).with_suffix(".png")
    report = {
        "config": asdict(config),
        "vocab_size": vocab_size,
        "train_lines": int(train.nrows()),
        "held_out_lines": int(held.nrows()),
        "held_out_chars": int(tf.size(held.flat_values)),
        "unigram_bpc": round(math.log2(unigram_perplexity(train, held, vocab_size)), 4),
        "variants": stats,
        "conclusions": conclusions(stats, config.small),
        "runs": runs,
        "plot": str(png),
    }
    plot(report, png)
    report["seconds"] = round(time.perf_counter() - start, 1)
    write_report(paths.reports, name, report, markdown(report))
    return report


def summary(report: dict[str, Any]) -> str:
    rows = [
        f"{name:8s} {s['bpc_mean']:.3f} ± {s['bpc_std']:.3f} bpc  Δ {s['delta_mean']:+.3f}"
        for name, s in report["variants"].items()
    ]
    verdicts = [f"{c['verdict']}: {c['claim']}" for c in report["conclusions"]]
    return "\n".join([*rows, *verdicts, f"{report['plot']}; {report['seconds']:.0f} s"])


def main(argv: list[str] | None = None) -> int:
    parser = stage_parser(__spec__.name, __doc__, LstmVariantsConfig)
    return run_stage(
        parser.parse_args(argv),
        lambda args, paths, config: summary(run(paths, config)),
        log,
        writes=lambda paths: (paths.reports,),
        config="lstm_variants",
    )


if __name__ == "__main__":
    sys.exit(main())
