"""gate watch throughput: artifacts/minute for 100 small files, time-to-promote for 1 GiB.

Run: .venv/bin/python bench/watch.py [--big-mib 1024]

- **100 small files**: 100 safetensors files (4 KiB of float weights each)
  dropped at once; one ``gate watch --once --settle 0`` process takes,
  decides, promotes (signed manifest, rename) and records each. Wall time of
  the whole process (start-up and policy compilation included), and the
  per-artifact rate without start-up (time of a pass over an empty quarantine
  subtracted).
- **1 GiB file**: time from ``gate watch --once`` start to the promoted file
  in the registry, against ``sha256sum`` of the same file, page cache warm
  (both read it once before timing). Target: within 1.3x of sha256sum.

The profile is ``standalone`` without external scanners (gate's own
pipeline). Files are generated into a temporary folder and deleted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def safetensors(path: Path, floats: np.ndarray) -> None:
    data = floats.astype("<f4").tobytes()
    header = json.dumps(
        {"w": {"dtype": "F32", "shape": [floats.size], "data_offsets": [0, len(data)]}}
    ).encode()
    header += b" " * (-len(header) % 8)
    with path.open("wb") as handle:
        handle.write(struct.pack("<Q", len(header)) + header)
        handle.write(data)


def big_safetensors(path: Path, mib: int) -> None:
    block = np.random.default_rng(7).normal(0, 0.02, 4 * 1024 * 1024).astype("<f4").tobytes()  # 16 MiB
    count = mib * 1024 * 1024 // 4
    header = json.dumps({"w": {"dtype": "F32", "shape": [count], "data_offsets": [0, count * 4]}}).encode()
    header += b" " * (-len(header) % 8)
    with path.open("wb") as handle:
        handle.write(struct.pack("<Q", len(header)) + header)
        for _ in range(count * 4 // len(block)):
            handle.write(block)


def site(work: Path) -> tuple[list[str], Path, Path]:
    quarantine, registry = work / "quarantine", work / "registry"
    for folder in (quarantine, registry):
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
    if not (work / "k.key").exists():
        subprocess.run(
            [str(BIN / "gate"), "keygen", "--out", str(work / "k")], check=True, capture_output=True
        )
        settings = yaml.safe_load((ROOT / "policy-profiles" / "standalone.yaml").read_text())
        settings["name"] = "standalone-bench"
        settings["artifact"]["scanners"]["run"] = []
        (work / "p.yaml").write_text(yaml.safe_dump(settings))
    state = work / "state"
    if state.exists():
        shutil.rmtree(state)
    argv = [str(BIN / "gate"), "watch", str(quarantine), "--registry-dir", str(registry)]
    argv += ["--profile", str(work / "p.yaml"), "--key", str(work / "k.key"), "--state-dir", str(state)]
    argv += ["--settle", "0", "--once"]
    return argv, quarantine, registry


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - start


def small(work: Path, count: int) -> None:
    argv, quarantine, registry = site(work)
    empty = min(timed(argv) for _ in range(2))
    rng = np.random.default_rng(1)
    for i in range(count):
        safetensors(quarantine / f"m{i:03d}.safetensors", rng.normal(0, 0.02, 1024))
    elapsed = timed(argv)
    promoted = len([p for p in registry.iterdir() if p.suffix == ".safetensors"])
    assert promoted == count, f"only {promoted} of {count} promoted"
    print(
        f"{count} small files: {elapsed:.2f} s in one gate watch --once "
        f"({count / elapsed * 60:,.0f} artifacts/minute)"
    )
    net = max(elapsed - empty, 1e-6)
    print(
        f"  without start-up ({empty:.2f} s for an empty pass): "
        f"{count / net * 60:,.0f} artifacts/minute, {net / count * 1000:.1f} ms each"
    )


def big(work: Path, mib: int) -> None:
    argv, quarantine, registry = site(work)
    source = work / "big.safetensors"
    big_safetensors(source, mib)
    subprocess.run(["sha256sum", str(source)], check=True, capture_output=True)  # warm the page cache
    reference = min(timed(["sha256sum", str(source)]) for _ in range(2))
    runs = []
    for _ in range(2):
        argv, quarantine, registry = site(work)
        os.link(source, quarantine / "big.safetensors")
        os.unlink(source)
        runs.append(timed(argv))
        os.link(registry / "big.safetensors", source)
        (registry / "big.safetensors").unlink()
    best = min(runs)
    verdict = "met" if best <= 1.3 * reference else "MISSED"
    print(
        f"{mib} MiB file: time to promote {best:.2f} s (best of 2, start-up included); "
        f"sha256sum {reference:.2f} s"
    )
    print(f"  ratio {best / reference:.2f}x (target <= 1.3x: {verdict})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--big-mib", type=int, default=1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(
        prefix="gate-bench-watch-", dir=os.environ.get("GATE_BENCH_TMP")
    ) as folder:
        work = Path(folder)
        small(work, args.small)
        big(work, args.big_mib)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
