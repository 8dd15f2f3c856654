"""Model admission figures: ``gate eval --artifact`` against ``sha256sum`` (``make bench``).

Prints figures; asserts nothing. In a temporary folder (deleted afterwards)
it writes a large safetensors file (2 GiB by default) and a PyTorch zip
checkpoint (500 MiB) and a legacy (non-zip) PyTorch checkpoint of the same
tensors, then, for each file:

- ``sha256sum FILE``: wall time (run once to warm the page cache, then the
  best of ``--repeat`` runs);
- ``gate eval --artifact FILE --profile P``: wall time (best of ``--repeat``)
  and peak RSS of the child (``os.wait4`` rusage, ``ru_maxrss``), under a copy
  of the standalone profile with no external scanners, so gate's own path is
  measured: one streaming sha256 pass plus the bounded parsers;
- the ratio of the two (target <= 1.2) and the RSS target (< 200 MB);
- picklescan, modelscan, fickling and modelaudit on the checkpoints, when
  installed, side by side.

Options: ``--size-gb`` (safetensors size), ``--torch-mb``, ``--repeat``,
``--quick`` (256 MiB and 64 MiB files).
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RATIO_TARGET = 1.2
RSS_TARGET_MB = 200.0


def run(argv: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MB of the child, exit code)."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    return wall, usage.ru_maxrss / 1024.0, os.waitstatus_to_exitcode(status)


def best(argv: list[str], repeat: int) -> tuple[float, float, int]:
    results = [run(argv) for _ in range(repeat)]
    return min(r[0] for r in results), max(r[1] for r in results), results[-1][2]


def generate(kind: str, path: Path, size: int, extra: Path | None = None) -> bool:
    """Write a test file in a child process, so this process stays small.

    Peak RSS of a child (``ru_maxrss``) also counts the memory it inherits
    at fork; a bench process holding torch would inflate every figure.
    """
    argv = [sys.executable, __file__, "--generate", kind, str(path), str(size), str(extra or "")]
    return subprocess.run(argv, check=False).returncode == 0


def write_safetensors(path: Path, size: int) -> None:
    """One F32 tensor per 64 MiB of random-normal weights, written in chunks."""
    import json

    import numpy as np

    chunk = 64 * 1024 * 1024
    count = max(1, size // chunk)
    header = {
        f"layer{i}.weight": {
            "dtype": "F32",
            "shape": [chunk // 4],
            "data_offsets": [i * chunk, (i + 1) * chunk],
        }
        for i in range(count)
    }
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    rng = np.random.default_rng(0)
    block = (rng.standard_normal(chunk // 4) * 0.02).astype("float32").tobytes()
    with path.open("wb") as handle:
        handle.write(struct.pack("<Q", len(raw)) + raw)
        for i in range(count):
            # Vary each block a little so no two tensors are byte-identical.
            shift = (i * 4) % 4096  # element-aligned
            handle.write(block[shift:] + block[:shift])


def write_torch(zip_path: Path, legacy_path: Path, size: int) -> bool:
    try:
        import torch
    except ImportError:
        return False
    per = 16 * 1024 * 1024
    state = {f"layer{i}.weight": torch.randn(per // 4) * 0.02 for i in range(max(1, size // per))}
    torch.save(state, zip_path)
    torch.save(state, legacy_path, _use_new_zipfile_serialization=False)
    return True


def bench_profile(folder: Path) -> Path:
    settings = yaml.safe_load((ROOT / "policy-profiles" / "standalone.yaml").read_text())
    settings["name"] = "bench-standalone"
    settings["artifact"]["scanners"]["run"] = []
    path = folder / "bench-standalone.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def compare(label: str, path: Path, profile: Path, repeat: int) -> None:
    size_mb = path.stat().st_size / 1e6
    run(["sha256sum", str(path)])  # warm the page cache
    sha_wall, _, _ = best(["sha256sum", str(path)], repeat)
    run([str(BIN / "gate"), "eval", "--artifact", str(path), "--profile", str(profile), "-o", "json"])  # warm
    gate_wall, gate_rss, code = best(
        [str(BIN / "gate"), "eval", "--artifact", str(path), "--profile", str(profile), "-o", "json"], repeat
    )
    ratio = gate_wall / sha_wall
    print(f"{label}: {size_mb:,.0f} MB")
    print(f"  sha256sum            {sha_wall:7.2f} s  ({size_mb / sha_wall:,.0f} MB/s)")
    print(f"  gate eval --artifact {gate_wall:7.2f} s  ({size_mb / gate_wall:,.0f} MB/s), exit {code}")
    ratio_met = "met" if ratio <= RATIO_TARGET else "MISSED"
    print(f"  ratio                {ratio:7.2f}   target <= {RATIO_TARGET}: {ratio_met}")
    rss_met = "met" if gate_rss < RSS_TARGET_MB else "MISSED"
    print(f"  gate peak RSS        {gate_rss:7.1f} MB target < {RSS_TARGET_MB:.0f}: {rss_met}")


def scanners(path: Path) -> None:
    tools = {
        "picklescan": ["picklescan", "--path", str(path)],
        "modelscan": ["modelscan", "-p", str(path), "-r", "json", "-o", os.devnull],
        "fickling": ["fickling", "--check-safety", str(path)],
        "modelaudit": ["modelaudit", "scan", "--format", "json", str(path)],
    }
    for name, argv in tools.items():
        exe = shutil.which(name) or (str(BIN / name) if (BIN / name).exists() else None)
        if exe is None:
            print(f"  {name:<20} not installed")
            continue
        wall, rss, code = run([exe, *argv[1:]])
        print(f"  {name:<20} {wall:7.2f} s  peak RSS {rss:7.1f} MB, exit {code}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-gb", type=float, default=2.0)
    parser.add_argument("--torch-mb", type=float, default=500.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--generate", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        kind, target, size, extra = args.generate
        if kind == "safetensors":
            write_safetensors(Path(target), int(size))
            return 0
        return 0 if write_torch(Path(target), Path(extra), int(size)) else 3
    st_size = int((0.25 if args.quick else args.size_gb) * 1024**3)
    pt_size = int((64 if args.quick else args.torch_mb) * 1024**2)
    with tempfile.TemporaryDirectory(prefix="gate-bench-artifact-") as tmp:
        folder = Path(tmp)
        profile = bench_profile(folder)
        st = folder / "model.safetensors"
        generate("safetensors", st, st_size)
        compare("safetensors", st, profile, args.repeat)
        st.unlink()
        zip_path, legacy_path = folder / "model.pt", folder / "legacy.bin"
        if generate("torch", zip_path, pt_size, legacy_path):
            compare("PyTorch zip checkpoint", zip_path, profile, args.repeat)
            print("  second opinions on the same checkpoint:")
            scanners(zip_path)
            compare("PyTorch legacy checkpoint", legacy_path, profile, args.repeat)
        else:
            print("PyTorch checkpoints: torch is not installed (pip install torch==2.13.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
