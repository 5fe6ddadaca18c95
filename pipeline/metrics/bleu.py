"""BLEU (Papineni et al., 2002), written to give exactly sacrebleu's numbers.

Translation scores are only comparable when tokenization, smoothing and the reference-length
rule are the same, so every choice here follows sacrebleu 2.x's defaults: the ``13a``
tokenizer (mteval-v13a), clipped n-gram precisions up to order 4, the brevity penalty with the
closest reference length (ties to the shorter), and ``exp`` smoothing. Corpus BLEU uses all
four orders; sentence BLEU uses the "effective order" (orders the hypothesis has at least one
n-gram of), as ``sacrebleu.sentence_bleu`` does. Scores are on sacrebleu's 0-100 scale.

References follow sacrebleu's layout: a list of reference *streams*, each as long as the
hypotheses (``references[k][i]`` is the k-th reference of sentence i); a plain list of strings
is one stream. A ``None`` entry drops that reference for that sentence.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

MAX_ORDER = 4

# mteval-v13a's punctuation rules, in sacrebleu's order (its TokenizerRegexp). The first
# rule, r"([\{-\~\[-\` -\&\(-\+\:-\@\/])" -> r" \1 ", spaces out single characters, which
# a translation table does exactly and far faster; the others use replacement functions,
# cheaper than regex templates.
_SYMBOLS = str.maketrans({c: f" {c} " for c in ' !"#$%&()*+/:;<=>?@[\\]^_`{|}~'})
_RULES_13A = (
    # Period and comma split unless between digits (so 3.14 and 1,000 stay whole).
    (re.compile(r"([^0-9])([\.,])"), lambda m: f"{m[1]} {m[2]} "),
    (re.compile(r"([\.,])([^0-9])"), lambda m: f" {m[1]} {m[2]}"),
    # A dash after a digit splits (ranges like 1990-2000).
    (re.compile(r"([0-9])(-)"), lambda m: f"{m[1]} - "),
)
_ENTITIES = (("&quot;", '"'), ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">"))


def tokenize_13a(line: str) -> list[str]:
    """Tokens of ``line`` as sacrebleu's default ``13a`` tokenizer splits it.

    Like sacrebleu, trailing whitespace is stripped first and ``<skipped>`` markers, line-break
    hyphenation and the four common HTML entities are undone before the punctuation rules.
    """
    line = line.rstrip().replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        for entity, char in _ENTITIES:
            line = line.replace(entity, char)
    line = f" {line} ".translate(_SYMBOLS)
    for pattern, repl in _RULES_13A:
        line = pattern.sub(repl, line)
    return line.split()


@dataclass(frozen=True)
class BleuScore:
    """BLEU and its sufficient statistics; ``counts[n-1]``/``totals[n-1]`` are for n-grams."""

    score: float
    precisions: tuple[float, ...]
    bp: float
    ratio: float
    sys_len: int
    ref_len: int
    counts: tuple[int, ...]
    totals: tuple[int, ...]

    def __str__(self) -> str:
        precisions = "/".join(f"{p:.1f}" for p in self.precisions)
        return (
            f"BLEU = {self.score:.2f} {precisions} (BP = {self.bp:.3f} ratio = {self.ratio:.3f}"
            f" hyp_len = {self.sys_len} ref_len = {self.ref_len})"
        )


def _ngrams(tokens: list[str]) -> Counter:
    """Counts of all 1..4-grams; ``zip`` of shifted lists is the fast way to slide a window."""
    counts: Counter = Counter()
    for n in range(1, MAX_ORDER + 1):
        counts.update(zip(*(tokens[i:] for i in range(n)), strict=False))
    return counts


def _closest_length(hyp_len: int, ref_lens: list[int]) -> int:
    """The reference length closest to the hypothesis length, the shorter one on a tie."""
    return min(ref_lens, key=lambda r: (abs(hyp_len - r), r))


def _segment_stats(hypothesis: str, references: Sequence[str | None]) -> list[int]:
    """[hyp_len, ref_len, counts_1..4, totals_1..4] for one sentence."""
    ref_tokens = [tokenize_13a(ref) for ref in references if ref is not None]
    if not ref_tokens:
        raise ValueError("every sentence needs at least one reference")
    ref_lens = [len(tokens) for tokens in ref_tokens]
    max_ref = _ngrams(ref_tokens[0])
    for tokens in ref_tokens[1:]:  # clipping uses each n-gram's largest count in any ref
        for gram, count in _ngrams(tokens).items():
            if count > max_ref[gram]:
                max_ref[gram] = count
    tokens = tokenize_13a(hypothesis)
    stats = [len(tokens), _closest_length(len(tokens), ref_lens)] + [0] * (2 * MAX_ORDER)
    for gram, count in _ngrams(tokens).items():
        order = len(gram)
        stats[1 + MAX_ORDER + order] += count
        if gram in max_ref:
            stats[1 + order] += min(count, max_ref[gram])
    return stats


def _score(stats: list[int], effective_order: bool) -> BleuScore:
    """BLEU from summed statistics, with sacrebleu's ``exp`` smoothing.

    An order with no match gets precision 1/(2^k * total), k counting such orders so far.
    Orders the hypotheses have no n-grams of score log 0 (so BLEU 0) unless
    ``effective_order`` leaves them out of the geometric mean.
    """
    sys_len, ref_len = stats[0], stats[1]
    counts = tuple(stats[2 : 2 + MAX_ORDER])
    totals = tuple(stats[2 + MAX_ORDER :])
    bp = 1.0
    if sys_len < ref_len:
        bp = math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0
    ratio = sys_len / ref_len if ref_len else 0.0
    precisions = [0.0] * MAX_ORDER
    if not any(counts):
        return BleuScore(0.0, tuple(precisions), bp, ratio, sys_len, ref_len, counts, totals)
    order, smooth = MAX_ORDER, 1.0
    for n in range(MAX_ORDER):
        if totals[n] == 0:
            break
        if effective_order:
            order = n + 1
        if counts[n] == 0:
            smooth *= 2
            precisions[n] = 100.0 / (smooth * totals[n])
        else:
            precisions[n] = 100.0 * counts[n] / totals[n]
    if any(p == 0.0 for p in precisions[:order]):
        score = 0.0
    else:
        score = bp * math.exp(sum(math.log(p) for p in precisions[:order]) / order)
    return BleuScore(score, tuple(precisions), bp, ratio, sys_len, ref_len, counts, totals)


def _streams(references: Sequence[Sequence[str | None]] | Sequence[str]) -> list:
    """References as a list of streams; a flat list of strings is a single stream."""
    if references and isinstance(references[0], str):
        return [references]
    return list(references)


def corpus_bleu(
    hypotheses: Sequence[str], references: Sequence[Sequence[str | None]] | Sequence[str]
) -> BleuScore:
    """Corpus BLEU: n-gram statistics summed over sentences, then one score.

    Equals ``sacrebleu.corpus_bleu(hypotheses, references).score`` (default settings).
    """
    streams = _streams(references)
    if any(len(stream) != len(hypotheses) for stream in streams):
        raise ValueError("every reference stream must have one line per hypothesis")
    totals = [0] * (2 + 2 * MAX_ORDER)
    for hypothesis, refs in zip(hypotheses, zip(*streams, strict=True), strict=True):
        for i, value in enumerate(_segment_stats(hypothesis, refs)):
            totals[i] += value
    return _score(totals, effective_order=False)


def sentence_bleu(hypothesis: str, references: Sequence[str]) -> BleuScore:
    """BLEU of one sentence against its references, as ``sacrebleu.sentence_bleu``."""
    if isinstance(references, str):
        references = [references]
    return _score(_segment_stats(hypothesis, references), effective_order=True)
