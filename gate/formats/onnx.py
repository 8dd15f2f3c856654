"""ONNX ``ModelProto`` read with a bounded protobuf wire-format walker (never ``onnx.load``).

Bounds: varints at most 10 bytes and below 2**64; every length-delimited field
checked against the bytes left in its parent message; messages nested at most
``MAX_NESTING`` deep (subgraphs of ``If``/``Loop``/``Scan`` attributes and
functions included); at most ``MAX_FIELDS`` fields visited in total; strings
read at most ``Limits.max_string_bytes`` long; the whole model at most
``MAX_MODEL_BYTES`` (protobuf's own 2 GiB ceiling). Tensor payloads
(``raw_data``, ``float_data``, ...) are skipped by length, never read.

Recorded in the header: ``ir_version``, ``opset_imports``, ``producer_name`` /
``producer_version``, ``node_count`` (all graphs), ``op_types`` (histogram),
``custom_domains``, ``initializer_count`` and ``external_data`` (every external
location, for the collector to check that the files exist).

Findings:

- ``unsafe_layer`` / ``onnx.python_op`` (high): a ``PythonOp``/``PyOp``/``PyFunc`` node, in
  any domain (the default one included);
- ``unsafe_layer`` / ``onnx.custom_domain`` (medium): an operator domain other
  than ``""``, ``ai.onnx``, ``ai.onnx.ml``, ``ai.onnx.training``,
  ``ai.onnx.preview.training`` (custom operators need native code to run),
  used by a node or imported; calls of model-local functions (``functions``,
  whose bodies are walked like graphs) are not custom operators;
- ``unsafe_layer`` / ``onnx.external_data_escape`` (critical): an external-data
  ``location`` that is absolute, has a drive letter, a ``..`` segment, a
  backslash, a colon or a NUL, or is empty — it would read outside the model
  directory;
- ``invalid_header`` / ``onnx.*`` for wire-format violations and missing
  ``ir_version`` / ``graph``.
"""

from __future__ import annotations

import posixpath
import re
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from typing import Any

from gate.formats.interface import DEFAULT_LIMITS, Blob, Limits, Report

FORMAT = "onnx"
MAX_NESTING = 32
MAX_FIELDS = 20_000_000
MAX_MODEL_BYTES = 2**31
MAX_RECORDED = 1000
STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training"})
PYTHON_OPS = frozenset({"PythonOp", "PyOp", "PythonFunction", "PyFunc"})
"""Operator types that hand the runtime Python code (PyTorch's export fallback, onnxruntime-extensions),
whatever domain they claim."""
_DRIVE = re.compile(r"^[A-Za-z]:")

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5

# field numbers from onnx.proto3
_MODEL_IR, _MODEL_OPSET, _MODEL_PRODUCER, _MODEL_PRODUCER_VERSION = 1, 8, 2, 3
_MODEL_GRAPH, _MODEL_TRAINING, _MODEL_FUNCTIONS = 7, 20, 25
_MODEL_KNOWN = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 14, 20, 25, 26})
_GRAPH_NODE, _GRAPH_INIT, _GRAPH_SPARSE_INIT = 1, 5, 15
_NODE_OP, _NODE_DOMAIN, _NODE_ATTR = 4, 7, 5
_ATTR_T, _ATTR_G, _ATTR_TENSORS, _ATTR_GRAPHS, _ATTR_SPARSE, _ATTR_SPARSES = 5, 6, 10, 11, 22, 23
_TENSOR_NAME, _TENSOR_EXTERNAL, _TENSOR_LOCATION = 8, 13, 14
_FUNC_NAME, _FUNC_NODE, _FUNC_OPSET, _FUNC_DOMAIN = 1, 7, 9, 10


class _Bad(Exception):
    def __init__(self, check: str, detail: str, offset: int) -> None:
        super().__init__(detail)
        self.check = check
        self.offset = offset


class _Wire:
    """Random-access protobuf field reader over a blob, through a small window cache."""

    _WINDOW = 1 << 16

    def __init__(self, blob: Blob, limits: Limits) -> None:
        self.blob = blob
        self.limits = limits
        self.fields = 0
        self._win = b""
        self._win_start = 0

    def _byte_window(self, pos: int, n: int) -> bytes:
        rel = pos - self._win_start
        if rel < 0 or rel + n > len(self._win):
            self._win = self.blob.read_at(pos, max(n, self._WINDOW))
            self._win_start = pos
            rel = 0
        return self._win[rel : rel + n]

    def varint(self, pos: int, end: int) -> tuple[int, int]:
        chunk = self._byte_window(pos, min(10, end - pos))
        value = 0
        for i, byte in enumerate(chunk):
            value |= (byte & 0x7F) << (7 * i)
            if not byte & 0x80:
                if value >= 1 << 64:
                    raise _Bad("onnx.varint", "varint exceeds 64 bits", pos)
                return value, pos + i + 1
        if len(chunk) < 10:
            raise _Bad("onnx.truncated", "varint runs past the end of its message", pos)
        raise _Bad("onnx.varint", "varint longer than 10 bytes", pos)

    def fields_of(self, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
        """(field number, wire type, value or payload start, payload end) for each field."""
        pos = start
        while pos < end:
            self.fields += 1
            if self.fields > MAX_FIELDS:
                raise _Bad("onnx.too_many_fields", f"model has more than {MAX_FIELDS} protobuf fields", pos)
            at = pos
            key, pos = self.varint(pos, end)
            number, wire = key >> 3, key & 7
            if number == 0:
                raise _Bad("onnx.field_number", "field number 0", at)
            if wire == _VARINT:
                value, pos = self.varint(pos, end)
                yield number, wire, value, pos
            elif wire in (_I64, _I32):
                size = 8 if wire == _I64 else 4
                if pos + size > end:
                    raise _Bad("onnx.truncated", "fixed-width field runs past the end of its message", at)
                yield number, wire, pos, pos + size
                pos += size
            elif wire == _LEN:
                length, pos = self.varint(pos, end)
                if length > end - pos:
                    raise _Bad(
                        "onnx.length",
                        f"field {number} claims {length} bytes but only {end - pos} remain in its message",
                        at,
                    )
                yield number, wire, pos, pos + length
                pos += length
            else:
                raise _Bad("onnx.wire_type", f"field {number} uses unsupported wire type {wire}", at)

    def text(self, start: int, end: int) -> str:
        n = min(end - start, self.limits.max_string_bytes)
        return self.blob.read_at(start, n).decode("utf-8", "replace")


def looks_like(blob: Blob) -> bool:
    """Alias of :func:`looks_like_onnx`."""
    return looks_like_onnx(blob)


def looks_like_onnx(blob: Blob) -> bool:
    """True when the top-level fields parse as a ModelProto with an ir_version and a graph."""
    if blob.size < 4 or blob.size > MAX_MODEL_BYTES:
        return False
    wire = _Wire(blob, DEFAULT_LIMITS)
    has_ir = has_graph = False
    try:
        for count, (number, wt, value, _) in enumerate(wire.fields_of(0, blob.size)):
            if count > 10_000 or number not in _MODEL_KNOWN:
                return False
            if number == _MODEL_IR:
                if wt != _VARINT or not 1 <= value <= 100:
                    return False
                has_ir = True
            elif number == _MODEL_GRAPH:
                if wt != _LEN:
                    return False
                has_graph = True
            elif number in (_MODEL_OPSET, _MODEL_PRODUCER, _MODEL_FUNCTIONS) and wt != _LEN:
                return False
    except _Bad:
        return False
    return has_ir and has_graph


def parse(blob: Blob, limits: Limits = DEFAULT_LIMITS) -> Report:
    """Summarise an ONNX model and report custom domains and escaping external data."""
    report = Report(FORMAT)
    try:
        _Model(blob, limits, report).run()
    except _Bad as bad:
        report.add("invalid_header", bad.check, "high", str(bad), offset=bad.offset)
    except Exception as exc:  # a parser bug must still be evidence, never a crash
        report.add(
            "invalid_header",
            "onnx.parser_error",
            "high",
            f"the ONNX parser failed: {type(exc).__name__}: {str(exc)[:200]}",
        )
    return report


def external_location_problem(location: str) -> str | None:
    """Why *location* would leave the model directory, or None when it stays inside."""
    if not location:
        return "is empty"
    if "\x00" in location:
        return "contains a NUL byte"
    if location.startswith(("/", "\\")):
        return "is an absolute path"
    if _DRIVE.match(location):
        return "starts with a drive letter"
    if "\\" in location:
        return "contains a backslash (a Windows separator on some loaders)"
    if ":" in location:
        return "contains a colon (drive, URL scheme or alternate data stream)"
    normal = posixpath.normpath(location)
    if normal == ".." or normal.startswith("../"):
        return "leaves the model's folder once its '..' segments are resolved"
    # Loaders that take the location as a URI (or a layer that decodes it on the way)
    # see the percent-decoded path: judge that too, however many times it was encoded.
    decoded = location
    for _ in range(4):
        step = urllib.parse.unquote(decoded, errors="surrogateescape")
        if step == decoded:
            break
        decoded = step
        problem = external_location_problem(decoded)
        if problem is not None:
            return f"is percent-encoded and, decoded, {problem}"
    return None


class _Model:
    def __init__(self, blob: Blob, limits: Limits, report: Report) -> None:
        self.blob = blob
        self.wire = _Wire(blob, limits)
        self.report = report
        self.ops: Counter[str] = Counter()
        self.domains: set[str] = set()
        """Domains of opset imports (model and functions)."""
        self.node_ops: set[tuple[str, str]] = set()
        """(domain, op_type) of every node."""
        self.functions: set[tuple[str, str]] = set()
        """(domain, name) of model-local functions: nodes calling them run ONNX ops, not native code."""
        self.nodes = 0
        self.initializers = 0
        self.external: list[dict[str, Any]] = []
        self.external_count = 0

    def run(self) -> None:
        size = self.blob.size
        h = self.report.header
        h["file_bytes"] = size
        if size > MAX_MODEL_BYTES:
            raise _Bad("onnx.too_large", f"{size} bytes exceeds protobuf's {MAX_MODEL_BYTES}-byte limit", 0)
        opsets: list[dict[str, Any]] = []
        has_graph = False
        for number, wt, a, b in self.wire.fields_of(0, size):
            if number == _MODEL_IR and wt == _VARINT:
                h["ir_version"] = a
            elif number == _MODEL_PRODUCER and wt == _LEN:
                h["producer_name"] = self.wire.text(a, min(b, a + 256))
            elif number == _MODEL_PRODUCER_VERSION and wt == _LEN:
                h["producer_version"] = self.wire.text(a, min(b, a + 256))
            elif number == _MODEL_OPSET and wt == _LEN:
                opsets.append(self._opset(a, b))
            elif number == _MODEL_GRAPH and wt == _LEN:
                has_graph = True
                self._graph(a, b, 1)
            elif number == _MODEL_TRAINING and wt == _LEN:
                for _, wt2, c, d in self.wire.fields_of(a, b):
                    if wt2 == _LEN:
                        self._graph(c, d, 2)
            elif number == _MODEL_FUNCTIONS and wt == _LEN:
                self._function(a, b)
        if "ir_version" not in h or not has_graph:
            missing = [n for n, ok in (("ir_version", "ir_version" in h), ("graph", has_graph)) if not ok]
            self.report.add(
                "invalid_header",
                "onnx.not_a_model",
                "high",
                f"ModelProto lacks {' and '.join(missing)}",
                offset=0,
            )
        h["opset_imports"] = opsets[:MAX_RECORDED]
        for item in opsets:
            self.domains.add(item["domain"])
        function_domains = {d for d, _ in self.functions}
        used = {d for d, op in self.node_ops if (d, op) not in self.functions}
        imported = {d for d in self.domains if d not in function_domains}
        custom = sorted(d for d in used | imported if d not in STANDARD_DOMAINS)
        h["function_domains"] = sorted(function_domains)[:MAX_RECORDED]
        h["custom_domains"] = custom[:MAX_RECORDED]
        h["node_count"] = self.nodes
        h["op_types"] = dict(self.ops.most_common(MAX_RECORDED))
        h["initializer_count"] = self.initializers
        h["external_data"] = self.external
        h["external_data_count"] = self.external_count
        for domain, op in sorted(self.node_ops):
            if op in PYTHON_OPS and (domain, op) not in self.functions:
                self.report.add(
                    "unsafe_layer",
                    "onnx.python_op",
                    "high",
                    f"node operator {op!r} (domain {domain or 'default'!r}) runs Python code the runtime "
                    "is given, not an ONNX operator",
                    domain=domain[:200],
                    op_type=op,
                )
        for domain in custom:
            self.report.add(
                "unsafe_layer",
                "onnx.custom_domain",
                "medium",
                f"operators from custom domain {domain[:120]!r} need native code outside ONNX",
                domain=domain[:200],
            )

    def _opset(self, start: int, end: int) -> dict[str, Any]:
        domain, version = "", 0
        for number, wt, a, b in self.wire.fields_of(start, end):
            if number == 1 and wt == _LEN:
                domain = self.wire.text(a, min(b, a + 1024))
            elif number == 2 and wt == _VARINT:
                version = a
        return {"domain": domain, "version": version}

    def _graph(self, start: int, end: int, depth: int) -> None:
        if depth > MAX_NESTING:
            raise _Bad("onnx.nesting", f"graphs nested deeper than {MAX_NESTING}", start)
        for number, wt, a, b in self.wire.fields_of(start, end):
            if wt != _LEN:
                continue
            if number == _GRAPH_NODE:
                self._node(a, b, depth)
            elif number == _GRAPH_INIT:
                self.initializers += 1
                self._tensor(a, b)
            elif number == _GRAPH_SPARSE_INIT:
                self.initializers += 1
                self._sparse(a, b)

    def _node(self, start: int, end: int, depth: int) -> None:
        self.nodes += 1
        op, domain = "", ""
        for number, wt, a, b in self.wire.fields_of(start, end):
            if wt != _LEN:
                continue
            if number == _NODE_OP:
                op = self.wire.text(a, min(b, a + 256))
            elif number == _NODE_DOMAIN:
                domain = self.wire.text(a, min(b, a + 1024))
            elif number == _NODE_ATTR:
                self._attribute(a, b, depth)
        self.ops[f"{domain}::{op}" if domain not in ("", "ai.onnx") else op] += 1
        if len(self.node_ops) < 100_000:
            self.node_ops.add((domain, op))
        else:
            self.node_ops.add((domain, ""))

    def _attribute(self, start: int, end: int, depth: int) -> None:
        for number, wt, a, b in self.wire.fields_of(start, end):
            if wt != _LEN:
                continue
            if number in (_ATTR_G, _ATTR_GRAPHS):
                self._graph(a, b, depth + 1)
            elif number in (_ATTR_T, _ATTR_TENSORS):
                self._tensor(a, b)
            elif number in (_ATTR_SPARSE, _ATTR_SPARSES):
                self._sparse(a, b)

    def _function(self, start: int, end: int) -> None:
        name, domain = "", ""
        for number, wt, a, b in self.wire.fields_of(start, end):
            if wt != _LEN:
                continue
            if number == _FUNC_NAME:
                name = self.wire.text(a, min(b, a + 256))
            elif number == _FUNC_DOMAIN:
                domain = self.wire.text(a, min(b, a + 1024))
            elif number == _FUNC_NODE:
                self._node(a, b, 2)
            elif number == _FUNC_OPSET:
                self.domains.add(self._opset(a, b)["domain"])
        self.functions.add((domain, name))

    def _sparse(self, start: int, end: int) -> None:
        for number, wt, a, b in self.wire.fields_of(start, end):
            if number in (1, 2) and wt == _LEN:
                self._tensor(a, b)

    def _tensor(self, start: int, end: int) -> None:
        name, location_kind = "", 0
        entries: list[tuple[str, str, int]] = []
        for number, wt, a, b in self.wire.fields_of(start, end):
            if number == _TENSOR_NAME and wt == _LEN:
                name = self.wire.text(a, min(b, a + 1024))
            elif number == _TENSOR_LOCATION and wt == _VARINT:
                location_kind = a
            elif number == _TENSOR_EXTERNAL and wt == _LEN:
                key, value = "", ""
                for n2, wt2, c, d in self.wire.fields_of(a, b):
                    if n2 == 1 and wt2 == _LEN:
                        key = self.wire.text(c, d)
                    elif n2 == 2 and wt2 == _LEN:
                        value = self.wire.text(c, d)
                entries.append((key, value, a))
        if location_kind != 1 and not entries:
            return
        info = {k: v for k, v, _ in entries}
        where = entries[0][2] if entries else start
        location = info.get("location")
        if location_kind != 1:
            return  # external_data without data_location=EXTERNAL is ignored by loaders
        self.external_count += 1
        if len(self.external) < MAX_RECORDED:
            record: dict[str, Any] = {"tensor": name[:256], "location": (location or "")[:1024]}
            for key in ("offset", "length"):
                if info.get(key, "").isdigit():
                    record[key] = int(info[key])
            self.external.append(record)
        if location is None:
            self.report.add(
                "invalid_header",
                "onnx.external_data_location",
                "high",
                f"tensor {name[:120]!r} is stored externally but names no location",
                offset=where,
            )
            return
        problem = external_location_problem(location)
        if problem:
            self.report.add(
                "unsafe_layer",
                "onnx.external_data_escape",
                "critical",
                f"tensor {name[:120]!r} external data location {location[:200]!r} {problem}",
                offset=where,
                tensor=name[:200],
                location=location[:1024],
            )
