"""Seed corpora: real files from the repository and small files written by the real libraries.

``write_seeds(target, folder)`` fills *folder* with the seeds of one target. Files written by a
library are made at run time (never committed): numpy, torch, joblib, gguf, onnx, sentencepiece,
py7zr and the standard library's archive writers produce them as a user's tools would.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import pickle
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_SEED = 1024 * 1024


def _npy() -> list[bytes]:
    import numpy as np

    out = []
    for value in (np.arange(12, dtype=np.float32).reshape(3, 4), np.array(["a", "bc"]), np.zeros(0)):
        buffer = io.BytesIO()
        np.save(buffer, value)
        out.append(buffer.getvalue())
    return out


def _torch(legacy: bool) -> list[bytes]:
    import torch

    buffer = io.BytesIO()
    state = {"weight": torch.zeros(2, 3), "step": 3, "names": ["a", "b"]}
    torch.save(state, buffer, _use_new_zipfile_serialization=not legacy)
    return [buffer.getvalue()]


def _joblib() -> list[bytes]:
    import joblib
    import numpy as np

    out = []
    for compress in (0, 3, ("gzip", 3), ("xz", 1)):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.joblib"
            joblib.dump({"coef": np.ones(4), "name": "m"}, path, compress=compress)
            out.append(path.read_bytes())
    return out


def _gguf() -> list[bytes]:
    import gguf
    import numpy as np

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.gguf"
        writer = gguf.GGUFWriter(str(path), "llama")
        writer.add_chat_template("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}{% endfor %}")
        writer.add_uint32("llama.context_length", 128)
        writer.add_token_list(["a", "b", "c"])
        writer.add_tensor("token_embd.weight", np.zeros((4, 8), np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        return [path.read_bytes()]


def _onnx() -> list[bytes]:
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    w = helper.make_tensor("w", TensorProto.FLOAT, [2], [1.0, 2.0])
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g", [x], [y], [w])
    return [onnx.helper.make_model(graph).SerializeToString()]


def _sentencepiece() -> list[bytes]:
    import sentencepiece as spm

    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "corpus.txt"
        corpus.write_text("hello world, a tiny corpus for a tokenizer\n" * 40 + "the quick brown fox\n" * 40)
        spm.SentencePieceTrainer.train(
            input=str(corpus), model_prefix=f"{folder}/tok", vocab_size=30, model_type="bpe", minloglevel=2
        )
        return [(Path(folder) / "tok.model").read_bytes()]


def _pickles() -> list[bytes]:
    benign = {"layers": [1, 2, 3], "name": "m", "scale": 0.5, "pair": (1, "a")}
    return [pickle.dumps(benign, protocol=p) for p in range(6)]


def _tar() -> list[bytes]:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in (("model/config.json", b'{"a": 1}'), ("model/weights.bin", b"\0" * 64)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return [buffer.getvalue()]


def _zip() -> list[bytes]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"a": 1}, protocol=2))
        archive.writestr("archive/version", "3\n")
    return [buffer.getvalue()]


def _sevenzip() -> list[bytes]:
    import py7zr

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "config.json").write_text('{"a": 1}')
        path = Path(folder) / "model.7z"
        with py7zr.SevenZipFile(path, "w") as archive:
            archive.write(Path(folder) / "config.json", "config.json")
        return [path.read_bytes()]


def _compressed() -> list[bytes]:
    data = pickle.dumps({"a": [1, 2]}, protocol=4)
    return [gzip.compress(data), bz2.compress(data), lzma.compress(data)]


def _manifests() -> list[bytes]:
    from fuzz.targets import MANIFESTS

    texts = {
        "requirements.txt": b"requests==2.32.3 --hash=sha256:" + b"0" * 64 + b"\n-r other.txt\n",
        "pyproject.toml": b'[project]\nname = "x"\ndependencies = ["httpx>=0.27"]\n',
        "setup.py": b"from setuptools import setup\nsetup(name='x', install_requires=['numpy'])\n",
        "package.json": b'{"name": "x", "dependencies": {"left-pad": "1.3.0"}, "scripts": {"build": "tsc"}}',
        "yarn.lock": b'"left-pad@1.3.0":\n  version "1.3.0"\n  resolved "https://registry.yarnpkg.com/x"\n',
        "pnpm-lock.yaml": b"lockfileVersion: '9.0'\npackages: {}\n",
        ".npmrc": b"registry=https://registry.npmjs.org/\n",
    }
    return [bytes([MANIFESTS.index(name)]) + body for name, body in texts.items()]


def _audit_lines() -> list[bytes]:
    from gate.audit.log import AuditLog

    with tempfile.TemporaryDirectory() as folder:
        log = AuditLog(Path(folder) / "audit.jsonl")
        log.append("decision", "sha256:" + "a" * 64, {"verdict": "block", "reasons": ["unsigned"]})
        log.append("decision", None, {"verdict": "promote"})
        return (Path(folder) / "audit.jsonl").read_bytes().splitlines()


def _javascript() -> list[bytes]:
    return [
        b"const { execFile } = require('child_process');\n"
        b"execFile('git', ['status'], (e, out) => console.log(out));\n",
        b"import fs from 'node:fs';\nconst token = process.env.GITHUB_TOKEN;\n"
        b"fetch(`https://api.github.com/repos/${process.argv[2]}/issues`,"
        b" {headers: {Authorization: token}});\n",
        b"export function tidy(text) { return text.split('\\n').map(l => l.trimEnd()).join('\\n'); }\n",
    ]


GENERATED: dict[str, Callable[[], list[bytes]]] = {
    "skill-javascript": _javascript,
    "numpy": _npy,
    "torch-legacy": lambda: _torch(legacy=True),
    "joblib": _joblib,
    "gguf": _gguf,
    "onnx": _onnx,
    "sentencepiece": _sentencepiece,
    "pickle": _pickles,
    "tar": _tar,
    "zip": _zip,
    "7z": _sevenzip,
    "compressed": _compressed,
    "skill-dependencies": _manifests,
    "audit-line": _audit_lines,
    "scan": lambda: _npy() + _torch(legacy=False) + _tar() + _compressed() + _gguf() + _onnx(),
}


def write_seeds(name: str, folder: Path) -> int:
    """Write the seeds of target *name* into *folder*; returns how many."""
    from fuzz.targets import TARGETS

    folder.mkdir(parents=True, exist_ok=True)
    seeds: list[bytes] = []
    for pattern in TARGETS[name].seeds:
        for path in sorted(ROOT.glob(pattern)):
            if path.is_file() and not path.is_symlink() and path.stat().st_size <= MAX_SEED:
                seeds.append(path.read_bytes())
    if name in GENERATED:
        seeds.extend(GENERATED[name]())
    regressions = ROOT / "fuzz" / "regressions" / name
    if regressions.is_dir():
        seeds.extend(p.read_bytes() for p in sorted(regressions.iterdir()) if p.is_file())
    for data in seeds:
        (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)
    return len(seeds)
