"""Promotion time of gate watch on a 1 GiB safetensors file, next to `openssl dgst -sha256` of it.

    PYTHONPATH=. python bench/watch_promote.py [SIZE_MIB]

The file is written with real (non-sparse) bytes. Reported: the `gate watch
--once` wall time with the file, the same with an empty drop folder (start-up:
policy compilation), their difference (copy into the private state folder,
fsync, hash + scan in one streaming pass, signed manifest, rename), and
openssl's time to hash the same file once.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from gate.attest.keys import generate_key, write_keypair

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _model(path: Path, size: int) -> None:
    count = (size - 4096) // 2
    header = json.dumps({"w": {"dtype": "F16", "shape": [count], "data_offsets": [0, count * 2]}}).encode()
    header += b" " * (-len(header) % 8)
    block = b"\0" * (1 << 20)
    with path.open("wb") as handle:
        handle.write(struct.pack("<Q", len(header)) + header)
        left = count * 2
        while left:
            left -= handle.write(block[: min(left, len(block))])


def main() -> None:
    size = int(sys.argv[1] if len(sys.argv) > 1 else 1024) * 1024 * 1024
    top = Path(tempfile.mkdtemp(prefix="gate-bench-watch-"))
    try:
        quarantine, registry, state = top / "q", top / "r", top / "state"
        quarantine.mkdir()
        registry.mkdir()
        key, _ = write_keypair(str(top / "k"), generate_key(), None)
        settings = yaml.safe_load((ROOT / "policy-profiles" / "standalone.yaml").read_text())
        settings["artifact"]["scanners"]["run"] = []
        profile = top / "p.yaml"
        profile.write_text(yaml.safe_dump(settings))
        argv = [str(BIN / "gate"), "watch", str(quarantine), "--registry-dir", str(registry)]
        argv += ["--profile", str(profile), "--key", str(key), "--state-dir", str(state)]
        argv += ["--audit-log", str(top / "audit.jsonl"), "--settle", "0", "--once"]
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        empty = time.perf_counter() - started
        _model(quarantine / "big.safetensors", size)
        subprocess.run(["sync"], check=True)
        started = time.perf_counter()
        digest = subprocess.run(
            ["openssl", "dgst", "-sha256", str(quarantine / "big.safetensors")],
            check=True,
            capture_output=True,
        )
        openssl = time.perf_counter() - started
        started = time.perf_counter()
        run = subprocess.run(argv, check=True, capture_output=True)
        full = time.perf_counter() - started
        manifest = json.loads((registry / "big.safetensors.provenance.json").read_text())
        assert digest.stdout.decode().split()[-1] == manifest["artifact"]["sha256"], run.stderr.decode()
        print(
            f"size {size / 2**30:.2f} GiB: gate watch --once {full:.2f} s, empty start-up {empty:.2f} s, "
            f"promotion {full - empty:.2f} s; openssl dgst -sha256 {openssl:.2f} s"
        )
    finally:
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    main()
