"""A line with a correct entry_hash that is not an audit entry: verify refuses what show refuses.

Anyone who can write the log file can compute sha256, so a correct
``entry_hash`` proves nothing about the line's shape. Each forged line below
carries a correct hash, the right seq and the right prev_hash; ``gate audit
verify`` (without ``--strict``) must refuse it, as ``gate audit show`` and an
append do, instead of calling the chain intact.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from gate.audit.log import AuditLog
from tests.conftest import CONTAINER_FIXTURES
from tests.helpers import BIN, run_process

EXAMPLE = CONTAINER_FIXTURES / "clean-runtime-promote.input.json"

TIME = b'"2026-11-22T21:00:00.000001Z"'


def _forged(data: bytes, prev: str, seq: int, *, time: bytes = TIME, after: bytes = b"") -> bytes:
    """A line whose entry_hash matches: sha256 of the line without its entry_hash member."""
    before = b'{"data":' + data
    rest = (
        b',"event":"decision","prev_hash":"' + prev.encode() + b'","seq":' + str(seq).encode()
        + b',"subject_digest":null,"time":' + time + after + b"}"
    )  # fmt: skip
    digest = hashlib.sha256(before + rest).hexdigest().encode()
    return before + b',"entry_hash":"' + digest + b'"' + rest


FORGERIES: dict[str, dict[str, bytes]] = {
    "not JSON": {"data": b'{"verdict":"promote",,}'},
    "not JSON, an unterminated string": {"data": b'{"verdict":"promote}'},
    "a member too many": {"data": b'{"verdict":"promote"}', "after": b',"zz":1'},
    "time is a number": {"data": b'{"verdict":"promote"}', "time": b"1"},
}


def _gate(*args: str) -> tuple[int, str, str]:
    run = run_process(str(BIN / "gate"), *args)
    return run.code, run.out, run.err


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_a_forged_line_with_a_correct_hash_fails_verify_as_it_fails_show(tmp_path: Path, name: str) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append("decision", None, {"verdict": "block"})
    second = log.append("decision", None, {"verdict": "block"})
    parts = dict(FORGERIES[name])
    line = _forged(parts.pop("data"), second.entry_hash, 3, **parts)
    with (tmp_path / "audit.jsonl").open("ab") as handle:
        handle.write(line + b"\n")

    code, out, err = _gate("audit", "verify", str(log.path), "-o", "json")
    report = json.loads(out)
    assert code == 1, out + err
    assert report["valid"] is False
    assert report["broken_at"] == 3
    assert report["entries"] == 2
    assert "audit.jsonl line 3: entry 3:" in report["detail"]

    code, out, err = _gate("audit", "show", str(log.path))
    assert code == 2, out + err
    assert len(err.strip().splitlines()) == 1 and "line 3" in err

    # An append refuses to chain onto it, and repair leaves it (it is evidence, not a torn tail).
    code, out, err = _gate(
        "eval", "--input", str(EXAMPLE), "--profile", "nim-promotion", "--audit-log", str(log.path)
    )
    assert code == 2, out + err
    assert "the last entry is corrupt" in err
    code, out, _ = _gate("audit", "repair", str(log.path))
    assert code == 0 and "nothing to repair" in out


def test_a_sound_log_still_verifies_and_shows(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    for verdict in ("promote", "block", "manual-review"):
        log.append("decision", "sha256:" + "1" * 64, {"verdict": verdict, "text": 'a "quoted" \\ é 😀'})

    code, out, err = _gate("audit", "verify", str(log.path), "-o", "json")
    assert code == 0, out + err
    assert json.loads(out)["entries"] == 3
    code, out, err = _gate("audit", "show", str(log.path), "-o", "json")
    assert code == 0, err
    assert [e["data"]["verdict"] for e in json.loads(out)] == ["promote", "block", "manual-review"]
