"""Registry of record throughput: register, transition, serving-window and attach operations/s.

Run: .venv/bin/python bench/registry.py [--count 300]

Each operation is one transaction with its hash-chained event row, through
``gate.registry.store.Store`` (what the CLI calls), on a SQLite file and on a
throwaway PostgreSQL cluster on 127.0.0.1 (skipped when PostgreSQL's server
binaries are not installed).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

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


def hygiene(url: str, count: int) -> None:
    """A hygiene run over *count* approved versions, each with three signed approvals and a scan."""
    import json as _json

    import yaml

    from gate.attest.keys import generate_key
    from gate.profile import load_profile
    from gate.registry.approvals import make_statement, sign_statement
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
    evals = _json.dumps(
        {"evaluated_at": "2026-11-21T00:00:00Z", "scores": {"quality": 0.9, "safety": 0.95}}
    ).encode()
    start = time.perf_counter()
    for i in range(count):
        version = f"2.{i}.0"
        store.register(record(version))
        critical = ["CVE-2026-1"] if i % 10 == 0 else []
        store.attach("llama-guard", version, "scan", "g.json", str(i).encode(), {"critical": critical})
        store.attach("llama-guard", version, "evals", "e.json", evals + str(i).encode(), _json.loads(evals))
        digest = record(version)["checksum"]
        for who in ("pat", "pia", "sam"):
            stmt = make_statement(
                "approval",
                name="llama-guard",
                version=version,
                digest=digest,
                approver=who,
                role=people[who]["roles"][0],
            )
            store.record_statement("llama-guard", version, "approval", sign_statement(stmt, keys[who]))
        store.transition("llama-guard", version, "draft", "candidate", {"reasons": []})
        store.transition("llama-guard", version, "candidate", "approved", {"reasons": []})
    setup = time.perf_counter() - start
    start = time.perf_counter()
    actions = run_hygiene(store, profile, "regorus", dry_run=True)
    elapsed = time.perf_counter() - start
    retired = sum(1 for a in actions if a["to"] == "retired")
    print(
        f"hygiene (dry run) over {len(actions)} approved versions with 3 signed approvals each: "
        f"{elapsed:.2f} s ({len(actions) / elapsed:,.0f} versions/s; {retired} to retire); "
        f"setup {setup:.0f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--hygiene", type=int, default=1000, help="versions in the hygiene run (0: skip)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gate-bench-registry-") as folder:
        run("sqlite", f"sqlite:///{Path(folder) / 'registry.sqlite'}", args.count)
        if args.hygiene:
            hygiene(f"sqlite:///{Path(folder) / 'hygiene.sqlite'}", args.hygiene)
    try:
        with throwaway_postgres() as base:
            run("postgresql", create_database(base, "gate_bench"), args.count)
    except FileNotFoundError as exc:
        print(f"postgresql: skipped ({exc})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
