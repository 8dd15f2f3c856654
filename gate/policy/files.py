"""Finding and reading Rego files, with limits, into a PolicySet."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gate.errors import PolicyError, UsageError
from gate.policy.metadata import RuleMeta, extract_metadata

MAX_FILE_BYTES = 1024 * 1024
MAX_FILES = 500

_PACKAGE = re.compile(r"^package\s+([A-Za-z_][\w.]*)\s*$", re.MULTILINE)
_TEST_RULE = re.compile(r"^((?:todo_)?test_\w*)\b", re.MULTILINE)


@dataclass(frozen=True)
class RegoTest:
    """A ``test_*`` rule found in a policy file."""

    package: str
    """Package path without ``data.``, e.g. ``gate.container``."""
    name: str
    """Rule name, e.g. ``test_unsigned_blocks``."""
    path: str
    """File the rule is defined in."""
    line: int
    """1-based line of the rule's first definition."""

    @property
    def skipped(self) -> bool:
        """OPA convention: ``todo_test_*`` rules are reported, not run."""
        return self.name.startswith("todo_")


@dataclass(frozen=True)
class RegoFile:
    """One Rego module as read from disk."""

    path: str
    """Display path, used in engine error messages (``file:line``)."""
    text: str
    """The module source."""
    package: str
    """Package path without ``data.``."""

    @property
    def is_test(self) -> bool:
        """True for ``*_test.rego`` files, which ``gate eval`` leaves out."""
        return self.path.endswith("_test.rego")


@dataclass
class PolicySet:
    """Every module under a policy root, plus what gate derives from them."""

    files: list[RegoFile]
    """Modules in a stable order (sorted by path)."""
    catalog: dict[str, dict[str, RuleMeta]] = field(default_factory=dict)
    """package -> reason code -> metadata, from the METADATA blocks."""
    tests: list[RegoTest] = field(default_factory=list)
    """``test_*`` rules, in file order."""

    def catalog_data(self) -> dict[str, Any]:
        """The catalogue as engines see it: ``data.gate.catalog``."""
        return {
            package: {code: meta.as_data() for code, meta in rules.items()}
            for package, rules in self.catalog.items()
        }

    def modules(self, *, include_tests: bool) -> list[RegoFile]:
        """The modules to compile: tests only when running tests."""
        return [f for f in self.files if include_tests or not f.is_test]


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        try:
            return str(Path(root.name) / path.relative_to(root))
        except ValueError:
            return str(path)


def _find(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise UsageError(f"{root}: no such policy file or directory")
    found = sorted(p for p in root.rglob("*.rego") if p.is_file())
    if not found:
        raise UsageError(f"{root}: no .rego files found")
    if len(found) > MAX_FILES:
        raise PolicyError(f"{root}: {len(found)} .rego files, more than the limit of {MAX_FILES}")
    return found


def _read(path: Path, display: str) -> str:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise PolicyError(f"{display}: {size} bytes, larger than the limit of {MAX_FILE_BYTES}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{display}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def load_policies(root: Path) -> PolicySet:
    """Read every ``.rego`` file under *root* and build the catalogue.

    Raises PolicyError (one line, naming the file) for unreadable files,
    files without a package, broken METADATA, or a reason code defined twice.
    """
    policy_set = PolicySet(files=[])
    base = root if root.is_dir() else root.parent
    for path in _find(root):
        display = _display(path, base)
        text = _read(path, display)
        match = _PACKAGE.search(text)
        if match is None:
            raise PolicyError(f"{display}:1: no package declaration")
        package = match.group(1)
        rego_file = RegoFile(path=display, text=text, package=package)
        policy_set.files.append(rego_file)
        _add_catalog(policy_set, rego_file)
        _add_tests(policy_set, rego_file)
    return policy_set


def _add_catalog(policy_set: PolicySet, rego_file: RegoFile) -> None:
    entries = policy_set.catalog.setdefault(rego_file.package, {})
    for meta in extract_metadata(rego_file.path, rego_file.text, rego_file.package):
        if meta.short_name in entries:
            other = entries[meta.short_name]
            raise PolicyError(
                f"{meta.location}: reason code {meta.short_name!r} is already defined at {other.location}"
            )
        entries[meta.short_name] = meta
    if not entries:
        del policy_set.catalog[rego_file.package]


def _add_tests(policy_set: PolicySet, rego_file: RegoFile) -> None:
    seen = {(t.package, t.name) for t in policy_set.tests}
    for match in _TEST_RULE.finditer(rego_file.text):
        key = (rego_file.package, match.group(1))
        if key in seen:
            continue
        seen.add(key)
        line = rego_file.text.count("\n", 0, match.start()) + 1
        policy_set.tests.append(RegoTest(rego_file.package, match.group(1), rego_file.path, line))
