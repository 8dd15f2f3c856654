"""An uploader (uid 65534, via setpriv) attacking a real ``gate watch`` process.

The quarantine folder is world-writable, as in the seed's deployments; gate
runs as this test's uid (root). Every attack is what an uploader can do with
their own files and the drop folder: no mocks of the watcher.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import BIN
from tests.watch.conftest import Site, safetensors_bytes

UPLOADER = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
# The uploader's interpreter: the system one, outside gate's virtualenv.
PYTHON = "/usr/bin/python3"


@dataclass
class Shared:
    """A drop folder the uploader can write, a registry they can read, gate's private state."""

    site: Site
    quarantine: Path
    registry: Path
    state: Path

    def argv(self, *extra: str) -> list[str]:
        return [
            str(BIN / "gate"),
            "watch",
            str(self.quarantine),
            "--registry-dir",
            str(self.registry),
            "--profile",
            str(self.site.profile),
            "--key",
            str(self.site.key),
            "--audit-log",
            str(self.site.root / "audit.jsonl"),
            "--state-dir",
            str(self.state),
            "--settle",
            "0.3",
            "--poll",
            "0.1",
            *extra,
        ]


@pytest.fixture
def shared(site: Site) -> Iterator[Shared]:
    if shutil.which("setpriv") is None or os.geteuid() != 0 or not os.path.exists(PYTHON):
        pytest.fail("these tests need root, setpriv and /usr/bin/python3 (the uploader is uid 65534)")
    top = Path(tempfile.mkdtemp(prefix="gate-watch-attack-"))
    try:
        os.chmod(top, 0o755)
        quarantine, registry = top / "quarantine", top / "registry"
        quarantine.mkdir()
        os.chmod(quarantine, 0o777)  # the seed's drop folder: anyone may upload
        registry.mkdir()
        os.chmod(registry, 0o755)
        yield Shared(site, quarantine, registry, site.root / "gate-state")
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _as_uploader(script: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*UPLOADER, PYTHON, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
    )


def _wait_for(path: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


def _stop(process: subprocess.Popen[bytes]) -> bytes:
    process.terminate()
    _, err = process.communicate(timeout=60)
    return err


HELD_DESCRIPTOR = r"""
import os, sys, time
path, registry_copy, clean, evil = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
os.write(fd, open(clean, "rb").read())
deadline = time.monotonic() + 120
while not os.path.exists(registry_copy) and time.monotonic() < deadline:
    time.sleep(0.02)
time.sleep(0.2)
payload = open(evil, "rb").read()
os.pwrite(fd, payload, 0)
os.ftruncate(fd, len(payload))
os.fsync(fd)
os.close(fd)
print("rewritten" if os.path.exists(registry_copy) else "never promoted")
"""


def test_a_held_write_descriptor_cannot_rewrite_the_promoted_artifact(shared: Shared) -> None:
    clean = safetensors_bytes(1024)
    evil = pickle.dumps({"a": 1}, protocol=4)
    files = Path(tempfile.mkdtemp(prefix="gate-uploader-"))
    os.chmod(files, 0o755)
    (files / "clean").write_bytes(clean)
    (files / "evil").write_bytes(evil)
    for f in files.iterdir():
        os.chmod(f, 0o644)
    watcher = subprocess.Popen(shared.argv(), stderr=subprocess.PIPE)
    try:
        promoted = shared.registry / "x.safetensors"
        uploader = _as_uploader(
            HELD_DESCRIPTOR,
            str(shared.quarantine / "x.safetensors"),
            str(promoted),
            str(files / "clean"),
            str(files / "evil"),
        )
        out, err = uploader.communicate(timeout=180)
        assert out.strip() == b"rewritten", err.decode()
        time.sleep(0.5)
    finally:
        stderr = _stop(watcher)
        shutil.rmtree(files, ignore_errors=True)
    manifest = json.loads((shared.registry / "x.safetensors.provenance.json").read_text())
    data = promoted.read_bytes()
    assert data == clean, stderr.decode()
    assert hashlib.sha256(data).hexdigest() == manifest["artifact"]["sha256"]
    assert os.stat(promoted).st_uid == os.geteuid()  # gate's own file, not the uploader's inode


PLANT_WORK_LINKS = r"""
import os, sys
quarantine, registry = sys.argv[1], sys.argv[2]
work = os.path.join(quarantine, ".gate-watch", "work")
os.makedirs(work)
for i in range(1, 50):
    os.symlink(registry, os.path.join(work, str(i)))
os.chmod(os.path.join(quarantine, ".gate-watch"), 0o777)
print("planted")
"""


def test_an_uploader_owned_work_folder_in_quarantine_reaches_nothing(shared: Shared) -> None:
    # The uploader plants .gate-watch/work/<id> -> REGISTRY before the watcher's first start.
    planter = _as_uploader(PLANT_WORK_LINKS, str(shared.quarantine), str(shared.registry))
    out, err = planter.communicate(timeout=60)
    assert out.strip() == b"planted", err.decode()
    (shared.registry / "model.safetensors").write_bytes(safetensors_bytes(128))
    before = (shared.registry / "model.safetensors").read_bytes()
    drop = shared.quarantine / "model.safetensors"
    drop.write_bytes(pickle.dumps({"weights": [1, 2, 3]}, protocol=4))

    result = subprocess.run(shared.argv("--once", "--settle", "0"), capture_output=True, timeout=120)

    assert result.returncode == 0, result.stderr.decode()
    assert (shared.registry / "model.safetensors").read_bytes() == before
    assert sorted(p.name for p in shared.registry.iterdir()) == ["model.safetensors"]
    assert not drop.exists()  # rejected and deleted, in gate's own work folder
    assert (shared.state / "work").is_dir() and list((shared.state / "work").iterdir()) == []


def _refused(shared: Shared, state: Path) -> str:
    argv = shared.argv("--once")
    argv[argv.index("--state-dir") + 1] = str(state)
    result = subprocess.run(argv, capture_output=True, timeout=120)
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr.decode()
    return lines[0]


def test_a_state_folder_gate_does_not_own_privately_is_refused(shared: Shared) -> None:
    (shared.quarantine / "model.safetensors").write_bytes(safetensors_bytes())
    # Inside the drop folder: refused, whoever owns it.
    line = _refused(shared, shared.quarantine / ".gate-watch")
    assert "must not be inside the quarantine folder" in line
    # Made by the uploader beforehand (private to them): refused.
    theirs = shared.quarantine.parent / "uploader-state"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)
    line = _refused(shared, theirs)
    assert "owned by uid 65534" in line and str(theirs) in line
    # Gate's own, but readable by others: refused, never silently chmodded.
    loose = shared.site.root / "loose-state"
    loose.mkdir()
    os.chmod(loose, 0o755)
    assert "with mode 0755" in _refused(shared, loose)
    assert oct(loose.stat().st_mode & 0o777) == "0o755"
    # A work folder inside an otherwise good state folder that is a link: refused.
    good = shared.site.root / "linked-state"
    good.mkdir(mode=0o700)
    (good / "work").symlink_to(shared.registry)
    assert "work" in _refused(shared, good)
    # Nothing was taken by a refused watcher.
    assert (shared.quarantine / "model.safetensors").exists()
    assert list(shared.registry.iterdir()) == []


def test_the_default_state_folder_is_outside_quarantine(shared: Shared) -> None:
    script = (
        "import sys; sys.path[:0] = [sys.argv[1]]\n"
        "from gate.cli.watch import default_state_dir; print(default_state_dir())"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": "/home/uploader", "PYTHONNOUSERSITE": "1"}
    repo = str(Path(__file__).resolve().parents[2])
    ran = subprocess.run(
        [*UPLOADER, str(BIN / "python"), "-c", script, repo], capture_output=True, env=env, timeout=60
    )
    assert ran.stdout.decode().strip() == "/home/uploader/.local/state/gate/watch", ran.stderr.decode()
    ran = subprocess.run(
        [*UPLOADER, str(BIN / "python"), "-c", script, repo],
        capture_output=True,
        env={**env, "XDG_STATE_HOME": "/srv/state"},
        timeout=60,
    )
    assert ran.stdout.decode().strip() == "/srv/state/gate/watch"
    from gate.cli.watch import default_state_dir

    assert str(default_state_dir()) == "/var/lib/gate/watch"  # this test runs as root
