"""The readers of the user's own files: every bad file names its line and says what to do."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from pipeline.config import Paths
from pipeline.stage import stage_parser
from pipeline.userdata.files import (
    Decoding,
    UserDataError,
    aligned_lines,
    parallel_tsv,
    table_rows,
    text_lines,
)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_text_lines_skip_blank_lines_and_read_gzip(tmp_path: Path) -> None:
    plain = write(tmp_path / "a.txt", b"first line\r\n\n  \nsecond\n")
    packed = tmp_path / "b.txt.gz"
    packed.write_bytes(gzip.compress(b"dritte Zeile\n"))
    assert list(text_lines([plain, packed])) == [
        (plain, 1, "first line"),
        (plain, 4, "second"),
        (packed, 1, "dritte Zeile"),
    ]


def test_undecodable_bytes_name_the_line_and_the_ways_out(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", b"fine\ncaf\xe9 au lait\n")
    with pytest.raises(UserDataError) as err:
        list(text_lines([path]))
    assert str(err.value).startswith(f"{path}:2: byte(s) e9 at column 4 are not valid utf-8.")
    assert "--encoding latin-1" in str(err.value) and "--encoding-errors replace" in str(err.value)
    assert [t for *_, t in text_lines([path], Decoding("latin-1"))] == ["fine", "café au lait"]
    replaced = [t for *_, t in text_lines([path], Decoding(errors="replace"))]
    assert replaced == ["fine", "caf\ufffd au lait"]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("missing.txt", None, "missing.txt: no such file."),
        ("empty.txt", b"", "empty.txt: the file is empty (no line with text)."),
        ("blank.txt", b" \n\t\n", "blank.txt: the file is empty (no line with text)."),
        ("bad.txt.gz", b"not gzip at all", "bad.txt.gz: not a readable gzip file"),
    ],
)
def test_unusable_text_files(tmp_path: Path, name: str, data: bytes | None, message: str) -> None:
    path = tmp_path / name
    if data is not None:
        path.write_bytes(data)
    with pytest.raises(UserDataError, match="^" + re.escape(f"{tmp_path}/{message}")):
        list(text_lines([path]))


def test_a_folder_or_no_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserDataError, match="is a folder"):
        list(text_lines([tmp_path]))
    with pytest.raises(UserDataError, match="No input file given"):
        list(text_lines([]))


def test_tsv_keeps_quotes_and_csv_cells_may_span_lines(tmp_path: Path) -> None:
    tsv = write(tmp_path / "a.tsv", b'a "quoted" review\tpos\n\nplain\tneg\n')
    assert list(table_rows(tsv)) == [(1, ['a "quoted" review', "pos"]), (3, ["plain", "neg"])]
    csv = write(tmp_path / "a.csv", b'text,label\n"two\nlines, one cell",pos\nnext,neg\n')
    assert list(table_rows(csv)) == [
        (1, ["text", "label"]),
        (2, ["two\nlines, one cell", "pos"]),
        (4, ["next", "neg"]),
    ]
    broken = write(tmp_path / "b.csv", b'text,label\n"never closed,pos\n')
    with pytest.raises(UserDataError, match=r"b\.csv:\d+: not valid CSV"):
        list(table_rows(broken))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"ein Haus\ta house\nkein Tab hier\n", r"a\.tsv:2: the line has no tab"),
        (b"a\tb\tc\n", r"a\.tsv:1: the line has 2 tabs"),
        (b"Haus\t \n", r"a\.tsv:1: the target side is empty"),
        (b"\thouse\n", r"a\.tsv:1: the source side is empty"),
        (b"\n\n", r"a\.tsv: the file is empty"),
    ],
)
def test_bad_parallel_tsv(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(UserDataError, match=message):
        list(parallel_tsv(write(tmp_path / "a.tsv", data)))


def test_parallel_tsv_pairs(tmp_path: Path) -> None:
    path = write(tmp_path / "a.tsv", b"ein Haus\t a house\n\nzwei\ttwo\n")
    assert list(parallel_tsv(path)) == [(1, "ein Haus", "a house"), (3, "zwei", "two")]


def test_aligned_files_say_both_counts_and_the_empty_side(tmp_path: Path) -> None:
    de = write(tmp_path / "train.de", b"ein Haus\nzwei\n\n")
    en = write(tmp_path / "train.en", b"a house\ntwo\n")
    with pytest.raises(UserDataError) as err:
        list(aligned_lines(de, en))
    assert str(err.value).startswith(f"{de} has 3 lines but {en} has 2;")
    en.write_bytes(b"a house\n\n\n")
    with pytest.raises(UserDataError, match=rf"^{en}:2: the line is empty but {de}'s is not"):
        list(aligned_lines(de, en))
    en.write_bytes(b"a house\ntwo\n\n")
    assert list(aligned_lines(de, en)) == [(1, "ein Haus", "a house"), (2, "zwei", "two")]


def test_a_named_run_has_its_own_folders_and_a_checked_name() -> None:
    paths = Paths().named("my-reviews")
    assert paths.processed == Path("data/processed/user/my-reviews")
    assert paths.reports == Path("reports/user/my-reviews")
    assert paths.saved_models == Path("saved_models/user/my-reviews")
    assert paths.runs == Path("runs/user/my-reviews")
    assert (paths.raw, paths.tfds) == (Paths().raw, Paths().tfds)  # shared
    for bad in ("", "../up", "with space", "a/b", "-x", "x" * 65):
        with pytest.raises(ValueError, match="is not a usable run name"):
            Paths().named(bad)


def test_every_stage_takes_run(capsys: pytest.CaptureFixture[str]) -> None:
    parser = stage_parser("pipeline.x", "doc")
    assert parser.parse_args(["--run", "mine"]).run == "mine"
    assert parser.parse_args([]).run is None
    with pytest.raises(SystemExit):
        parser.parse_args(["--run", "../etc"])
    assert "is not a usable run name" in capsys.readouterr().err
