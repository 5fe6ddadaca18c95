"""Our BLEU against hand-computed values and against sacrebleu itself."""

import math
import random

import pytest
import sacrebleu

from pipeline.metrics import (
    bench_bleu,
    corpus_bleu,
    sacrebleu_signature,
    sentence_bleu,
    tokenize_13a,
)


def assert_same_as_sacrebleu(hyps, streams):
    ours = corpus_bleu(hyps, streams)
    theirs = sacrebleu.corpus_bleu(hyps, streams)
    assert ours.score == pytest.approx(theirs.score, abs=0.01)
    assert (ours.sys_len, ours.ref_len) == (theirs.sys_len, theirs.ref_len)
    assert list(ours.counts) == list(theirs.counts)
    assert list(ours.totals) == list(theirs.totals)
    assert ours.bp == pytest.approx(theirs.bp)
    assert list(ours.precisions) == pytest.approx(list(theirs.precisions))


@pytest.mark.parametrize(
    "line",
    [
        "Hello, world!",
        "It costs $3.14 (or 1,000 yen) in 1990-2000.",
        "a.b,c 3.x x.3 -5 5- e-mail",
        "&quot;quoted&quot; &amp; &lt;tag&gt; <skipped> hy-\nphen\nline   ",
        "café naïve Straße — «guillemets» 東京",
        "",
        "   ",
    ],
)
def test_tokenizer_matches_13a(line):
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    assert tokenize_13a(line) == Tokenizer13a()(line.rstrip()).split()


def test_perfect_match_is_100():
    score = corpus_bleu(["the cat sat on the mat ."], ["the cat sat on the mat ."])
    assert score.score == pytest.approx(100.0)
    assert score.bp == 1.0 and score.ratio == 1.0


def test_hand_computed_example():
    # hyp "the the cat" vs ref "the cat": 1-grams clipped 2/3, 2-grams 1/2, no 3-gram match
    # (exp smoothing: 1/(2*1)), no 4-grams at all (log 0, so BLEU 0 at corpus level).
    score = corpus_bleu(["the the cat"], ["the cat"])
    assert score.counts == (2, 1, 0, 0) and score.totals == (3, 2, 1, 0)
    assert score.score == 0.0
    # The sentence-level effective order drops the empty 4-gram order.
    sentence = sentence_bleu("the the cat", ["the cat"])
    expected = math.exp((math.log(200 / 3) + math.log(50) + math.log(50)) / 3)
    assert sentence.score == pytest.approx(expected)
    assert sentence.bp == 1.0


def test_brevity_penalty_and_longer_hypothesis():
    short = corpus_bleu(["a b c d"], ["a b c d e f g h"])
    assert short.bp == pytest.approx(math.exp(1 - 8 / 4))
    long = corpus_bleu(["a b c d e f g h i j"], ["a b c d e f g h"])
    assert long.bp == 1.0 and long.ratio == pytest.approx(10 / 8)


@pytest.mark.parametrize(
    ("hyps", "streams"),
    [
        ([""], [["the cat"]]),  # empty hypothesis
        (["", ""], [["", ""]]),  # everything empty
        (["x y z w v"], [["a b c d e"]]),  # no match at all
        (["a b c d e f g h i j"], [["a b c d e f g"]]),  # longer than the reference
        (["a b"], [["a b c d"], ["a b c"], ["a"]]),  # three references
        (["a b c"], [["a b"], ["a b c d"]]),  # reference lengths tie: the shorter wins
        (['He said: "3.5%", didn\'t he?'], [['He said : "3.5 %" , didn\'t he ?']]),
        (["Ça coûte 1,000€ — vraiment?"], [["Ça coûte 1,000 € — vraiment ?"]]),
        (["a b", "c d"], [["a b", None], ["a x", "c d"]]),  # a missing reference
    ],
)
def test_edge_cases_match_sacrebleu(hyps, streams):
    assert_same_as_sacrebleu(hyps, streams)


def test_flat_reference_list_is_one_stream():
    hyps = ["the cat", "a dog barks"]
    refs = ["the cat sat", "a dog barks loudly"]
    assert corpus_bleu(hyps, refs) == corpus_bleu(hyps, [refs])


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="one line per hypothesis"):
        corpus_bleu(["a", "b"], [["a"]])


WORDS = ["the", "a", "cat", "dog", "sat", "on", "mat", "is", "not", "very", "good", "bad"]
PUNCTUATION = [".", ",", "!", "?", ";", ":", "'", '"', "(", ")", "-", "--", "/", "$", "%", "&"]
MARKUP = ["&amp;", "&quot;", "<skipped>", "&lt;b&gt;"]
NUMBERS = ["3", "3.14", "1,000", "1990-2000", "42-", "x.y", "a,b", "e-mail"]
UNICODE = ["café", "naïve", "über", "Straße", "東京", "😀", "—", "«", "\u00a0"]
VOCAB = WORDS + PUNCTUATION + MARKUP + NUMBERS + UNICODE


def random_sentence(rng: random.Random, base: list[str] | None = None) -> str:
    """A random line, or a noisy copy of ``base`` so that n-grams actually match."""
    if base is not None and rng.random() < 0.8:
        words = [w for w in base if rng.random() < 0.85]
        for _ in range(rng.randint(0, 3)):
            words.insert(rng.randint(0, len(words)), rng.choice(VOCAB))
    else:
        words = [rng.choice(VOCAB) for _ in range(rng.randint(0, 20))]
    glue = rng.choice([" ", " ", "", "  "])
    return glue.join(words) + rng.choice(["", "", " ", "\n"])


def test_random_corpora_match_sacrebleu():
    rng = random.Random(0)
    for _ in range(300):
        size, n_refs = rng.randint(1, 6), rng.randint(1, 3)
        bases = [[rng.choice(VOCAB) for _ in range(rng.randint(0, 15))] for _ in range(size)]
        hyps = [random_sentence(rng, base) for base in bases]
        streams = [[random_sentence(rng, base) for base in bases] for _ in range(n_refs)]
        assert_same_as_sacrebleu(hyps, streams)
        ours = sentence_bleu(hyps[0], [s[0] for s in streams])
        theirs = sacrebleu.sentence_bleu(hyps[0], [s[0] for s in streams])
        assert ours.score == pytest.approx(theirs.score, abs=0.01)


def test_signature_and_bench():
    assert sacrebleu_signature(2).startswith("nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|")
    rng = random.Random(1)
    bases = [[rng.choice(VOCAB) for _ in range(12)] for _ in range(1000)]
    hyps = [random_sentence(rng, b) for b in bases]
    refs = [random_sentence(rng, b) for b in bases]
    result = bench_bleu(hyps, refs, repeats=1)
    assert result["ours_bleu"] == pytest.approx(result["sacrebleu_bleu"], abs=0.01)
    assert result["sentences"] == 1000 and result["ours_s"] > 0 and result["sacrebleu_s"] > 0
