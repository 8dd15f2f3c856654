"""The one strict loader for the JSON, YAML and TOML files gate reads from users.

Input documents, profiles, lock files, allowlists, smoke-test suites, policy
METADATA and ``gate check`` inputs all go through :func:`parse_json`,
:func:`parse_yaml` / :func:`parse_yaml_one` or :func:`parse_toml`: bounded
in size and nesting, a key given twice is refused (two readers would see
two documents), plain data only, and for YAML the size the document would
have once its aliases are expanded is bounded, so an alias bomb ("billion
laughs") is refused before anything is built from it. Errors are
:class:`InputError` lines naming the file.
"""

from __future__ import annotations

import datetime
import json
import math
import re
import sys
from typing import Any

import yaml

from gate import schemas
from gate.engine.interface import JsonDocument
from gate.errors import InputError
from gate.fsutil import read_bounded

MAX_INPUT_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 64
MAX_EXPANDED_NODES = 500_000
MAX_YAML_DOCUMENTS = 10_000


class _Refused(ValueError):
    """Valid JSON syntax that gate still refuses."""


def no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` refusing a key given twice (two parsers may keep different copies)."""
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"duplicate key {key!r}")
            seen.add(key)
    return result


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not valid JSON")


# Engines disagree on integers beyond 64 bits (regorus rounds them to floats,
# OPA keeps them exact), so such numbers are refused, as are floats that
# overflow to infinity.
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
_MAX_NUMBER_CHARS = 400


def _int(text: str) -> int:
    if len(text) > _MAX_NUMBER_CHARS:
        raise _Refused(f"number {text[:20]}... is too long")
    value = int(text)
    if not _INT_MIN <= value <= _INT_MAX:
        raise _Refused(f"integer {text} does not fit in 64 bits")
    return value


def _float(text: str) -> float:
    if len(text) > _MAX_NUMBER_CHARS:
        raise _Refused(f"number {text[:20]}... is too long")
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"number {text} is out of range")
    return value


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _check_unicode(value: Any, text: str) -> None:
    """Refuse lone UTF-16 surrogates (``\\ud800``): not encodable as UTF-8."""
    if not _SURROGATE_ESCAPE.search(text):
        return
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise _Refused("a string holds a lone UTF-16 surrogate escape") from None


def _too_deep(value: Any) -> bool:
    """True when containers nest deeper than MAX_DEPTH (scalars are not visited)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def read_bytes(source: str, limit: int | None = None) -> bytes:
    """Read a regular file, or standard input for ``-``, refusing more than *limit* bytes
    (default MAX_INPUT_BYTES); a FIFO, device or folder is refused (gate.fsutil.read_bounded)."""
    if limit is None:
        limit = MAX_INPUT_BYTES
    if source != "-":
        return read_bounded(source, limit)  # a regular file only: a FIFO or device is refused
    try:
        data = sys.stdin.buffer.read(limit + 1)
    except OSError as exc:
        raise InputError(f"{source}: cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise InputError(f"{source}: larger than the limit of {limit} bytes")
    return data


def parse_json(source: str, data: bytes) -> JsonDocument:
    """Parse JSON strictly: UTF-8, no duplicate keys, no NaN, bounded depth."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: not UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(
            text,
            object_pairs_hook=no_duplicate_keys,
            parse_constant=_no_constant,
            parse_int=_int,
            parse_float=_float,
        )
        _check_unicode(value, text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{source}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except _Refused as exc:
        raise InputError(f"{source}: not valid JSON: {exc}") from None
    except RecursionError:
        raise InputError(f"{source}: nested deeper than {MAX_DEPTH} levels") from None
    if isinstance(value, (dict, list)) and _too_deep(value):
        raise InputError(f"{source}: nested deeper than {MAX_DEPTH} levels")
    return JsonDocument(value, text)


def parse_toml(path: str, data: bytes) -> Any:
    """Parse TOML into a JSON value (dates as ISO strings)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        value = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    return _plain(path, value, 0)


class _Loader(yaml.SafeLoader):
    """SafeLoader: plain data only; timestamps stay strings; a key given twice is refused."""


def _scalar_key(loader: _Loader, node: yaml.Node) -> Any:
    key = loader.construct_object(node, deep=True)
    if not isinstance(key, (str, int, float, bool)) and key is not None:
        raise yaml.constructor.ConstructorError(None, None, "a mapping key must be a scalar", node.start_mark)
    return key


def _mapping(loader: _Loader, node: yaml.MappingNode) -> dict[str, Any]:
    """A mapping with JSON (string) keys; a key given twice in the node is refused,
    keys from a ``<<`` merge are overridden by the mapping's own."""
    seen: set[str] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        name = _key("YAML", _scalar_key(loader, key_node))
        if name in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {name!r}", key_node.start_mark
            )
        seen.add(name)
    loader.flatten_mapping(node)
    out: dict[str, Any] = {}
    for key_node, value_node in node.value:
        out[_key("YAML", _scalar_key(loader, key_node))] = loader.construct_object(value_node, deep=True)
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_str)  # type: ignore[type-var]


def _expanded_size(root: yaml.Node) -> int:
    """Nodes the document would have with every alias expanded (memoised)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise _TooBig(f"nested deeper than {MAX_DEPTH} levels")
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise _TooBig("an alias refers to a node that contains it")
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            for child in node.value:
                total += size(child, depth + 1)
                if total > MAX_EXPANDED_NODES:
                    break
        elif isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                total += size(key_node, depth + 1) + size(value_node, depth + 1)
                if total > MAX_EXPANDED_NODES:
                    break
        active.discard(key)
        sizes[key] = total
        if total > MAX_EXPANDED_NODES:
            raise _TooBig(f"expands to more than {MAX_EXPANDED_NODES} nodes (alias bomb?)")
        return total

    return size(root, 1)


class _TooBig(Exception):
    """A YAML document over the limits."""


def parse_yaml(path: str, data: bytes) -> list[Any]:
    """Every document of a YAML stream as a JSON value; an empty stream is ``[None]``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 (byte {exc.start})") from None
    documents: list[Any] = []
    try:
        loader = _Loader(text)  # the reader refuses control characters here, before any parsing
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # pragma: no cover - check_node said there is one
                break
            if len(documents) >= MAX_YAML_DOCUMENTS:
                raise _TooBig(f"more than {MAX_YAML_DOCUMENTS} documents")
            _expanded_size(node)
            documents.append(_plain(path, loader.construct_document(node), 0))
    except _TooBig as exc:
        raise InputError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        first = " ".join(str(exc).split())
        raise InputError(f"{path}: not valid YAML: {first}") from None
    except RecursionError:
        raise InputError(f"{path}: nested deeper than {MAX_DEPTH} levels") from None
    finally:
        loader.dispose()
    return documents or [None]


def parse_yaml_one(path: str, data: bytes) -> Any:
    """A YAML file that holds one document (``None`` when it is empty)."""
    documents = parse_yaml(path, data)
    if len(documents) > 1:
        raise InputError(f"{path}: holds {len(documents)} YAML documents; expected one")
    return documents[0]


def load_config(path: str, limit: int) -> tuple[Any, bytes]:
    """Read a configuration file of at most *limit* bytes: JSON for ``.json``, else one
    YAML document. Returns the value and the exact bytes (whose digest gate records)."""
    data = read_bytes(path, limit)
    if path.lower().endswith(".json"):
        return parse_json(path, data).value, data
    return parse_yaml_one(path, data), data


def _key(path: str, key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, float) and not math.isfinite(key):
        raise InputError(f"{path}: a mapping key is not a finite number")
    return str(key)


def _plain(path: str, value: Any, depth: int) -> Any:
    """A JSON value: string keys, finite numbers, dates as ISO strings."""
    if depth > MAX_DEPTH:
        raise InputError(f"{path}: nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        return {_key(path, k): _plain(path, v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(path, v, depth + 1) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"{path}: {value} is not a JSON number")
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        raise InputError(f"{path}: integer {value} does not fit in 64 bits")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        raise InputError(f"{path}: binary values are not supported")
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise InputError(f"{path}: unsupported value of type {type(value).__name__}")


class InvalidDocument(InputError):
    """The document parsed but does not match its schema."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: does not match the {len(problems)} schema rule(s) below")
        self.source = source
        self.problems = problems

    def lines(self) -> list[str]:
        """One line per problem, each naming the file and the JSON pointer."""
        return [f"{self.source}: {p}" for p in self.problems]


def load_input(source: str) -> JsonDocument:
    """Read, parse and validate an input document (path or ``-``)."""
    document = parse_json(source, read_bytes(source))
    found = schemas.problems("input", document.value)
    if found:
        raise InvalidDocument(source, found)
    return document
