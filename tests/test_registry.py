import hashlib
import subprocess
from pathlib import Path

import pytest

from pipeline.data import registry
from pipeline.data.registry import Artifact, FetchError, ToolMissingError, fetch

PAYLOAD = b"pretend this is a wheel"


def artifact(registry_name: str = "pypi", payload: bytes = PAYLOAD) -> Artifact:
    return Artifact(
        "demo", registry_name, "demo-pkg", "1.0", "demo-1.0.whl",
        hashlib.sha256(payload).hexdigest(), "MIT",
    )  # fmt: skip


def fake_client(monkeypatch, payload: bytes | None, returncode: int = 0, output: str = ""):
    """Stand in for pip/npm/apt-get: write ``payload`` where the real client would."""
    calls = []

    def run(cmd, cwd=None, **_):
        calls.append(cmd)
        if payload is not None and cwd is not None:
            # pip's -d and npm's --pack-destination are resolved against the client's cwd.
            flags = [i + 1 for i, arg in enumerate(cmd) if arg in ("-d", "--pack-destination")]
            dest = Path(cwd) / cmd[flags[0]] if flags else Path(cwd)
            if dest.is_dir():
                (dest / "demo-1.0.whl").write_bytes(payload)
        return subprocess.CompletedProcess(cmd, returncode, stdout="", stderr=output)

    monkeypatch.setattr(registry.subprocess, "run", run)
    return calls


def test_fetch_verifies_and_places_the_file(tmp_path, monkeypatch):
    calls = fake_client(monkeypatch, PAYLOAD)
    path = fetch(artifact(), tmp_path)
    assert path.read_bytes() == PAYLOAD
    assert "demo-pkg==1.0" in calls[0]
    assert [p.name for p in tmp_path.iterdir()] == ["demo-1.0.whl"]
    # a second fetch only re-verifies
    calls.clear()
    assert fetch(artifact(), tmp_path) == path and calls == []


@pytest.mark.parametrize("registry_name", ["pypi", "npm"])
def test_a_relative_data_dir_works(registry_name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(registry.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    fake_client(monkeypatch, PAYLOAD)
    path = fetch(artifact(registry_name), Path("data/raw"))
    assert path.read_bytes() == PAYLOAD
    assert [p.name for p in (tmp_path / "data/raw").iterdir()] == ["demo-1.0.whl"]


def test_checksum_mismatch_leaves_nothing_behind(tmp_path, monkeypatch):
    fake_client(monkeypatch, b"tampered bytes")
    with pytest.raises(FetchError, match="Checksum mismatch for demo") as err:
        fetch(artifact(), tmp_path)
    assert "make data" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_corrupt_existing_file_is_deleted_with_a_clear_error(tmp_path):
    (tmp_path / "demo-1.0.whl").write_bytes(PAYLOAD[:5])
    with pytest.raises(FetchError, match="expected sha256"):
        fetch(artifact(), tmp_path)
    assert not (tmp_path / "demo-1.0.whl").exists()


def test_client_failure_is_explained(tmp_path, monkeypatch):
    fake_client(monkeypatch, None, returncode=1, output="ERROR: No matching distribution")
    with pytest.raises(FetchError, match=r"exit 1.*No matching distribution"):
        fetch(artifact(), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_empty_apt_lists_tell_the_user_to_update(tmp_path, monkeypatch):
    monkeypatch.setattr(registry.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    monkeypatch.setattr(registry.os, "geteuid", lambda: 1000)  # not root: no auto-update
    fake_client(monkeypatch, None, returncode=100, output="E: Unable to locate package demo-pkg")
    with pytest.raises(FetchError, match="apt-get update"):
        fetch(artifact("debian"), tmp_path)


@pytest.mark.parametrize(
    "output",
    ["E: Unable to locate package demo-pkg", "E: Version '1.0' for 'demo-pkg' was not found"],
)
def test_stale_apt_lists_are_updated_once_as_root(tmp_path, monkeypatch, output):
    """A fresh machine's lists may hold the release only, where the pinned version is an
    update: as root, fetching runs `apt-get update` once and tries again."""
    monkeypatch.setattr(registry.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    monkeypatch.setattr(registry.os, "geteuid", lambda: 0)
    calls = []

    def run(cmd, cwd=None, **_):
        calls.append(cmd)
        updated = ["apt-get", "update", "-qq"] in calls
        if cmd[:2] == ["apt-get", "download"] and updated:
            (Path(cwd) / "demo-1.0.whl").write_bytes(PAYLOAD)
            return subprocess.CompletedProcess(cmd, 0, stdout="", stderr="")
        return subprocess.CompletedProcess(cmd, 0 if updated else 100, stdout="", stderr=output)

    monkeypatch.setattr(registry.subprocess, "run", run)
    assert fetch(artifact("debian"), tmp_path).read_bytes() == PAYLOAD
    download, update = ["apt-get", "download"], ["apt-get", "update"]
    assert [c[:2] for c in calls] == [download, update, download]


def test_missing_tool_is_its_own_error(tmp_path, monkeypatch):
    monkeypatch.setattr(registry.shutil, "which", lambda tool: None)
    with pytest.raises(ToolMissingError, match="`npm` command is not installed"):
        fetch(artifact("npm"), tmp_path)


def test_pins_are_exact():
    for a in registry.ARTIFACTS.values():
        assert len(a.sha256) == 64 and a.version and a.filename
        assert a.registry in {"pypi", "npm", "debian"}
