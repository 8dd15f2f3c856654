"""Rego engines behind one interface; pick one by name."""

from __future__ import annotations

from typing import Any

from gate.engine.interface import Engine, JsonDocument, Undefined
from gate.errors import EngineError

ENGINES = ("regorus", "opa")
DEFAULT_ENGINE = "regorus"


def create_engine(name: str, modules: list[tuple[str, str]], data: dict[str, Any]) -> Engine:
    """Compile *modules* ((path, text) pairs) with *data* on the named engine.

    Backends are imported here, lazily, so ``gate --help`` stays fast.
    """
    if name == "regorus":
        from gate.engine.regorus import RegorusEngine

        return RegorusEngine(modules, data)
    if name == "opa":
        from gate.engine.opa import OpaGoEngine

        return OpaGoEngine(modules, data)
    raise EngineError(f"unknown engine {name!r} (choose from {', '.join(ENGINES)})")


__all__ = ["DEFAULT_ENGINE", "ENGINES", "Engine", "JsonDocument", "Undefined", "create_engine"]
