"""Audit log and attestation figures for gate (``make bench``).

This script prints figures; it is not a test and asserts no timing. It
measures:

1. appends/s: ``AuditLog.append`` of decision-sized events, each fsynced,
   in one process (lock, tail check, RFC 8785 encoding, write, fsync);
2. verify entries/s: ``verify_log`` over a 1,000,000-entry log in 10 files
   (chain across rotation, fast hash check over the stored canonical bytes),
   and ``--strict`` (re-canonicalising with rfc8785) on 20,000 entries;
3. sign and verify latency: signing the two Statements of a decision as
   DSSE, and ``verify_attestations`` over the result;
4. replay decisions/s: ``gate replay``'s loop over recorded decisions.

The 1,000,000-entry log is generated here, fast: its entries hold only
ASCII strings and small integers, for which ``json.dumps(sort_keys=True,
separators=(",", ":"))`` produces exactly RFC 8785; every 1,000th line is
checked against ``rfc8785.dumps`` and ``gate.audit.entry.encode`` before
anything is timed.

Options: ``--quick`` (100,000 entries, fewer iterations), ``--keep DIR``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import rfc8785

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gate.attest.bundle import parse_attestations  # noqa: E402
from gate.attest.keys import VerifyKey, generate_key, keyid_of  # noqa: E402
from gate.attest.sign import sign_statements  # noqa: E402
from gate.attest.statement import DecisionRecord, build_statements, policy_digest  # noqa: E402
from gate.attest.verify import Options, verify_attestations  # noqa: E402
from gate.audit.entry import GENESIS, encode, parse_line  # noqa: E402
from gate.audit.events import record_decision_event  # noqa: E402
from gate.audit.log import AuditLog  # noqa: E402
from gate.audit.replay import replay  # noqa: E402
from gate.audit.verify import verify_log  # noqa: E402
from gate.decide import Decider  # noqa: E402
from gate.document import load_input  # noqa: E402
from gate.profile import load_profile  # noqa: E402

FIXTURES = ROOT / "fixtures" / "container"
TARGET_VERIFY_RATE = 200_000.0


def _data(i: int) -> dict[str, object]:
    return {
        "verdict": ("promote", "block", "manual-review")[i % 3],
        "reasons": ["all_gates_passed"] if i % 3 == 0 else ["unsigned", "missing_sbom"],
        "policy_digest": "sha256:" + "ab" * 32,
        "input_digest": f"sha256:{i:064x}",
        "actor": "release-operator@example.com",
    }


def _fast_line(seq: int, prev: str, data: dict[str, object]) -> tuple[bytes, str]:
    body = {
        "data": data,
        "event": "decision",
        "prev_hash": prev,
        "seq": seq,
        "subject_digest": f"sha256:{seq % 977:064x}",
        "time": "2026-11-22T21:00:00.000000Z",
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    entry_hash = hashlib.sha256(canonical).hexdigest()
    body["entry_hash"] = entry_hash
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode() + b"\n", entry_hash


def generate(path: Path, entries: int, files: int) -> None:
    """A valid chain of *entries* in *files* files (archives + active), checked against RFC 8785."""
    per_file = -(-entries // files)
    prev, seq = GENESIS, 0
    log = AuditLog(path)
    for number in range(1, files + 1):
        target = path if number == files else log._archive_name(number)
        chunk: list[bytes] = []
        with target.open("wb") as handle:
            for _ in range(min(per_file, entries - seq)):
                seq += 1
                data = _data(seq)
                line, prev_next = _fast_line(seq, prev, data)
                if seq % 1000 == 1:
                    value = json.loads(line)
                    assert rfc8785.dumps(value) + b"\n" == line, "generator is not RFC 8785"
                    reference, _ = encode(seq, value["time"], "decision", value["subject_digest"], data, prev)
                    assert reference == line, "generator differs from gate.audit.entry.encode"
                prev = prev_next
                chunk.append(line)
                if len(chunk) >= 10000:
                    handle.write(b"".join(chunk))
                    chunk.clear()
            handle.write(b"".join(chunk))
        if number != files:
            target.chmod(0o444)


def bench_appends(tmp: Path, count: int) -> float:
    log = AuditLog(tmp / "append" / "audit.jsonl")
    log.append("decision", None, _data(0))  # create the file and directory first
    start = time.perf_counter()
    for i in range(count):
        log.append("decision", f"sha256:{i:064x}", _data(i))
    return count / (time.perf_counter() - start)


def bench_verify(tmp: Path, entries: int) -> tuple[float, float, int]:
    path = tmp / "big" / "audit.jsonl"
    path.parent.mkdir(parents=True)
    started = time.perf_counter()
    generate(path, entries, 10)
    generated = time.perf_counter() - started
    size = sum(p.stat().st_size for p in AuditLog(path).files())
    print(f"  generated {entries:,} entries in 10 files ({size / 1e6:.0f} MB) in {generated:.1f} s")
    rates = []
    for _ in range(3):
        start = time.perf_counter()
        report = verify_log(AuditLog(path))
        elapsed = time.perf_counter() - start
        assert report.valid and report.entries == entries, report.detail
        rates.append(entries / elapsed)
    strict_path = tmp / "strict" / "audit.jsonl"
    strict_path.parent.mkdir(parents=True)
    strict_n = min(entries, 20_000)
    generate(strict_path, strict_n, 1)
    start = time.perf_counter()
    report = verify_log(AuditLog(strict_path), strict=True)
    assert report.valid
    return max(rates), strict_n / (time.perf_counter() - start), size


def bench_sign_verify(iterations: int) -> tuple[float, float]:
    profile = load_profile("nim-promotion")
    decider = Decider(profile, "regorus")
    document = load_input(str(FIXTURES / "clean-runtime-promote.input.json"))
    record = DecisionRecord(
        document, decider.decide(document), policy_digest(decider.policies, profile), "regorus"
    )
    key = generate_key()
    public = VerifyKey(key.public_key, keyid_of(key.public_key), "bench")
    signs, verifies = [], []
    for _ in range(iterations):
        start = time.perf_counter()
        data = sign_statements(list(build_statements(record)), key)
        signs.append(time.perf_counter() - start)
        start = time.perf_counter()
        result = verify_attestations(parse_attestations(data), Options(key=public))
        verifies.append(time.perf_counter() - start)
        assert result.valid
    return statistics.median(signs) * 1e3, statistics.median(verifies) * 1e3


def bench_replay(tmp: Path, decisions: int) -> float:
    log = AuditLog(tmp / "replay" / "audit.jsonl")
    profile = load_profile("nim-promotion")
    decider = Decider(profile, "regorus")
    digest = policy_digest(decider.policies, profile)
    examples = sorted(FIXTURES.glob("*.input.json"))
    for i in range(decisions):
        document = load_input(str(examples[i % len(examples)]))
        record_decision_event(log, DecisionRecord(document, decider.decide(document), digest, "regorus"))
    strict = tmp / "strict.yaml"
    strict.write_text(
        Path(profile.path).read_text().replace("attestation_ttl_hours: 24", "attestation_ttl_hours: 1")
    )
    candidate = Decider(load_profile(str(strict)), "regorus")
    start = time.perf_counter()
    result = replay(log, candidate)
    elapsed = time.perf_counter() - start
    assert result.replayed == decisions and not result.errors
    return decisions / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="100,000 entries and fewer iterations")
    parser.add_argument("--keep", type=Path, help="build the logs here and keep them")
    args = parser.parse_args()
    entries = 100_000 if args.quick else 1_000_000
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="gate-bench-audit-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        appends = bench_appends(tmp, 300 if args.quick else 2000)
        print(f"append (fsync each):        {appends:,.0f} appends/s")
        verify_rate, strict_rate, _ = bench_verify(tmp, entries)
        mark = "met" if verify_rate >= TARGET_VERIFY_RATE else "MISSED"
        print(f"verify {entries:,} entries:  {verify_rate:,.0f} entries/s (target >= 200,000/s: {mark})")
        print(f"verify --strict (rfc8785):  {strict_rate:,.0f} entries/s")
        sign_ms, verify_ms = bench_sign_verify(50 if args.quick else 300)
        print(f"sign decision (2 DSSE):     {sign_ms:.2f} ms median")
        print(f"verify attestation file:    {verify_ms:.2f} ms median (2 envelopes, all checks)")
        replay_rate = bench_replay(tmp, 60 if args.quick else 400)
        print(f"replay:                     {replay_rate:,.0f} decisions/s (regorus, 5 KiB inputs)")
        line = parse_line(AuditLog(tmp / "append" / "audit.jsonl").path.read_bytes().splitlines()[-1])
        print(f"  (a decision event is about {len(json.dumps(line.as_json()))} bytes)")
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
