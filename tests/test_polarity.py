import bz2

import pytest

from pipeline.data import polarity


def csv_bytes(rows: list[tuple[str, str]]) -> bytes:
    lines = ["category,text,movie_name,has_plot_and_reviews"]
    lines += [f'{c},"{t}",film,True' for c, t in rows]
    return bz2.compress("\n".join(lines).encode())


def test_build_drops_plot_duplicates_and_conflicts():
    rows = polarity.read_rows(
        csv_bytes(
            [
                ("fresh", "A joy."),
                ("rotten", "A bore."),
                ("plot", "A man walks into a bar."),
                ("fresh", "A  joy. "),  # duplicate after normalization
                ("fresh", "Mixed bag."),
                ("rotten", "Mixed bag."),  # conflicting labels: ambiguous
                ("fresh", ""),
                ("meh", "Unknown."),
            ]
        )
    )
    reviews, stats = polarity.build(rows, n_folds=2)
    assert sorted((r.text, r.label) for r in reviews) == [("A bore.", 0), ("A joy.", 1)]
    assert stats.dropped == {
        "plot synopsis": 1,
        "duplicate": 2,
        "conflicting labels": 1,
        "empty text": 1,
        "unknown category": 1,
    }


def test_folds_are_stratified_balanced_and_deterministic():
    rows = [{"category": "fresh", "text": f"good {i}"} for i in range(35)]
    rows += [{"category": "rotten", "text": f"bad {i}"} for i in range(25)]
    reviews, _ = polarity.build(rows, n_folds=10)
    for fold in range(10):
        in_fold = [r for r in reviews if r.fold == fold]
        labels = sorted(r.label for r in in_fold)
        assert labels.count(1) in (3, 4) and labels.count(0) in (2, 3)
    again, _ = polarity.build(list(reversed(rows)), n_folds=10)
    assert sorted(again) == sorted(reviews)


def test_corrupt_archive_member_is_a_clear_error():
    with pytest.raises(ValueError, match="not valid bzip2"):
        polarity.read_rows(b"definitely not bzip2")
    with pytest.raises(ValueError, match="unexpected CSV header"):
        polarity.read_rows(bz2.compress(b"a,b\n1,2\n"))
