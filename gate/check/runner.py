"""The conftest evaluation model over gate's engines.

For each input (a document, or every input at once with ``combine``) and
each namespace, every rule whose name is ``deny``, ``violation`` or ``warn``
(optionally with ``_suffix`` parts) is queried. A value that is a set of
strings or of objects with a ``msg`` string yields one failure (deny,
violation) or warning (warn) per element; a rule with no such element
counts as passed, once per definition of the rule. An ``exception`` rule
(a set of arrays of rule names, as conftest defines it) that names a rule
(``deny_foo`` is named ``foo``; ``deny`` and ``warn_*`` by their full name)
turns that rule's failures or warnings into one exception per naming entry.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gate.check.loaders import Loaded, load
from gate.engine import create_engine
from gate.engine.interface import Engine, JsonDocument, Undefined
from gate.errors import EngineError, InputError, PolicyError, UsageError
from gate.policy import PolicySet, load_policies

_FAILURE = re.compile(r"^(deny|violation)(_[a-zA-Z0-9]+)*$")
_WARNING = re.compile(r"^warn(_[a-zA-Z0-9]+)*$")
_RULE_HEAD = re.compile(r"^((?:deny|violation|warn)(?:_[a-zA-Z0-9]+)*)\b(?!\s*\()", re.MULTILINE)
_MAX_FILES = 10_000
# A deny/violation/warn head with a key and "if" or a value: an object rule
# (in Rego v1 "deny[msg] if" maps msg to true; a set needs "contains"). Its
# value is never a set of messages. conftest refuses such policies.
_OBJECT_HEAD = re.compile(
    r"^((?:deny|violation|warn)(?:_[a-zA-Z0-9]+)*)\s*\[[^\]\n]*\]\s*(?:if\b|:?=)", re.MULTILINE
)
_PACKAGE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass(frozen=True)
class Result:
    """One message from a rule."""

    msg: str
    """The message."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """Every other field of an object result (conftest's ``metadata``)."""
    rule: str = ""
    """The rule that produced it (``deny_foo``) or, for exceptions, the query."""

    def as_json(self) -> dict[str, Any]:
        """conftest's JSON shape: ``msg`` and, when present, ``metadata``."""
        out: dict[str, Any] = {"msg": self.msg}
        if self.metadata:
            out["metadata"] = self.metadata
        return out


@dataclass
class CheckResult:
    """One input against one namespace."""

    filename: str
    """The file (``Combined`` with --combine)."""
    namespace: str
    """The Rego package, without ``data.``."""
    successes: int = 0
    """Rule definitions that produced nothing."""
    warnings: list[Result] = field(default_factory=list)
    """From warn rules."""
    failures: list[Result] = field(default_factory=list)
    """From deny and violation rules."""
    exceptions: list[Result] = field(default_factory=list)
    """Failures and warnings waived by exception rules."""

    @property
    def total(self) -> int:
        """Every outcome counted."""
        return self.successes + len(self.warnings) + len(self.failures) + len(self.exceptions)


@dataclass
class CheckRun:
    """Every result, in input then namespace order."""

    results: list[CheckResult]
    """The results."""

    def count(self, kind: str) -> int:
        """Total of ``successes``, ``warnings``, ``failures`` or ``exceptions``."""
        if kind == "successes":
            return sum(r.successes for r in self.results)
        return sum(len(getattr(r, kind)) for r in self.results)

    @property
    def tests(self) -> int:
        """All outcomes."""
        return sum(r.total for r in self.results)

    def exit_code(self, *, fail_on_warn: bool = False, no_fail: bool = False) -> int:
        """conftest's exit codes: 1 on failure; with --fail-on-warn 2 on failure, 1 on warning."""
        if no_fail:
            return 0
        failures, warnings = self.count("failures"), self.count("warnings")
        if fail_on_warn:
            return 2 if failures else 1 if warnings else 0
        return 1 if failures else 0


def rule_counts(policies: PolicySet, namespace: str) -> dict[str, int]:
    """deny/violation/warn rule names of *namespace* -> number of definitions."""
    counts: dict[str, int] = {}
    for rego_file in policies.modules(include_tests=False):
        if rego_file.package != namespace:
            continue
        for match in _RULE_HEAD.finditer(rego_file.text):
            counts[match.group(1)] = counts.get(match.group(1), 0) + 1
    return counts


def refuse_object_rules(policies: PolicySet) -> None:
    """Refuse a deny/violation/warn rule written as an object rule (``deny[msg] if``).

    Its value is an object, never a set of messages, so it would count as a
    pass however often it fires; conftest refuses the policy for the same reason.
    """
    for rego_file in policies.modules(include_tests=False):
        match = _OBJECT_HEAD.search(rego_file.text)
        if match:
            line = rego_file.text.count("\n", 0, match.start()) + 1
            name = match.group(1)
            raise PolicyError(
                f"{rego_file.path}:{line}: rule {name} is an object rule, not a set of messages "
                f"('if' without 'contains'): write '{name} contains msg if {{ ... }}'"
            )


def select_namespaces(policies: PolicySet, requested: list[str]) -> list[str]:
    """The namespaces to test: names as given, globs (``*``, ``ma*``) matched against the
    packages that define deny/violation/warn rules; a name that is neither is refused."""
    known = namespaces_of(policies)
    selected: list[str] = []
    for name in requested:
        if any(c in name for c in "*?["):
            matched = [ns for ns in known if fnmatch.fnmatchcase(ns, name)]
            if not matched:
                raise UsageError(
                    f"--namespace {name!r} matches no package with deny, violation or warn rules "
                    f"(known: {', '.join(known) or 'none'})"
                )
            selected.extend(ns for ns in matched if ns not in selected)
        elif not _PACKAGE.match(name):
            raise UsageError(f"--namespace {name!r} is not a Rego package name (or a glob such as 'ma*')")
        elif name not in selected:
            selected.append(name)
    return selected


def _rule_value(ref: str, value: Any) -> Any:
    """A rule's value must be a set (a list here), a boolean or undefined."""
    if value is None or isinstance(value, (list, bool)):
        return value
    kind = "an object" if isinstance(value, dict) else f"a {type(value).__name__}"
    raise PolicyError(f"{ref} is {kind}, not a set of messages: write its rules as 'contains ... if'")


def exception_name(rule: str) -> str:
    """The name an exception rule uses for *rule*."""
    for prefix in ("deny_", "violation_"):
        if rule.startswith(prefix):
            return rule[len(prefix) :]
    return rule


def _results(ref: str, value: Any) -> list[Result]:
    if not isinstance(value, list):
        return []
    results = []
    for item in value:
        if isinstance(item, str):
            results.append(Result(item, rule=ref))
        elif isinstance(item, dict):
            msg = item.get("msg")
            if not isinstance(msg, str):
                raise EngineError(f"{ref}: a result object needs a string msg field")
            metadata = {k: v for k, v in item.items() if k not in ("msg", "_loc")}
            results.append(Result(msg, metadata, ref))
    return results


def _evaluate(engine: Engine, ref: str, document: JsonDocument) -> Any:
    try:
        return engine.evaluate(ref, document)
    except Undefined:
        return None


def check_one(
    engine: Engine, policies: PolicySet, filename: str, namespace: str, document: JsonDocument
) -> CheckResult:
    """Every deny/violation/warn rule of *namespace* against one input."""
    result = CheckResult(filename, namespace)
    exceptions = _evaluate(engine, f"data.{namespace}.exception", document)
    for rule, count in sorted(rule_counts(policies, namespace).items()):
        name = exception_name(rule)
        waived = [
            Result(f'data.{namespace}.exception[_][_] == "{name}"', rule=rule)
            for entry in (exceptions if isinstance(exceptions, list) else [])
            if isinstance(entry, list)
            for item in entry
            if item == name
        ]
        ref = f"data.{namespace}.{rule}"
        found = _results(ref, _rule_value(ref, _evaluate(engine, ref, document)))
        if not waived:
            if _FAILURE.match(rule):
                result.failures.extend(found)
            elif _WARNING.match(rule):
                result.warnings.extend(found)
        result.exceptions.extend(waived)
        produced = len(waived) + (0 if waived else len(found))
        result.successes += max(count - produced, 0)
    return result


def namespaces_of(policies: PolicySet) -> list[str]:
    """Every package that defines a deny, violation or warn rule."""
    return sorted({f.package for f in policies.modules(include_tests=False) if _RULE_HEAD.search(f.text)})


def _expand(paths: list[str]) -> list[str]:
    from gate.check.loaders import _SUFFIXES

    found: list[str] = []
    for path in paths:
        if path != "-" and Path(path).is_dir():
            found.extend(
                str(p) for p in sorted(Path(path).rglob("*")) if p.is_file() and p.suffix.lower() in _SUFFIXES
            )
        else:
            found.append(path)
        if len(found) > _MAX_FILES:
            raise UsageError(f"more than {_MAX_FILES} input files")
    return found


def load_data(paths: list[str]) -> dict[str, Any]:
    """--data files (YAML, JSON, TOML) merged at the root of ``data``."""
    merged: dict[str, Any] = {}
    for path in paths:
        for document in load(path).documents:
            if not isinstance(document, dict):
                raise InputError(f"{path}: data files must hold a mapping")
            _merge(merged, document, path)
    return merged


def _merge(target: dict[str, Any], source: dict[str, Any], path: str) -> None:
    for key, value in source.items():
        if isinstance(target.get(key), dict) and isinstance(value, dict):
            _merge(target[key], value, path)
        elif key in target:
            raise InputError(f"{path}: data key {key!r} is already defined by another data file")
        else:
            target[key] = value


def run_check(
    paths: list[str],
    *,
    policy_dirs: list[Path],
    namespaces: list[str] | None,
    data: dict[str, Any] | None = None,
    combine: bool = False,
    engine: str = "regorus",
    parser: str | None = None,
    rego_version: str = "v1",
) -> CheckRun:
    """Check every file (or all of them combined) against the namespaces.

    *namespaces* None means every namespace that has rules. *rego_version*
    ``v0`` reads policies in Rego v0 syntax (``deny[msg] { ... }``), as
    conftest's ``--rego-version v0`` does; only regorus offers it.
    """
    policies = PolicySet(files=[])
    for directory in policy_dirs:
        loaded = load_policies(directory)
        policies.files.extend(loaded.files)
    refuse_object_rules(policies)
    modules = [(f.path, f.text) for f in policies.modules(include_tests=False)]
    if rego_version == "v0":
        if engine != "regorus":
            raise UsageError(
                "--rego-version v0 needs --engine regorus (the OPA evaluator here reads v1 only)"
            )
        from gate.engine.regorus import RegorusEngine

        compiled: Engine = RegorusEngine(modules, data or {}, rego_v0=True)
    else:
        compiled = create_engine(engine, modules, data or {})
    selected = select_namespaces(policies, namespaces) if namespaces is not None else namespaces_of(policies)
    files = [load(path, parser) for path in _expand(paths)]
    if not files:
        raise UsageError("no input files")
    inputs: list[tuple[str, Any]] = []
    if combine:
        inputs.append(("Combined", [_combined(f) for f in files]))
    else:
        for loaded_file in files:
            inputs.extend((loaded_file.path, document) for document in loaded_file.documents)
    results = []
    for filename, value in inputs:
        document = JsonDocument.of(value)
        for namespace in selected:
            results.append(check_one(compiled, policies, filename, namespace, document))
    return CheckRun(results)


def _combined(loaded: Loaded) -> dict[str, Any]:
    contents = loaded.documents[0] if len(loaded.documents) == 1 else loaded.documents
    return {"path": loaded.path, "contents": contents}
