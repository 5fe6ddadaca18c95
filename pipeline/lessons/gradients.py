"""``python -m pipeline.lessons.gradients``: vanishing and exploding gradients, Elman vs Jordan.

Backpropagation through time multiplies one Jacobian per step: the gradient of the loss at the
last step T reaching the input of step t is ``dL_T/dx_t = dL_T/da_T (prod_{k=t+1..T}
da_k/da_{k-1}) da_t/dx_t``, so it shrinks or grows geometrically with the distance T - t
whenever the step Jacobians are mostly contracting or expanding. The notes' linear toy makes
this exact: ``a_t = w a_{t-1} + x_t``, ``y_T = a_T`` gives ``dy_T/dx_t = w^(T-t)``, and
``y_1000 = w^999 x_1`` is 4.3e-5 x_1 for w = 0.99 and 2.1e4 x_1 for w = 1.01.

Here the toy is run through the project's own linear RNN cell in float64 and differentiated
by ``tf.GradientTape``; then each recurrent cell (the plain tanh RNN, the Jordan cell, the
simplified and full GRU, the LSTM) gets the same measurement on windows of the English
corpus' id stream: ``||dL_T/dx_t||``, averaged over the windows, against T - t, at
initialization and after a short training as a word language model (the same steps, batches
and optimizer for every cell), with each cell's held-out perplexity. The gated cells' additive
memory ``c_t = Γu * c~ + Γf * c_{t-1}`` has ``dc_t/dc_{t-1} = Γf`` (LSTM) or ``1 - Γu`` (GRU)
plus terms through the gates, which training can hold near one. A plain RNN whose recurrent
matrix has gain above one explodes instead; clipping by global norm, ``g <- g * min(1, c /
||g||)``, keeps the step's direction and bounds its length.

Writes ``reports/gradients.png`` (one panel per cell kind), then ``reports/gradients.md`` and
``reports/gradients.json``.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure

from pipeline import artifacts
from pipeline.config import GradientsConfig, LMConfig, Paths
from pipeline.io import atomic_path, write_report
from pipeline.lm import data
from pipeline.lm.train import unigram_perplexity, word_corpus
from pipeline.rnn import KINDS, BasicRNNCell, make_cell
from pipeline.rnn.jordan import JordanCell
from pipeline.stage import run_stage, stage_parser

log = logging.getLogger(__name__)


class _OneTracePerModel(logging.Filter):
    """Drop TensorFlow's retracing warning: each cell's fresh model traces its own functions
    once, which the warning's global count mistakes for needless retracing."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


ONE_TRACE_PER_MODEL = _OneTracePerModel()

JORDAN = "jordan"  # not a factory kind: its output, the next-word distribution, is its state
CELL_KINDS = (*KINDS, JORDAN)
ELMAN = "rnn"  # the Elman network is the plain RNN
PROBE_DISTANCES = (1, 10, 50)  # distances the tables show, beside the longest


def _sig(x: float, digits: int = 4) -> float:
    """``x`` to ``digits`` significant digits, for the JSON (None for inf/NaN, which JSON lacks)."""
    return float(f"{x:.{digits}g}") if math.isfinite(x) else None  # type: ignore[return-value]


# -- the linear toy ---------------------------------------------------------------------------


def linear_toy(weights: Sequence[float], length: int) -> tuple[np.ndarray, np.ndarray]:
    """``y_T`` for the impulse ``x_1 = 1``, and ``dy_T/dx_t`` (T, len(weights)), in float64.

    One linear, bias-free :class:`BasicRNNCell` holds every w on its own channel (recurrent
    matrix ``diag(w)``, input matrix ``I``), so one tape over one sequence differentiates them
    all: the channels are independent, and the gradient of their sum is each one's own.
    """
    w = np.asarray(weights, np.float64)
    cell = BasicRNNCell(len(w), activation="linear", use_bias=False, dtype="float64")
    rnn = keras.layers.RNN(cell, dtype="float64")
    rnn.build((None, length, len(w)))
    cell.kernel.assign(np.concatenate([np.diag(w), np.eye(len(w))]))
    impulse = np.zeros((1, length, len(w)))
    impulse[0, 0] = 1.0

    @tf.function
    def run(x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = rnn(x)
            total = tf.reduce_sum(y)
        return y[0], tape.gradient(total, x)[0]

    y, grad = run(tf.constant(impulse))
    return y.numpy(), grad.numpy()


def toy_report(config: GradientsConfig) -> dict[str, Any]:
    """The toy's figures per w, with the gradient's worst relative error against w^(T-t)."""
    y, grad = linear_toy(config.toy_weights, config.toy_length)
    distance = config.toy_length - 1 - np.arange(config.toy_length)  # T - t for t = 1..T
    rows = []
    for i, w in enumerate(config.toy_weights):
        exact = np.power(w, distance.astype(np.float64))
        rows.append(
            {
                "w": w,
                "y_T": float(y[i]),
                "w^(T-1)": float(w ** (config.toy_length - 1)),
                "dy_T/dx_1": float(grad[0, i]),
                "max_relative_error": float(np.max(np.abs(grad[:, i] - exact) / exact)),
                "log10_gradient": [_sig(v) for v in np.log10(grad[::-1, i])],
            }
        )
    return {"T": config.toy_length, "rows": rows}


# -- the corpus, the models and the probe -----------------------------------------------------


def windows(sentences: tf.RaggedTensor, length: int) -> tf.Tensor:
    """Consecutive ``length + 1``-token windows of the sentences' id stream (EOS-separated).

    The stream, not single sentences, because distances up to ``length`` need long inputs and
    95% of corpus lines are shorter than 64 tokens; each window's inputs are its first
    ``length`` tokens and its targets the last ``length``, so windows overlap by one token.
    """
    return tf.signal.frame(sentences.flat_values, length + 1, length)


def build_model(kind: str, config: GradientsConfig, **cell_options: Any) -> keras.Sequential:
    """Embedding, recurrence, P(next word): the Jordan cell's own output is that distribution."""
    vocab = config.vocab_size
    if kind == JORDAN:
        cell = JordanCell(config.units, vocab, **cell_options)
        head = []
    else:
        cell = make_cell(kind, config.units, **cell_options)
        head = [keras.layers.Dense(vocab, activation="softmax")]
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(vocab, config.embed_dim),
            keras.layers.RNN(cell, return_sequences=True),
            *head,
        ],
        name=kind,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate, global_clipnorm=config.clipnorm),
        loss=keras.losses.SparseCategoricalCrossentropy(),
    )
    return model


def distance_profile(model: keras.Sequential, window: tf.Tensor) -> np.ndarray:
    """Mean over windows of ``||dL_T/dx_t||``, indexed by the distance T - t (0: the last).

    ``L_T`` is the loss of the last step's prediction and ``x_t`` the embedded input of step
    t; one tape over the whole window gives the gradient at every step at once. The backward
    pass runs in float32 as training does, so a gradient below float32's range is exactly 0.
    """
    embedding, *rest = model.layers

    @tf.function
    def profile(inputs: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        x = embedding(inputs)
        with tf.GradientTape() as tape:
            tape.watch(x)
            probs = x
            for layer in rest:
                probs = layer(probs)
            loss = tf.reduce_mean(model.loss(targets[:, -1], probs[:, -1]))
        # Squaring float32 components below 1e-19 underflows; the norm is taken in float64.
        norms = tf.norm(tf.cast(tape.gradient(loss, x), tf.float64), axis=-1)
        return tf.reverse(tf.reduce_mean(norms, axis=0), [0])

    return profile(window[:, :-1], window[:, 1:]).numpy()


def per_step_factor(profile: np.ndarray) -> float:
    """The geometric rate ``r`` of ``||g(d)|| ~ r^d``: a least-squares line through log10 norms.

    Distance 0 is left out (its gradient skips the recurrence), and so are norms that
    underflowed to 0.
    """
    distance = np.arange(len(profile))
    keep = (distance > 0) & (profile > 0)
    if keep.sum() < 2:
        return float("nan")
    slope = np.polyfit(distance[keep], np.log10(profile[keep]), 1)[0]
    return float(10.0**slope)


def _profile_report(profile: np.ndarray) -> dict[str, Any]:
    return {
        "per_step_factor": _sig(per_step_factor(profile)),
        "gradient_norm": [_sig(float(v)) for v in profile],
    }


def train_cell(
    kind: str, config: GradientsConfig, train: tf.data.Dataset, probe: tf.Tensor, held: tf.Tensor
) -> dict[str, Any]:
    """One cell's curves at initialization and after ``config.steps``, and its held-out loss."""
    keras.utils.set_random_seed(config.seed)
    model = build_model(kind, config)
    at_init = distance_profile(model, probe)
    start = time.perf_counter()
    history = model.fit(
        train,
        epochs=1,
        steps_per_epoch=config.steps,
        verbose=1 if sys.stderr.isatty() else 2,
    )
    seconds = time.perf_counter() - start
    held_loss = model.evaluate(
        held[:, :-1], held[:, 1:], batch_size=config.batch_size, verbose=0, return_dict=True
    )["loss"]
    log.info("%s: held-out loss %.3f after %.0f s", kind, held_loss, seconds)
    return {
        "parameters": int(model.count_params()),
        "train_seconds": round(seconds, 1),
        "train_loss": _sig(history.history["loss"][-1]),
        "held_out_loss": _sig(held_loss),
        "perplexity": _sig(math.exp(held_loss)),
        "init": _profile_report(at_init),
        "trained": _profile_report(distance_profile(model, probe)),
    }


# -- clipping ---------------------------------------------------------------------------------


def clip_step(
    model: keras.Model, window: tf.Tensor, clip_norm: float, learning_rate: float
) -> dict[str, Any]:
    """One plain SGD step on ``window``, unclipped and clipped by global norm, from the same
    weights: the gradient's global norm, the update's length and the loss after each step.

    ``tf.clip_by_global_norm`` rescales every gradient by ``min(1, clip_norm / ||g||)`` with
    ``||g||`` over all variables together, so the step keeps its direction.
    """
    inputs, targets = window[:, :-1], window[:, 1:]
    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        loss = model.loss(targets, model(inputs))
    # The embedding's gradient comes as IndexedSlices; the steps below subtract dense ones.
    grads = [tf.convert_to_tensor(g) for g in tape.gradient(loss, variables)]
    clipped, norm = tf.clip_by_global_norm(grads, clip_norm)
    start = [v.numpy() for v in variables]
    steps = {}
    for name, step in (("unclipped", grads), ("clipped", clipped)):
        for variable, value, g in zip(variables, start, step, strict=True):
            variable.assign(value - learning_rate * g)
        steps[name] = {
            "gradient_norm": _sig(float(tf.linalg.global_norm(step))),
            "update_norm": _sig(learning_rate * float(tf.linalg.global_norm(step))),
            "loss_after": _sig(float(model.loss(targets, model(inputs)))),
        }
    for variable, value in zip(variables, start, strict=True):
        variable.assign(value)
    return {"loss_before": _sig(float(loss)), "global_norm": _sig(float(norm)), **steps}


def clipping_demo(config: GradientsConfig, window: tf.Tensor, probe: tf.Tensor) -> dict[str, Any]:
    """A plain RNN whose orthogonal recurrent init has gain ``explode_gain``: its gradient
    against distance, and what clipping does to one step of it."""
    keras.utils.set_random_seed(config.seed)
    initializer = keras.initializers.Orthogonal(gain=config.explode_gain)
    model = build_model(ELMAN, config, recurrent_initializer=initializer)
    return {
        "gain": config.explode_gain,
        "clip_norm": config.clipnorm,
        "learning_rate": config.explode_learning_rate,
        **clip_step(model, window, config.clipnorm, config.explode_learning_rate),
        "init": _profile_report(distance_profile(model, probe)),
    }


# -- the report -------------------------------------------------------------------------------

TITLES = {
    "rnn": "plain RNN (Elman)",
    JORDAN: "Jordan",
    "gru_simple": "simplified GRU",
    "gru": "GRU",
    "lstm": "LSTM (forget bias 1)",
}


def _log10(values: Sequence[float | None]) -> np.ndarray:
    """log10 of the norms, NaN where one underflowed to 0 (a gap in the curve, not -inf)."""
    v = np.array([np.nan if x is None else x for x in values], np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(v > 0, np.log10(v), np.nan)


def plot(report: dict[str, Any], path: Any) -> None:
    """One panel per cell kind (log10 gradient norm against distance), the linear toy first."""
    cells = report["cells"]
    panels = 1 + len(cells)
    columns = min(3, panels)
    rows = math.ceil(panels / columns)
    fig = Figure(figsize=(4.5 * columns, 3.4 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    toy, *cell_axes = axes.flat
    for row in report["linear_toy"]["rows"]:
        toy.plot(row["log10_gradient"], label=f"w = {row['w']}")
    toy.set_title(f"linear toy: dy_T/dx_t = w^(T-t), T = {report['linear_toy']['T']}")
    for ax, (kind, result) in zip(cell_axes, cells.items(), strict=False):
        ax.plot(_log10(result["init"]["gradient_norm"]), "--", label="at initialization")
        steps = report["config"]["steps"]
        ax.plot(_log10(result["trained"]["gradient_norm"]), label=f"after {steps} steps")
        if kind == ELMAN:
            gain = report["clipping"]["gain"]
            exploding = _log10(report["clipping"]["init"]["gradient_norm"])
            ax.plot(exploding, ":", label=f"init, recurrent gain {gain}")
        ax.set_title(f"{TITLES.get(kind, kind)}: perplexity {result['perplexity']:.0f}")
    for ax in axes.flat[panels:]:
        ax.set_visible(False)
    for ax in axes.flat[:panels]:
        ax.set_xlabel("distance T - t")
        ax.set_ylabel("log10 ||dL_T / dx_t||")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def _at(profile: Sequence[float | None], distance: int) -> str:
    value = profile[distance] if distance < len(profile) else None
    return "—" if value is None else f"{value:.2e}"


def markdown(report: dict[str, Any]) -> str:
    """The report's tables: the toy, the curves at a few distances, clipping, Elman vs Jordan."""
    config, toy, clip = report["config"], report["linear_toy"], report["clipping"]
    longest = config["seq_len"] - 1
    distances = [d for d in PROBE_DISTANCES if d < longest] + [longest]
    lines = [
        "# Vanishing and exploding gradients",
        "",
        f"## The linear toy: a_t = w a_(t-1) + x_t, T = {toy['T']} (float64, tf.GradientTape)",
        "",
        "| w | y_T for x_1 = 1 | w^(T-1) | dy_T/dx_1 | max rel. error vs w^(T-t) |",
        "|---|---|---|---|---|",
        *(
            f"| {r['w']} | {r['y_T']:.6g} | {r['w^(T-1)']:.6g} | "
            f"{r['dy_T/dx_1']:.6g} | {r['max_relative_error']:.1e} |"
            for r in toy["rows"]
        ),
        "",
        f"## ||dL_T/dx_t|| against distance T - t ({config['probe_windows']} held-out windows "
        f"of {config['seq_len']} words; {config['steps']} training steps per cell)",
        "",
        "| cell | parameters | when | "
        + " | ".join(f"d = {d}" for d in distances)
        + " | per-step factor | held-out perplexity |",
        "|---|---|---|" + "---|" * (len(distances) + 2),
    ]
    for kind, result in report["cells"].items():
        for when in ("init", "trained"):
            profile = result[when]["gradient_norm"]
            ppl = f"{result['perplexity']:.1f}" if when == "trained" else ""
            lines.append(
                f"| {TITLES.get(kind, kind)} | {result['parameters']:,} | {when} | "
                + " | ".join(_at(profile, d) for d in distances)
                + f" | {result[when]['per_step_factor']} | {ppl} |"
            )
    lines += [
        "",
        f"Unigram baseline perplexity on the same held-out words: "
        f"{report['unigram_perplexity']:.1f}.",
        "",
        f"## Clipping by global norm: a plain RNN with recurrent gain {clip['gain']}",
        "",
        f"Loss before the step {clip['loss_before']}, gradient global norm "
        f"{clip['global_norm']:.3e}, per-step factor of its gradient against distance "
        f"{clip['init']['per_step_factor']}. One SGD step (rate {clip['learning_rate']}):",
        "",
        "| step | gradient norm | update length | loss after |",
        "|---|---|---|---|",
        *(
            f"| {name} | {clip[name]['gradient_norm']:.3e} | {clip[name]['update_norm']:.3e} | "
            f"{clip[name]['loss_after']} |"
            for name in ("unclipped", "clipped")
        ),
    ]
    lines += _elman_vs_jordan(report)
    lines += ["", f"Run time {report['seconds']:.0f} s. Plot: {report['plot']}.", ""]
    return "\n".join(lines)


def _elman_vs_jordan(report: dict[str, Any]) -> list[str]:
    cells = report["cells"]
    if ELMAN not in cells or JORDAN not in cells:
        return []
    rows = [
        f"| {TITLES[kind]} | {cells[kind]['parameters']:,} | {cells[kind]['held_out_loss']} | "
        f"{cells[kind]['perplexity']} | {cells[kind]['trained']['per_step_factor']} |"
        for kind in (ELMAN, JORDAN)
    ]
    return [
        "",
        "## Elman vs Jordan (same task, batches and steps)",
        "",
        "| network | parameters | held-out loss | perplexity | per-step factor (trained) |",
        "|---|---|---|---|---|",
        *rows,
    ]


# -- the stage --------------------------------------------------------------------------------


def corpus_windows(
    paths: Paths, config: GradientsConfig
) -> tuple[tf.Tensor, tf.Tensor, tf.RaggedTensor, int]:
    """Training and held-out windows, the training sentences (for the baseline), vocab size."""
    sentences, vocab = word_corpus(paths, LMConfig(vocab_size=config.vocab_size))
    train_sents, held_sents = data.split_held_out(sentences, config.held_out)
    train, held = windows(train_sents, config.seq_len), windows(held_sents, config.seq_len)
    if int(tf.shape(train)[0]) < config.batch_size or int(tf.shape(held)[0]) == 0:
        raise ValueError(
            f"the corpus gives {int(tf.shape(train)[0])} training and {int(tf.shape(held)[0])} "
            f"held-out windows of {config.seq_len + 1} words; at least --batch-size "
            f"({config.batch_size}) and 1 are needed: lower --seq-len or change --held-out"
        )
    return train, held, train_sents, len(vocab)


def run(paths: Paths, config: GradientsConfig) -> dict[str, Any]:
    """The whole lesson; returns the report it writes beside ``reports/gradients.png``."""
    unknown = sorted(set(config.cells) - set(CELL_KINDS))
    if unknown:
        raise ValueError(f"unknown --cells {unknown}; choose from {', '.join(CELL_KINDS)}")
    logging.getLogger("tensorflow").addFilter(ONE_TRACE_PER_MODEL)
    start = time.perf_counter()
    train, held, train_sents, vocab_size = corpus_windows(paths, config)
    config = replace(config, vocab_size=vocab_size)
    train_ds = (
        tf.data.Dataset.from_tensor_slices(train)
        .shuffle(20_000, seed=config.seed)
        .repeat()
        .batch(config.batch_size, drop_remainder=True)
        .map(lambda w: (w[:, :-1], w[:, 1:]))
        .prefetch(tf.data.AUTOTUNE)
    )
    probe, held = held[: config.probe_windows], held[: config.eval_windows]
    report: dict[str, Any] = {"config": asdict(config), "linear_toy": toy_report(config)}
    report["cells"] = {
        kind: train_cell(kind, config, train_ds, probe, held) for kind in config.cells
    }
    report["clipping"] = clipping_demo(config, train[: config.batch_size], probe)
    held_targets = tf.RaggedTensor.from_tensor(held[:, 1:])
    report["unigram_perplexity"] = _sig(unigram_perplexity(train_sents, held_targets, vocab_size))
    png = artifacts.report(paths, artifacts.GRADIENTS).with_suffix(".png")
    report["plot"] = str(png)
    report["seconds"] = round(time.perf_counter() - start, 1)
    plot(report, png)
    write_report(paths.reports, artifacts.GRADIENTS, report, markdown(report))
    return report


def summary(report: dict[str, Any]) -> str:
    cells = report["cells"]
    parts = [f"{kind} {result['perplexity']:.1f}" for kind, result in cells.items()]
    factors = [f"{kind} {result['trained']['per_step_factor']}" for kind, result in cells.items()]
    clip = report["clipping"]
    return "\n".join(
        [
            f"held-out perplexity: {', '.join(parts)} (unigram {report['unigram_perplexity']:.1f})",
            f"gradient per-step factor after training: {', '.join(factors)}",
            f"clipping (gain {clip['gain']}): global norm {clip['global_norm']:.3e} -> "
            f"{clip['clipped']['gradient_norm']}; loss after the step "
            f"{clip['unclipped']['loss_after']} unclipped, {clip['clipped']['loss_after']} clipped",
            f"{report['plot']}, {report['seconds']:.0f} s",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = stage_parser(__spec__.name, __doc__, GradientsConfig)
    return run_stage(
        parser.parse_args(argv),
        lambda args, paths, config: summary(run(paths, config)),
        log,
        writes=lambda paths: (paths.reports,),
        config="gradients",
    )


if __name__ == "__main__":
    sys.exit(main())
