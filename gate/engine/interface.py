"""What every Rego engine backend offers gate."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from gate.errors import EngineError


class Undefined(EngineError):
    """The queried document is undefined (no rule produced a value)."""


@dataclass(frozen=True)
class JsonDocument:
    """A JSON value together with its serialized text.

    Engines that take text (regorus) use ``text`` as it is; engines that take
    objects use ``value``. Either way the document is serialized only once.
    """

    value: Any
    """The parsed value."""
    text: str
    """Its JSON text."""

    @classmethod
    def of(cls, value: Any) -> JsonDocument:
        """Wrap a Python value, serializing it."""
        return cls(value, json.dumps(value))


Coverage = dict[str, tuple[set[int], set[int]]]
"""file path -> (covered lines, coverable lines not covered)."""


class Engine(ABC):
    """A compiled policy set that answers queries for ``data.<path>``."""

    name: str = ""
    """Short name used on the command line (``--engine``)."""

    @abstractmethod
    def evaluate(self, ref: str, document: JsonDocument | None) -> Any:
        """Evaluate *ref* (``data.a.b``) with *document* as input.

        Raises Undefined when the reference has no value, EngineError with
        ``file:line`` for evaluation errors.
        """

    def query(self, query: str, document: JsonDocument | None) -> list[dict[str, Any]]:
        """Evaluate an ad-hoc Rego *query*; one dict of variable bindings per
        result (OPA's ``POST /v1/query``). Not every backend offers it."""
        raise EngineError(f"the {self.name} engine does not answer ad-hoc queries")

    @abstractmethod
    def enable_coverage(self) -> None:
        """Start recording which policy lines evaluation reaches."""

    @abstractmethod
    def coverage(self) -> Coverage:
        """Lines reached across every evaluation since coverage was enabled."""
