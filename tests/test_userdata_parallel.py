"""Your own parallel text: both file forms through the prepare step, every bad file with its
message, a named run beside the default one, and a translator that learns a made-up language.

The made-up language spells every English word backwards ("the red cat" -> "eht der tac"):
a translator trained on a few thousand such pairs through the real stages must translate its
own test file almost perfectly, and its SavedModel must do the same in a process that never
imports ``pipeline``.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
from pathlib import Path

import pytest
import tensorflow_datasets as tfds
from fresh_process import without_pipeline
from test_makefile import Make

from pipeline import artifacts
from pipeline.config import Paths
from pipeline.data.ding import sentence_key
from pipeline.translate import bleu, error_analysis, export
from pipeline.translate import train as translate_train
from pipeline.userdata import parallel

WORDS = [
    *("the", "a", "one", "two", "red", "blue", "green", "small", "big", "old", "new"),
    *("cat", "dog", "bird", "tree", "house", "river", "sees", "likes", "eats"),
]
SMOKE = ["--preset", "smoke"]
# A model just big enough for the made-up language, trained for a few hundred steps.
TRANSLATOR = [
    *("--embed-dim", "32", "--units", "64", "--attention-units", "64"),
    *("--batch-size", "32", "--learning-rate", "3e-3", "--max-len", "20"),
    *("--epochs", "5", "--steps-per-epoch", "100"),
]


def made_up_pairs(n: int, seed: int) -> list[tuple[str, str]]:
    """(backwards-spelled source, English target) sentences of 3-8 words."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(3, 8))]
        pairs.append((" ".join(w[::-1] for w in words), " ".join(words)))
    return pairs


def write_tsv(path: Path, pairs: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")
    return path


def write_aligned(stem: Path, pairs: list[tuple[str, str]], langs=("xx", "en")) -> list[Path]:
    paths = [stem.with_name(f"{stem.name}.{lang}") for lang in langs]
    for path, side in zip(paths, zip(*pairs, strict=True), strict=True):
        path.write_text("".join(f"{line}\n" for line in side), encoding="utf-8")
    return paths


def locations(root: Path) -> list[str]:
    return ["--data-dir", str(root / "data"), "--reports-dir", str(root / "reports")]


def outputs(root: Path) -> list[str]:
    return [*locations(root), "--runs-dir", str(root / "runs")]


def prepare(root: Path, run: str, *args: str) -> int:
    return parallel.main([*SMOKE, "--run", run, *locations(root), *args])


def manifest(root: Path, run: str) -> dict:
    paths = Paths(data=root / "data").named(run)
    return json.loads(artifacts.manifest(paths, "parallel").read_text(encoding="utf-8"))


def split_pairs(root: Path, run: str, split: str, langs=("xx", "en")) -> list[tuple[str, str]]:
    data_dir = artifacts.user_datasets(Paths(data=root / "data").named(run), "parallel")
    builder = tfds.builder(parallel.dataset_name(*langs), data_dir=str(data_dir))
    return [
        (ex[langs[0]].decode(), ex[langs[1]].decode())
        for ex in tfds.as_numpy(builder.as_dataset(split=split))
    ]


def test_tsv_through_prepare_holds_out_dev_and_test_by_hash(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    pairs = made_up_pairs(200, seed=1)
    pairs[0] = ("eht\u00a0 der\u200b tac", "the  red cat")  # NBSP, a zero-width space, spaces
    tsv = write_tsv(tmp_path / "train.tsv", pairs)
    assert prepare(tmp_path, "toy", "--pairs", str(tsv), "--source", "xx", "--target", "en") == 0
    report = manifest(tmp_path, "toy")
    distinct = len({sentence_key(s) for s, _ in pairs})
    held = parallel.held_out_size(None, distinct)
    assert held == 10 and report["pairs_read"] == {"train": 200}
    assert report["held_out"] == {"dev": "hash", "test": "hash"}
    splits = {name: split_pairs(tmp_path, "toy", name) for name in ("train", "validation", "test")}
    assert [len({sentence_key(s) for s, _ in splits[n]}) for n in ("validation", "test")] == [
        10,
        10,
    ]
    train_sources = {sentence_key(s) for s, _ in splits["train"]}
    assert not train_sources & {
        sentence_key(s) for n in ("validation", "test") for s, _ in splits[n]
    }
    everything = [p for rows in splits.values() for p in rows]
    assert ("eht der tac", "the red cat") in everything  # normalized
    assert len(everything) + report["dropped"]["train_pairs_in_dev_or_test"] == 200
    encoded = report["translate"]
    assert encoded["vocab_size"]["word"] == {"xx": 24, "en": 24}  # 20 words + 4 reserved
    assert {
        name: encoded["splits"][name]["word"]["en"]["sequences"] for name in encoded["splits"]
    } == {
        "train": len(splits["train"]),
        "dev": len(splits["validation"]),
        "test": len(splits["test"]),
    }
    pieces = encoded["vocab_size"]["subword"]
    assert pieces < 400  # the smoke preset's size, capped by the small text, with a note
    assert f"gave {pieces} subword pieces, fewer than the 400" in caplog.text
    processed = Paths(data=tmp_path / "data").named("toy").processed
    for name in report["outputs"]:
        assert (tmp_path / "data" / name).is_file()
    assert (processed / artifacts.translate_records("subword", "test")).is_file()


def test_two_files_with_dev_and_test_files_and_languages_from_the_names(tmp_path):
    test = made_up_pairs(6, seed=3)
    dev = [*made_up_pairs(5, seed=4), (test[0][0], "a different reference")]  # also in test
    train = [*made_up_pairs(60, seed=2), (test[1][0], "another translation")]  # shares a source
    sources = write_aligned(tmp_path / "train", train, ("fr", "en"))
    test_files = write_aligned(tmp_path / "test", test, ("fr", "en"))
    dev_tsv = write_tsv(tmp_path / "dev.tsv", dev)
    args = ["--source-file", str(sources[0]), "--target-file", str(sources[1])]
    args += ["--dev", str(dev_tsv), "--test", *map(str, test_files)]
    assert prepare(tmp_path, "fr-en", *args) == 0
    report = manifest(tmp_path, "fr-en")
    assert (report["source"], report["target"]) == ("fr", "en")
    assert report["pairs_read"] == {"train": 61, "dev": 6, "test": 6}
    assert report["held_out"] == {"dev": "file", "test": "file"}
    assert report["dropped"] == {"dev_pairs_in_test": 1, "train_pairs_in_dev_or_test": 1}
    langs = ("fr", "en")
    # TFDS stores a split's examples in an order of its own.
    assert sorted(split_pairs(tmp_path, "fr-en", "test", langs)) == sorted(test)
    assert sorted(split_pairs(tmp_path, "fr-en", "validation", langs)) == sorted(dev[:5])
    assert sorted(split_pairs(tmp_path, "fr-en", "train", langs)) == sorted(train[:60])


def test_a_named_run_is_incremental_and_leaves_the_default_folders_alone(tmp_path):
    tsv = write_tsv(tmp_path / "train.tsv", made_up_pairs(80, seed=5))
    args = ["--pairs", str(tsv), "--source", "xx", "--target", "en"]
    assert prepare(tmp_path, "mine", *args) == 0
    paths = Paths(data=tmp_path / "data").named("mine")
    written = [artifacts.stamp(paths, "parallel"), artifacts.manifest(paths, "parallel")]
    written += [tmp_path / "data" / name for name in manifest(tmp_path, "mine")["outputs"]]
    before = [p.stat().st_mtime_ns for p in written]
    assert prepare(tmp_path, "mine", *args) == 0
    assert [p.stat().st_mtime_ns for p in written] == before
    assert prepare(tmp_path, "mine") == 0  # no files (make after a code change): as it is
    assert [p.stat().st_mtime_ns for p in written] == before
    # Nothing of the default pipeline's was written: every folder holds only user/<run>.
    for root in (tmp_path / "data" / "processed", tmp_path / "data" / "tfds"):
        assert [p.name for p in root.iterdir()] == ["user"]
        assert [p.name for p in (root / "user").iterdir()] == ["mine"]
    write_tsv(tsv, made_up_pairs(81, seed=5))  # one more pair: built again
    assert prepare(tmp_path, "mine", *args) == 0
    assert manifest(tmp_path, "mine")["pairs_read"] == {"train": 81}


def _tsv(tmp: Path, text: str) -> list[str]:
    path = tmp / "pairs.tsv"
    path.write_text(text, encoding="utf-8")
    return ["--pairs", str(path), "--source", "xx", "--target", "en"]


def _aligned(tmp: Path, source: str, target: str) -> list[str]:
    (tmp / "train.xx").write_text(source, encoding="utf-8")
    (tmp / "train.en").write_text(target, encoding="utf-8")
    return ["--source-file", str(tmp / "train.xx"), "--target-file", str(tmp / "train.en")]


MANY = "".join(f"{s}\t{t}\n" for s, t in made_up_pairs(40, seed=6))
BAD_INPUTS = {
    "no tab": (
        lambda tmp: _tsv(tmp, "eht tac\tthe cat\nno tab here\n"),
        "pairs.tsv:2: the line has no tab; each line must be source<TAB>target (exactly one tab).",
    ),
    "empty side": (
        lambda tmp: _tsv(tmp, "eht tac\tthe cat\n\t a dog\n"),
        "pairs.tsv:2: the source side is empty.",
    ),
    "invisible side": (
        lambda tmp: _tsv(tmp, "eht tac\t\u200b\u200b\n"),
        "pairs.tsv:1: the target side holds only invisible or control characters.",
    ),
    "misaligned": (
        lambda tmp: _aligned(tmp, "a\nb\nc\n", "a\nb\n"),
        "train.xx has 3 lines but {tmp}/train.en has 2; line-aligned files must have one line "
        "per sentence pair, in the same order.",
    ),
    "no languages": (
        lambda tmp: _tsv(tmp, MANY)[:2],
        "Give the languages with --source and --target (e.g. --source fr --target en;",
    ),
    "same language": (
        lambda tmp: [*_aligned(tmp, "a b\n", "c d\n"), "--target", "xx"],
        "--source and --target are both 'xx'",
    ),
    "bad language code": (
        lambda tmp: [*_tsv(tmp, MANY)[:2], "--source", "x-y", "--target", "en"],
        "--source 'x-y' is not a usable language code",
    ),
    "too few to hold out": (
        lambda tmp: [*_tsv(tmp, "a b\tc d\ne f\tg h\n"), "--test-size", "2"],
        "The training pairs have 2 distinct source sentences: too few to hold out 1 for dev "
        "and 2 for test and still train.",
    ),
    "dev inside test": (
        lambda tmp: [
            *_tsv(tmp, MANY),
            "--dev",
            str(tmp / "pairs.tsv"),
            "--test",
            str(tmp / "pairs.tsv"),
        ],
        "Every dev source is also a test source, so dev would be empty",
    ),
    "three dev files": (
        lambda tmp: [*_tsv(tmp, MANY), "--dev", "a", "b", "c"],
        "--dev takes one TSV (source<TAB>target) or two line-aligned files (source, then "
        "target), not 3 files.",
    ),
    "both forms": (
        lambda tmp: [*_tsv(tmp, MANY), "--source-file", "x.xx"],
        "Give the training pairs as --pairs FILE (source<TAB>target lines; make: PAIRS=) or as",
    ),
    "vocabulary too small": (
        lambda tmp: [*_tsv(tmp, MANY), "--translate-subword-size", "100"],
        "A subword vocabulary of 100 pieces is too small for this text: its characters, the "
        "256 byte pieces and the 4 reserved ids need 280. Ask for at least that many "
        "(--translate-subword-size).",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_fails_with_its_message(tmp_path, caplog, case):
    args, message = BAD_INPUTS[case]
    assert prepare(tmp_path, "bad", *args(tmp_path)) == 1
    assert message.format(tmp=tmp_path) in caplog.text
    paths = Paths(data=tmp_path / "data").named("bad")
    assert not artifacts.manifest(paths, "parallel").exists()
    assert not artifacts.stamp(paths, "parallel").exists()


def test_training_on_a_run_without_its_text_says_how_to_give_it(tmp_path, caplog):
    assert translate_train.main([*SMOKE, "--run", "nothing", *outputs(tmp_path)]) == 1
    assert "run 'nothing' has no parallel text yet. Give it with `make train-translate " in (
        caplog.text
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A run of 3,000 made-up pairs, prepared, trained and scored through the stage CLIs."""
    root = tmp_path_factory.mktemp("made_up")
    tsv = write_tsv(root / "backwards.tsv", made_up_pairs(3000, seed=0))
    assert prepare(root, "backwards", "--pairs", str(tsv), "--source", "xx", "--target", "en") == 0
    run = ["--run", "backwards", *outputs(root)]
    assert translate_train.main([*SMOKE, *run, *TRANSLATOR]) == 0  # the languages: the run's
    assert bleu.main([*SMOKE, *run, "--quick", "--bench-sentences", "8"]) == 0
    assert error_analysis.main([*SMOKE, *run, "--limit", "30"]) == 0
    saved = ["--saved-models-dir", str(root / "saved_models")]
    assert export.main([*SMOKE, *run, *saved]) == 0
    return root


def test_a_made_up_language_is_learned_almost_perfectly(trained):
    reports = trained / "reports" / "user" / "backwards"
    assert sorted(p.name for p in (trained / "reports").iterdir()) == ["user"]
    assert sorted(p.name for p in reports.iterdir()) == [
        "bleu.json", "bleu.md", "error_analysis.json", "error_analysis.md",
        "train_translate.json",
    ]  # fmt: skip
    training = json.loads((reports / "train_translate.json").read_text())
    assert (training["config"]["source"], training["config"]["target"]) == ("xx", "en")
    assert training["config"]["mix"] == ""
    assert training["model_dir"].endswith("runs/user/backwards/translate/xx-en/best")
    scores = json.loads((reports / "bleu.json").read_text())
    assert list(scores["sets"]) == ["test"] and scores["cased_only"]
    test = scores["sets"]["test"]
    held = manifest(trained, "backwards")["translate"]["splits"]["test"]["word"]["en"]
    assert test["sentences"] == test["pairs"] == held["sequences"] and test["max_references"] == 1
    assert test["metric"] == "bleu_cased"
    for row in test["results"]:
        assert row["bleu_cased"] >= 90 and row["equal_cased"]
        assert row["chrf_cased"] >= 95
    assert "## Run backwards: test (xx -> en)" in (reports / "bleu.md").read_text()
    errors = json.loads((reports / "error_analysis.json").read_text())
    assert errors["sets"]["test"]["sentences"] == 30


def test_the_exported_translator_works_in_a_process_that_never_imports_pipeline(trained):
    saved = trained / "saved_models" / "user" / "backwards" / artifacts.TRANSLATOR / "1"
    body = f"""
        translator = tf.saved_model.load({str(saved)!r})
        out = translator.translate(tf.constant(["eht der tac sekil a llams god"]))
        result = [t.decode() for t in out["translations"].numpy()]
        """
    translations = without_pipeline(body, cwd=saved.parent, tensorflow_text=True)
    assert translations == ["the red cat likes a small dog"]


def test_make_prepares_the_run_then_trains_on_it(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("GNU make is not installed")
    make = Make(tmp_path)
    result = make(
        "-s", "train-translate", "PAIRS=my.pairs.tsv", 'DEV=dev.xx dev.en',
        "DATA_ARGS=--source xx --target en", "STAGE_ARGS=--max-minutes 1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    prepare_argv, train_argv = make.calls()
    assert prepare_argv[:2] == ["-m", "pipeline.userdata.parallel"]
    args = parallel.build_parser().parse_args(prepare_argv[2:])
    assert (args.run, args.preset, args.pairs, args.dev) == (
        "my", "default", Path("my.pairs.tsv"), [Path("dev.xx"), Path("dev.en")],
    )  # fmt: skip
    assert (args.source, args.target, args.source_file, args.test) == ("xx", "en", None, None)
    assert train_argv == [
        "-m", "pipeline.translate.train", "--preset", "default", "--run", "my",
        "--max-minutes", "1",
    ]  # fmt: skip
