"""Run a SavedModel as other TF code does: in a new Python that never imports ``pipeline``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

_NO_PIPELINE = (
    'assert not any(m == "pipeline" or m.startswith("pipeline.") for m in sys.modules), '
    '"the SavedModel imported pipeline"\n'
)


def without_pipeline(
    body: str, *, cwd: Path, stdin: str | None = None, tensorflow_text: bool = False
) -> Any:
    """What ``body`` leaves in ``result``, run by a fresh interpreter far from the package.

    ``body`` has ``json``, ``sys`` and ``tf`` imported (and ``tensorflow_text``, which
    registers the SentencePiece ops, when asked); ``stdin`` is its standard input. The
    process runs in ``cwd`` with an empty PYTHONPATH, so only an installed package, never the
    checkout, could be imported, and it fails if ``pipeline`` was.
    """
    script = (
        "import json, sys\nimport tensorflow as tf\n"
        + ("import tensorflow_text\n" if tensorflow_text else "")
        + textwrap.dedent(body)
        + _NO_PIPELINE
        + "print(json.dumps(result))\n"
    )
    env = {**os.environ, "PYTHONPATH": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
