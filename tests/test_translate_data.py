"""The translator's input: records read by kind, and batches mixed by kind in set shares."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import tensorflow as tf

from pipeline.data.tfds_builders import TRANSLATE_KINDS
from pipeline.translate import data
from pipeline.translate.train import kind_weights


def _write(path: Path, pairs: list[tuple[list[int], list[int], int | None]]) -> Path:
    with tf.io.TFRecordWriter(str(path)) as writer:
        for de, en, kind in pairs:
            feature = {
                "de": tf.train.Feature(int64_list=tf.train.Int64List(value=de)),
                "en": tf.train.Feature(int64_list=tf.train.Int64List(value=en)),
            }
            if kind is not None:
                feature["kind"] = tf.train.Feature(int64_list=tf.train.Int64List(value=[kind]))
            writer.write(
                tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()
            )
    return path


def _by_kind(tmp_path: Path, counts: dict[int, int]) -> Path:
    """Pairs whose source's first id is 10 + kind, so a batch row tells its kind."""
    pairs = [
        ([10 + kind, 4 + i % 7, 3], [5 + i % 5, 3], kind)
        for kind, n in counts.items()
        for i in range(n)
    ]
    # Interleave the kinds, as the data stage's shuffled splits do.
    pairs.sort(key=lambda p: (p[1][0] * 7 + p[0][1]) % 11)
    return _write(tmp_path / "train.tfrecord", pairs)


def _kinds_seen(batches: tf.data.Dataset, n_batches: int) -> Counter:
    seen: Counter = Counter()
    for source, _, _ in batches.take(n_batches):
        seen.update(int(x) - 10 for x in source[:, 0].numpy())
    return seen


def test_read_pairs_by_kind_and_a_missing_kind_is_zero(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "r.tfrecord",
        [
            ([4, 3], [5, 3], 2),
            ([6, 7, 3], [8, 3], 0),
            ([9, 3], [10, 11, 3], 2),
            ([12, 3], [3], None),
        ],
    )
    everything = [
        (s.numpy().tolist(), t.numpy().tolist()) for s, t in data.read_pairs(path, "de", "en")
    ]
    assert everything == [
        ([4, 3], [5, 3]),
        ([6, 7, 3], [8, 3]),
        ([9, 3], [10, 11, 3]),
        ([12, 3], [3]),
    ]
    lexical = [s.numpy().tolist() for s, _ in data.read_pairs(path, "de", "en", kind=2)]
    assert lexical == [[4, 3], [9, 3]]
    sentences = [s.numpy().tolist() for s, _ in data.read_pairs(path, "de", "en", kind=0)]
    assert sentences == [[6, 7, 3], [12, 3]]
    assert list(data.read_pairs(path, "de", "en", kind=3)) == []
    spec = data.read_pairs(path, "de", "en", kind=2).element_spec
    assert spec == (tf.TensorSpec([None], tf.int32),) * 2


def _mixed_batches(path: Path, weights: list[float], skip: int = 0) -> tf.data.Dataset:
    pairs = [data.read_pairs(path, "de", "en", kind=k) for k in range(len(weights))]
    return data.train_batches(
        pairs, batch_size=16, max_len=10, shuffle_buffer=64, seed=3, skip=skip,
        kind_weights=weights,
    )  # fmt: skip


def test_batches_follow_the_mix_not_the_corpus(tmp_path: Path) -> None:
    # The corpus is 80% kind 2; the mix asks for 50% kind 0, 30% kind 1, 20% kind 2.
    path = _by_kind(tmp_path, {0: 30, 1: 70, 2: 400})
    seen = _kinds_seen(_mixed_batches(path, [0.5, 0.3, 0.2, 0.0]), 200)
    total = sum(seen.values())
    assert total == 200 * 16
    assert set(seen) == {0, 1, 2}
    for kind, share in ((0, 0.5), (1, 0.3), (2, 0.2)):
        assert abs(seen[kind] / total - share) < 0.03, (kind, seen)


def test_a_kind_without_pairs_drops_out(tmp_path: Path) -> None:
    path = _by_kind(tmp_path, {0: 20, 2: 40})
    seen = _kinds_seen(_mixed_batches(path, [0.25, 0.5, 0.25, 0.0]), 100)
    assert sum(seen.values()) == 100 * 16
    assert abs(seen[0] / (100 * 16) - 0.5) < 0.05, seen
    assert seen[1] == 0


def test_the_mixed_stream_is_a_function_of_the_seed_so_a_resume_can_skip(tmp_path: Path) -> None:
    path = _by_kind(tmp_path, {0: 30, 1: 70, 2: 400})
    weights = [0.5, 0.3, 0.2, 0.0]
    whole = [b[0].numpy().tolist() for b in _mixed_batches(path, weights).take(30)]
    again = [b[0].numpy().tolist() for b in _mixed_batches(path, weights).take(30)]
    resumed = [b[0].numpy().tolist() for b in _mixed_batches(path, weights, skip=12).take(18)]
    assert whole == again
    assert resumed == whole[12:]


def test_kind_weights_parse_in_the_data_stages_order() -> None:
    assert TRANSLATE_KINDS == ["sentence", "phrase", "lexical", "catalogue"]
    assert kind_weights("catalogue=2, sentence=1") == [1.0, 0.0, 0.0, 2.0]
    assert kind_weights("") is None
    assert kind_weights("  ") is None


@pytest.mark.parametrize(
    ("mix", "message"),
    [
        ("sentences=1", "names kind 'sentences'; the kinds are sentence, phrase"),
        ("sentence=lots", "gives sentence the weight 'lots', not a number"),
        ("sentence=-1", "weights must be >= 0"),
        ("sentence=nan", "weights must be >= 0"),
        ("sentence=0,lexical=0", "gives every kind weight 0"),
    ],
)
def test_bad_mixes_say_what_is_wrong(mix: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        kind_weights(mix)
