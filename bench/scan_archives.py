"""Dispatcher cost on archive checkpoints, against sha256sum of the same file.

Builds a PyTorch zip checkpoint (``torch.save`` when torch is installed, else a
zip with the same stored layout), then times, each in a fresh process:
``sha256sum`` of the file, and ``scan_blob`` over it (detection, the zip
reader, every member sniffed, the pickle analysed). Peak RSS is the scanning
process's own. Size: GATE_BENCH_MB (default 512).

    python bench/scan_archives.py
"""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCAN = """
import os, resource, sys, time
from gate.formats.interface import FileBlob
from gate.formats.scan import scan_blob
fd = os.open(sys.argv[1], os.O_RDONLY)
t = time.perf_counter()
result = scan_blob(FileBlob(fd), name=os.path.basename(sys.argv[1]))
elapsed = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
codes = sorted({f.code for f in result.findings})
print(f"{elapsed:.3f} {rss:.0f} {len(result.members)} {result.format} {','.join(codes) or '-'}")
"""


def build_checkpoint(path: Path, megabytes: int) -> str:
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        tensors = {f"layer{i}.weight": torch.randn(1024, 1024) for i in range(max(1, megabytes // 4))}
        torch.save(tensors, path)
        return "torch.save"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({"n": megabytes}, protocol=2))
        zf.writestr("archive/version", b"3\n")
        chunk = os.urandom(4 << 20)
        for i in range(max(1, megabytes // 4)):
            zf.writestr(f"archive/data/{i}", chunk)
    return "zipfile (torch not installed)"


def build_npz(path: Path, megabytes: int) -> None:
    import numpy as np

    arrays = {
        f"a{i}": np.random.default_rng(i).standard_normal(1 << 18) for i in range(max(1, megabytes // 2))
    }
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    path.write_bytes(buf.getvalue())


def timed(argv: list[str]) -> tuple[float, str]:
    t = time.perf_counter()
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - t, out


def scan(path: Path) -> tuple[float, float, int, str, str]:
    _, out = timed([sys.executable, "-c", SCAN, str(path)])
    elapsed, rss, members, fmt, codes = out.split()
    return float(elapsed), float(rss), int(members), fmt, codes


def build(kind: str, path: Path, megabytes: int) -> str:
    """Build in a child process: the RSS high-water mark survives exec, so the
    parent must never load torch or numpy itself."""
    argv = [sys.executable, __file__, "--build", kind, str(path), str(megabytes)]
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout.strip()


def main() -> None:
    if sys.argv[1:2] == ["--build"]:
        kind, path, megabytes = sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
        if kind == "checkpoint":
            print(build_checkpoint(path, megabytes))
        else:
            build_npz(path, megabytes)
        return
    megabytes = int(os.environ.get("GATE_BENCH_MB", "512"))
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "model.pt"
        how = build("checkpoint", ckpt, megabytes)
        compare(f"checkpoint ({how})", ckpt)
        npz = Path(tmp) / "arrays.npz"
        try:
            build("npz", npz, min(megabytes, 128))
        except subprocess.CalledProcessError:
            return
        compare("npz (savez_compressed)", npz)


def compare(label: str, path: Path) -> None:
    """Print sha256sum and scan_blob figures for one file."""
    sha, _ = timed(["sha256sum", str(path)])
    elapsed, rss, members, fmt, codes = scan(path)
    print(f"{label}: {path.stat().st_size / 1e6:.0f} MB")
    print(f"  sha256sum  {sha:7.3f} s")
    print(f"  scan_blob  {elapsed:7.3f} s  ({elapsed / sha:.2f}x sha256sum)  peak RSS {rss:.0f} MB")
    print(f"             {members} blobs, format {fmt}, finding codes {codes}")


if __name__ == "__main__":
    main()
