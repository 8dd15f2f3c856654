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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gate-bench-registry-") as folder:
        run("sqlite", f"sqlite:///{Path(folder) / 'registry.sqlite'}", args.count)
    try:
        with throwaway_postgres() as base:
            run("postgresql", create_database(base, "gate_bench"), args.count)
    except FileNotFoundError as exc:
        print(f"postgresql: skipped ({exc})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
