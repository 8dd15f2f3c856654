"""Decision throughput and latency figures for gate (``make bench``).

This script prints figures; it is not a test and asserts no timing. It
measures, for each engine (regorus, opa) and for a ~10 KiB and a ~1 MiB
runtime input document on which every gate passes:

1. evaluation alone: ``engine.evaluate("data.gate.main.decision", doc)`` on a
   pre-parsed document, in a sequential loop on one thread;
2. end to end: ``parse_json`` from bytes, input schema validation and
   ``Decider.decide`` (which includes the decision schema check);

and the wall time of ``gate --help`` and ``python -m gate --help``. Every
figure is then compared with its target and marked met or missed.

The process is pinned to one CPU (where the platform allows it) before any
engine is loaded, so "one core" means one core, the Go runtime behind the
opa engine included. ``--no-pin`` keeps the inherited CPU set.

Options: ``--quick`` for fewer iterations, ``--profile ENGINE:SIZE`` to print
a cProfile of the end-to-end path instead of the figures.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import math
import os
import platform
import pstats
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
GATE_BIN = VENV_BIN / "gate"
DECISION_REF = "data.gate.main.decision"
PROFILE = "nim-promotion"
ENGINES = ("regorus", "opa")
SEED = 20261122

SMALL = "10KiB"
LARGE = "1MiB"
SIZES = {SMALL: 10 * 1024, LARGE: 1024 * 1024}

# Targets (printed as met / missed, never asserted).
TARGET_EVAL_RATE_SMALL = 1_000.0  # decisions/s, regorus, evaluation alone, one core
TARGET_E2E_P50_MS = {SMALL: 2.0, LARGE: 150.0}
TARGET_HELP_S = 0.3


# Packages found in a CUDA + Python serving image, with installed and fixed versions.
PACKAGES = (
    ("libssl3", "3.0.2-0ubuntu1.15", "3.0.2-0ubuntu1.18"),
    ("openssl", "3.0.2-0ubuntu1.15", "3.0.2-0ubuntu1.18"),
    ("libc6", "2.35-0ubuntu3.6", "2.35-0ubuntu3.8"),
    ("libc-bin", "2.35-0ubuntu3.6", "2.35-0ubuntu3.8"),
    ("zlib1g", "1:1.2.11.dfsg-2ubuntu9.2", "1:1.2.11.dfsg-2ubuntu9.3"),
    ("libcurl4", "7.81.0-1ubuntu1.15", "7.81.0-1ubuntu1.16"),
    ("curl", "7.81.0-1ubuntu1.15", "7.81.0-1ubuntu1.16"),
    ("libsqlite3-0", "3.37.2-2ubuntu0.3", "3.37.2-2ubuntu0.4"),
    ("libexpat1", "2.4.7-1ubuntu0.2", "2.4.7-1ubuntu0.3"),
    ("libxml2", "2.9.13+dfsg-1ubuntu0.3", "2.9.13+dfsg-1ubuntu0.4"),
    ("libgnutls30", "3.7.3-4ubuntu1.4", "3.7.3-4ubuntu1.5"),
    ("libpam0g", "1.4.0-11ubuntu2.3", "1.4.0-11ubuntu2.4"),
    ("perl-base", "5.34.0-3ubuntu1.3", "5.34.0-3ubuntu1.4"),
    ("python3.10", "3.10.12-1~22.04.3", "3.10.12-1~22.04.4"),
    ("libpython3.10-minimal", "3.10.12-1~22.04.3", "3.10.12-1~22.04.4"),
    ("libnccl2", "2.21.5-1+cuda12.4", "2.22.3-1+cuda12.5"),
    ("cuda-cudart-12-4", "12.4.127-1", "12.4.131-1"),
    ("libcudnn9-cuda-12", "9.1.0.70-1", "9.2.1.18-1"),
    ("torch", "2.3.1", "2.4.0"),
    ("transformers", "4.41.2", "4.43.0"),
    ("vllm", "0.5.0.post1", "0.5.4"),
    ("urllib3", "1.26.18", "1.26.19"),
    ("requests", "2.31.0", "2.32.0"),
    ("cryptography", "42.0.5", "42.0.8"),
    ("pillow", "10.2.0", "10.3.0"),
    ("jinja2", "3.1.3", "3.1.4"),
    ("aiohttp", "3.9.3", "3.9.4"),
    ("idna", "3.6", "3.7"),
    ("setuptools", "65.5.0", "70.0.0"),
    ("protobuf", "4.25.3", "4.25.4"),
    ("grpcio", "1.62.1", "1.62.2"),
    ("starlette", "0.36.3", "0.40.0"),
)
SEVERITIES = ("Critical", "High", "Medium", "Low", "Negligible")
SEVERITY_WEIGHTS = (5, 20, 45, 25, 5)
FIX_STATES = ("fixed", "not-fixed", "wont-fix", "unknown")
FIX_STATE_WEIGHTS = (55, 30, 10, 5)
GHSA_ALPHABET = "23456789cfghjmpqrvwx"


# --------------------------------------------------------------------------- documents


def _cve_pool(count: int) -> list[dict[str, str]]:
    """*count* distinct, deterministic, grype-like vulnerability matches."""
    rng = random.Random(SEED)
    seen: set[str] = set()
    pool: list[dict[str, str]] = []
    while len(pool) < count:
        if rng.random() < 0.1:
            groups = ("".join(rng.choice(GHSA_ALPHABET) for _ in range(4)) for _ in range(3))
            vuln_id = "GHSA-" + "-".join(groups)
        else:
            vuln_id = f"CVE-{rng.randint(2018, 2025)}-{rng.randint(1000, 59999)}"
        if vuln_id in seen:
            continue
        seen.add(vuln_id)
        package, version, fixed = rng.choice(PACKAGES)
        state = rng.choices(FIX_STATES, FIX_STATE_WEIGHTS)[0]
        match = {
            "id": vuln_id,
            "severity": rng.choices(SEVERITIES, SEVERITY_WEIGHTS)[0],
            "package": package,
            "version": version,
            "fix_state": state,
        }
        if state == "fixed":
            match["fixed_in"] = fixed
        pool.append(match)
    return pool


def _split(pool: list[dict[str, str]]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Candidate and baseline reports: mostly shared ids; the baseline alone
    has a few (fixed in the candidate); the candidate alone has a few, all
    Medium or Low, so the candidate introduces no new critical or high CVE."""
    candidate: list[dict[str, str]] = []
    baseline: list[dict[str, str]] = []
    for index, match in enumerate(pool):
        role = index % 20
        if role == 0:
            baseline.append(match)
        elif role == 1:
            candidate.append({**match, "severity": "Medium" if index % 40 == 1 else "Low"})
        else:
            candidate.append(match)
            baseline.append(match)
    return candidate, baseline


BASE_EXAMPLE = ROOT / "fixtures" / "container" / "clean-runtime-promote.input.json"


def build_document(records: list[dict[str, str]]) -> dict[str, Any]:
    """The bundled promoting example, with *records* as its candidate and
    baseline CVE reports."""
    candidate, baseline = _split(records)
    scanner = {"name": "grype", "version": "0.79.3", "db_built": "2026-11-22T04:11:37Z"}
    document: dict[str, Any] = json.loads(BASE_EXAMPLE.read_text(encoding="utf-8"))
    vulnerabilities = document["evidence"]["vulnerabilities"]
    vulnerabilities["candidate"] = {
        "digest": document["evidence"]["registry"]["resolved_digest"],
        "scanner": scanner,
        "matches": candidate,
    }
    vulnerabilities["baseline"] = {
        "digest": document["operator"]["current_prod_digest"],
        "scanner": scanner,
        "matches": baseline,
    }
    return document


def serialize(document: dict[str, Any]) -> bytes:
    """The document as a collector saves it: UTF-8, two-space indent."""
    return json.dumps(document, indent=2).encode("utf-8")


@dataclass(frozen=True)
class Sample:
    """One benchmark input: its bytes and how many CVE records it carries."""

    size_name: str
    raw: bytes
    candidate: int
    baseline: int


def make_sample(size_name: str, target: int) -> Sample:
    """The smallest document (by record count) whose serialization reaches *target* bytes."""
    pool = _cve_pool(max(64, target // 100))

    def size(count: int) -> int:
        return len(serialize(build_document(pool[:count])))

    low, high = 0, len(pool)
    while low < high:
        middle = (low + high) // 2
        if size(middle) >= target:
            high = middle
        else:
            low = middle + 1
    candidate, baseline = _split(pool[:low])
    return Sample(size_name, serialize(build_document(pool[:low])), len(candidate), len(baseline))


# --------------------------------------------------------------------------- timing


@dataclass
class Timing:
    """Per-iteration wall times (ns) of one measured loop."""

    samples: list[int] = field(default_factory=list)
    stages: dict[str, list[int]] = field(default_factory=dict)

    def percentile(self, p: float, values: list[int] | None = None) -> float:
        """Nearest-rank percentile, in milliseconds."""
        ordered = sorted(self.samples if values is None else values)
        rank = max(1, math.ceil(p / 100 * len(ordered)))
        return ordered[rank - 1] / 1e6

    @property
    def mean_ms(self) -> float:
        """Mean latency in milliseconds."""
        return statistics.fmean(self.samples) / 1e6

    @property
    def rate(self) -> float:
        """Decisions per second, sequentially on one thread."""
        return 1e9 * len(self.samples) / sum(self.samples)


def measure(step: Callable[[], Any], warmup: int, iterations: int, budget_s: float) -> Timing:
    """Run *step* *warmup* times, then up to *iterations* times or until *budget_s* elapses."""
    for _ in range(warmup):
        step()
    gc.collect()
    timing = Timing()
    clock = time.perf_counter_ns
    deadline = clock() + int(budget_s * 1e9)
    for _ in range(iterations):
        start = clock()
        step()
        end = clock()
        timing.samples.append(end - start)
        if end > deadline:
            break
    return timing


def measure_end_to_end(decider: Any, raw: bytes, warmup: int, iterations: int, budget_s: float) -> Timing:
    """End to end (parse, input schema, decide), timing each stage as well."""
    from gate import schemas
    from gate.document import parse_json

    def once() -> tuple[int, int, int, int]:
        clock = time.perf_counter_ns
        t0 = clock()
        document = parse_json("bench", raw)
        t1 = clock()
        if schemas.problems("input", document.value):
            raise SystemExit("bench: the input document stopped validating")
        t2 = clock()
        decider.decide(document)
        return t0, t1, t2, clock()

    for _ in range(warmup):
        once()
    gc.collect()
    timing = Timing(stages={"parse": [], "input schema": [], "decide": []})
    deadline = time.perf_counter_ns() + int(budget_s * 1e9)
    for _ in range(iterations):
        t0, t1, t2, t3 = once()
        timing.samples.append(t3 - t0)
        timing.stages["parse"].append(t1 - t0)
        timing.stages["input schema"].append(t2 - t1)
        timing.stages["decide"].append(t3 - t2)
        if t3 > deadline:
            break
    return timing


def command_seconds(argv: list[str], runs: int) -> float:
    """Median wall time of running *argv* (after one unmeasured run)."""
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    times = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1e9


# --------------------------------------------------------------------------- reporting


@dataclass(frozen=True)
class Plan:
    """Iteration counts and time caps, per document size."""

    warmup: dict[str, int]
    iterations: dict[str, int]
    budget_s: dict[str, float]
    help_runs: int


FULL = Plan({SMALL: 200, LARGE: 3}, {SMALL: 2000, LARGE: 50}, {SMALL: 12.0, LARGE: 15.0}, 10)
QUICK = Plan({SMALL: 20, LARGE: 1}, {SMALL: 300, LARGE: 8}, {SMALL: 2.0, LARGE: 3.0}, 3)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _pin_to_one_cpu() -> str:
    """Restrict this process to one CPU; say which (or why not)."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity on this platform)"
    cpu = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def _mark(met: bool) -> str:
    return "met" if met else "MISSED"


def print_environment(pinning: str, samples: list[Sample]) -> None:
    """Machine, interpreter, library versions and the documents used."""
    print("gate benchmark")
    print(f"  machine : {platform.machine()}, {os.cpu_count()} CPUs (nproc), {platform.platform()}")
    print(f"  python  : {platform.python_implementation()} {platform.python_version()}")
    print(
        f"  engines : regorus (gordon-to-regorus {_version('gordon-to-regorus')}), "
        f"opa (opa-golib-python-bindings {_version('opa-golib-python-bindings')}); "
        f"jsonschema {_version('jsonschema')}"
    )
    print(f"  process : {pinning}; single thread, sequential loop; time.perf_counter_ns per iteration")
    for sample in samples:
        print(
            f"  document {sample.size_name:>6}: {len(sample.raw):>9,} bytes, "
            f"{sample.candidate:,} candidate + {sample.baseline:,} baseline CVE records "
            f"({sample.candidate + sample.baseline:,} in total)"
        )
    print(flush=True)


def print_table(rows: list[tuple[str, str, str, Timing]]) -> None:
    """The main figures table."""
    header = f"{'engine':<8} {'size':>6}  {'measure':<10} {'n':>5} {'p50 ms':>8} {'p99 ms':>8}"
    print(header + f" {'mean ms':>8} {'decisions/s':>12}")
    print("-" * (len(header) + 22))
    for engine, size_name, what, timing in rows:
        print(
            f"{engine:<8} {size_name:>6}  {what:<10} {len(timing.samples):>5} "
            f"{timing.percentile(50):>8.3f} {timing.percentile(99):>8.3f} "
            f"{timing.mean_ms:>8.3f} {timing.rate:>12,.0f}"
        )
    print()


def print_stages(rows: list[tuple[str, str, str, Timing]], decision_check: dict[str, float]) -> None:
    """Median of each end-to-end stage, to show what dominates."""
    print("end to end, median per stage (ms); decide = evaluate + decision schema check")
    print(f"{'engine':<8} {'size':>6}  {'parse':>8} {'input schema':>13} {'decide':>8} {'total p50':>10}")
    for engine, size_name, what, timing in rows:
        if what != "end-to-end":
            continue
        parse, schema, decide = (timing.percentile(50, timing.stages[s]) for s in timing.stages)
        print(
            f"{engine:<8} {size_name:>6}  {parse:>8.3f} {schema:>13.3f} {decide:>8.3f} "
            f"{timing.percentile(50):>10.3f}"
        )
    checks = ", ".join(f"{engine} {ms:.3f} ms" for engine, ms in decision_check.items())
    print(f"decision schema check alone (median): {checks}")
    print()


def print_targets(rows: list[tuple[str, str, str, Timing]], help_s: float, module_help_s: float) -> None:
    """Each target with the measured figure and met / MISSED."""
    found = {(engine, size_name, what): timing for engine, size_name, what, timing in rows}
    lines: list[tuple[str, str, str]] = []
    evaluation = found.get(("regorus", SMALL, "evaluate"))
    if evaluation is not None:
        lines.append(
            (
                f"regorus evaluate, {SMALL}: >= {TARGET_EVAL_RATE_SMALL:,.0f} decisions/s on one core",
                f"{evaluation.rate:,.0f}/s",
                _mark(evaluation.rate >= TARGET_EVAL_RATE_SMALL),
            )
        )
    for engine in ENGINES:
        for size_name, limit in TARGET_E2E_P50_MS.items():
            timing = found.get((engine, size_name, "end-to-end"))
            if timing is not None:
                p50 = timing.percentile(50)
                label = f"{engine} end-to-end p50, {size_name}: <= {limit:g} ms"
                lines.append((label, f"{p50:.2f} ms", _mark(p50 <= limit)))
    lines.append((f"gate --help: <= {TARGET_HELP_S} s", f"{help_s:.3f} s", _mark(help_s <= TARGET_HELP_S)))
    lines.append(("python -m gate --help (for reference)", f"{module_help_s:.3f} s", ""))
    width = max(len(line[0]) for line in lines)
    print("targets")
    for label, value, mark in lines:
        print(f"  {label:<{width}}  {value:>11}  {mark}".rstrip())


# --------------------------------------------------------------------------- main


def check_sample(decider: Any, sample: Sample) -> dict[str, Any]:
    """Refuse to time a document that is invalid or does not promote."""
    from gate import schemas
    from gate.document import parse_json

    document = parse_json(sample.size_name, sample.raw)
    found = schemas.problems("input", document.value)
    if found:
        raise SystemExit(f"bench: the {sample.size_name} document is invalid: {found[0]}")
    decision: dict[str, Any] = decider.decide(document)
    if decision["verdict"] != "promote":
        raise SystemExit(f"bench: the {sample.size_name} document does not promote: {decision['reasons']}")
    return decision


def run_profile(spec: str, samples: dict[str, Sample]) -> None:
    """Print a cProfile of the end-to-end path for ``ENGINE:SIZE``."""
    from gate import schemas
    from gate.decide import Decider
    from gate.document import parse_json
    from gate.profile import load_profile

    engine, _, size_name = spec.partition(":")
    size_name = size_name or SMALL
    if engine not in ENGINES or size_name not in samples:
        raise SystemExit(f"bench: --profile wants ENGINE:SIZE, ENGINE in {ENGINES}, SIZE in {tuple(samples)}")
    decider = Decider(load_profile(PROFILE), engine)
    raw = samples[size_name].raw
    check_sample(decider, samples[size_name])
    rounds = 500 if size_name == SMALL else 10
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(rounds):
        document = parse_json("bench", raw)
        schemas.problems("input", document.value)
        decider.decide(document)
    profiler.disable()
    print(f"cProfile of {rounds} end-to-end decisions, {engine}, {size_name}")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


def main(argv: list[str] | None = None) -> int:
    """Build the documents, measure every figure, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU")
    parser.add_argument("--engine", choices=ENGINES, action="append", help="only this engine (repeatable)")
    parser.add_argument("--profile", metavar="ENGINE:SIZE", help=f"cProfile end to end, e.g. regorus:{LARGE}")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL

    # Pin before any engine (and the Go runtime behind opa) is loaded.
    pinning = "not pinned (--no-pin)" if args.no_pin else _pin_to_one_cpu()
    sys.path.insert(0, str(ROOT))

    from gate import schemas
    from gate.decide import Decider
    from gate.document import parse_json
    from gate.profile import load_profile

    samples = {name: make_sample(name, target) for name, target in SIZES.items()}
    if args.profile:
        run_profile(args.profile, samples)
        return 0
    print_environment(pinning, list(samples.values()))

    profile = load_profile(PROFILE)
    rows: list[tuple[str, str, str, Timing]] = []
    decision_check: dict[str, float] = {}
    for engine in args.engine or ENGINES:
        decider = Decider(profile, engine)
        for size_name, sample in samples.items():
            decision = check_sample(decider, sample)
            document = parse_json(size_name, sample.raw)
            warmup, iterations, budget = (
                plan.warmup[size_name],
                plan.iterations[size_name],
                plan.budget_s[size_name],
            )

            def evaluate(document: Any = document, decider: Any = decider) -> Any:
                return decider.engine.evaluate(DECISION_REF, document)

            rows.append((engine, size_name, "evaluate", measure(evaluate, warmup, iterations, budget)))
            end_to_end = measure_end_to_end(decider, sample.raw, warmup, iterations, budget)
            rows.append((engine, size_name, "end-to-end", end_to_end))
            print(f"  measured {engine} {size_name}", file=sys.stderr, flush=True)

        def check_decision(decision: dict[str, Any] = decision) -> list[str]:
            return schemas.problems("decision", decision)

        decision_check[engine] = measure(check_decision, 20, 500, 1.0).percentile(50)

    help_s = command_seconds([str(GATE_BIN), "--help"], plan.help_runs)
    module_help_s = command_seconds([sys.executable, "-m", "gate", "--help"], plan.help_runs)

    print_table(rows)
    print_stages(rows, decision_check)
    print_targets(rows, help_s, module_help_s)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
