"""Every stage checks its output folders before its work, and says how to fix one it cannot use.

A folder is made unusable by a regular file where one of its parents should be: that fails
for root too, who ignores permission bits.
"""

from __future__ import annotations

import importlib
import logging

import pytest

STAGES = [
    # (module, its expensive work, the output flag, the folder under it that is checked first)
    ("pipeline.data.__main__", "run", "--data-dir", "raw"),
    ("pipeline.data.__main__", "run", "--reports-dir", ""),
    ("pipeline.encode", "run", "--data-dir", "processed"),
    ("pipeline.encode", "run", "--reports-dir", ""),
    ("pipeline.lm.train", "train", "--reports-dir", ""),
    ("pipeline.lm.train", "train", "--saved-models-dir", ""),
    ("pipeline.sentiment.train", "train", "--reports-dir", ""),
    ("pipeline.sentiment.train", "train", "--saved-models-dir", ""),
    ("pipeline.sentiment.train", "train", "--runs-dir", ""),
    ("pipeline.embeddings.train", "run", "--data-dir", "processed/embeddings"),
    ("pipeline.embeddings.train", "run", "--vectors-dir", ""),
    ("pipeline.embeddings.train", "run", "--runs-dir", ""),
    ("pipeline.embeddings.bench", "run", "--reports-dir", ""),
    ("pipeline.embeddings.train", "run", "--reports-dir", ""),
    ("pipeline.embeddings.evaluate", "evaluate_models", "--reports-dir", ""),
    ("pipeline.embeddings.export", "run", "--data-dir", "processed"),
    ("pipeline.embeddings.export", "run", "--saved-models-dir", ""),
    ("pipeline.translate.bleu", "load_setup", "--reports-dir", ""),
    ("pipeline.translate.error_analysis", "load_setup", "--reports-dir", ""),
    ("pipeline.translate.export", "run", "--saved-models-dir", "translator"),
    ("pipeline.translate.train", "train", "--reports-dir", ""),
    ("pipeline.translate.train", "train", "--runs-dir", ""),
    ("pipeline.translate.bench", "_subprocess", "--reports-dir", ""),
]


def message(folder) -> str:
    return (
        f"Cannot write to {folder}: taken is not a folder. This stage saves its results "
        f"there, so it stops before doing any work. Make {folder} a folder you may write to, "
        "or point the stage elsewhere with its --*-dir options (see --help)."
    )


@pytest.mark.parametrize(("module", "work", "flag", "checked"), STAGES)
def test_an_unwritable_output_folder_stops_the_stage_before_its_work(
    module, work, flag, checked, tmp_path, monkeypatch, caplog
) -> None:
    stage = importlib.import_module(module)
    monkeypatch.setattr(stage, work, lambda *a, **k: pytest.fail(f"{work} ran"))
    monkeypatch.chdir(tmp_path)  # the folders the stage writes by default land here
    (tmp_path / "taken").write_text("a file, not a folder")
    with caplog.at_level(logging.ERROR):
        assert stage.main([flag, "taken/out"]) == 1
    folder = tmp_path.joinpath("taken", "out", checked).relative_to(tmp_path)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        message(folder)
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]  # nothing was created
