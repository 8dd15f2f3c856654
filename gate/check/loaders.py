"""``gate check`` inputs as JSON values: YAML (multi-document), JSON, TOML.

The parsing is gate's one strict loader (:mod:`gate.document`): bounded in
size and nesting, duplicate keys refused, YAML alias bombs refused before
expansion.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.document import parse_json, parse_toml, parse_yaml, read_bytes
from gate.errors import InputError

MAX_FILE_BYTES = 16 * 1024 * 1024

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
        return Loaded(path, [parse_toml(path, data)])
    return Loaded(path, parse_yaml(path, data))
