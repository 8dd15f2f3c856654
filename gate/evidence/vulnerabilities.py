"""Vulnerability scans of the candidate and the current production image.

Two ways in, one normalised shape out (``evidence.vulnerabilities.candidate``
and ``.baseline``):

- gate runs ``grype <registry>/<repo>@<digest> --output json`` itself when
  grype is on PATH (:func:`run_grype`): argv built only from a validated
  reference, no shell, a timeout that kills the whole process group, caps on
  stdout and stderr;
- or the operator hands in report files (:func:`read_report`): grype JSON or
  Trivy JSON (SchemaVersion 2, or the legacy top-level array of results of
  Trivy 0.19 and older), told apart by their content, never by the file name.

A match without a severity (grype leaves the field out when its database has
none) is recorded with severity ``Unknown``; the rest of the report stands.

Every way a scan can fail (grype missing, crash, hang, garbage, oversized or
wrongly shaped output, a file that cannot be read) becomes the report's
``error`` and an entry in ``collection.errors``. The policy never counts a
report with an error as clean, so a failed scan can only block.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.evidence.interface import Collection

COLLECTOR = "vulnerabilities"

DEFAULT_TIMEOUT_S = 300.0
DEFAULT_STDOUT_CAP = 256 * 1024 * 1024
DEFAULT_STDERR_CAP = 1024 * 1024
MAX_REPORT_BYTES = 256 * 1024 * 1024

# Bounds from schemas/input.schema.json (evidence.vulnerabilities.*).
MAX_MATCHES = 200_000
_FIELD_CAPS = {
    "id": 256,
    "severity": 32,
    "package": 512,
    "version": 256,
    "fix_state": 64,
    "fixed_in": 256,
}
_TEXT_CAP = 2048

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# registry[:port]/repo/path, lower-case as the distribution spec requires.
_REPOSITORY = re.compile(
    r"[a-z0-9]+(?:[.-][a-z0-9]+)*(?::[0-9]{1,5})?"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+"
)


class ScanError(Exception):
    """A report or a scanner run that cannot be used (message is one sentence)."""


@dataclass(frozen=True)
class GrypeOptions:
    """How gate runs grype."""

    timeout_s: float = DEFAULT_TIMEOUT_S
    stdout_cap: int = DEFAULT_STDOUT_CAP
    stderr_cap: int = DEFAULT_STDERR_CAP
    executable: str = "grype"
    env: Mapping[str, str] | None = None
    """Environment for grype; None inherits gate's with grype's application
    update check and database auto-update turned off
    (``GRYPE_CHECK_FOR_APP_UPDATE=false``, ``GRYPE_DB_AUTO_UPDATE=false``): a
    gate run contacts the image's registry and nothing else. The database is
    refreshed out of band (``grype db update`` on a schedule); a grype whose
    database is missing or older than its own age limit fails, and that
    failure is recorded (fail closed), with the database build time of every
    successful scan in the report."""


def grype_available(executable: str = "grype") -> bool:
    """True when a grype executable is on PATH."""
    return shutil.which(executable) is not None


def grype_argv(repository: str, digest: str, executable: str = "grype") -> list[str]:
    """The one command gate runs: ``grype <repository>@<digest> --output json``.

    Both parts are validated so nothing the registry or the operator wrote
    can become an option or reach a shell.
    """
    if not _REPOSITORY.fullmatch(repository):
        raise ScanError(f"refusing to scan {repository!r}: not a registry/repository name")
    if not _DIGEST.fullmatch(digest):
        raise ScanError(f"refusing to scan {digest!r}: not a sha256 digest")
    return [executable, f"{repository}@{digest}", "--output", "json"]


def run_grype(
    repository: str,
    digest: str,
    collection: Collection,
    options: GrypeOptions | None = None,
) -> dict[str, Any]:
    """Scan ``repository@digest`` with grype; the normalised report, or one with ``error``.

    The report's ``digest`` is the digest gate asked for: gate named the
    image by digest, so the scan is about that image.
    """
    opts = options or GrypeOptions()
    try:
        argv = grype_argv(repository, digest, opts.executable)
    except ScanError as exc:
        return _failed(collection, digest, str(exc))
    if shutil.which(opts.executable) is None:
        return _failed(collection, digest, f"{opts.executable} is not on PATH; no scan was made")
    collection.ran(argv)
    try:
        stdout = _run_capped(argv, opts)
        report = normalise(_parse_json(stdout, "grype output"))
    except ScanError as exc:
        return _failed(collection, digest, f"grype scan of {repository}@{digest} failed: {exc}")
    if report["scanner"].get("name") != "grype":
        return _failed(collection, digest, "grype printed a report that is not grype JSON")
    report.pop("_digests")
    report["digest"] = digest
    return report


def read_report(
    path: Path,
    collection: Collection,
    expected_digest: str = "",
    max_bytes: int = MAX_REPORT_BYTES,
) -> dict[str, Any]:
    """Read a grype or Trivy JSON report file into the normalised shape.

    The report's ``digest`` comes from the report itself (the image digests
    it names); when *expected_digest* is among them it is the one recorded,
    otherwise the first one the report names, so a report about another
    image is visibly about another image. A report that names no image
    digest records none (the policy then has no usable scan).
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        return _failed(collection, "", f"cannot read scan report {path}: {exc.strerror or exc}")
    if len(data) > max_bytes:
        return _failed(collection, "", f"scan report {path} is larger than {max_bytes} bytes")
    try:
        report = normalise(_parse_json(data, f"scan report {path}"))
    except ScanError as exc:
        return _failed(collection, "", f"scan report {path}: {exc}")
    named = report.pop("_digests")
    if expected_digest and expected_digest in named:
        report["digest"] = expected_digest
    elif named:
        report["digest"] = named[0]
    return report


def normalise(document: object) -> dict[str, Any]:
    """A parsed grype or Trivy JSON document -> {scanner, matches, _digests}.

    ``_digests`` lists the image digests the report names (callers turn it
    into ``digest``). Raises :class:`ScanError` for anything that is neither.
    """
    if _legacy_trivy(document):
        # Trivy before SchemaVersion 2 (0.19 and older) printed the Results array alone.
        return _normalise_trivy({"Results": document})
    if not isinstance(document, dict):
        raise ScanError("not a JSON object")
    if isinstance(document.get("matches"), list) and isinstance(document.get("descriptor"), dict):
        return _normalise_grype(document)
    if "SchemaVersion" in document and ("Results" in document or "ArtifactName" in document):
        return _normalise_trivy(document)
    raise ScanError("neither a grype nor a Trivy JSON report")


def _legacy_trivy(document: object) -> bool:
    """A legacy Trivy report: a non-empty array of result objects, each naming its Target."""
    return (
        isinstance(document, list)
        and bool(document)
        and all(isinstance(r, dict) and isinstance(r.get("Target"), str) for r in document)
    )


def _normalise_grype(doc: dict[str, Any]) -> dict[str, Any]:
    descriptor = doc["descriptor"]
    scanner: dict[str, str] = {"name": _text(descriptor.get("name")) or "grype"}
    if descriptor.get("version") is not None:
        scanner["version"] = _text(descriptor.get("version"))
    db = descriptor.get("db")
    if isinstance(db, dict):
        built = db.get("built")
        status = db.get("status")
        if built is None and isinstance(status, dict):
            built = status.get("built")
        if isinstance(built, str) and built:
            scanner["db_built"] = _text(built)
    raw = doc["matches"]
    if len(raw) > MAX_MATCHES:
        raise ScanError(f"{len(raw)} matches exceed the limit of {MAX_MATCHES}")
    matches = []
    for index, item in enumerate(raw):
        vuln = item.get("vulnerability") if isinstance(item, dict) else None
        artifact = item.get("artifact") if isinstance(item, dict) else None
        if not isinstance(vuln, dict) or not isinstance(artifact, dict):
            raise ScanError(f"match {index} has no vulnerability or artifact object")
        fix = _obj(vuln.get("fix"))
        versions = _list(fix.get("versions"))
        matches.append(
            _match(
                index,
                vuln.get("id"),
                vuln.get("severity"),
                artifact.get("name"),
                artifact.get("version"),
                fix.get("state"),
                ", ".join(str(v) for v in versions if isinstance(v, str)),
            )
        )
    target = _obj(_obj(doc.get("source")).get("target"))
    digests: list[str] = []
    for entry in _list(target.get("repoDigests")):
        digests.extend(_digests_in(entry))
    digests.extend(_digests_in(target.get("manifestDigest")))
    # A scan by digest names it in the user input (name@sha256:...).
    digests.extend(_digests_in(target.get("userInput")))
    return {"scanner": scanner, "matches": matches, "_digests": _unique(digests)}


def _normalise_trivy(doc: dict[str, Any]) -> dict[str, Any]:
    trivy = _obj(doc.get("Trivy"))
    scanner = {"name": "trivy"}
    if trivy.get("Version") is not None:
        scanner["version"] = _text(trivy.get("Version"))
    results = doc.get("Results") or []
    if not isinstance(results, list):
        raise ScanError("Results is not a list")
    matches: list[dict[str, str]] = []
    for result in results:
        if not isinstance(result, dict):
            raise ScanError("a Results entry is not an object")
        vulns = result.get("Vulnerabilities") or []
        if not isinstance(vulns, list):
            raise ScanError("Vulnerabilities is not a list")
        for item in vulns:
            if len(matches) >= MAX_MATCHES:
                raise ScanError(f"more matches than the limit of {MAX_MATCHES}")
            if not isinstance(item, dict):
                raise ScanError(f"vulnerability {len(matches)} is not an object")
            matches.append(
                _match(
                    len(matches),
                    item.get("VulnerabilityID"),
                    item.get("Severity"),
                    item.get("PkgName"),
                    item.get("InstalledVersion"),
                    item.get("Status"),
                    item.get("FixedVersion"),
                )
            )
    metadata = _obj(doc.get("Metadata"))
    digests: list[str] = []
    for entry in _list(metadata.get("RepoDigests")):
        digests.extend(_digests_in(entry))
    # ArtifactName is what trivy was asked to scan (name@sha256:... for a scan by digest).
    digests.extend(_digests_in(doc.get("ArtifactName")))
    return {"scanner": scanner, "matches": matches, "_digests": _unique(digests)}


def _match(
    index: int,
    vuln_id: object,
    severity: object,
    package: object,
    version: object,
    fix_state: object,
    fixed_in: object,
) -> dict[str, str]:
    if not isinstance(vuln_id, str) or not vuln_id.strip():
        raise ScanError(f"match {index} has no vulnerability id")
    if not isinstance(severity, str) or not severity.strip():
        # grype omits an empty severity (omitempty) when its database has none: the
        # match is real, its severity unknown (never counted as critical or high).
        severity = "Unknown"
    out = {"id": vuln_id.strip(), "severity": severity}
    for key, value in (
        ("package", package),
        ("version", version),
        ("fix_state", fix_state),
        ("fixed_in", fixed_in),
    ):
        if isinstance(value, str) and value:
            out[key] = value
    return {key: value[: _FIELD_CAPS[key]] for key, value in out.items()}


def _digests_in(value: object) -> list[str]:
    if not isinstance(value, str):
        return []
    return _DIGEST.findall(value[:4096])


def _obj(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _text(value: object) -> str:
    return str(value)[:_TEXT_CAP]


def _parse_json(data: bytes, what: str) -> object:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ScanError(f"{what} is not JSON ({str(exc)[:200]})") from None


def _failed(collection: Collection, digest: str, message: str) -> dict[str, Any]:
    report: dict[str, Any] = {"error": collection.error(COLLECTOR, message)}
    if digest and _DIGEST.fullmatch(digest):
        report["digest"] = digest
    return report


def _run_capped(argv: list[str], opts: GrypeOptions) -> bytes:
    """Run *argv*; its stdout, or :class:`ScanError` on timeout, overflow or failure."""
    from gate import procs

    try:
        done = procs.run(
            argv,
            timeout=opts.timeout_s,
            env=dict(opts.env) if opts.env is not None else _default_env(),
            stdout_cap=opts.stdout_cap,
            stderr_cap=opts.stderr_cap,
            keep="head",
            kill_on_overflow=True,
        )
    except OSError as exc:
        raise ScanError(f"cannot start {argv[0]}: {exc.strerror or exc}") from None
    if done.stdout_truncated:
        raise ScanError(f"printed more than {opts.stdout_cap} bytes on stdout and was killed")
    if done.timed_out:
        raise ScanError(f"timed out after {opts.timeout_s:g} s and was killed")
    if done.code != 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        last = tail[-1][:300] if tail else "no message"
        raise ScanError(f"exited with status {done.code} ({last})")
    return done.stdout


def _default_env() -> dict[str, str]:
    return {**os.environ, "GRYPE_CHECK_FOR_APP_UPDATE": "false", "GRYPE_DB_AUTO_UPDATE": "false"}
