"""Pickle-scan throughput: gate's opcode interpreter on large synthesized pickles.

Prints MB/s for
  * a 200 MB legacy-style pickle: BINBYTES chunks interleaved with tensor-rebuild globals
    (big constants are skipped by offset, never copied);
  * a pickle of many small values (opcode-bound: the interpreter's per-opcode cost);
  * a legacy (non-zip) torch checkpoint, when torch is installed;
and, when installed, picklescan and modelscan on the same 200 MB file, side by side.

    python bench/pickle_scan.py [--mb 200]
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gate.formats.interface import FileBlob  # noqa: E402
from gate.formats.pickle import parse  # noqa: E402


def legacy_style(path: Path, megabytes: int) -> None:
    """PROTO 2, a dict of rebuild calls, each holding a 1 MB BINBYTES constant."""
    chunk = os.urandom(1 << 20)
    with path.open("wb") as fh:
        fh.write(b"\x80\x02}q\x00(")
        for i in range(megabytes):
            key = f"layer.{i}.weight".encode()
            fh.write(b"X" + struct.pack("<I", len(key)) + key)
            fh.write(b"ctorch._utils\n_rebuild_tensor_v2\n")
            fh.write(b"(B" + struct.pack("<I", len(chunk)) + chunk + b"K\x00K\x10\x85K\x01\x85\x89")
            fh.write(b"ccollections\nOrderedDict\n)RtR")
        fh.write(b"u.")


def small_values(path: Path) -> None:
    data = [{"id": i, "name": f"token-{i}", "score": i * 0.5, "tags": ["a", "b"]} for i in range(300_000)]
    path.write_bytes(pickle.dumps(data, protocol=4))


def torch_legacy(path: Path) -> bool:
    try:
        import torch
    except ImportError:
        return False
    state = {f"layer{i}.weight": torch.zeros(1024, 1024) for i in range(50)}
    torch.save(state, path, _use_new_zipfile_serialization=False)
    return True


def time_gate(path: Path) -> tuple[float, int]:
    fd = os.open(path, os.O_RDONLY)
    try:
        start = time.perf_counter()
        report = parse(FileBlob(fd))
        elapsed = time.perf_counter() - start
    finally:
        os.close(fd)
    bad = [f for f in report.findings if f.severity in ("critical", "high", "medium")]
    return elapsed, len(bad)


def time_tool(argv: list[str]) -> tuple[float, int] | None:
    """Wall time and exit code of an external scanner, or None when it is not installed."""
    exe = shutil.which(argv[0]) or str(Path(sys.executable).parent / argv[0])
    if not Path(exe).exists():
        return None
    start = time.perf_counter()
    done = subprocess.run([exe, *argv[1:]], capture_output=True, timeout=1800, check=False)
    return time.perf_counter() - start, done.returncode


def line(label: str, size: int, seconds: float, extra: str = "") -> None:
    mb = size / 1e6
    print(f"{label:<44} {mb:9.1f} MB {seconds:8.3f} s {mb / seconds:10.1f} MB/s {extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files: list[tuple[str, Path]] = []
        big = Path(tmp) / "legacy-style.pkl"
        legacy_style(big, args.mb)
        files.append(("legacy-style BINBYTES + globals", big))
        small = Path(tmp) / "small-values.pkl"
        small_values(small)
        files.append(("many small values (opcode-bound)", small))
        ckpt = Path(tmp) / "legacy.pt"
        if torch_legacy(ckpt):
            files.append(("torch legacy checkpoint (50 x 4 MB)", ckpt))
        else:
            print("torch not installed: legacy checkpoint skipped")
        for label, path in files:
            size = path.stat().st_size
            seconds, bad = time_gate(path)
            line(f"gate: {label}", size, seconds, f"findings={bad}")
            for name in ("picklescan", "modelscan"):
                measured = time_tool([name, "-p", str(path)])
                if measured is None:
                    print(f"{name}: not installed")
                else:
                    line(f"{name}: {label}", size, measured[0], f"exit={measured[1]} (includes start-up)")


if __name__ == "__main__":
    main()
