"""gate against the peer scanners on model files written by the real libraries.

Builds a corpus of malicious files and their benign twins (torch.save, joblib.dump,
pickle.dumps, numpy.save, onnx.save, Keras v3 archives, safetensors; payloads built
opcode by opcode, never run) in a temporary folder, then scans every file with gate
(``gate eval --artifact`` under ``pickle-allowlist`` with the external scanners off:
gate's own analysis only) and with each peer that is installed (picklescan,
modelscan, fickling, modelaudit), in the same run. Prints one table: per tool,
malicious files caught, benign files flagged, files the tool failed on, wall time.

A peer "catches" a file when it reports an issue (modelscan, modelaudit, picklescan)
or a verdict other than LIKELY_SAFE (fickling); a crash or unusable output is counted
as "failed", not as a catch.

    python bench/peer_compare.py
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gate.evidence.scanners import find  # noqa: E402
from tests.test_artifact_threats import (  # noqa: E402
    PICKLE_CASES,
    proto0_system,
    proto4_stack_global,
    safetensors_bytes,
    torch_zip,
    weights,
)
from tests.test_keras_cves import BENIGN as KERAS_BENIGN  # noqa: E402
from tests.test_keras_cves import CVES as KERAS_CVES  # noqa: E402
from tests.test_keras_cves import _archive  # noqa: E402

CMD = b"touch /tmp/gate-bench-pwned"


def _npy_object(payload: bytes) -> bytes:
    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload


def _onnx(path: Path, op: str) -> None:
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    graph = helper.make_graph([helper.make_node(op, ["x"], ["y"])], "g", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def build(root: Path) -> list[tuple[str, bool, Path]]:
    """(technique, malicious, path) for every corpus file."""
    import joblib
    import torch
    from sklearn.linear_model import LogisticRegression

    out: list[tuple[str, bool, Path]] = []

    def add(technique: str, evil: bool, name: str, write: Callable[[Path], Any]) -> None:
        path = root / ("evil" if evil else "good") / technique / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path)
        out.append((technique, evil, path))

    for case, (name, make) in sorted(PICKLE_CASES.items()):
        add(f"pickle:{case}", True, name, lambda p, m=make: p.write_bytes(m(CMD)))
    add("pickle:plain", False, "stats.pkl", lambda p: p.write_bytes(pickle.dumps({"m": np.arange(3.0)})))
    model = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU())
    add("torch:zip", True, "model.pt", lambda p: p.write_bytes(torch_zip(proto0_system(CMD))))
    add("torch:zip", False, "model.pt", lambda p: torch.save(model.state_dict(), p))
    add(
        "torch:legacy",
        False,
        "pytorch_model.bin",
        lambda p: torch.save(model.state_dict(), p, _use_new_zipfile_serialization=False),
    )
    add("torch:module", False, "whole.pt", lambda p: torch.save(model, p))
    x = np.random.default_rng(0).random((40, 3))
    fitted = LogisticRegression().fit(x, (x[:, 0] > 0.5).astype(int))
    add("joblib:zlib", True, "model.joblib", lambda p: p.write_bytes(zlib.compress(proto0_system(CMD))))
    add("joblib:zlib", False, "model.joblib", lambda p: joblib.dump(fitted, p, compress=3))
    add("joblib:raw", False, "model.joblib", lambda p: joblib.dump(fitted, p))
    evil_npy = _npy_object(proto4_stack_global(b"subprocess", b"getoutput", CMD))
    add("numpy:object", True, "array.npy", lambda p: p.write_bytes(evil_npy))
    add(
        "numpy:object",
        False,
        "array.npy",
        lambda p: np.save(p, np.array([{"a": 1}, [1, 2]], dtype=object), allow_pickle=True),
    )
    add("numpy:float", False, "array.npy", lambda p: np.save(p, np.arange(10.0)))
    for case, (layer, _) in sorted(KERAS_CVES.items()):
        add(f"keras:{case}", True, "model.keras", lambda p, c=case, lay=layer: _keras(p, c, lay))
    for case, layer in sorted(KERAS_BENIGN.items()):
        add(f"keras:{case}", False, "model.keras", lambda p, c=case, lay=layer: _keras(p, c, lay))
    add("onnx:python-op", True, "model.onnx", lambda p: _onnx(p, "PythonOp"))
    add("onnx:python-op", False, "model.onnx", lambda p: _onnx(p, "Relu"))
    st = safetensors_bytes(weights())
    add("safetensors:polyglot", True, "model.safetensors", lambda p: p.write_bytes(st + proto0_system(CMD)))
    add("safetensors:polyglot", False, "model.safetensors", lambda p: p.write_bytes(st))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../evil.pkl", proto0_system(CMD))
    add("zip:traversal", True, "bundle.zip", lambda p: p.write_bytes(buffer.getvalue()))
    return out


def _keras(path: Path, case: str, layer: dict[str, Any]) -> None:
    made = _archive(path.parent, case, layer)
    made.rename(path)


# --- the tools ---


def _gate(path: Path, profile: Path) -> str:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "gate",
            "eval",
            "--artifact",
            str(path),
            "--profile",
            str(profile),
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if run.returncode not in (0, 1):
        return "failed"
    return "caught" if json.loads(run.stdout)["verdict"] == "block" else "clean"


def _exe(name: str) -> str:
    return find(name) or name


def _json_tool(argv: list[str], report: Path, caught: Callable[[Any], bool]) -> str:
    report.unlink(missing_ok=True)
    subprocess.run(argv, capture_output=True, timeout=300)
    try:
        data = json.loads(report.read_text())
    except (OSError, ValueError):
        return "failed"
    try:
        return "caught" if caught(data) else "clean"
    except (KeyError, TypeError):
        return "failed"


def _modelscan(path: Path, report: Path) -> str:
    def caught(d: Any) -> bool:
        if d["issues"]:
            return True
        if d.get("errors"):
            raise KeyError("errors")
        return False

    return _json_tool([_exe("modelscan"), "-p", str(path), "-r", "json", "-o", str(report)], report, caught)


def _fickling(path: Path, report: Path) -> str:
    return _json_tool(
        [_exe("fickling"), "--check-safety", "--json-output", str(report), str(path)],
        report,
        lambda d: d["severity"] != "LIKELY_SAFE",
    )


def _modelaudit(path: Path, report: Path) -> str:
    return _json_tool(
        [_exe("modelaudit"), "scan", "--format", "json", "--output", str(report), str(path)],
        report,
        lambda d: any(
            str(i.get("severity", "")).lower() in ("critical", "error", "warning") for i in d["issues"]
        ),
    )


def _picklescan(path: Path, report: Path) -> str:
    run = subprocess.run(
        [_exe("picklescan"), "--path", str(path)], capture_output=True, text=True, timeout=300
    )
    if run.returncode == 2:
        return "failed"
    return "caught" if run.returncode == 1 else "clean"


PEERS: dict[str, Callable[[Path, Path], str]] = {
    "picklescan": _picklescan,
    "modelscan": _modelscan,
    "fickling": _fickling,
    "modelaudit": _modelaudit,
}


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="gate-peers-") as tmp:
        root = Path(tmp)
        corpus = build(root / "corpus")
        profile_text = (ROOT / "policy-profiles" / "pickle-allowlist.yaml").read_text()
        profile = root / "gate-only.yaml"
        profile.write_text(profile_text.replace("run: [modelscan, modelaudit]", "run: []"))
        tools: dict[str, Callable[[Path], str]] = {"gate": lambda p: _gate(p, profile)}
        for name, run in PEERS.items():
            if find(name):
                tools[name] = lambda p, r=run: r(p, root / "report.json")
        evil = sum(1 for _, e, _ in corpus if e)
        print(f"corpus: {evil} malicious, {len(corpus) - evil} benign files")
        print(f"{'tool':<12} {'malicious caught':>17} {'benign flagged':>15} {'failed':>7} {'wall s':>8}")
        for name, scan in tools.items():
            start = time.perf_counter()
            results = [(e, scan(p), t) for t, e, p in corpus]
            wall = time.perf_counter() - start
            caught = sum(1 for e, r, _ in results if e and r == "caught")
            flagged = sum(1 for e, r, _ in results if not e and r == "caught")
            failed = sum(1 for _, r, _ in results if r == "failed")
            print(
                f"{name:<12} {caught:>10}/{evil:<6} {flagged:>8}/{len(corpus) - evil:<6}"
                f" {failed:>7} {wall:>8.1f}"
            )
            missed = sorted(t for e, r, t in results if e and r != "caught")
            wrong = sorted(t for e, r, t in results if not e and r == "caught")
            if missed:
                print(f"{'':<12} missed: {', '.join(missed)}")
            if wrong:
                print(f"{'':<12} flagged benign: {', '.join(wrong)}")
        missing = [n for n in PEERS if n not in tools]
        if missing:
            print(f"not installed here: {', '.join(missing)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
