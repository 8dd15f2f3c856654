"""gate never deserializes, imports from, or renders model content.

Two proofs: payloads that would leave a marker file if anything executed
them go through every pickle-facing entry point and the marker never
appears; and an audit of gate's source (AST) finds no call that loads a
pickle, marshal data, a NumPy object array, a torch/joblib/Keras model or
renders a template.
"""

from __future__ import annotations

import ast
import base64
import io
import zipfile
from pathlib import Path

import pytest

from gate.formats import joblib as gate_joblib
from gate.formats import pickle as gate_pickle
from gate.formats import torch as gate_torch
from gate.formats.interface import BytesBlob
from tests.formats.pickle_payloads import binbytes, call0, call4, glob, proto, s0, u

ROOT = Path(__file__).resolve().parent.parent
GATE = ROOT / "gate"


def _payloads(marker: Path) -> list[bytes]:
    touch = f"touch {marker}"
    opener = glob("builtins", "open") + b"(" + s0(str(marker)) + s0("w") + b"tR."
    stream_open = proto(4) + u("builtins") + u("open") + b"\x93" + u(str(marker)) + u("w") + b"\x86R."
    legacy_magic = (
        proto(2) + glob("os", "system") + b"(" + s0(touch) + b"tR0" + b"\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19."
    )
    return [
        call0("os", "system", touch),
        call0("posix", "system", touch),
        call4("os", "system", touch),
        call4("subprocess", "getoutput", touch),
        opener,
        stream_open,
        b"(" + s0(touch) + b"ios\nsystem\n.",
        proto(2) + b"}" + u("x") + u("y") + b"s." + call4("os", "system", touch),
        call0("os", "system", touch)[:-1] + b"\xff",
        proto(3) + glob("pickle", "loads") + binbytes(call4("os", "system", touch)) + b"\x85R.",
        proto(3) + u(base64.b64encode(call4("os", "system", touch)).decode()) + b".",
        legacy_magic,
    ]


def test_no_entry_point_executes_a_payload(tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    for data in _payloads(marker):
        blob = BytesBlob(data)
        gate_pickle.looks_like_pickle(blob)
        report = gate_pickle.parse(blob)
        for child in report.children:
            gate_pickle.parse(child.blob)
        gate_torch.analyse_legacy(blob)
        gate_torch.is_legacy(blob)
        gate_joblib.parse(blob)
        assert report.findings, data
        assert not marker.exists(), f"a payload ran: {data!r}"
    # The same payload as data.pkl of a torch zip checkpoint, and zlib-compressed joblib.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", call0("os", "system", f"touch {marker}"))
        zf.writestr("archive/version", "3\n")
    names = zipfile.ZipFile(io.BytesIO(buf.getvalue())).namelist()
    layout = gate_torch.classify_zip_members(names)
    assert layout["data_pkl"] == "archive/data.pkl"
    import zlib

    report = gate_joblib.parse(BytesBlob(zlib.compress(call4("os", "system", f"touch {marker}"))))
    for child in report.children:
        gate_pickle.parse(child.blob)
    assert not marker.exists()


# -- source audit -------------------------------------------------------------------------

# (module, attribute) calls that deserialize, execute or render.
FORBIDDEN_CALLS = {
    ("pickle", "load"),
    ("pickle", "loads"),
    ("pickle", "Unpickler"),
    ("_pickle", "load"),
    ("_pickle", "loads"),
    ("_pickle", "Unpickler"),
    ("cPickle", "loads"),
    ("marshal", "load"),
    ("marshal", "loads"),
    ("torch", "load"),
    ("joblib", "load"),
    ("dill", "load"),
    ("dill", "loads"),
    ("cloudpickle", "loads"),
    ("shelve", "open"),
    ("yaml", "load"),
    ("yaml", "unsafe_load"),
    ("yaml", "full_load"),
    ("keras", "load_model"),
    ("tf", "keras"),
    ("numpy", "load"),
    ("np", "load"),
    ("pandas", "read_pickle"),
    ("pd", "read_pickle"),
    ("builtins", "eval"),
    ("builtins", "exec"),
}
FORBIDDEN_NAMES = {"eval", "exec", "__import__"}
# Reviewed sites that import a module by a name taken from a constant table in the same
# file, never from content: the CLI's lazy command registry and the optional zstd backends.
REVIEWED_DYNAMIC_IMPORTS = {
    ("gate/cli/__init__.py", "import_module"),
    ("gate/formats/expand.py", "__import__"),
}
FORBIDDEN_IMPORTS = {
    "pickle",
    "_pickle",
    "cPickle",
    "marshal",
    "dill",
    "cloudpickle",
    "shelve",
    "torch",
    "joblib",
}
RENDER_METHODS = {"render", "render_async", "generate", "stream"}


def _sources() -> list[Path]:
    return sorted(p for p in GATE.rglob("*.py") if "_data" not in p.parts)


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _imports_gate_module(node: ast.Call) -> bool:
    """``import_module("gate.…")`` or ``import_module(f"gate.….{name}")``: gate's own modules only."""
    if not node.args:
        return False
    arg = node.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value.startswith("gate.")
    if isinstance(arg, ast.JoinedStr) and arg.values:
        first = arg.values[0]
        return isinstance(first, ast.Constant) and str(first.value).startswith("gate.")
    return False


def test_gate_sources_never_import_a_deserializer() -> None:
    offenders = []
    for path in _sources():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module.split(".")[0]]
            else:
                continue
            bad = [n for n in names if n in FORBIDDEN_IMPORTS]
            if bad:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {bad}")
    assert offenders == []


def test_gate_sources_never_call_a_loader_or_eval() -> None:
    offenders = []
    for path in _sources():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            dotted = _dotted(func)
            parts = dotted.split(".")
            rel = str(path.relative_to(ROOT))
            if (rel, parts[-1]) in REVIEWED_DYNAMIC_IMPORTS:
                continue
            if isinstance(func, ast.Name) and func.id in FORBIDDEN_NAMES:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} calls {func.id}")
            elif len(parts) >= 2 and (parts[-2], parts[-1]) in FORBIDDEN_CALLS:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} calls {dotted}")
            elif parts[-1] in ("load", "loads") and any(kw.arg == "allow_pickle" for kw in node.keywords):
                allow = next(kw for kw in node.keywords if kw.arg == "allow_pickle").value
                if not (isinstance(allow, ast.Constant) and allow.value is False):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} loads with allow_pickle")
            elif parts[-1] == "import_module" and not _imports_gate_module(node):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports a module by name")
    assert offenders == []


def test_templates_are_never_rendered_outside_a_sandbox() -> None:
    offenders = []
    for path in _sources():
        text = path.read_text()
        if "jinja2" not in text:
            continue
        tree = ast.parse(text, filename=str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in RENDER_METHODS
                and "Sandboxed" not in text
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} renders a template")
            if (
                isinstance(node, ast.Call)
                and _dotted(node.func).endswith("Environment")
                and "Sandboxed" not in (_dotted(node.func))
            ):
                # a plain Environment may parse, never render: its templates must not be rendered
                for inner in ast.walk(tree):
                    if isinstance(inner, ast.Attribute) and inner.attr in ("from_string", "get_template"):
                        offenders.append(
                            f"{path.relative_to(ROOT)}:{inner.lineno} builds a renderable template"
                        )
    assert offenders == []


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_each_source_parses(path: Path) -> None:
    ast.parse(path.read_text(), filename=str(path))
