"""The default engine: regorus (Rust), in-process."""

from __future__ import annotations

import json
import os
import re
from typing import Any

from gate.engine.interface import Coverage, Engine, JsonDocument, Undefined
from gate.errors import EngineError

_LOCATION = re.compile(r"--> (\S+?:\d+:\d+)")


def _one_line(exc: BaseException) -> str:
    """regorus errors span many lines; keep ``file:line:col: message``."""
    text = str(exc).split("Stack backtrace:", 1)[0]
    location = _LOCATION.search(text)
    message = next(
        (line[len("error: ") :] for line in text.splitlines() if line.startswith("error: ")),
        text.strip().splitlines()[-1] if text.strip() else type(exc).__name__,
    )
    return f"{location.group(1)}: {message}" if location else message


class RegorusEngine(Engine):
    """Policies compiled once into a regorus Engine; one query per call."""

    name = "regorus"

    def __init__(
        self, modules: list[tuple[str, str]], data: dict[str, Any], *, rego_v0: bool = False
    ) -> None:
        """Compile *modules*; *rego_v0* parses them as Rego v0 (files that
        ``import rego.v1`` stay v1), for conftest policies not yet upgraded."""
        # Otherwise error messages carry a 40-frame Rust backtrace. Set before
        # the first error: the Rust side reads the variables once and caches them.
        os.environ["RUST_BACKTRACE"] = "0"
        os.environ["RUST_LIB_BACKTRACE"] = "0"
        try:
            import regorus
        except ImportError as exc:  # pragma: no cover - a packaging fault
            raise EngineError(f"the regorus engine is not installed: {exc}") from None
        self._engine = regorus.Engine()
        if rego_v0:
            self._engine.set_rego_v0(True)
        try:
            for path, text in modules:
                self._engine.add_policy(path, text)
            self._engine.add_data_json(json.dumps(data))
        except RuntimeError as exc:
            raise EngineError(_one_line(exc)) from None
        self._coverage = False

    def evaluate(self, ref: str, document: JsonDocument | None) -> Any:
        """See Engine.evaluate."""
        try:
            self._engine.set_input_json(document.text if document is not None else "{}")
            raw = self._engine.eval_query_as_json(ref)
        except RuntimeError as exc:
            raise EngineError(_one_line(exc)) from None
        results = json.loads(raw).get("result") or []
        if not results or not results[0].get("expressions"):
            raise Undefined(f"{ref} is undefined")
        return results[0]["expressions"][0]["value"]

    def query(self, query: str, document: JsonDocument | None) -> list[dict[str, Any]]:
        """See Engine.query: a result whose expressions are all true (or a value)."""
        try:
            self._engine.set_input_json(document.text if document is not None else "{}")
            raw = self._engine.eval_query_as_json(query)
        except RuntimeError as exc:
            raise EngineError(_one_line(exc)) from None
        return [
            dict(r.get("bindings") or {})
            for r in json.loads(raw).get("result") or []
            if all(e.get("value") is not False for e in r.get("expressions") or [])
        ]

    def enable_coverage(self) -> None:
        """See Engine.enable_coverage."""
        self._engine.set_enable_coverage(True)
        self._coverage = True

    def coverage(self) -> Coverage:
        """See Engine.coverage."""
        if not self._coverage:
            return {}
        report = json.loads(self._engine.get_coverage_report_as_json())
        return {
            f["path"]: (set(f.get("covered") or []), set(f.get("not_covered") or []))
            for f in report.get("files", [])
        }
