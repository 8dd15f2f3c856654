"""The recursive dispatcher: detect, parse, then scan every nested blob.

``scan_blob`` decides a blob's format by content (:mod:`gate.formats.detect`),
hands it to that format's parser, and scans each child the parser returns —
archive members whatever their names, bytes appended after a format's end, a
pickle inside a NumPy array — down to ``Limits.max_depth``. Member paths are
joined with ``!`` (``model.zip!archive/data.pkl``).

Nothing fails open here: a parser that is not installed, or one that raises,
becomes an ``invalid_header`` finding (``<format>.parser_unavailable`` /
``<format>.parser_error``) rather than a silent pass, and no exception leaves
:func:`scan_blob`.

Polyglots: bytes a parser does not account for come back as children and are
scanned. Formats that leave no such account (``unknown``, ``text``, ``json``,
executables) are additionally searched for embedded pickle / zip / 7z / ELF
signatures with ``bytes.find`` over bounded windows; a pickle signature only
counts when a trial walk of its opcodes imports a well-formed name and calls
something, so random tensor bytes (which contain ``\\x80\\x04`` by chance) do
not raise alarms. Tensor data that a parser fully accounts for (safetensors,
GGUF, PyTorch storages) is never searched: no loader interprets it as code.
"""

from __future__ import annotations

import dataclasses
import importlib
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gate.formats import detect as detectmod
from gate.formats.interface import DEFAULT_LIMITS, Blob, Child, Finding, Limits, Report, SliceBlob

SEARCH_WINDOW = 4 * 1024 * 1024
SEARCH_HEAD = 48 * 1024 * 1024
SEARCH_TAIL = 16 * 1024 * 1024
SEARCH_BUDGET = 1024 * 1024 * 1024
"""Most bytes searched for embedded signatures in one scan, all blobs together."""
MAX_EMBEDDED = 16
"""Most embedded payloads reported per blob (the rest are counted)."""

SEARCHED_FORMATS = frozenset({"unknown", "text", "json", *detectmod.EXECUTABLE_FORMATS})
PICKLE_SIGNATURES = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
SEVENZIP_START_HEADER = 32


@dataclass
class ScanResult:
    """Everything one scan found, the top-level blob and all nested blobs together."""

    format: str
    """Top-level format decided by content: a name from ``detect.FORMATS``, or ``pytorch-tar``
    for a tar whose members are a legacy PyTorch checkpoint."""
    header: dict[str, Any] = field(default_factory=dict)
    """The top-level parser's header."""
    findings: list[Finding] = field(default_factory=list)
    """Every finding, recursively; ``member`` is the full ``!``-joined path."""
    members: list[dict[str, Any]] = field(default_factory=list)
    """Every blob scanned: ``{"path", "format", "size", "depth"}``, the top level first."""
    formats: set[str] = field(default_factory=set)
    """Every format seen anywhere in the tree."""

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-able data."""
        return {
            "format": self.format,
            "header": self.header,
            "findings": [f.to_json() for f in self.findings],
            "members": self.members,
            "formats": sorted(self.formats),
        }


@dataclass
class _State:
    limits: Limits
    result: ScanResult
    visited: int = 0
    expanded: int = 0
    searched: int = 0
    stopped: bool = False


def scan_blob(blob: Blob, *, name: str, limits: Limits = DEFAULT_LIMITS, hint: str = "") -> ScanResult:
    """Scan *blob* and everything nested in it; never raises."""
    result = ScanResult(format="unknown")
    state = _State(limits, result)
    try:
        _visit(blob, name, 0, hint, state)
    except Exception as exc:  # a bug in the dispatcher itself: still fail closed
        result.findings.append(
            Finding(
                "invalid_header",
                "scan.internal_error",
                "high",
                f"The scan stopped on an internal error ({type(exc).__name__}: {exc}); the blob is not "
                "known to be safe.",
                name,
            )
        )
    if result.members:
        result.format = result.members[0]["format"]
    _compressed_joblib(result)
    return result


def _compressed_joblib(result: ScanResult) -> None:
    """A compressed file whose content is a pickle is a compressed joblib file: joblib.load
    (and only joblib) opens zlib, gzip, bz2, xz, lzma and lz4 pickles by their magic. The
    decompressed stream has been analysed like any pickle; the file's format is ``joblib``."""
    if result.format not in detectmod.COMPRESSED_FORMATS or len(result.members) < 2:
        return
    inner = result.members[1]
    if inner["depth"] == 1 and inner["format"] in ("joblib", "pickle"):
        result.header = {**result.header, "compression": result.format}
        result.format = "joblib"
        result.formats.add("joblib")


def _visit(blob: Blob, path: str, depth: int, hint: str, state: _State) -> None:
    result = state.result
    fmt = _detect(blob, hint, path, result)
    report = _dispatch(fmt, blob, path, hint, state)
    expanded = report.header.get("expanded_bytes") if isinstance(report.header, dict) else None
    if isinstance(expanded, int) and expanded > 0:
        # Every archive parser measures what it expands against the budget it was given.
        state.expanded += expanded
    fmt = report.format or fmt
    result.formats.add(fmt)
    result.members.append({"path": path, "format": fmt, "size": blob.size, "depth": depth})
    if depth == 0:
        result.format = fmt
        result.header = report.header
    for finding in report.findings:
        result.findings.append(dataclasses.replace(finding, member=_join(path, finding.member)))
    if fmt in SEARCHED_FORMATS:
        _search_embedded(blob, path, report, state)
    hints = _child_hints(fmt, report.children)
    for index, child in enumerate(report.children):
        child_path = _join(path, child.name)
        try:
            _visit_child(child, child_path, depth + 1, hints[index] or child.hint, state)
            late = getattr(child.blob, "findings", None)
            if isinstance(late, list):
                # Findings a lazily expanded member made when it was first read.
                for finding in late:
                    if isinstance(finding, Finding):
                        result.findings.append(
                            dataclasses.replace(finding, member=_join(child_path, finding.member))
                        )
        finally:
            release = getattr(child.blob, "release", None)
            if callable(release):
                release()
        report.children[index] = Child(child.name, _EMPTY, child.hint)


def _visit_child(child: Child, path: str, depth: int, hint: str, state: _State) -> None:
    limits = state.limits
    result = state.result
    if state.stopped:
        return
    if depth > limits.max_depth:
        result.findings.append(
            Finding(
                "archive_unsafe",
                "nesting_too_deep",
                "high",
                f"Nesting goes deeper than {limits.max_depth} levels; this blob is not scanned.",
                path,
            )
        )
        return
    state.visited += 1
    if state.visited > limits.max_entries:
        state.stopped = True
        result.findings.append(
            Finding(
                "archive_unsafe",
                "scan.too_many_members",
                "high",
                f"More than {limits.max_entries} nested blobs; the rest are not scanned.",
                path,
            )
        )
        return
    _visit(child.blob, path, depth, hint, state)


def _join(path: str, member: str) -> str:
    return f"{path}!{member}" if member else path


def _detect(blob: Blob, hint: str, path: str, result: ScanResult) -> str:
    try:
        return detectmod.detect(blob, hint)
    except Exception as exc:
        result.findings.append(
            Finding(
                "invalid_header",
                "detect.error",
                "high",
                f"Format detection failed ({type(exc).__name__}: {exc}).",
                path,
            )
        )
        return "unknown"


def _child_hints(fmt: str, children: list[Child]) -> list[str]:
    hints = [""] * len(children)
    if fmt == "pytorch-zip":
        for i, child in enumerate(children):
            if detectmod.is_torch_storage(child.name):
                hints[i] = "tensor-data"
    elif fmt == "pytorch-tar":
        _torch_tar_hints(children, hints)
    elif fmt == "keras":
        for i, child in enumerate(children):
            if child.name in ("config.json", "metadata.json"):
                hints[i] = "keras-config"
    return hints


def _torch_tar_layout(member_names: list[str]) -> bool:
    """True when a tar's members are a legacy PyTorch checkpoint (``sys_info``, ``pickle``, ...)."""
    try:
        torch = importlib.import_module("gate.formats.torch")
        layout = torch.classify_zip_members(member_names)
    except ImportError:
        bases = {n.strip("/").removeprefix("./") for n in member_names}
        return {"sys_info", "pickle"} <= bases
    return bool(layout.get("layout") == "pytorch-legacy-tar")


def _torch_tar_hints(children: list[Child], hints: list[str]) -> None:
    """Legacy tar checkpoints: ``storages`` and ``tensors`` are pickles between raw bytes."""
    for i, child in enumerate(children):
        base = child.name.strip("/").removeprefix("./")
        if base in ("storages", "tensors"):
            hints[i] = f"torch-tar:{base}"


# --- parsers -----------------------------------------------------------------------------------


def _call(module: str, attr: str, *args: Any) -> Report:
    func: Callable[..., Any] = getattr(importlib.import_module(f"gate.formats.{module}"), attr)
    report = func(*args)
    if isinstance(report, tuple):  # (Report, index) style helpers
        report = report[0]
    if not isinstance(report, Report):
        raise TypeError(f"gate.formats.{module}.{attr} returned {type(report).__name__}, not a Report")
    return report


def _parser(fmt: str, blob: Blob, limits: Limits, hint: str, path: str) -> Report:
    if fmt == "safetensors":
        return _call("safetensors", "parse", blob, limits)
    if fmt == "gguf":
        return _call("gguf", "parse", blob, limits)
    if fmt == "npy":
        return _call("numpy", "parse", blob, limits)
    if fmt == "onnx":
        return _call("onnx", "parse", blob, limits)
    if fmt == "sentencepiece":
        return _call("sentencepiece", "parse", blob, limits)
    if fmt == "hdf5":
        return _call("keras", "parse_hdf5", blob, limits)
    if fmt == "pickle" and hint.startswith("torch-tar:"):
        return _call("torch", "analyse_tar_member", hint.removeprefix("torch-tar:"), blob, limits)
    if fmt == "pickle":
        return _call("pickle", "parse", blob, limits)
    if fmt == "joblib":
        return _call("joblib", "parse", blob, limits)
    if fmt == "pytorch-legacy":
        return _call("torch", "analyse_legacy", blob, limits)
    if fmt in ("zip", "pytorch-zip", "npz", "keras"):
        report = _call("zip", "parse", blob, limits)
        report.format = fmt
        if fmt == "pytorch-zip":
            _torch_layout(report, [c.name for c in report.children])
        return report
    if fmt == "tar":
        report = _call("tar", "parse", blob, limits)
        if _torch_tar_layout([c.name for c in report.children]):
            report.format = "pytorch-tar"
        return report
    if fmt == "7z":
        return _call("sevenzip", "parse", blob, limits)
    if fmt in detectmod.COMPRESSED_FORMATS:
        return _call("compressed", "parse", blob, limits)
    if fmt in ("json", "text"):
        # A JSON file too large for the JSON sniff is "text": a Keras config still goes to the keras parser.
        report = _json(blob, limits, hint, fmt, path)
        if fmt == "text" and path.lower().endswith(".json"):
            _unreadable_config(report, blob)
        return report
    return Report(fmt)


def _unreadable_config(report: Report, blob: Blob) -> None:
    """A ``.json`` file that is text because strict JSON refuses it: nested past the depth
    bound (a loader's parser recurses until it crashes) or holding a key twice (two loaders
    read two different configs). NaN, syntax errors and files too large to sniff stay text."""
    if blob.size > detectmod.MAX_JSON_SNIFF:
        return
    strictjson = importlib.import_module("gate.formats.strictjson")
    try:
        strictjson.loads(blob.read_at(0, blob.size).removeprefix(b"\xef\xbb\xbf"))
    except strictjson.StrictJSONError as exc:
        if exc.check in ("depth", "duplicate_key"):
            report.add("invalid_header", f"json.{exc.check}", "high", f"A JSON config is refused: {exc}")


def _torch_layout(report: Report, member_names: list[str]) -> None:
    """What torch's layout rules say about the member names, as low-severity notes.

    Every member is scanned by content whatever the layout says, so these only
    explain how torch itself would treat the archive.
    """
    try:
        torch = importlib.import_module("gate.formats.torch")
    except ImportError:
        return  # the notes are optional; every member is still scanned
    layout = torch.classify_zip_members(member_names)
    report.header["torch_layout"] = layout.get("layout", "")
    for problem in layout.get("problems", [])[:16]:
        report.add("archive_unsafe", "torch.layout", "low", f"PyTorch layout: {problem}.")


TEMPLATE_SUFFIXES = (".jinja", ".jinja2", ".j2")
"""Text files by these names are chat templates (``chat_template.jinja``): inspected, never rendered."""


def _json(blob: Blob, limits: Limits, hint: str, fmt: str, path: str = "") -> Report:
    """A JSON member of a Keras archive, any JSON that looks like a Keras model config, a
    JSON config carrying chat templates (``tokenizer_config.json``), or a template file."""
    head = blob.read_at(0, 1 << 20)
    if hint != "keras-config":
        if path.lower().endswith(TEMPLATE_SUFFIXES):
            report = _call("jinja", "parse", blob, limits)
            report.format = fmt  # still a text file; its findings are the template's
            return report
        if head.lstrip()[:1] != b"{":
            return Report(fmt)
        keras = importlib.import_module("gate.formats.keras")
        if not keras.looks_like_config(head):
            return _json_templates(blob, limits, fmt)
    if blob.size > limits.max_header_bytes:
        report = Report(fmt)
        report.add(
            "invalid_header",
            "keras.config_too_large",
            "high",
            f"The Keras config is {blob.size} bytes, above the {limits.max_header_bytes}-byte limit.",
        )
        return report
    return _call("keras", "parse_config", blob.read_at(0, blob.size), "", limits)


_TEMPLATE_HINTS = (b"chat_template", b"{{", b"{%", b"\\u")
"""Bytes without any of these cannot hold a template (an escaped key or brace needs ``\\u``)."""


def _json_templates(blob: Blob, limits: Limits, fmt: str) -> Report:
    """Templates in a JSON config, inspected like a GGUF one, never rendered: every value under
    a ``chat_template*`` key (a string, or a list of ``{"name": ..., "template": ...}``, at any
    depth; Jinja parse errors reported) and every other string holding ``{{`` or ``{%``
    (transformers renders more than ``chat_template``; parse errors not reported there). Keys
    and values are judged decoded, so ``"chat_\\u0074emplate"`` is a chat template too. The
    walk visits every value: a count limit would let a template hide behind a large vocabulary."""
    report = Report(fmt)
    if blob.size > limits.max_header_bytes:
        head = blob.read_at(0, limits.max_header_bytes)
        if any(hint in head for hint in _TEMPLATE_HINTS[:3]):
            report.add(
                "invalid_header",
                "json.too_large",
                "high",
                f"A JSON config that may hold templates is {blob.size} bytes, above the "
                f"{limits.max_header_bytes}-byte limit: its templates cannot be inspected.",
            )
        return report
    data = blob.read_at(0, blob.size)
    if not any(hint in data for hint in _TEMPLATE_HINTS):
        return report
    strictjson = importlib.import_module("gate.formats.strictjson")
    jinja = importlib.import_module("gate.formats.jinja")
    try:
        value = strictjson.loads(data)
    except strictjson.StrictJSONError as exc:
        plain = any(hint in data for hint in _TEMPLATE_HINTS[:3])
        if fmt == "json" and (plain or exc.check != "constant"):
            # Text that merely starts with "{" is not a config. A NaN in a trainer's log
            # with only escapes cannot hide a template; anything else that does not parse
            # strictly might (two readers may see two documents).
            report.add(
                "invalid_header",
                f"json.{exc.check}",
                "high",
                f"A JSON config that may hold templates does not parse strictly, so its "
                f"templates cannot be inspected: {exc}",
            )
        return report
    stack: list[tuple[Any, str, bool]] = [(value, "", False)]
    while stack:
        item, where, template = stack.pop()
        if isinstance(item, str):
            if template or "{{" in item or "{%" in item:
                report.findings.extend(
                    jinja.inspect(item, source=where[:200], report_parse_errors=template, limits=limits)
                )
        elif isinstance(item, dict):
            for key, sub in item.items():
                name = f"{where}.{key}" if where else str(key)
                inside = template or str(key).startswith("chat_template")
                if template and isinstance(item.get("template"), str) and key != "template":
                    inside = False  # {"name": ..., "template": ...}: only the template is one
                stack.append((sub, name, inside))
        elif isinstance(item, list):
            stack.extend((sub, f"{where}[{i}]", template) for i, sub in enumerate(item))
    report.header["chat_templates_inspected"] = True
    return report


def _dispatch(fmt: str, blob: Blob, path: str, hint: str, state: _State) -> Report:
    limits = state.limits
    if fmt in detectmod.ARCHIVE_FORMATS or fmt in detectmod.COMPRESSED_FORMATS:
        remaining = max(0, limits.max_expanded_bytes - state.expanded)
        limits = dataclasses.replace(limits, max_expanded_bytes=remaining)
    try:
        return _parser(fmt, blob, limits, hint, path)
    except ImportError as exc:
        report = Report(fmt)
        report.add(
            "invalid_header",
            f"{fmt}.parser_unavailable",
            "high",
            f"No {fmt} parser is available ({exc}); the blob cannot be shown to be safe.",
        )
        return report
    except Exception as exc:
        report = Report(fmt)
        report.add(
            "invalid_header",
            f"{fmt}.parser_error",
            "high",
            f"The {fmt} parser failed ({type(exc).__name__}: {exc}); the blob cannot be shown to be safe.",
        )
        return report


# --- embedded payloads ---------------------------------------------------------------------------


class _Empty:
    size = 0

    def read_at(self, offset: int, length: int) -> bytes:
        return b""


_EMPTY = _Empty()


def _windows(size: int) -> list[tuple[int, int]]:
    """(start, stop) ranges to search: the whole blob when small, else its head and tail."""
    if size <= SEARCH_HEAD + SEARCH_TAIL:
        return [(0, size)]
    return [(0, SEARCH_HEAD), (size - SEARCH_TAIL, size)]


def _search_embedded(blob: Blob, path: str, report: Report, state: _State) -> None:
    found: list[tuple[int, str, Blob]] = []
    seen: set[int] = set()
    overlap = 64
    for start, stop in _windows(blob.size):
        pos = start
        while pos < stop:
            if state.searched >= SEARCH_BUDGET:
                _record(state, path, "polyglot.search_budget", "the scan's search budget is spent")
                return
            length = min(SEARCH_WINDOW, stop - pos)
            data = blob.read_at(pos, length + overlap)
            state.searched += length
            for hit, kind, child in _candidates(blob, data, pos, length):
                if hit not in seen and hit > 0:
                    seen.add(hit)
                    found.append((hit, kind, child))
            pos += length
    if blob.size > SEARCH_HEAD + SEARCH_TAIL:
        state.result.members[-1]["searched_bytes"] = SEARCH_HEAD + SEARCH_TAIL
    for hit, kind, child in sorted(found, key=lambda t: t[0])[:MAX_EMBEDDED]:
        finding = Finding(
            "polyglot_payload",
            f"embedded.{kind}",
            "high",
            f"A {kind} payload is embedded at byte {hit} of a {report.format} blob.",
            path,
            hit,
        )
        state.result.findings.append(finding)
        report.children.append(Child(f"<{kind}@{hit}>", child))
    if len(found) > MAX_EMBEDDED:
        _record(
            state, path, "polyglot.too_many", f"{len(found)} embedded payloads, only {MAX_EMBEDDED} scanned"
        )


def _record(state: _State, path: str, check: str, what: str) -> None:
    state.result.findings.append(
        Finding(
            "polyglot_payload", check, "medium", f"The embedded-payload search is incomplete: {what}.", path
        )
    )


def _candidates(blob: Blob, data: bytes, base: int, length: int) -> list[tuple[int, str, Blob]]:
    out: list[tuple[int, str, Blob]] = []
    for sig in PICKLE_SIGNATURES:
        i = data.find(sig)
        while 0 <= i < length:
            at = base + i
            if detectmod.trial_pickle(blob, at, strict=True):
                out.append((at, "pickle", SliceBlob(blob, at, blob.size - at)))
            i = data.find(sig, i + 1)
    i = data.find(b"PK\x03\x04")
    while 0 <= i < length:
        at = base + i
        if _plausible_local_header(data[i : i + 30 + 1024]):
            out.append((at, "zip", SliceBlob(blob, at, blob.size - at)))
        i = data.find(b"PK\x03\x04", i + 1)
    i = data.find(detectmod.SEVENZIP_MAGIC)
    while 0 <= i < length:
        at = base + i
        head = blob.read_at(at, SEVENZIP_START_HEADER)
        if (
            len(head) == SEVENZIP_START_HEADER
            and zlib.crc32(head[12:32]) == struct.unpack_from("<L", head, 8)[0]
        ):
            out.append((at, "7z", SliceBlob(blob, at, blob.size - at)))
        i = data.find(detectmod.SEVENZIP_MAGIC, i + 1)
    i = data.find(b"\x7fELF")
    while 0 <= i < length:
        at = base + i
        head = blob.read_at(at, 8)
        if len(head) == 8 and head[4] in (1, 2) and head[5] in (1, 2) and head[6] == 1:
            out.append((at, "elf", SliceBlob(blob, at, blob.size - at)))
        i = data.find(b"\x7fELF", i + 1)
    return out


def _plausible_local_header(raw: bytes) -> bool:
    if len(raw) < 30:
        return False
    version, flags, method, _, _, _, _, _, nlen, _ = struct.unpack_from("<5H3L2H", raw, 4)
    if version > 63 or method not in (0, 8, 9, 12, 14, 93, 95, 98) or flags & 0xF000:
        return False
    name = raw[30 : 30 + nlen]
    return 0 < nlen <= 1024 and len(name) == nlen and all(32 <= b < 127 for b in name)
