"""Our BLEU beside sacrebleu: the signature to print next to a score, and a timing.

sacrebleu is the reference implementation that papers quote, so reports state its signature
(which says how the score was computed) and check that ours agrees. It is imported lazily:
nothing else in the pipeline needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipeline.metrics.bleu import corpus_bleu
from pipeline.timing import best_time


def sacrebleu_signature(num_refs: int = 1) -> str:
    """The signature sacrebleu prints for default corpus BLEU with ``num_refs`` references.

    Our ``corpus_bleu`` computes exactly this configuration, e.g.
    ``nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0``.
    """
    from sacrebleu.metrics import BLEU

    metric = BLEU()
    metric.corpus_score(["a"], [["a"]] * num_refs)  # the reference count is known after a run
    return str(metric.get_signature())


def bench_bleu(
    hyps: Sequence[str], refs: Sequence[Sequence[str]] | Sequence[str], repeats: int = 3
) -> dict[str, Any]:
    """Seconds for corpus BLEU by us and by sacrebleu on the same input, and both scores."""
    import sacrebleu

    streams = [refs] if refs and isinstance(refs[0], str) else refs
    ours_s, ours = best_time(lambda: corpus_bleu(hyps, streams), repeats)
    sacre_s, sacre = best_time(lambda: sacrebleu.corpus_bleu(hyps, streams), repeats)
    return {
        "sentences": len(hyps),
        "ours_s": ours_s,
        "sacrebleu_s": sacre_s,
        "speedup": sacre_s / ours_s if ours_s else float("inf"),
        "ours_bleu": ours.score,
        "sacrebleu_bleu": sacre.score,
        "signature": sacrebleu_signature(len(streams)),
    }
