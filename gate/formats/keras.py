"""Keras model configs (``.keras`` ``config.json`` / ``metadata.json``, legacy ``.h5`` attributes).

Nothing is loaded through Keras. A config is strict JSON (see
:mod:`gate.formats.strictjson`: at most ``Limits.max_header_bytes`` bytes,
nested at most ``Limits.max_json_depth`` deep, no duplicate keys) whose
objects are walked iteratively, at most ``Limits.max_entries`` of them.

Findings (code ``unsafe_layer``):

- ``keras.lambda_layer`` (critical): a ``Lambda`` layer; ``data.function_type``
  says whether it carries marshalled Python bytecode, source, or a named function;
- ``keras.lambda_function`` (critical): a ``__lambda__`` function object anywhere
  (activation, loss, ...);
- ``keras.external_model`` (high): a ``TFSMLayer`` (or any layer config with a
  ``filepath``), which loads and runs a TensorFlow SavedModel from outside the archive;
- ``keras.tf_op_lambda`` (high): ``TFOpLambda`` / ``SlicingOpLambda`` layers, which call a
  TensorFlow function chosen by name;
- ``keras.foreign_module`` (high): an object whose ``module`` is outside ``keras``,
  ``keras_hub``, ``keras_nlp``, ``keras_cv``, ``tf_keras`` (importing it runs that module);
- ``keras.custom_object`` (high): a ``registered_name`` ``package>Name`` from another package;
- ``keras.foreign_module`` also for a module named by ``fn_module``, ``function_module``,
  ``output_shape_module`` or a config's own ``module`` key (CVE-2025-1550); modules under
  ``tensorflow.keras`` count as Keras;
- ``keras.torch_module_wrapper`` (critical): a ``TorchModuleWrapper`` layer, which Keras
  rebuilds with ``torch.load(weights_only=False)`` (CVE-2025-49655);
- ``keras.safe_mode_bypass`` (critical): a function reference to
  ``enable_unsafe_deserialization``, called while loading (CVE-2025-9906); a mere mention
  of the name in a string is no finding;
- ``keras.get_file_download`` (high): a ``get_file`` reference together with a URL
  (CVE-2025-8747); ``keras.remote_reference`` (medium): a URL in a config value;
  ``get_file`` without any URL is no finding.

HDF5 (legacy ``.h5``): the superblock is looked for at 0, 512, 1024, 2048, ...;
the ``model_config`` / ``training_config`` JSON is found by scanning the file
(in ``SCAN_CHUNK`` windows, at most ``Limits.max_member_bytes`` bytes; a larger
file that yields no config is reported as ``keras.h5_scan_incomplete``) for
JSON objects with a ``class_name``, each decoded with the strict decoder. h5py
and the HDF5 library are never used on hostile files.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from gate.formats import strictjson
from gate.formats.interface import DEFAULT_LIMITS, Blob, Limits, Report

FORMAT = "keras"
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
SCAN_CHUNK = 8 * 1024 * 1024
MAX_CONFIG_BYTES = 64 * 1024 * 1024
KERAS_PACKAGES = ("keras", "keras_hub", "keras_nlp", "keras_cv", "tf_keras")
KERAS_MODULE_TREES = (*KERAS_PACKAGES, "tensorflow.keras", "tensorflow.python.keras")
"""Module trees a config may name: Keras itself, also as TensorFlow ships it (tf.keras)."""
MODULE_KEYS = ("module", "fn_module", "function_module", "output_shape_module")
"""Config keys Keras reads as a module to import (Lambda and function references)."""
_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
UNSAFE_SWITCH = "enable_unsafe_deserialization"
SPECIAL_CLASSES = frozenset(
    {"__tuple__", "__numpy__", "__bytes__", "__ellipsis__", "__slice__", "__tensor__", "__typespec__"}
)
_URL = re.compile(r"\b(?:https?|ftp|s3|gs|hf|kaggle)://", re.IGNORECASE)
_CANDIDATE = re.compile(rb'\{\s*"(?:class_name|module|loss|optimizer_config)"\s*:')


def _keras_module(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in KERAS_MODULE_TREES)


def looks_like(blob: Blob) -> bool:
    """True when the blob has an HDF5 superblock signature (at 0, 512, 1024, ...)."""
    return find_superblock(blob) is not None


def looks_like_config(data: bytes) -> bool:
    """True for JSON that looks like a Keras model config."""
    head = data[:4096].lstrip()
    return head.startswith(b"{") and (b'"class_name"' in data[: 1 << 20] or b'"keras_version"' in head)


def find_superblock(blob: Blob) -> int | None:
    """Offset of the HDF5 superblock signature, or None."""
    offset = 0
    while offset + 8 <= blob.size:
        if blob.read_at(offset, 8) == HDF5_SIGNATURE:
            return offset
        offset = 512 if offset == 0 else offset * 2
    return None


def parse(blob: Blob, limits: Limits = DEFAULT_LIMITS) -> Report:
    """An HDF5 file goes to :func:`parse_hdf5`; anything else is read as a JSON config."""
    if looks_like(blob):
        return parse_hdf5(blob, limits)
    if blob.size > min(limits.max_header_bytes, MAX_CONFIG_BYTES):
        report = Report(FORMAT)
        report.add(
            "invalid_header", "keras.config_too_large", "high", f"config of {blob.size} bytes is too large"
        )
        return report
    return parse_config(blob.read_at(0, blob.size), "", limits)


def parse_config(data: bytes, member: str = "config.json", limits: Limits = DEFAULT_LIMITS) -> Report:
    """Inspect one Keras JSON document: ``config.json``, ``metadata.json`` or a legacy model_config."""
    report = Report(FORMAT)
    try:
        if len(data) > min(limits.max_header_bytes, MAX_CONFIG_BYTES):
            report.add(
                "invalid_header",
                "keras.config_too_large",
                "high",
                f"config of {len(data)} bytes is too large",
                member=member,
            )
            return report
        try:
            value = strictjson.loads(data, limits.max_json_depth)
        except strictjson.StrictJSONError as exc:
            report.add(
                "invalid_header",
                f"keras.json_{exc.check}",
                "high",
                f"{member or 'config'} is not strict JSON: {exc}",
                member=member,
                offset=exc.offset,
            )
            return report
        _Walker(report, member, limits).walk(value, None)
    except Exception as exc:  # a parser bug must still be evidence, never a crash
        report.add(
            "invalid_header",
            "keras.parser_error",
            "high",
            f"the Keras config parser failed: {type(exc).__name__}: {str(exc)[:200]}",
            member=member,
        )
    return report


def parse_hdf5(blob: Blob, limits: Limits = DEFAULT_LIMITS) -> Report:
    """Find and inspect the Keras configs stored as attributes of a legacy ``.h5`` model."""
    report = Report("hdf5")
    try:
        _scan_hdf5(blob, limits, report)
    except Exception as exc:  # a parser bug must still be evidence, never a crash
        report.add(
            "invalid_header",
            "keras.parser_error",
            "high",
            f"the HDF5 config scanner failed: {type(exc).__name__}: {str(exc)[:200]}",
        )
    return report


def _scan_hdf5(blob: Blob, limits: Limits, report: Report) -> None:
    start = find_superblock(blob)
    if start is None:
        report.add("invalid_header", "hdf5.signature", "high", "no HDF5 superblock signature", offset=0)
        return
    report.header["superblock_offset"] = start
    report.header["superblock_version"] = blob.read_at(start + 8, 1)[0] if blob.size > start + 8 else None
    report.header["config_source"] = "byte-scan"
    limit = min(blob.size, limits.max_member_bytes)
    walker = _Walker(report, "", limits)
    configs: list[str] = []
    covered_until = 0
    budget = [DECODE_BUDGET]
    pos = 0
    while pos < limit:
        window = blob.read_at(pos, min(SCAN_CHUNK, limit - pos))
        for match in _CANDIDATE.finditer(window):
            at = pos + match.start()
            if at < covered_until:
                continue
            value, end = _decode_at(blob, at, limits, budget)
            if not isinstance(value, dict) or not ("class_name" in value or "optimizer_config" in value):
                continue
            covered_until = end
            kind = "training_config" if "optimizer_config" in value or "loss" in value else "model_config"
            configs.append(kind)
            walker.member = f"<{kind}@{at}>"
            walker.walk(value, at)
        pos += SCAN_CHUNK - 64 if pos + SCAN_CHUNK < limit else SCAN_CHUNK
    report.header["configs"] = configs
    if budget[0] <= 0:
        report.add(
            "invalid_header",
            "keras.h5_scan_budget",
            "medium",
            "too many undecodable config candidates; the HDF5 scan stopped early",
        )
    keras_version = re.search(rb"keras_version", blob.read_at(0, min(blob.size, 1 << 16)))
    report.header["has_keras_attributes"] = bool(keras_version) or bool(configs)
    if not configs and blob.size > limit:
        report.add(
            "invalid_header",
            "keras.h5_scan_incomplete",
            "medium",
            f"no Keras config in the first {limit} bytes of a {blob.size}-byte HDF5 file; "
            "the rest was not scanned",
        )


DECODE_BUDGET = 256 * 1024 * 1024
"""Most bytes read while trying to decode candidate configs in one HDF5 file."""


def _decode_at(blob: Blob, at: int, limits: Limits, budget: list[int]) -> tuple[Any, int]:
    """Decode one JSON object starting at *at*; (None, at) when there is none."""
    size = 1 << 16
    cap = min(limits.max_header_bytes, MAX_CONFIG_BYTES)
    while True:
        if budget[0] <= 0:
            return None, at
        raw = blob.read_at(at, size)
        budget[0] -= len(raw)
        text = raw.decode("utf-8", "surrogateescape")
        try:
            _, end = json.JSONDecoder().raw_decode(text)
        except json.JSONDecodeError:
            if len(raw) < size or size >= cap:
                return None, at
            size *= 4
            continue
        except RecursionError:
            return None, at
        encoded = text[:end].encode("utf-8", "surrogateescape")
        try:
            strict = strictjson.loads(encoded, limits.max_json_depth)
        except strictjson.StrictJSONError:
            return None, at
        return strict, at + len(encoded)


class _Walker:
    def __init__(self, report: Report, member: str, limits: Limits) -> None:
        self.report = report
        self.member = member
        self.limits = limits
        self.classes: Counter[str] = Counter()
        self.modules: set[str] = set()
        self.visited = 0
        self.lambda_functions: set[int] = set()
        self.judged: set[int] = set()
        """ids of Lambda / TorchModuleWrapper configs: already critical, their keys not judged again."""
        self.get_file: list[str] = []
        self.urls: list[tuple[str, str]] = []

    def add(self, check: str, severity: str, detail: str, offset: int | None, **data: Any) -> None:
        code = "unsafe_layer"
        self.report.add(code, check, severity, detail, member=self.member, offset=offset, **data)

    def walk(self, value: Any, offset: int | None) -> None:
        stack: list[tuple[Any, str]] = [(value, "")]
        while stack:
            item, path = stack.pop()
            self.visited += 1
            if self.visited > self.limits.max_entries:
                self.report.add(
                    "invalid_header",
                    "keras.too_many_objects",
                    "high",
                    f"config has more than {self.limits.max_entries} values",
                    member=self.member,
                )
                return
            if isinstance(item, dict):
                self._object(item, path, offset)
                self._module_keys(item, path, offset)
                for key, child in item.items():
                    stack.append((child, f"{path}.{key}"[-200:]))
            elif isinstance(item, list):
                stack.extend((child, f"{path}[{i}]"[-200:]) for i, child in enumerate(item))
            elif isinstance(item, str):
                self._string(item, path, offset)
        self._downloads(offset)
        h = self.report.header
        h["class_names"] = dict(self.classes.most_common(256))
        h["modules"] = sorted(self.modules)[:256]
        if isinstance(value, dict) and "keras_version" in value:
            h["keras_version"] = str(value["keras_version"])[:64]

    def _object(self, obj: dict[str, Any], path: str, offset: int | None) -> None:
        cls = obj.get("class_name")
        if not isinstance(cls, str):
            return
        self.classes[cls[:128]] += 1
        raw_config = obj.get("config")
        config: dict[str, Any] = raw_config if isinstance(raw_config, dict) else {}
        name = str(config.get("name", ""))[:120] if config else ""
        if cls in ("Lambda", "TorchModuleWrapper"):
            self.judged.add(id(config))
        if cls == "Lambda":
            self.lambda_functions.add(id(config.get("function")))
            ftype = _function_type(config)
            self.add(
                "keras.lambda_layer",
                "critical",
                f"Lambda layer {name!r} carries {ftype} that Keras runs when the model is loaded or called",
                offset,
                layer=name,
                function_type=ftype,
                path=path,
            )
        elif cls == "__lambda__":
            if id(obj) not in self.lambda_functions:
                self.add(
                    "keras.lambda_function",
                    "critical",
                    f"a Python lambda (marshalled bytecode) is embedded at {path or 'the top level'}",
                    offset,
                    path=path,
                )
        elif cls == "TFSMLayer" or (cls not in SPECIAL_CLASSES and isinstance(config.get("filepath"), str)):
            target = str(config.get("filepath", ""))[:200]
            self.add(
                "keras.external_model",
                "high",
                f"{cls[:80]} layer {name!r} loads a saved model or file from {target!r} when the model is "
                "loaded: a TensorFlow SavedModel runs its own graph, outside this config",
                offset,
                layer=name,
                filepath=target,
            )
        elif cls == "TorchModuleWrapper":
            self.add(
                "keras.torch_module_wrapper",
                "critical",
                f"TorchModuleWrapper layer {name!r}: Keras rebuilds it with torch.load(weights_only=False), "
                "which unpickles whatever the config carries (CVE-2025-49655)",
                offset,
                layer=name,
            )
        elif cls in ("TFOpLambda", "SlicingOpLambda"):
            fn = str(config.get("function", ""))[:120] if config else ""
            self.add(
                "keras.tf_op_lambda",
                "high",
                f"{cls} layer {name!r} calls TensorFlow function {fn!r} chosen by name",
                offset,
                layer=name,
                function=fn,
            )
        module = obj.get("module")
        if isinstance(module, str) and module:
            self.modules.add(module[:200])
            if not _keras_module(module) and cls not in SPECIAL_CLASSES:
                self.add(
                    "keras.foreign_module",
                    "high",
                    f"{cls[:80]!r} comes from module {module[:120]!r}, outside Keras; loading imports it",
                    offset,
                    module=module[:200],
                    class_name=cls[:200],
                )
        if cls == "function" and isinstance(raw_config, str):
            self._function(f"{module}.{raw_config}" if isinstance(module, str) else raw_config, path, offset)
        registered = obj.get("registered_name")
        if isinstance(registered, str) and ">" in registered:
            package = registered.split(">", 1)[0]
            if package not in KERAS_PACKAGES:
                self.add(
                    "keras.custom_object",
                    "high",
                    f"custom object {registered[:120]!r} must be registered by code outside Keras",
                    offset,
                    registered_name=registered[:200],
                )

    def _module_keys(self, obj: dict[str, Any], path: str, offset: int | None) -> None:
        """A module named by a config key other than a layer's own ``module`` (Lambda's
        ``module``/``fn_module``, ``output_shape_module``): Keras imports it (CVE-2025-1550)."""
        if id(obj) in self.judged:
            return
        for key in MODULE_KEYS:
            value = obj.get(key)
            if key == "module" and isinstance(obj.get("class_name"), str):
                continue  # judged with the object (keras.foreign_module)
            if isinstance(value, str) and _MODULE_NAME.match(value) and not _keras_module(value):
                self.modules.add(value[:200])
                self.add(
                    "keras.foreign_module",
                    "high",
                    f"config key {key!r} at {path[-120:] or 'the top level'} names module {value[:120]!r}, "
                    "outside Keras; loading imports it",
                    offset,
                    module=value[:200],
                    key=key,
                )

    def _function(self, qualified: str, path: str, offset: int | None) -> None:
        """A function reference (``{"class_name": "function", "module": m, "config": name}``)."""
        name = qualified.rsplit(".", 1)[-1]
        if name == UNSAFE_SWITCH:
            self.add(
                "keras.safe_mode_bypass",
                "critical",
                f"the config calls {qualified[:120]!r} while it is loaded, switching safe_mode off for "
                "everything after it (CVE-2025-9906)",
                offset,
                path=path,
            )
        elif name == "get_file":
            self.get_file.append(path)

    def _string(self, text: str, path: str, offset: int | None) -> None:
        if _URL.search(text):
            self.urls.append((path, text))
        elif text.rsplit(".", 1)[-1] == "get_file":
            self.get_file.append(path)

    def _downloads(self, offset: int | None) -> None:
        """``get_file`` with a URL downloads at load time (CVE-2025-8747); a URL alone may be
        fetched by a layer; ``get_file`` with nothing to fetch is only a name."""
        if self.get_file and self.urls:
            path, url = self.urls[0]
            self.add(
                "keras.get_file_download",
                "high",
                f"config calls get_file (at {self.get_file[0][-120:] or 'the top level'}) with URL "
                f"{url[:120]!r}: Keras downloads it while the model loads",
                offset,
                path=path,
            )
        for path, url in self.urls[:64]:
            self.add(
                "keras.remote_reference",
                "medium",
                f"config value at {path[-120:]} refers to a download: {url[:120]!r}",
                offset,
                path=path,
            )


def _function_type(config: dict[str, Any]) -> str:
    fn = config.get("function")
    if isinstance(fn, dict) and fn.get("class_name") == "__lambda__":
        return "python bytecode (marshal)"
    if isinstance(fn, dict):
        return f"a function object {str(fn.get('class_name', ''))[:60]!r}"
    kind = config.get("function_type")
    if kind == "lambda" or isinstance(fn, list):
        return "python bytecode (marshal)"
    if kind == "raw":
        return "python source"
    if isinstance(fn, str):
        module = config.get("module")
        return f"named function {module}.{fn}"[:160] if module else f"named function {fn[:120]}"
    return "an unknown function"
