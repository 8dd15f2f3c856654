"""Where gate's bundled policies, schemas and profiles live.

In a source checkout (and an editable install) they sit beside the package;
a wheel carries them inside the package under ``gate/_data``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _root() -> Path:
    bundled = _PACKAGE / "_data"
    return bundled if bundled.is_dir() else _PACKAGE.parent


def rego_dir() -> Path:
    """The policy root (the OPA bundle root)."""
    return _root() / "rego"


def schema_path(name: str) -> Path:
    """A JSON Schema by file stem, e.g. ``schema_path("input")``."""
    return _root() / "schemas" / f"{name}.schema.json"


def profiles_dir() -> Path:
    """The folder of bundled policy profiles."""
    return _root() / "policy-profiles"
