"""The reference engine: the real OPA evaluator (Go), in-process."""

from __future__ import annotations

import re
from typing import Any

from gate.engine.interface import Coverage, Engine, JsonDocument, Undefined
from gate.errors import EngineError

_INSTALL_HINT = (
    "the opa engine needs opa-golib-python-bindings: "
    "pip install --ignore-requires-python opa-golib-python-bindings==0.4.4"
)
_LOCATED = re.compile(r"(\S+\.rego:\d+): (\w+): (.*)")


def _one_line(exc: BaseException) -> str:
    """OPA reports ``code: N errors occurred: file:line: kind: message``."""
    text = str(exc)
    for line in text.splitlines():
        match = _LOCATED.search(line)
        if match:
            return f"{match.group(1)}: {match.group(3)} ({match.group(2)})"
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def _rows(spans: list[dict[str, Any]]) -> set[int]:
    rows: set[int] = set()
    for span in spans:
        rows.update(range(span["start"]["row"], span["end"]["row"] + 1))
    return rows


class OpaGoEngine(Engine):
    """Policies compiled into an embedded OPA; strict built-in errors."""

    name = "opa"

    def __init__(self, modules: list[tuple[str, str]], data: dict[str, Any]) -> None:
        try:
            from opa_bindings import OpaEngine, OpaError, OpaUndefinedError
        except ImportError:
            raise EngineError(_INSTALL_HINT) from None
        self._error: type[Exception] = OpaError
        self._undefined: type[Exception] = OpaUndefinedError
        self._engine = OpaEngine()
        try:
            for path, text in modules:
                self._engine.add_policy(path, text)
            self._engine.add_data(data)
        except OpaError as exc:
            raise EngineError(_one_line(exc)) from None
        self._coverage: Coverage | None = None

    def evaluate(self, ref: str, document: JsonDocument | None) -> Any:
        """See Engine.evaluate."""
        path = ref.removeprefix("data.")
        value = document.value if document is not None else {}
        try:
            result = self._engine.eval_document(path, value, coverage=self._coverage is not None)
        except self._undefined:
            raise Undefined(f"{ref} is undefined") from None
        except self._error as exc:
            raise EngineError(_one_line(exc)) from None
        finally:
            self._collect()
        return result

    def query(self, query: str, document: JsonDocument | None) -> list[dict[str, Any]]:
        """See Engine.query."""
        value = document.value if document is not None else {}
        try:
            results = self._engine.eval_query(query, value)
        except self._undefined:
            return []
        except self._error as exc:
            raise EngineError(_one_line(exc)) from None
        return [dict(r) for r in results or []]

    def _collect(self) -> None:
        report = self._engine.last_coverage
        if self._coverage is None or not report:
            return
        for path, spans in report.get("files", {}).items():
            covered, missed = self._coverage.setdefault(path, (set(), set()))
            covered.update(_rows(spans.get("covered") or []))
            missed.update(_rows(spans.get("not_covered") or []))

    def enable_coverage(self) -> None:
        """See Engine.enable_coverage."""
        if self._coverage is None:
            self._coverage = {}

    def coverage(self) -> Coverage:
        """See Engine.coverage: a line reached by any evaluation is covered."""
        if self._coverage is None:
            return {}
        return {path: (set(c), m - c) for path, (c, m) in self._coverage.items()}
