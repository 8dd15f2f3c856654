"""The in-toto Statements gate emits for a decision.

Two Statements about the same subject, each in its own DSSE envelope:

1. a SLSA Verification Summary (``https://slsa.dev/verification_summary/v1``),
   which any SLSA-aware admission controller understands, and
2. gate's decision predicate (``https://gate.dev/attestation/decision/v1``,
   ``schemas/attestation-decision.schema.json``), which carries the whole
   decision, the docs/decisions.md §1 claims, provenance and the input digest.

The subject is the artifact: ``subject.ref`` and its sha256 digest (for an
image, the digest the registry resolved). When the input document names no
sha256 digest for the artifact, the subject is the input document itself
(name ``gate-input:<ref or kind>``, digest = sha256 of the input document
bytes): the attestation then vouches for exactly the evidence evaluated,
and ``gate attest verify --digest`` with an image digest will not match it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from gate import __version__
from gate.engine.interface import JsonDocument
from gate.policy import PolicySet
from gate.profile import Profile

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
STATEMENT_TYPES = (STATEMENT_TYPE, "https://in-toto.io/Statement/v0.1")
VSA_TYPE = "https://slsa.dev/verification_summary/v1"
DECISION_TYPE = "https://gate.dev/attestation/decision/v1"
VERIFIER_ID = "https://gate.dev/verifier"
POLICY_URI = "https://gate.dev/policy/"
INPUT_URI = "urn:gate:input:sha256:"
INPUT_SUBJECT_PREFIX = "gate-input:"
MIN_NONCE = 16

_SHA256 = re.compile(r"^sha256:([0-9a-f]{64})$")


def sha256_hex(data: bytes) -> str:
    """Lower-case hex sha256."""
    return hashlib.sha256(data).hexdigest()


def input_digest(document: JsonDocument) -> str:
    """Hex sha256 of the input document's exact text (UTF-8), as saved beside the audit log."""
    return sha256_hex(document.text.encode("utf-8"))


def sha256_of(value: Any) -> str | None:
    """The hex part of a ``sha256:<64 hex>`` string, else None."""
    if isinstance(value, str):
        match = _SHA256.match(value.strip())
        if match:
            return match.group(1)
    return None


@dataclass(frozen=True)
class PolicyDigest:
    """What identifies the policy a decision was computed under."""

    sha256: str
    """Hex digest over the manifest below (``gate attest verify --policy-digest``)."""
    modules: tuple[tuple[str, str], ...]
    """(package, sha256 of the module text) of every non-test module, sorted."""
    profile_name: str
    """The profile's name."""
    profile_sha256: str
    """sha256 of the profile's exact bytes."""


def policy_digest(policies: PolicySet, profile: Profile) -> PolicyDigest:
    """Deterministic digest of the Rego modules evaluated and the profile.

    The manifest hashed is UTF-8 text, one line per item, modules sorted::

        gate-policy-digest/v1
        module <sha256 of module text> <package>
        profile <sha256 of profile bytes> <profile name>

    Paths are left out on purpose: the same policy installed from a wheel
    or a checkout, or run from another directory, has the same digest.
    """
    modules = tuple(
        sorted((f.package, sha256_hex(f.text.encode("utf-8"))) for f in policies.modules(include_tests=False))
    )
    lines = ["gate-policy-digest/v1"]
    lines += [f"module {digest} {package}" for package, digest in modules]
    lines.append(f"profile {profile.sha256} {profile.name}")
    manifest = "\n".join(lines) + "\n"
    return PolicyDigest(sha256_hex(manifest.encode("utf-8")), modules, profile.name, profile.sha256)


def _get(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def subject_of(document: Any, input_sha256: str) -> dict[str, Any]:
    """The in-toto subject (a ResourceDescriptor) for the document's artifact."""
    kind = _get(document, "subject", "kind")
    ref = _get(document, "subject", "ref")
    name = ref if isinstance(ref, str) and ref.strip() else str(kind or "subject")
    candidates = [_get(document, "subject", "digest")]
    if kind == "oci-image":
        candidates.insert(0, _get(document, "evidence", "registry", "resolved_digest"))
    for candidate in candidates:
        digest = sha256_of(candidate)
        if digest:
            return {"name": name, "digest": {"sha256": digest}}
    return {
        "name": INPUT_SUBJECT_PREFIX + name,
        "digest": {"sha256": input_sha256},
        "annotations": {"gate.subject": "input-document: no sha256 digest known for the artifact"},
    }


def resource_uri(document: Any, subject: dict[str, Any]) -> str:
    """A URI for the artifact (VSA ``resourceUri``)."""
    kind = _get(document, "subject", "kind")
    ref = _get(document, "subject", "ref")
    ref = ref.strip() if isinstance(ref, str) else ""
    digest = subject["digest"]["sha256"]
    if subject["name"].startswith(INPUT_SUBJECT_PREFIX):
        return f"{INPUT_URI}{digest}"
    if "://" in ref:
        return ref
    if kind == "oci-image":
        repository = ref.split("@", 1)[0]
        last = repository.rsplit("/", 1)[-1]
        if ":" in last:
            repository = repository[: len(repository) - len(last)] + last.split(":", 1)[0]
        return f"oci://{repository}@sha256:{digest}"
    return f"urn:gate:{kind or 'subject'}:{ref or 'unnamed'}@sha256:{digest}"


def registry_of(ref: Any) -> str | None:
    """The registry host of an image reference (``nvcr.io`` for ``nvcr.io/nim/x:1``)."""
    if not isinstance(ref, str) or "/" not in ref:
        return None
    first = ref.split("/", 1)[0]
    return first if ("." in first or ":" in first or first == "localhost") else "docker.io"


def container_claims(document: Any, decision: dict[str, Any], cve_delta: Any) -> dict[str, Any]:
    """docs/decisions.md §1 claims, read from the evidence that was evaluated."""
    evidence = _get(document, "evidence") or {}
    signature = _get(evidence, "signature") or {}
    sbom = _get(evidence, "sbom") or {}
    card = _get(evidence, "model_card") or {}
    baseline = _get(evidence, "vulnerabilities", "baseline") or {}
    card_digest = card.get("digest") if isinstance(card, dict) else None
    delta: dict[str, Any]
    if isinstance(cve_delta, dict):
        delta = {
            "vs_digest": cve_delta.get("vs_digest"),
            "new_critical": cve_delta.get("new_critical"),
            "new_high": cve_delta.get("new_high"),
            "fixed_critical": cve_delta.get("fixed_critical"),
        }
        delta["regressed"] = bool((delta["new_critical"] or 0) + (delta["new_high"] or 0))
    else:
        vs = baseline.get("digest") if isinstance(baseline, dict) else None
        delta = {
            "vs_digest": vs if isinstance(vs, str) else _get(document, "operator", "current_prod_digest"),
            "new_critical": None,
            "new_high": None,
            "fixed_critical": None,
            "regressed": "cve_regression" in decision.get("reasons", []),
            "note": "no usable pair of CVE scans: the delta could not be computed",
        }
    return {
        "signature": {
            "verified": signature.get("verified") is True and not signature.get("error"),
            "identity": _str(signature.get("identity")),
            "issuer": _str(signature.get("issuer")),
            "cert_not_after": _str(signature.get("cert_not_after")),
            "rekor_log_index": _int(_get(signature, "tlog", "log_index")),
        },
        "sbom": {
            "present": sbom.get("verified") is True and not sbom.get("error"),
            "format": _str(sbom.get("format")),
            "sha256": _str(sbom.get("sha256")),
        },
        "model_card": {
            "present": card.get("source") == "oci-referrer" and sha256_of(card_digest) is not None,
            "sha256": _str(card_digest),
            "source": _str(card.get("source")),
        },
        "cve_delta": delta,
    }


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def utc_now() -> datetime:
    """The current time, UTC, whole seconds."""
    return datetime.now(timezone.utc).replace(microsecond=0)


def rfc3339(moment: datetime) -> str:
    """``2026-11-22T21:30:00Z``."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class DecisionRecord:
    """Everything the attestation and the audit event are built from."""

    document: JsonDocument
    """The input document evaluated."""
    decision: dict[str, Any]
    """The decision the policy returned."""
    policy: PolicyDigest
    """The policy and profile evaluated."""
    engine: str
    """Rego engine name."""
    cve_delta: Any = None
    """``data.gate.container.cve_delta`` when the policy defined it."""
    actor: str | None = None
    """Who ran gate (operator.name, --actor, or the login name)."""


def build_statements(
    record: DecisionRecord, *, now: datetime | None = None, nonce: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(VSA Statement, gate decision Statement) for one decision."""
    moment = rfc3339(now or utc_now())
    doc = record.document.value
    decision = record.decision
    digest = input_digest(record.document)
    subject = subject_of(doc, digest)
    verifier = {"id": VERIFIER_ID, "version": {"gate": __version__}}
    policy_ref = {
        "uri": POLICY_URI + record.policy.profile_name,
        "digest": {"sha256": record.policy.sha256},
    }
    inputs = [{"uri": INPUT_URI + digest, "digest": {"sha256": digest}}]
    sbom_digest = sha256_of(_get(doc, "evidence", "sbom", "sha256"))
    if sbom_digest:
        inputs.append(
            {"uri": f"urn:gate:evidence:sbom:sha256:{sbom_digest}", "digest": {"sha256": sbom_digest}}
        )
    card_digest = sha256_of(_get(doc, "evidence", "model_card", "digest"))
    if card_digest:
        inputs.append(
            {"uri": f"urn:gate:evidence:model-card:sha256:{card_digest}", "digest": {"sha256": card_digest}}
        )
    passed = decision["verdict"] == "promote"
    vsa = {
        "verifier": verifier,
        "timeVerified": moment,
        "resourceUri": resource_uri(doc, subject),
        "policy": policy_ref,
        "inputAttestations": inputs,
        "verificationResult": "PASSED" if passed else "FAILED",
        "verifiedLevels": [f"GATE_EVIDENCE_{decision['evidence_level'].upper().replace('-', '_')}"]
        if passed
        else ["FAILED"],
    }
    mode = _get(doc, "gate", "mode")
    runtime_mode = "runtime" if isinstance(mode, str) and mode.strip().lower() == "runtime" else "static"
    given_nonce = _get(doc, "gate", "nonce")
    if nonce is None:
        nonce = given_nonce if isinstance(given_nonce, str) and len(given_nonce) >= MIN_NONCE else None
    collection = _get(doc, "collection") or {}
    kind = _get(doc, "subject", "kind")
    ref = _get(doc, "subject", "ref")
    predicate: dict[str, Any] = {
        "verifier": verifier,
        "timestamp": moment,
        "decision_time": _get(doc, "gate", "now"),
        "subject": {
            "kind": kind,
            "ref": _str(ref),
            "digest": "sha256:" + subject["digest"]["sha256"],
            "digest_of": "input-document" if "annotations" in subject else "artifact",
        },
        "decision": {
            "verdict": decision["verdict"],
            "evidence_level": decision["evidence_level"],
            "reasons": list(decision["reasons"]),
            "results": [dict(r) for r in decision["results"]],
        },
        "policy": {
            **policy_ref,
            "profile": {"name": record.policy.profile_name, "sha256": record.policy.profile_sha256},
            "modules": [{"package": p, "sha256": d} for p, d in record.policy.modules],
            "engine": record.engine,
        },
        "input": {"uri": INPUT_URI + digest, "digest": {"sha256": digest}},
        "provenance": {
            "executed_commands": [list(a) for a in collection.get("executed_commands", [])],
            "egress_hosts_contacted": list(collection.get("egress_hosts_contacted", [])),
            "runtime_mode": runtime_mode,
            "operator": _str(_get(doc, "operator", "name")),
            "actor": record.actor,
            "nonce": nonce or secrets.token_hex(16),
            "nonce_source": "input" if nonce else "generated",
        },
    }
    if kind == "oci-image":
        predicate["subject"].update(
            {
                "registry": registry_of(ref),
                "resolved_digest": _str(_get(doc, "evidence", "registry", "resolved_digest")),
                "current_prod_digest": _str(_get(doc, "operator", "current_prod_digest")),
            }
        )
        predicate["claims"] = container_claims(doc, decision, record.cve_delta)
    if "stages" in decision:
        predicate["stages"] = decision["stages"]
    return _statement(subject, VSA_TYPE, vsa), _statement(subject, DECISION_TYPE, predicate)


def _statement(subject: dict[str, Any], predicate_type: str, predicate: dict[str, Any]) -> dict[str, Any]:
    return {
        "_type": STATEMENT_TYPE,
        "subject": [subject],
        "predicateType": predicate_type,
        "predicate": predicate,
    }
