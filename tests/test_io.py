"""Atomic writes: all or nothing, and ordinary file modes."""

import os
import stat

import pytest

import pipeline.io
from pipeline.io import atomic_path, write_json, write_lines, write_report


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    dest = tmp_path / "report.json"
    write_json(dest, {"v": 1})
    with pytest.raises(RuntimeError), atomic_path(dest) as tmp:
        tmp.write_text("partial")
        raise RuntimeError("interrupted")
    assert dest.read_text() == '{\n  "v": 1\n}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_directories_are_replaced_whole(tmp_path):
    dest = tmp_path / "model" / "1"
    for version in ("old", "new"):
        with atomic_path(dest, directory=True) as tmp:
            (tmp / "weights").write_text(version)
    assert [p.name for p in dest.iterdir()] == ["weights"]
    assert (dest / "weights").read_text() == "new"


def test_artifacts_get_the_umask_mode_not_owner_only(tmp_path):
    umask = os.umask(0o022)
    try:
        assert write_lines(tmp_path / "vocab.txt", ["a", "b"]) == 2
        with atomic_path(tmp_path / "saved", directory=True) as tmp:
            (tmp / "x").write_text("")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "vocab.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "saved").stat().st_mode) == 0o755


def test_a_report_writes_its_markdown_before_the_json_make_tracks(tmp_path, monkeypatch):
    written = []
    write_text = pipeline.io.write_text

    def recording(dest, text):
        written.append(os.path.basename(dest))
        write_text(dest, text)

    monkeypatch.setattr(pipeline.io, "write_text", recording)
    write_report(tmp_path / "reports", "bleu", {"bleu": 7.16}, "# BLEU\n")
    assert written == ["bleu.md", "bleu.json"]
    assert (tmp_path / "reports" / "bleu.md").read_text() == "# BLEU\n"
    assert (tmp_path / "reports" / "bleu.json").read_text() == '{\n  "bleu": 7.16\n}\n'
