"""Behavioural smoke test (stage 6): wall time of the whole stage and server start-up.

Run: LLAMA_SERVER_BIN=.ci/cache/llama.cpp/bin/llama-server .venv/bin/python bench/behaviour.py

For each crafted model (tests/behaviour/models.py: a harmless one, one that
answers with download-and-execute, one that never stops, and the harmless one
padded to 100 MiB), the stage as `gate eval --artifact` runs it: sandbox
(network namespace, rlimits), llama-server start, the default suite (43
prompts, 64 tokens at most each), pattern matching, teardown. Best of 2.
Skips with a message when no llama-server is available.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gate.behaviour.runner import Settings, find_runtime, run_suite  # noqa: E402
from gate.behaviour.suite import load_suite  # noqa: E402
from tests.behaviour.models import DOWNLOAD_AND_EXECUTE, HARMLESS, RUNAWAY, write_model  # noqa: E402

BUILT = ROOT / ".ci" / "cache" / "llama.cpp" / "bin" / "llama-server"


def main() -> int:
    if not os.environ.get("LLAMA_SERVER_BIN") and BUILT.exists():
        os.environ["LLAMA_SERVER_BIN"] = str(BUILT)
    settings = Settings.from_profile({"max_tokens": 64, "require_network_isolation": False})
    kind, _ = find_runtime(settings)
    if kind is None:
        print("behaviour: no llama-server (scripts/build_llama_server.sh builds one); skipped")
        return 0
    suite = load_suite()
    print(f"behaviour stage: {kind}, suite {suite.name} {suite.version}", end=" ")
    print(f"({len(suite.prompts)} prompts, max 64 tokens)")
    print(f"{'model':<34}{'size':>10}{'stage s':>10}{'start-up s':>12}  outcome")
    with tempfile.TemporaryDirectory(prefix="gate-bench-behaviour-") as folder:
        work = Path(folder)
        models = [
            ("harmless", write_model(work / "harmless.gguf", HARMLESS)),
            ("download-and-execute", write_model(work / "evil.gguf", DOWNLOAD_AND_EXECUTE)),
            ("never stops (bounded at 64 tokens)", write_model(work / "loop.gguf", RUNAWAY, loop=True)),
            ("harmless, 2048 wide (~100 MiB)", write_model(work / "big.gguf", HARMLESS, width=2048)),
        ]
        for label, path in models:
            runs = []
            for _ in range(2):
                start = time.perf_counter()
                evidence = run_suite(path, suite, settings)
                runs.append((time.perf_counter() - start, evidence))
            best, evidence = min(runs, key=lambda r: r[0])
            size = path.stat().st_size / (1024 * 1024)
            startup = evidence.get("startup_seconds")
            outcome = evidence.get("detail", "")
            print(f"{label:<34}{size:>8.1f}MB{best:>10.2f}{(startup or 0):>12.2f}  {outcome}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
