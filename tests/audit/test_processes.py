"""Real processes: 8 concurrent writers, and a writer killed with SIGKILL mid-append."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from gate.audit.log import AuditError, AuditLog
from gate.audit.verify import verify_log
from tests.helpers import ROOT

WRITERS = 8
PER_WRITER = 1000


def _writer(log: Path, count: int, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.audit.appender", str(log), str(count), *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_eight_processes_append_one_chain_of_8000(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    writers = [_writer(log, PER_WRITER, "--tag", f"w{n}") for n in range(WRITERS)]
    outputs = [w.communicate(timeout=300) for w in writers]

    assert [w.returncode for w in writers] == [0] * WRITERS, [err for _, err in outputs]
    report = verify_log(AuditLog(log))
    assert (report.valid, report.entries, report.broken_at) == (True, WRITERS * PER_WRITER, None)
    # Every acknowledged seq is in the log, each exactly once, and each writer's entries keep their order.
    acknowledged = sorted(int(s) for out, _ in outputs for s in out.split())
    assert acknowledged == list(range(1, WRITERS * PER_WRITER + 1))
    per_tag: dict[str, list[int]] = defaultdict(list)
    for entry in AuditLog(log).entries():
        per_tag[entry.data["tag"]].append(entry.data["i"])
    assert {tag: values for tag, values in per_tag.items()} == {
        f"w{n}": list(range(PER_WRITER)) for n in range(WRITERS)
    }


def test_sigkill_in_the_middle_of_an_append_loses_no_acknowledged_entry(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    writer = _writer(log, 500, "--tear-at", "137", "--pad", "2000")
    out, _ = writer.communicate(timeout=120)
    acknowledged = [int(s) for s in out.split()]

    assert writer.returncode == -signal.SIGKILL
    assert acknowledged == list(range(1, 137))
    report = verify_log(AuditLog(log))
    assert (report.valid, report.torn, report.broken_at) == (False, True, 137)
    try:
        AuditLog(log).append("after", None, {})
        raise AssertionError("an append onto a torn log must refuse")
    except AuditError as exc:
        assert "gate audit repair" in str(exc)

    repaired = AuditLog(log).repair(actor="test")

    assert repaired is not None and repaired.entry.seq == 137
    assert verify_log(AuditLog(log)).valid
    entries = list(AuditLog(log).entries())
    assert [e.seq for e in entries[:-1]] == acknowledged
    assert entries[-1].event == "audit.repair"


def test_sigkill_at_an_arbitrary_moment(tmp_path: Path) -> None:
    # Killed from outside while appending as fast as it can: wherever the kill
    # lands, every seq printed before it is in the log once repaired.
    log = tmp_path / "audit.jsonl"
    writer = _writer(log, 100000, "--pad", "20000")
    assert writer.stdout is not None
    seen: list[int] = []
    deadline = time.monotonic() + 60
    while len(seen) < 300 and time.monotonic() < deadline:
        line = writer.stdout.readline()
        if not line:
            break
        seen.append(int(line))
    os.kill(writer.pid, signal.SIGKILL)
    rest, _ = writer.communicate(timeout=60)
    acknowledged = seen + [int(s) for s in rest.split()]

    report = verify_log(AuditLog(log))
    if not report.valid:
        assert report.torn, report.detail
        assert AuditLog(log).repair() is not None
    assert verify_log(AuditLog(log)).valid
    recorded = {e.seq for e in AuditLog(log).entries() if e.event == "test"}
    assert set(acknowledged) <= recorded
    assert json.loads(log.read_bytes().splitlines()[0])["seq"] == 1
