"""What ``gate registry attach`` learns from an evidence document before storing it by digest.

- ``sbom``: SPDX or CycloneDX JSON, parsed and validated by the same code as
  the container SBOM collector (the validation result is kept); a document
  that is neither, or does not parse, is refused.
- ``scan``: a grype or Trivy JSON report, normalised; critical and high
  counts are kept (the lifecycle policy reads them).
- ``provenance``: an in-toto Statement, a DSSE envelope or a Sigstore bundle;
  its predicate type and subjects are kept (signatures are verified by the
  policy's own evidence step, not here).
- ``evals``: an evaluation package: ``{"evaluated_at": RFC 3339, "scores":
  {name: number}}`` (quality, toxicity, jailbreak, bias, latency, cost...).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from gate.errors import InputError


def summarise(kind: str, value: Any, source: str) -> dict[str, Any]:
    if kind == "sbom":
        return _sbom(value, source)
    if kind == "scan":
        return _scan(value, source)
    if kind == "provenance":
        return _provenance(value, source)
    if kind == "evals":
        return _evals(value, source)
    raise InputError(f"{source}: unknown attachment kind {kind!r}")


def _sbom(value: Any, source: str) -> dict[str, Any]:
    from gate.evidence.sbom import parse_sbom
    from gate.evidence.signatures import Rejected

    fmt = "spdx" if isinstance(value, dict) and "spdxVersion" in value else "cyclonedx"
    if not isinstance(value, dict) or (fmt == "cyclonedx" and value.get("bomFormat") != "CycloneDX"):
        raise InputError(f"{source}: neither an SPDX nor a CycloneDX JSON SBOM")
    try:
        parsed = parse_sbom(value, fmt)
    except Rejected as exc:
        raise InputError(f"{source}: {exc}") from None
    # Parsed is required; whether the library's validation passed is recorded for the policy
    # (real producers' SBOMs often carry findings, e.g. syft's absolute file names).
    return {
        "format": fmt,
        "spec_version": parsed.spec_version,
        "packages": parsed.package_count,
        "validated": parsed.validated,
        "validation_error": parsed.validation_error[:300],
    }


def _scan(value: Any, source: str) -> dict[str, Any]:
    from gate.evidence.vulnerabilities import ScanError, normalise

    try:
        report = normalise(value)
    except ScanError as exc:
        raise InputError(f"{source}: {exc}") from None
    counts: dict[str, int] = {}
    for match in report["matches"]:
        severity = str(match.get("severity", "unknown")).lower()
        counts[severity] = counts.get(severity, 0) + 1
    critical = sorted(
        {str(m.get("id")) for m in report["matches"] if str(m.get("severity", "")).lower() == "critical"}
    )
    return {"scanner": report["scanner"], "severities": counts, "critical": critical[:500]}


def _provenance(value: Any, source: str) -> dict[str, Any]:
    statement = value
    if isinstance(value, dict) and "dsseEnvelope" in value:
        value = value["dsseEnvelope"]
    if isinstance(value, dict) and "payload" in value and "signatures" in value:
        try:
            statement = json.loads(base64.b64decode(value["payload"]))
        except (ValueError, TypeError):
            raise InputError(f"{source}: the DSSE payload is not base64 JSON") from None
    if not isinstance(statement, dict) or not isinstance(statement.get("predicateType"), str):
        raise InputError(f"{source}: not an in-toto Statement, DSSE envelope or Sigstore bundle")
    subjects = [
        {"name": str(s.get("name", ""))[:256], "sha256": str(s.get("digest", {}).get("sha256", ""))}
        for s in statement.get("subject", [])[:64]
        if isinstance(s, dict)
    ]
    return {
        "predicate_type": statement["predicateType"][:256],
        "subjects": subjects,
        "signed": statement is not value,
    }


def _evals(value: Any, source: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("scores"), dict) or not value["scores"]:
        raise InputError(
            f'{source}: an evaluation package is {{"evaluated_at": TIME, "scores": {{name: number}}}}'
        )
    when = value.get("evaluated_at")
    try:
        datetime.fromisoformat(str(when).replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{source}: evaluated_at {when!r} is not an RFC 3339 time") from None
    scores = {}
    for name, score in list(value["scores"].items())[:64]:
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise InputError(f"{source}: scores.{name} is not a number")
        scores[str(name)[:64]] = float(score)
    return {"evaluated_at": str(when), "scores": scores}
