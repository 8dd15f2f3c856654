"""``make fuzz``: every target for a set time, then a table of executions and findings.

    python -m fuzz.all [--seconds 60] [--rss-mb 2048] [--timeout 10] [TARGET ...]

Each target runs in its own process (libFuzzer's ``-max_total_time``, ``-timeout`` per input,
``-rss_limit_mb``), on a corpus seeded by ``fuzz/seeds.py`` under ``.fuzz/corpus/<target>``
(kept between runs, never committed). A crashing, hanging or memory-hungry input lands in
``.fuzz/findings/<target>/``; once fixed, copy it into ``fuzz/regressions/<target>/`` where
``tests/test_fuzz_regressions.py`` runs it on every test run. Exit 1 when any target found
something, 0 otherwise.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".fuzz"


def _run(name: str, seconds: int, rss_mb: int, timeout: int) -> tuple[int, float, list[Path], str]:
    from fuzz.seeds import write_seeds

    corpus = WORK / "corpus" / name
    findings = WORK / "findings" / name
    findings.mkdir(parents=True, exist_ok=True)
    write_seeds(name, corpus)
    before = set(findings.iterdir())
    argv = [
        sys.executable, "-m", "fuzz.run", name, str(corpus),
        f"-max_total_time={seconds}", f"-timeout={timeout}", f"-rss_limit_mb={rss_mb}",
        f"-artifact_prefix={findings}/", "-print_final_stats=1", "-close_fd_mask=1",
    ]  # fmt: skip
    start = time.monotonic()
    proc = subprocess.run(
        argv, cwd=ROOT, capture_output=True, text=True, errors="replace", timeout=seconds + 300, check=False
    )
    elapsed = time.monotonic() - start
    runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", proc.stderr)
    new = sorted(set(findings.iterdir()) - before)
    tail = "" if proc.returncode == 0 else "\n".join(proc.stderr.splitlines()[-25:])
    return (int(runs[-1]) if runs else 0), elapsed, new, tail


def main(argv: list[str] | None = None) -> int:
    from fuzz.targets import TARGETS

    parser = argparse.ArgumentParser(prog="python -m fuzz.all", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="fuzzing time per target (default 60)")
    parser.add_argument("--rss-mb", type=int, default=2048, help="memory limit per target (default 2048)")
    parser.add_argument("--timeout", type=int, default=10, help="seconds one input may take (default 10)")
    parser.add_argument("targets", nargs="*", help=f"targets (default all): {', '.join(TARGETS)}")
    args = parser.parse_args(argv)
    names = args.targets or list(TARGETS)
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        parser.error(f"unknown target {unknown[0]!r}")
    print(f"{'target':<20} {'executions':>11} {'seconds':>8}  findings")
    failed = 0
    for name in names:
        runs, elapsed, new, tail = _run(name, args.seconds, args.rss_mb, args.timeout)
        shown = ", ".join(str(p.relative_to(ROOT)) for p in new) or "none"
        print(f"{name:<20} {runs:>11} {elapsed:>8.1f}  {shown}", flush=True)
        if new or tail:
            failed += 1
            print("    " + tail.replace("\n", "\n    "), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
