"""BLEU intervals and paired tests are sacrebleu's paired bootstrap, as it computes them."""

from __future__ import annotations

import numpy as np
import pytest
from sacrebleu.metrics import BLEU
from sacrebleu.significance import PairedTest

from pipeline.metrics.significance import paired_bootstrap

RNG = np.random.default_rng(0)
WORDS = [f"w{i}" for i in range(50)]
REFERENCES = [" ".join(RNG.choice(WORDS, size=8)) for _ in range(200)]


def damaged(fraction: float, seed: int) -> list[str]:
    """The references with ``fraction`` of their words replaced by a wrong one."""
    rng = np.random.default_rng(seed)
    return [
        " ".join(w if rng.random() > fraction else "oops" for w in ref.split())
        for ref in REFERENCES
    ]


def test_figures_are_sacrebleus_own() -> None:
    systems = {"base": damaged(0.5, 1), "better": damaged(0.2, 2)}
    figures, signature = paired_bootstrap(systems, [REFERENCES], baseline="base")
    _, scores = PairedTest(
        list(systems.items()), {"BLEU": BLEU()}, [REFERENCES], test_type="bs", n_samples=1000
    )()
    for name, result in zip(scores["System"], scores["BLEU"], strict=True):
        assert figures[name] == {
            "bleu": result.score,
            "mean": result.mean,
            "ci95": result.ci,
            "p_value": result.p_value,
        }
    assert "bs:1000" in signature and "seed:12345" in signature


def test_a_clear_gain_is_significant_and_a_tiny_one_is_not() -> None:
    base = damaged(0.5, 1)
    tiny = list(base)
    tiny[0] = REFERENCES[0]  # one sentence of 200 fixed
    systems = {"base": base, "clear": damaged(0.2, 2), "tiny": tiny}
    figures, _ = paired_bootstrap(systems, [REFERENCES], baseline="base")
    assert figures["base"]["p_value"] is None
    assert figures["clear"]["bleu"] > figures["base"]["bleu"] + 20
    assert figures["clear"]["p_value"] < 0.01
    assert figures["tiny"]["p_value"] > 0.05
    for name in systems:  # the interval is around the bootstrap mean, near the score
        assert 0 < figures[name]["ci95"] < 10
        assert figures[name]["mean"] == pytest.approx(figures[name]["bleu"], abs=2)
    again, _ = paired_bootstrap(systems, [REFERENCES], baseline="base")
    assert again == figures  # sacrebleu's fixed seed


def test_the_baselines_own_output_is_no_difference() -> None:
    base = damaged(0.5, 1)
    figures, _ = paired_bootstrap({"base": base, "same": list(base)}, [REFERENCES], "base")
    assert figures["same"]["p_value"] == 1.0  # sacrebleu alone says 1/1001
    assert figures["same"]["bleu"] == figures["base"]["bleu"]
