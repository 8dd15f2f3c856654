"""Registry of record throughput: register, transition, serving-window and attach operations/s.

Run: .venv/bin/python bench/registry.py [--count 300]

Each operation is one transaction with its hash-chained event row, through
``gate.registry.store.Store`` (what the CLI calls), on a SQLite file and on a
throwaway PostgreSQL cluster on 127.0.0.1 (skipped when PostgreSQL's server
binaries are not installed).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gate.registry.store import Store  # noqa: E402
from tests.registry_of_record.conftest import create_database, throwaway_postgres  # noqa: E402
from tests.registry_of_record.test_store import record  # noqa: E402


def run(label: str, url: str, count: int) -> None:
    store = Store(url, actor="bench")
    figures = []
    start = time.perf_counter()
    for i in range(count):
        store.register(record(f"1.{i}.0"))
    figures.append(("register", count / (time.perf_counter() - start)))
    start = time.perf_counter()
    for i in range(count):
        store.transition("llama-guard", f"1.{i}.0", "draft", "candidate", {"reasons": ["all_stages_passed"]})
        store.transition("llama-guard", f"1.{i}.0", "candidate", "approved", {"reasons": []})
    figures.append(("transition", 2 * count / (time.perf_counter() - start)))
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    start = time.perf_counter()
    for i in range(count):
        store.serve_window(
            "llama-guard", f"1.{i}.0", "prod", base + timedelta(days=i), base + timedelta(days=i + 1)
        )
    figures.append(("serve-window", count / (time.perf_counter() - start)))
    start = time.perf_counter()
    for i in range(count):
        assert store.served("prod", base + timedelta(days=i, hours=12)) is not None
    figures.append(("served (query)", count / (time.perf_counter() - start)))
    start = time.perf_counter()
    report = store.verify_events()
    verify = report["events"] / (time.perf_counter() - start)
    print(
        f"{label}: "
        + ", ".join(f"{name} {rate:,.0f}/s" for name, rate in figures)
        + f", verify {verify:,.0f} events/s"
    )


def _seed(store: Store, count: int, people: dict[str, Any], keys: dict[str, Any]) -> None:
    """*count* approved versions, each with a scan, an evaluation package and three signed approvals.

    Inserted in bulk (one transaction) rather than through 8 x *count* store
    operations, which would take minutes: the rows are what the store
    writes, without the per-change event rows (hygiene does not read them;
    the retirements it records chain from genesis).
    """
    from sqlalchemy import insert

    from gate.registry.approvals import make_statement, sign_statement
    from gate.registry.models import Attachment, ModelVersion, Statement, Transition
    from gate.registry.store import _canonical

    at = datetime.now(timezone.utc)
    evals = {"evaluated_at": "2026-11-21T00:00:00Z", "scores": {"quality": 0.9, "safety": 0.95}}
    versions, attachments, statements, transitions = [], [], [], []
    for i in range(count):
        version = f"2.{i}.0"
        value = record(version)
        versions.append(
            {
                "id": i + 1,
                "name": value["name"],
                "version": version,
                "checksum": value["checksum"],
                "storage_uri": value["storage_uri"],
                "record": value,
                "record_sha256": hashlib.sha256(_canonical(value)).hexdigest(),
                "registered_at": at,
                "registered_by": "ci-bot",
            }
        )
        critical = ["CVE-2026-1"] if i % 10 == 0 else []
        for kind, summary in (("scan", {"critical": critical}), ("evals", evals)):
            attachments.append(
                {
                    "model_version_id": i + 1,
                    "kind": kind,
                    "sha256": "sha256:" + hashlib.sha256(f"{kind}{i}".encode()).hexdigest(),
                    "filename": f"{kind}.json",
                    "summary": summary,
                    "attached_at": at,
                    "attached_by": "ci-bot",
                }
            )
        for who in ("pat", "pia", "sam"):
            stmt = make_statement(
                "approval",
                name="llama-guard",
                version=version,
                digest=value["checksum"],
                approver=who,
                role=people[who]["roles"][0],
            )
            envelope = sign_statement(stmt, keys[who])
            statements.append(
                {
                    "model_version_id": i + 1,
                    "kind": "approval",
                    "envelope": envelope,
                    "sha256": hashlib.sha256(_canonical(envelope)).hexdigest(),
                    "recorded_at": at,
                    "recorded_by": "ci-bot",
                }
            )
        for seq, (a, b) in enumerate((("draft", "candidate"), ("candidate", "approved")), 1):
            transitions.append(
                {
                    "model_version_id": i + 1,
                    "seq": seq,
                    "from_state": a,
                    "to_state": b,
                    "reasons": [],
                    "decision": {"reasons": []},
                    "at": at,
                    "actor": "ci-bot",
                }
            )
    with store.engine.begin() as connection:
        for model, rows in (
            (ModelVersion, versions),
            (Attachment, attachments),
            (Statement, statements),
            (Transition, transitions),
        ):
            connection.execute(insert(model), rows)


def hygiene(label: str, url: str, count: int) -> None:
    """Hygiene over *count* approved versions: a dry run, then a run recording the retirements."""
    import yaml

    from gate.attest.keys import generate_key
    from gate.profile import load_profile
    from gate.registry.hygiene import run_hygiene

    people, keys = {}, {}
    for who, role in (("pat", "platform"), ("pia", "product"), ("sam", "security")):
        keys[who] = generate_key()
        people[who] = {"roles": [role], "public_key": keys[who].public_pem().decode()}
    settings = yaml.safe_load((ROOT / "policy-profiles" / "registry-governance.yaml").read_text())
    settings["lifecycle"]["people"] = people
    folder = Path(tempfile.mkdtemp(prefix="gate-bench-hygiene-"))
    (folder / "p.yaml").write_text(yaml.safe_dump(settings))
    profile = load_profile(str(folder / "p.yaml"))
    store = Store(url, actor="ci-bot")
    start = time.perf_counter()
    _seed(store, count, people, keys)
    setup = time.perf_counter() - start
    figures = []
    for dry_run in (True, False):
        start = time.perf_counter()
        actions = run_hygiene(store, profile, "regorus", dry_run=dry_run)
        elapsed = time.perf_counter() - start
        retired = sum(1 for a in actions if a["to"] == "retired" and a["recorded"] == (not dry_run))
        figures.append((dry_run, len(actions), elapsed, retired))
    chain = store.verify_events()
    assert chain["valid"] and chain["events"] == figures[1][3], chain
    for dry_run, evaluated, elapsed, retired in figures:
        what = f"dry run, {retired} to retire" if dry_run else f"{retired} retirements recorded"
        print(
            f"{label} hygiene over {evaluated:,} approved versions with 3 signed approvals each "
            f"({what}): {elapsed:.2f} s ({evaluated / elapsed:,.0f} versions/s)"
        )
    print(f"{label} hygiene: seeding {count:,} versions took {setup:.0f} s; event chain {chain['detail']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--hygiene", type=int, default=10000, help="versions in the hygiene runs (0: skip)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gate-bench-registry-") as folder:
        run("sqlite", f"sqlite:///{Path(folder) / 'registry.sqlite'}", args.count)
        if args.hygiene:
            hygiene("sqlite", f"sqlite:///{Path(folder) / 'hygiene.sqlite'}", args.hygiene)
    try:
        with throwaway_postgres() as base:
            run("postgresql", create_database(base, "gate_bench"), args.count)
            if args.hygiene:
                hygiene("postgresql", create_database(base, "gate_bench_hygiene"), args.hygiene)
    except FileNotFoundError as exc:
        print(f"postgresql: skipped ({exc})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
