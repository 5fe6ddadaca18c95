"""Atomic writes: all or nothing, and ordinary file modes."""

import os
import re
import stat
import subprocess
import time

import pytest

import pipeline.io
from pipeline.io import atomic_path, check_writable, write_json, write_lines, write_report


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


def _fake_temporary(folder, name: str, *, age_days: float = 0.0):
    """A half-written export's temporary folder, as a killed writer leaves it."""
    path = folder / name
    path.mkdir()
    (path / "saved_model.pb").write_text("half written")
    when = time.time() - age_days * 86400
    os.utime(path, (when, when))
    return path


def test_temporaries_name_their_writer(tmp_path):
    with atomic_path(tmp_path / "1", directory=True) as tmp:
        assert re.fullmatch(rf"\.1\.{os.getpid()}\.[a-z0-9_]{{8}}\.tmp", tmp.name)


def test_a_new_write_removes_the_temporaries_of_dead_writers_only(tmp_path):
    finished = subprocess.Popen(["true"])
    finished.wait()
    sleeping = subprocess.Popen(["sleep", "60"])
    try:
        dead = _fake_temporary(tmp_path, f".1.{finished.pid}.k3j9x0ab.tmp")
        kept = [
            _fake_temporary(tmp_path, f".1.{sleeping.pid}.a8d7f6g5.tmp"),  # a live export
            _fake_temporary(tmp_path, f".1.{os.getpid()}.zz00yy11.tmp"),  # this process's
            _fake_temporary(tmp_path, f".2.{finished.pid}.k3j9x0ab.tmp"),  # another version's
            _fake_temporary(tmp_path, ".1.q1w2e3r4.tmp", age_days=0.5),  # older code, recent
        ]
        old = _fake_temporary(tmp_path, ".1.p0o9i8u7.tmp", age_days=2)  # older code, old
        with atomic_path(tmp_path / "1", directory=True) as tmp:
            (tmp / "saved_model.pb").write_text("whole")
    finally:
        sleeping.kill()
        sleeping.wait()
    assert not dead.exists() and not old.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["1", *(p.name for p in kept)])
    assert (tmp_path / "1" / "saved_model.pb").read_text() == "whole"


def test_a_missing_folder_is_writable_where_it_would_be_created(tmp_path):
    assert check_writable(tmp_path / "reports", tmp_path / "saved_models" / "translator")
    assert sorted(tmp_path.iterdir()) == []  # the check creates nothing


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_not_writable(tmp_path, caplog):
    (tmp_path / "reports").mkdir(mode=0o555)
    assert not check_writable(tmp_path / "data", tmp_path / "reports" / "bleu")
    assert f"Cannot write to {tmp_path}/reports/bleu: Permission denied in " in caplog.text
