"""Search errors versus model errors of beam search on the test sets (``make error-analysis``).

When the output ŷ is not a reference y*, either the search missed a better sentence (the
model prefers y*: score(y*|x) > score(ŷ|x), so a wider beam could help) or the model itself
prefers its wrong output (a better model is needed). Scores are the search's own,
log P / lp(T) with the same length penalty, and raw log P as a second view. With several
references, y* is the one the model likes best. References are encoded like the training
targets, by the model's codec (pieces, or words with UNK) with a final EOS.

Writes ``reports/error_analysis.{md,json}`` with the shares and a few examples of each kind.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import tensorflow as tf

from pipeline import artifacts
from pipeline.config import Paths
from pipeline.io import write_report
from pipeline.stage import new_parser, run_stage
from pipeline.text import PAD_ID, token_counts
from pipeline.translate.beam import length_penalty_fn, score_targets
from pipeline.translate.cli import default_run
from pipeline.translate.codec import Encoded
from pipeline.translate.decoding import (
    TEST_SETS,
    Setting,
    add_args,
    load_setup,
    pad_rows,
    translate_all,
    weights_note,
)
from pipeline.translate.model import Translator

log = logging.getLogger(__name__)

Kind = Literal["correct", "search", "model"]
EXAMPLES = 5
BATCH = 128


def classify(
    hypothesis: Sequence[int], hyp_score: float, references: Sequence[tuple[Sequence[int], float]]
) -> Kind:
    """Whether the output is a reference, a search error (a reference scores higher) or a
    model error. ``references`` holds (ids, score) pairs; ids are compared without padding.
    """
    hyp = [i for i in hypothesis if i != PAD_ID]
    if any([i for i in ids if i != PAD_ID] == hyp for ids, _ in references):
        return "correct"
    return "search" if max(score for _, score in references) > hyp_score else "model"


def _trimmed(ids: tf.Tensor) -> tf.Tensor:
    """Without the columns that are padding in every row (rows were padded to the longest)."""
    longest = tf.reduce_max(token_counts(ids))
    return ids[:, : max(int(longest), 1)]


def score_all(model: Translator, source_ids: tf.Tensor, target_ids: tf.Tensor) -> np.ndarray:
    """log P(target | source) for aligned rows, in batches."""
    step = tf.function(
        lambda s, t: score_targets(model.encode, model.decode_step, s, t),
        input_signature=[tf.TensorSpec([None, None], tf.int32)] * 2,
    )
    scores = []
    for start in range(0, int(source_ids.shape[0]), BATCH):
        sources = source_ids[start : start + BATCH]
        targets = target_ids[start : start + BATCH]
        scores.append(step(_trimmed(sources), _trimmed(targets)).numpy())
    return np.concatenate(scores)


def analyse(
    model: Translator,
    encode_target: Callable[[tf.Tensor], Encoded],
    source_ids: tf.Tensor,
    sources: Sequence[str],
    references: Sequence[Sequence[str]],
    hypotheses: Sequence[np.ndarray],
    hypothesis_texts: Sequence[str],
    setting: Setting,
) -> dict[str, Any]:
    penalty = length_penalty_fn(setting.penalty, setting.alpha)
    owner = [i for i, refs in enumerate(references) for _ in refs]
    ref_ids = encode_target(tf.constant([r for refs in references for r in refs])).ids
    ref_raw = score_all(model, tf.gather(source_ids, owner), ref_ids)
    hyp_ids = tf.constant(pad_rows(hypotheses))
    hyp_raw = score_all(model, source_ids, hyp_ids)

    def normalized(raw: np.ndarray, ids: tf.Tensor) -> np.ndarray:
        return raw / penalty(tf.maximum(token_counts(ids), 1)).numpy()

    ref_norm = normalized(ref_raw, ref_ids)
    hyp_norm = normalized(hyp_raw, hyp_ids)
    per_source: list[list[int]] = [[] for _ in sources]
    for row, i in enumerate(owner):
        per_source[i].append(row)
    ref_rows = ref_ids.numpy()
    counts: Counter[str] = Counter()
    raw_counts: Counter[str] = Counter()
    examples: dict[str, list[dict[str, Any]]] = {"search": [], "model": []}
    for i, rows in enumerate(per_source):
        kind = classify(hypotheses[i], hyp_norm[i], [(ref_rows[r], ref_norm[r]) for r in rows])
        counts[kind] += 1
        raw_counts[
            classify(hypotheses[i], hyp_raw[i], [(ref_rows[r], ref_raw[r]) for r in rows])
        ] += 1
        if kind in examples and len(examples[kind]) < EXAMPLES:
            best = max(rows, key=lambda r: ref_norm[r])
            examples[kind].append(
                {
                    "source": sources[i],
                    "reference": references[i][rows.index(best)],
                    "output": hypothesis_texts[i],
                    "reference_score": float(ref_norm[best]),
                    "output_score": float(hyp_norm[i]),
                    "reference_log_prob": float(ref_raw[best]),
                    "output_log_prob": float(hyp_raw[i]),
                }
            )
    wrong = counts["search"] + counts["model"]
    raw_wrong = raw_counts["search"] + raw_counts["model"]
    return {
        "setting": setting.name,
        "sentences": len(sources),
        "correct": counts["correct"],
        "errors": wrong,
        "search_errors": counts["search"],
        "model_errors": counts["model"],
        "search_share": counts["search"] / wrong if wrong else 0.0,
        "model_share": counts["model"] / wrong if wrong else 0.0,
        "raw_search_errors": raw_counts["search"],
        "raw_search_share": raw_counts["search"] / raw_wrong if raw_wrong else 0.0,
        "examples": examples,
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Search errors vs model errors",
        "",
        f"Model `{report['model_dir']}`. {weights_note(report['weights'])}",
        "",
    ]
    for name, result in report["sets"].items():
        lines += [f"## {report.get('titles', TEST_SETS)[name]}", "", *_section(result)]
    return "\n".join(lines)


def _section(report: dict[str, Any]) -> list[str]:
    lines = [
        f"{report['setting']}, {report['sentences']} test "
        f"sources. {report['correct']} outputs equal a reference; of the "
        f"{report['errors']} others:",
        "",
        "| error | sentences | share |",
        "|---|---:|---:|",
        f"| search (score(y*) > score(ŷ)) | {report['search_errors']} | "
        f"{100 * report['search_share']:.1f}% |",
        f"| model (score(ŷ) >= score(y*)) | {report['model_errors']} | "
        f"{100 * report['model_share']:.1f}% |",
        "",
        "Scores are log P / lp(T) as in the search. With raw log P instead, "
        f"{report['raw_search_errors']} search errors ({100 * report['raw_search_share']:.1f}%).",
        "",
    ]
    for kind in ("search", "model"):
        lines += [f"### {kind.capitalize()} errors", ""]
        if not report["examples"][kind]:
            lines.append("None.")
        for ex in report["examples"][kind]:
            lines += [
                f"- source: {ex['source']}",
                f"  - reference ({ex['reference_score']:.3f}): {ex['reference']}",
                f"  - output ({ex['output_score']:.3f}): {ex['output']}",
            ]
        lines.append("")
    return lines


def command(args: argparse.Namespace, paths: Paths, _: None) -> str:
    """``make error-analysis``: decode every set with one setting and sort out its errors."""
    setup = load_setup(args)
    setting = Setting(args.beam_size, args.alpha)
    sets = {}
    for name, test in setup.tests.items():
        source = setup.sources[name]
        decoded, texts = translate_all(setup.model, setup.codec, source, setting)
        sets[name] = analyse(
            setup.model, setup.codec.encode_target, source.ids, test.sources, test.references,
            decoded.tokens, texts, setting,
        )  # fmt: skip
    report = {
        "model_dir": str(setup.model_dir),
        "weights": list(setup.weights),
        "sets": sets,
        "titles": setup.titles,
    }
    text = markdown(report)
    name = artifacts.run_report(
        "error_analysis", artifacts.run_of(setup.model_dir), default_run(setup.paths)
    )
    write_report(setup.paths.reports, name, report, text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = new_parser(__spec__.name, __doc__)
    add_args(parser)
    parser.add_argument("--beam-size", type=int, default=5, help="beam width (default: 5)")
    parser.add_argument("--alpha", type=float, default=0.6, help="length penalty (default: 0.6)")
    args = parser.parse_args(argv)
    if args.beam_size < 1 or args.alpha < 0:
        parser.error("need --beam-size >= 1 and --alpha >= 0")
    return run_stage(args, command, log, writes=lambda paths: (paths.reports,))


if __name__ == "__main__":
    sys.exit(main())
