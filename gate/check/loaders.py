"""Configuration files as JSON values: YAML (multi-document), JSON, TOML.

Every loader is a safe one (plain data only) with bounds: file size,
nesting depth, and for YAML the size the document would have once its
aliases are expanded, so an alias bomb ("billion laughs") is refused before
anything is built from it.
"""

from __future__ import annotations

import datetime
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gate.document import MAX_DEPTH, parse_json, read_bytes
from gate.errors import InputError

MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_EXPANDED_NODES = 500_000
MAX_DOCUMENTS = 10_000

PARSERS = ("yaml", "json", "toml")
_SUFFIXES = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".toml": "toml"}


@dataclass(frozen=True)
class Loaded:
    """One input file."""

    path: str
    """As given on the command line."""
    documents: list[Any]
    """Its documents: one, or several for multi-document YAML."""


def parser_for(path: str, parser: str | None = None) -> str:
    """The parser for *path*: forced, by suffix, or YAML for standard input."""
    if parser:
        return parser
    if path == "-":
        return "yaml"
    found = _SUFFIXES.get(Path(path).suffix.lower())
    if found is None:
        raise InputError(f"{path}: unknown file type (use .yaml, .yml, .json or .toml, or --parser)")
    return found


def load(path: str, parser: str | None = None) -> Loaded:
    """Read and parse one file with limits."""
    kind = parser_for(path, parser)
    data = read_bytes(path, MAX_FILE_BYTES)
    if kind == "json":
        return Loaded(path, [parse_json(path, data).value])
    if kind == "toml":
        return Loaded(path, [_toml(path, data)])
    return Loaded(path, _yaml(path, data))


def _toml(path: str, data: bytes) -> Any:
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


def _yaml(path: str, data: bytes) -> list[Any]:
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
            if len(documents) >= MAX_DOCUMENTS:
                raise _TooBig(f"more than {MAX_DOCUMENTS} documents")
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
