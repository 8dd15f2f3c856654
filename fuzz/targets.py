"""One fuzz target per parser of hostile bytes, and the contract each one must keep.

A target is a function of one ``bytes`` input. It calls one of gate's parser entry points and
raises :class:`ContractBroken` (or lets an unexpected exception escape, which libFuzzer reports as
a crash) when the parser breaks its contract:

- model parsers (``gate.formats.*.parse``): return a :class:`~gate.formats.interface.Report`,
  never raise; the whole-file scan never records a ``parser_error`` or ``internal_error``;
- loaders of documents (strict JSON, YAML, SKILL.md frontmatter, audit lines, DSSE envelopes,
  scanner reports, conftest inputs): return a value or raise gate's own error type, never another;
- differential checks where another implementation can judge the same bytes: gate's zip reader
  lists the members Python's ``zipfile`` lists in a valid archive it calls clean; a pickle that
  ``pickletools`` reads in full with a ``GLOBAL`` of a process-spawning callable is never clean;
  what strict JSON accepts, ``json`` reads to the same value.

Time and memory per input are bounded by libFuzzer (``-timeout``, ``-rss_limit_mb``; see run.py).
The same functions run without atheris in ``tests/test_fuzz_regressions.py`` over every input
kept in ``fuzz/regressions/<target>/``.
"""

from __future__ import annotations

import io
import json
import os
import pickletools
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace

from gate.formats.interface import DEFAULT_LIMITS, BytesBlob, Report

# Small enough that one input can never take the fuzzer's memory; the parsers must still hold
# every bound as a finding.
LIMITS = replace(
    DEFAULT_LIMITS,
    max_header_bytes=4 * 1024 * 1024,
    max_entries=100_000,
    max_string_bytes=1024 * 1024,
    max_expanded_bytes=64 * 1024 * 1024,
    max_member_bytes=16 * 1024 * 1024,
    max_pickle_ops=1_000_000,
)


class ContractBroken(AssertionError):
    """The parser returned something its contract forbids."""


@dataclass(frozen=True)
class Target:
    name: str
    run: Callable[[bytes], None]
    seeds: tuple[str, ...]
    """Globs (relative to the repository root) of real files that seed the corpus."""


def _report(module: str, attr: str = "parse") -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        import importlib

        func = getattr(importlib.import_module(f"gate.formats.{module}"), attr)
        report = func(BytesBlob(data), LIMITS)
        if isinstance(report, tuple):
            report = report[0]
        if not isinstance(report, Report):
            raise ContractBroken(f"{module}.{attr} returned {type(report).__name__}")
        json.dumps(report.header, default=str)

    return run


def scan_whole(data: bytes) -> None:
    """The dispatcher over everything nested: no parser may fail with an exception."""
    from gate.formats.scan import scan_blob

    result = scan_blob(BytesBlob(data), name="fuzz.bin", limits=LIMITS)
    for finding in result.findings:
        if finding.check.endswith((".parser_error", "internal_error")):
            raise ContractBroken(f"{finding.check}: {finding.message}")


DANGEROUS_GLOBALS = frozenset(
    {"os system", "posix system", "nt system", "subprocess Popen", "subprocess call",
     "subprocess check_output", "builtins eval", "builtins exec", "__builtin__ eval",
     "__builtin__ exec", "os popen", "posix popen", "pty spawn", "runpy _run_code"}
)  # fmt: skip


def pickle_differential(data: bytes) -> None:
    """gate's pickle analysis against pickletools on the same stream."""
    _report("pickle")(data)
    from gate.formats.pickle import parse

    try:
        ops = list(pickletools.genops(io.BytesIO(data)))
    except Exception:  # pickletools refuses it: no differential
        return
    named = {str(arg) for op, arg, _ in ops if op.name in ("GLOBAL", "INST") and arg is not None}
    dangerous = named & DANGEROUS_GLOBALS
    if not dangerous:
        return
    report = parse(BytesBlob(data), LIMITS)
    if not any(f.severity in ("critical", "high") for f in report.findings):
        raise ContractBroken(f"pickletools reads {sorted(dangerous)}; gate found nothing serious")


def zip_differential(data: bytes) -> None:
    """gate's zip reader against zipfile's listing of a valid archive."""
    _report("zip")(data)
    from gate.formats.zip import parse

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if archive.testzip() is not None:
                return
            # gate's reader hands on members with content; an empty member or a folder holds nothing
            listed = sorted(i.filename for i in archive.infolist() if i.file_size and not i.is_dir())
    except Exception:  # zipfile refuses it: no differential
        return
    report = parse(BytesBlob(data), LIMITS)
    if any(f.severity in ("critical", "high", "medium") for f in report.findings):
        return
    found = sorted(child.name for child in report.children)
    if found != listed and not report.findings:
        raise ContractBroken(f"zipfile lists {listed[:5]}, gate {found[:5]} and gate reports nothing")


def strict_json(data: bytes) -> None:
    from gate.formats.strictjson import StrictJSONError, loads

    try:
        value = loads(data)
    except StrictJSONError:
        return
    try:
        plain = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ContractBroken(f"strict JSON accepted what json refuses: {exc}") from None
    if plain != value and value == value:  # NaN compares unequal to itself
        raise ContractBroken("strict JSON and json read different values")


def _raises_only(call: Callable[[bytes], object], *allowed: type[BaseException]) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        try:
            call(data)
        except allowed:
            return

    return run


def _frontmatter(data: bytes) -> object:
    from gate.formats.skillmd import parse_frontmatter

    return parse_frontmatter(data.decode("utf-8", "replace"))


def _code(language: str) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        from gate.formats.skillcode import CodeReport, analyse

        report = analyse(data, f"fuzz.{language}", language)
        if not isinstance(report, CodeReport):
            raise ContractBroken(f"skillcode.analyse returned {type(report).__name__}")

    return run


MANIFESTS = ("requirements.txt", "pyproject.toml", "setup.py", "Pipfile", "Pipfile.lock", "poetry.lock",
             "uv.lock", "package.json", "package-lock.json", "yarn.lock", "pnpm-lock.yaml", ".npmrc",
             "pip.conf", "setup.cfg")  # fmt: skip


def skill_dependencies(data: bytes) -> None:
    """One manifest or lockfile, its name chosen by the first byte."""
    from gate.formats.skilldeps import DepsPolicy, analyse_manifests

    if not data:
        return
    name = MANIFESTS[data[0] % len(MANIFESTS)]
    analyse_manifests({name: data[1:]}, DepsPolicy())


def _audit_line(data: bytes) -> object:
    from gate.audit.entry import parse_line

    return parse_line(data, strict=bool(data[:1] == b"{"))


def _dsse(data: bytes) -> object:
    from gate.evidence.signatures import parse_dsse

    return parse_dsse(data)


def _sigstore_bundle(data: bytes) -> object:
    from gate.evidence.signatures import SignatureOptions, verify_bundle

    return verify_bundle(data, SignatureOptions(), artifact=b"hello\n")


def _oci_index(data: bytes) -> object:
    from gate.evidence.oci.client import _index_entries

    return _index_entries(data, "fuzz index")


def _scanner_report(data: bytes) -> object:
    from pathlib import Path

    from gate.evidence.interface import Collection
    from gate.evidence.vulnerabilities import read_report

    with tempfile.NamedTemporaryFile(suffix=".json") as handle:
        handle.write(data)
        handle.flush()
        report = read_report(Path(handle.name), Collection())
    if not isinstance(report, dict):
        raise ContractBroken("read_report returned no report")
    return report


def _check_input(suffix: str) -> Callable[[bytes], object]:
    def run(data: bytes) -> object:
        from gate.check.loaders import load

        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, f"input{suffix}")
            with open(path, "wb") as handle:
                handle.write(data)
            return load(path)

    return run


def _gate_errors() -> tuple[type[BaseException], ...]:
    from gate.errors import GateError

    return (GateError,)


def _targets() -> dict[str, Target]:
    from gate.audit.entry import EntryError
    from gate.evidence.oci.client import RegistryError
    from gate.evidence.signatures import Rejected
    from gate.formats.skillmd import FrontmatterError

    models = "tests/formats/data/**/*"
    found = [
        Target("safetensors", _report("safetensors"), ("fixtures/artifact/*.safetensors",)),
        Target("gguf", _report("gguf"), ()),
        Target("pickle", pickle_differential, ("fixtures/artifact/payload.bin",)),
        Target("torch-legacy", _report("torch", "analyse_legacy"), ()),
        Target("joblib", _report("joblib"), ()),
        Target(
            "zip",
            zip_differential,
            ("tests/formats/data/keras/*.keras", "fixtures/thirdparty/sigstore/*.whl"),
        ),
        Target("tar", _report("tar"), ()),
        Target("7z", _report("sevenzip"), ()),
        Target("compressed", _report("compressed"), ()),
        Target("onnx", _report("onnx"), ()),
        Target("keras-hdf5", _report("keras", "parse_hdf5"), ("tests/formats/data/keras/*.h5",)),
        Target("keras", _report("keras"), ("tests/formats/data/keras/*.keras",)),
        Target("numpy", _report("numpy"), ()),
        Target("sentencepiece", _report("sentencepiece"), ()),
        Target("jinja", _report("jinja"), ("tests/formats/data/templates/*.jinja",)),
        Target("scan", scan_whole, (models, "fixtures/artifact/*")),
        Target("strict-json", strict_json, ("fixtures/thirdparty/sbom/*.json", "fixtures/container/*.json")),
        Target(
            "skill-frontmatter", _raises_only(_frontmatter, FrontmatterError), ("fixtures/skills/*/SKILL.md",)
        ),
        Target("skill-python", _code("python"), ("fixtures/skills/**/*.py", "gate/formats/skilldeps.py")),
        Target("skill-shell", _code("shell"), ("fixtures/skills/**/*.sh", "scripts/*.sh")),
        Target(
            "skill-javascript", _code("javascript"), ("fixtures/skills/**/*.js", "fixtures/skills/**/*.mjs")
        ),
        Target("skill-dependencies", skill_dependencies, ()),
        Target("audit-line", _raises_only(_audit_line, EntryError), ()),
        Target("dsse", _raises_only(_dsse, Rejected), ("fixtures/thirdparty/intoto/*.json*",)),
        Target(
            "sigstore-bundle",
            _raises_only(_sigstore_bundle, Rejected),
            ("fixtures/thirdparty/sigstore/*.sigstore*", "fixtures/thirdparty/sigstore/**/*.jsonl"),
        ),
        Target("oci-index", _raises_only(_oci_index, RegistryError), ("fixtures/thirdparty/oci/**/*.json",)),
        Target("scanner-report", _scanner_report, ("fixtures/thirdparty/vulns/*.json",)),
        Target(
            "check-yaml",
            _raises_only(_check_input(".yaml"), *_gate_errors()),
            ("policy-profiles/*.yaml", "fixtures/**/*.yaml"),
        ),
        Target("check-toml", _raises_only(_check_input(".toml"), *_gate_errors()), ("pyproject.toml",)),
    ]
    return {target.name: target for target in found}


TARGETS = _targets()
