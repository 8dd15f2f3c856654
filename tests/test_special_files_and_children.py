"""User files are opened as regular files only, and every program gate starts dies with it.

As an attacker does it: a FIFO (``os.mkfifo``) where gate expects a file,
which used to hang ``gate eval --input``, ``gate check`` and ``gate eval
--artifact`` (the last one also handed the FIFO to modelscan, which outlived
gate); a file an uploader (uid 65534) made unreadable with ``chmod 000``,
which was an internal error (exit 4). gate reads as root here, so it runs
with CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH dropped from its bounding set
(setpriv), as a service account without them would.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import BIN, ROOT

UPLOADER = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
NO_DAC = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--inh-caps=-all"]

FAKE_SCANNER = """#!/bin/sh
# A second-opinion scanner that never finishes, and starts a process of its own.
if [ "$1" = "--version" ]; then echo "modelscan 0.8.8"; exit 0; fi
echo $$ > "{marks}/scanner.pid"
sleep 300 &
echo $! > "{marks}/grandchild.pid"
wait
"""


def _gate(
    *args: str, prefix: list[str] | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*(prefix or []), str(BIN / "gate"), *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,  # a hang is a failure, not a stuck test run
        check=False,
    )


@pytest.fixture
def scanner_path(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """PATH with a fake ``modelscan`` first; its pid files land in the returned folder."""
    bin_dir, marks = tmp_path / "bin", tmp_path / "marks"
    bin_dir.mkdir()
    marks.mkdir()
    fake = bin_dir / "modelscan"
    fake.write_text(FAKE_SCANNER.format(marks=marks))
    fake.chmod(0o755)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}"}, marks


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as handle:  # a zombie is dead
        return handle.read().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize(
    "args",
    [
        ["eval", "--input", "{fifo}", "--profile", "nim-promotion"],
        ["check", "{fifo}"],
        ["eval", "--artifact", "{fifo}", "--profile", "standalone"],
        ["collect", "artifact", "{fifo}", "--profile", "standalone"],
    ],
    ids=["eval-input", "check", "eval-artifact", "collect-artifact"],
)
def test_a_fifo_is_refused_in_one_line_and_handed_to_no_scanner(
    tmp_path: Path, args: list[str], scanner_path: tuple[dict[str, str], Path]
) -> None:
    fifo = tmp_path / "model.json"
    os.mkfifo(fifo)
    env, marks = scanner_path
    run = _gate(*(a.format(fifo=fifo) for a in args), env=env)
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2, run.stderr
    assert len(lines) == 1 and str(fifo) in lines[0] and "FIFO" in lines[0], run.stderr
    assert not (marks / "scanner.pid").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["eval", "--artifact", "{path}", "--profile", "standalone"],
        ["eval", "--skill", "{path}", "--profile", "skills-quarantine"],
        ["skill", "scan", "{path}"],
        ["eval", "--input", "{path}", "--profile", "nim-promotion"],
    ],
    ids=["eval-artifact", "eval-skill", "skill-scan", "eval-input"],
)
def test_a_file_the_uploader_made_unreadable_is_exit_2(uploads: Path, args: list[str]) -> None:
    upload = uploads / "upload.tar"
    made = subprocess.run(
        [
            *UPLOADER,
            "sh",
            "-c",
            f"tar -C {ROOT / 'fixtures' / 'skills'} -cf {upload} pdf-text && chmod 000 {upload}",
        ],
        capture_output=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    assert upload.stat().st_uid == 65534 and upload.stat().st_mode & 0o777 == 0

    run = _gate(*(a.format(path=upload) for a in args), prefix=NO_DAC)
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2, run.stderr
    assert len(lines) == 1 and str(upload) in lines[0] and "Permission denied" in lines[0], run.stderr


@pytest.fixture
def uploads() -> Iterator[Path]:
    """A folder the uploader (uid 65534) can write to (pytest's tmp_path is root's, 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="gate-uploads-", dir="/tmp"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _start_scan(tmp_path: Path, env: dict[str, str], marks: Path) -> tuple[subprocess.Popen[bytes], int, int]:
    model = tmp_path / "model.bin"
    model.write_bytes(b"weights" * 100)
    gate = subprocess.Popen(
        [str(BIN / "gate"), "eval", "--artifact", str(model), "--profile", "standalone"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not (marks / "grandchild.pid").exists() or not (marks / "grandchild.pid").read_text().strip():
        assert gate.poll() is None, "gate ended before it started the scanner"
        assert time.monotonic() < deadline, "the scanner never started"
        time.sleep(0.1)
    scanner = int((marks / "scanner.pid").read_text())
    grandchild = int((marks / "grandchild.pid").read_text())
    assert _alive(scanner) and _alive(grandchild)
    return gate, scanner, grandchild


def _gone(*pids: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(_alive(p) for p in pids):
            return True
        time.sleep(0.1)
    for pid in pids:  # do not leave them behind when the test fails
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    return False


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_scanner_and_what_it_started_die_when_gate_is_stopped(
    tmp_path: Path, scanner_path: tuple[dict[str, str], Path], how: signal.Signals
) -> None:
    env, marks = scanner_path
    gate, scanner, grandchild = _start_scan(tmp_path, env, marks)
    gate.send_signal(how)
    gate.wait(timeout=30)
    assert _gone(scanner, grandchild), f"the scanner outlived gate after {how.name}"


def test_a_scanner_dies_when_gate_is_killed(
    tmp_path: Path, scanner_path: tuple[dict[str, str], Path]
) -> None:
    env, marks = scanner_path
    gate, scanner, grandchild = _start_scan(tmp_path, env, marks)
    gate.kill()  # SIGKILL: nothing in gate runs; the kernel's parent-death signal does it
    gate.wait(timeout=30)
    assert _gone(scanner), "the scanner outlived a SIGKILLed gate"
    _gone(grandchild, within=0.1)  # a grandchild is out of reach of a parent-death signal
