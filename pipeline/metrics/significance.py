"""How sure a BLEU difference is: sacrebleu's paired bootstrap resampling (Koehn, 2004).

Every system is scored on the same ``n`` resamples of the test sentences (drawn with
replacement; sacrebleu's fixed seed, 12345), and so is the baseline. A system's 95% interval
is +- half the distance between the 2.5th and 97.5th percentiles of its resampled BLEU. Its
p-value against the baseline is (c + 1) / (n + 1), where c counts the resamples whose absolute
BLEU difference, centred on the mean of those differences, exceeds the observed absolute
difference (the null hypothesis of no difference, as in Moses'
bootstrap-hypothesis-difference-significance.pl). All of it is sacrebleu's
``significance.PairedTest``, so the figures are the ones ``sacrebleu --paired-bs`` prints,
but for one case: a system whose output equals the baseline's gets p = 1. sacrebleu gives it
1 / (n + 1), since no centred difference exceeds the observed zero, which would read as the
most significant result of a table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

RESAMPLES = 1000  # sacrebleu's default for the paired bootstrap


def paired_bootstrap(
    systems: Mapping[str, Sequence[str]],
    references: Sequence[Sequence[str | None]],
    baseline: str,
    resamples: int = RESAMPLES,
) -> tuple[dict[str, dict[str, Any]], str]:
    """Each system's BLEU, bootstrap mean, 95% interval half-width and p against ``baseline``.

    ``references`` are sacrebleu's streams (stream k holds every sentence's k-th reference,
    None where a sentence has fewer). Returns the figures by system name and the signature.
    """
    from sacrebleu.metrics import BLEU
    from sacrebleu.significance import PairedTest

    named = [(baseline, list(systems[baseline]))]
    named += [(name, list(hyps)) for name, hyps in systems.items() if name != baseline]
    test = PairedTest(named, {"BLEU": BLEU()}, references, test_type="bs", n_samples=resamples)
    signatures, scores = test()
    (metric,) = (name for name in scores if name != "System")
    figures = {
        name: {
            "bleu": result.score,
            "mean": result.mean,
            "ci95": result.ci,
            "p_value": result.p_value,
        }
        for name, result in zip(scores["System"], scores[metric], strict=True)
    }
    for name, hyps in named[1:]:
        if hyps == named[0][1]:
            figures[name]["p_value"] = 1.0
    return figures, str(signatures[metric])
