"""Every command line of the package: ``--help`` prints usage, an unknown flag is refused.

Each module runs as ``python -m`` runs it (``runpy`` with ``run_name="__main__"``), all in one
child process so TensorFlow is imported once rather than once per module.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAIN_GUARD = 'if __name__ == "__main__":'
# Every training stage takes the same output-location flags.
OUTPUTS = ["--data-dir", "--reports-dir", "--runs-dir", "--saved-models-dir"]
# Flags a module's --help must list, beside "usage:".
EXPECTED_FLAGS = {
    "pipeline.data": ["--preset"],
    "pipeline.encode": ["--preset"],
    "pipeline.lm.train": ["--preset", "--level", "--cell", *OUTPUTS],
    "pipeline.lessons.gradients": ["--preset", "--cells", "--steps", "--data-dir", "--reports-dir"],
    "pipeline.lm.sample": ["--temperature"],
    "pipeline.lm.export": ["--model"],
    "pipeline.embeddings.train": ["--preset", "--vectors-dir", *OUTPUTS],
    "pipeline.embeddings.evaluate": ["--preset", "--vectors-dir"],
    "pipeline.embeddings.export": ["--preset", "--vectors-dir"],
    "pipeline.embeddings.bench": ["--preset"],
    "pipeline.sentiment.train": ["--configs", *OUTPUTS],
    "pipeline.translate.train": ["--preset", *OUTPUTS],
    "pipeline.sentiment.classify": ["--model"],
    "pipeline.sentiment.export": ["--model"],
    "pipeline.userdata.labeled": ["--test", "--text-column", "--label-column", "--encoding"],
}


def command_lines() -> list[str]:
    """Modules with a ``__main__`` block, and packages with a ``__main__.py``."""
    modules = []
    for path in sorted((ROOT / "pipeline").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__main__":
            modules.append(".".join(parts[:-1]))
        elif MAIN_GUARD in path.read_text(encoding="utf-8"):
            modules.append(".".join(parts))
    return modules


def test_every_export_module_has_a_command_line():
    found = set(command_lines())
    exports = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in (ROOT / "pipeline").rglob("export.py")
    }
    assert exports <= found
    assert set(EXPECTED_FLAGS) <= found


@pytest.fixture(scope="module")
def runs() -> dict[str, dict[str, list]]:
    """{module: {"help" | "bogus": [exit code, stdout, stderr]}} from one child process."""
    script = textwrap.dedent(
        """
        import contextlib, io, json, runpy, sys, warnings
        warnings.simplefilter("ignore")  # runpy's note on modules imported before
        results = {}
        for module in json.loads(sys.argv[1]):
            for case, flag in (("help", "--help"), ("bogus", "--bogus")):
                out, err = io.StringIO(), io.StringIO()
                sys.argv = [module, flag]
                code = "returned"  # the module ran without exiting: no command line
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    try:
                        runpy.run_module(module, run_name="__main__", alter_sys=True)
                    except SystemExit as stop:
                        code = stop.code
                results.setdefault(module, {})[case] = [code, out.getvalue(), err.getvalue()]
        print(json.dumps(results))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, json.dumps(command_lines())],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", command_lines())
def test_help_prints_usage_and_unknown_flags_are_refused(runs, module):
    code, out, _ = runs[module]["help"]
    assert code == 0 and out.startswith(f"usage: python -m {module}")
    assert all(flag in out for flag in EXPECTED_FLAGS.get(module, []))
    code, out, err = runs[module]["bogus"]
    assert code == 2 and out == ""
    assert "error: unrecognized arguments: --bogus" in err


def test_export_cli_says_which_target_writes_a_missing_model(tmp_path, capsys):
    from pipeline.lm import export as lm_export
    from pipeline.sentiment import export as sentiment_export

    for module, target in ((lm_export, "make lm"), (sentiment_export, "make sentiment")):
        assert module.main(["--model", str(tmp_path / "9")]) == 1
        err = capsys.readouterr().err
        assert f"no SavedModel at {tmp_path / '9'}" in err and target in err


@pytest.mark.parametrize("temperature", ["-1", "nan", "inf"])
def test_sample_refuses_a_temperature_the_model_would_reject(temperature, capsys):
    from pipeline.lm import sample

    with pytest.raises(SystemExit) as stop:
        sample.main(["--model", "nowhere", "-t", temperature])
    assert stop.value.code == 2
    assert "--temperature a finite number >= 0" in capsys.readouterr().err
