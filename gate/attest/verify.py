"""``gate attest verify``: ordered checks over an attestation file.

Checks run in this order, each over every envelope in the file, and the
first one that fails is the one reported:

1. ``signature``      a signature verifies with the given key over the DSSE PAE
2. ``statement``      the payload is an in-toto Statement (v1 or v0.1) with a subject
3. ``subject``        a subject's sha256 equals the artifact's (when asked)
4. ``predicate-type`` the predicate type is one the caller accepts
5. ``verifier``       the VSA / decision was produced by the expected verifier
6. ``freshness``      the verification time is not in the future, nor older than --max-age
7. ``result``         PASSED / the verdict the caller expects
8. ``policy-digest``  the policy digest equals the one given (when asked)

A check that does not apply (no --digest given, a predicate with no
verifier) is reported as ``skip``; the file verifies when none fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from gate.attest.bundle import Signed, payload_json
from gate.attest.dsse import INTOTO_PAYLOAD_TYPE
from gate.attest.dsse import verify as dsse_verify
from gate.attest.keys import VerifyKey
from gate.attest.statement import DECISION_TYPE, STATEMENT_TYPES, VERIFIER_ID, VSA_TYPE

CHECKS = (
    "signature",
    "statement",
    "subject",
    "predicate-type",
    "verifier",
    "freshness",
    "result",
    "policy-digest",
)
VERDICTS = ("promote", "block", "manual-review", "any")
CLOCK_SKEW = timedelta(minutes=5)

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``24h``, ``7d``, ``1w``, or combinations like ``1h30m``."""
    compact = text.strip().lower().replace(" ", "")
    pos, seconds = 0, 0.0
    for match in _DURATION.finditer(compact):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not compact or pos != len(compact):
        raise ValueError(f"{text!r} is not a duration (examples: 90s, 30m, 24h, 7d, 1h30m)")
    return timedelta(seconds=seconds)


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime, or None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", text, re.IGNORECASE)
    if not match:
        return None
    fraction = (match.group(2) or ".0")[1:7].ljust(6, "0")
    zone = match.group(3).upper().replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(f"{match.group(1)}.{fraction}{zone}")
    except ValueError:
        return None


@dataclass(frozen=True)
class Options:
    """What the caller asks of the attestation."""

    key: VerifyKey | None
    """The public key the envelopes must be signed with (None: keyless, see identity)."""
    digest: str | None = None
    """Expected subject sha256 (hex), from --artifact or --digest."""
    max_age: timedelta | None = None
    """Oldest acceptable verification time."""
    expect_verdict: str = "promote"
    """promote (VSA PASSED), block or manual-review (VSA FAILED), or any."""
    policy_digest: str | None = None
    """Expected policy digest (hex)."""
    verifier_id: str = VERIFIER_ID
    """Expected verifier.id."""
    predicate_types: tuple[str, ...] = (VSA_TYPE, DECISION_TYPE)
    """Accepted predicate types."""
    now: datetime | None = None
    """The current time (tests pin it)."""
    identity: tuple[str, str] | None = None
    """Keyless: (certificate identity, OIDC issuer) the Sigstore bundles must be signed by."""
    staging: bool = False
    """Keyless: trust Sigstore's staging instance instead of production."""


@dataclass
class Check:
    """The outcome of one check."""

    name: str
    """One of CHECKS."""
    status: str
    """pass, fail or skip."""
    detail: str
    """One sentence."""

    def as_json(self) -> dict[str, str]:
        """JSON form."""
        return {"check": self.name, "status": self.status, "detail": self.detail}


@dataclass
class Result:
    """Every check, in order, and what the envelopes said."""

    checks: list[Check] = field(default_factory=list)
    """In CHECKS order; checks after the first failure still run where they can."""
    statements: list[dict[str, Any]] = field(default_factory=list)
    """Per envelope: predicate type and subject (from a verified payload only)."""

    @property
    def valid(self) -> bool:
        """True when no check failed."""
        return all(c.status != "fail" for c in self.checks)

    @property
    def failed(self) -> Check | None:
        """The first failing check."""
        return next((c for c in self.checks if c.status == "fail"), None)

    def as_json(self) -> dict[str, Any]:
        """JSON form (``-o json``)."""
        failed = self.failed
        return {
            "valid": self.valid,
            "failed_check": failed.name if failed else None,
            "detail": failed.detail if failed else "all checks passed",
            "checks": [c.as_json() for c in self.checks],
            "statements": self.statements,
        }


def _label(index: int, total: int) -> str:
    return f"envelope {index + 1}" if total > 1 else "the envelope"


def verify_attestations(signed: list[Signed], options: Options) -> Result:
    """Run every check over every envelope; see the module docstring for the order."""
    result = Result()
    total = len(signed)
    now = options.now or datetime.now(timezone.utc)

    # 1. signature: nothing in a payload is read before its signature verifies.
    signature = _signature_check(signed, options, total)
    result.checks.append(signature)
    if signature.status == "fail":
        return _rest_skipped(result, "signature")

    # 2. statement
    statements: list[dict[str, Any]] = []
    for index, item in enumerate(signed):
        problem = _statement_problem(item)
        if problem:
            result.checks.append(Check("statement", "fail", f"{_label(index, total)}: {problem}"))
            return _rest_skipped(result, "statement")
        statements.append(payload_json(item.envelope))
    result.checks.append(Check("statement", "pass", "in-toto Statement(s) with a subject"))
    result.statements = [
        {"predicateType": s.get("predicateType"), "subject": s.get("subject")} for s in statements
    ]

    result.checks.append(_subject_check(statements, options, total))
    result.checks.append(_type_check(statements, options, total))
    result.checks.append(_verifier_check(statements, options, total))
    result.checks.append(_freshness_check(statements, options, total, now))
    result.checks.append(_result_check(statements, options, total))
    result.checks.append(_policy_check(statements, options, total))
    return result


def _signature_check(signed: list[Signed], options: Options, total: int) -> Check:
    if options.key is not None:
        key = options.key
        bad = [i for i, s in enumerate(signed) if dsse_verify(s.envelope, key) is None]
        if bad:
            return Check(
                "signature",
                "fail",
                f"{_label(bad[0], total)} has no signature that verifies with {key.source} "
                f"(key id {key.keyid[:16]}): wrong key, or the payload was changed",
            )
        return Check(
            "signature", "pass", f"{total} envelope(s) signed by {key.source} (key id {key.keyid[:16]})"
        )
    if options.identity is None:
        raise ValueError("a key or a keyless identity is needed")
    identity, issuer = options.identity
    for index, item in enumerate(signed):
        problem = _keyless_problem(item, identity, issuer, options.staging)
        if problem:
            return Check("signature", "fail", f"{_label(index, total)}: {problem}")
    where = "staging" if options.staging else "production"
    return Check(
        "signature", "pass", f"{total} Sigstore bundle(s) signed by {identity} ({issuer}), {where} trust root"
    )


def _keyless_problem(item: Signed, identity: str, issuer: str, staging: bool) -> str | None:
    """None when the bundle verifies (certificate chain, transparency log, identity), else why not."""
    if item.bundle is None:
        return "a bare DSSE envelope carries no certificate: verify it with --key"
    import json

    from sigstore.errors import Error as SigstoreError
    from sigstore.models import Bundle, InvalidBundle
    from sigstore.verify import Verifier, policy

    try:
        bundle = Bundle.from_json(json.dumps(item.bundle))
        verifier = Verifier.staging(offline=True) if staging else Verifier.production(offline=True)
        payload_type, payload = verifier.verify_dsse(
            bundle, policy.Identity(identity=identity, issuer=issuer)
        )
    except (InvalidBundle, SigstoreError, ValueError) as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        return f"Sigstore verification failed: {lines[0] if lines else type(exc).__name__}"
    if payload_type != item.envelope.payload_type or payload != item.envelope.payload:
        return "the verified payload is not the envelope's"
    return None


def _rest_skipped(result: Result, after: str) -> Result:
    for name in CHECKS[CHECKS.index(after) + 1 :]:
        result.checks.append(Check(name, "skip", f"not checked: {after} failed"))
    return result


def _statement_problem(item: Signed) -> str | None:
    envelope = item.envelope
    if envelope.payload_type != INTOTO_PAYLOAD_TYPE:
        return f"payloadType is {envelope.payload_type!r}, not {INTOTO_PAYLOAD_TYPE!r}"
    try:
        statement = payload_json(envelope)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return "the payload is not JSON"
    if not isinstance(statement, dict):
        return "the payload is not a JSON object"
    if statement.get("_type") not in STATEMENT_TYPES:
        return f"_type is {statement.get('_type')!r}, not an in-toto Statement"
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or not subjects:
        return "the Statement has no subject"
    for subject in subjects:
        if (
            not isinstance(subject, dict)
            or not isinstance(subject.get("digest"), dict)
            or not subject["digest"]
        ):
            return "a subject has no digest"
    if not isinstance(statement.get("predicateType"), str):
        return "predicateType is missing"
    return None


def _subject_check(statements: list[dict[str, Any]], options: Options, total: int) -> Check:
    if options.digest is None:
        return Check("subject", "skip", "no --artifact or --digest given: the subject was not compared")
    for index, statement in enumerate(statements):
        digests = [s["digest"].get("sha256") for s in statement["subject"]]
        if options.digest not in digests:
            shown = ", ".join(f"sha256:{d}" for d in digests if isinstance(d, str)) or "no sha256 digest"
            return Check(
                "subject",
                "fail",
                f"{_label(index, total)} is about {shown}, not sha256:{options.digest}",
            )
    return Check("subject", "pass", f"subject digest is sha256:{options.digest}")


def _type_check(statements: list[dict[str, Any]], options: Options, total: int) -> Check:
    for index, statement in enumerate(statements):
        if statement["predicateType"] not in options.predicate_types:
            return Check(
                "predicate-type",
                "fail",
                f"{_label(index, total)} has predicate type {statement['predicateType']!r}; "
                f"accepted: {', '.join(options.predicate_types)}",
            )
    return Check("predicate-type", "pass", ", ".join(sorted({s["predicateType"] for s in statements})))


def _predicate(statement: dict[str, Any]) -> dict[str, Any]:
    predicate = statement.get("predicate")
    return predicate if isinstance(predicate, dict) else {}


def _verifier_check(statements: list[dict[str, Any]], options: Options, total: int) -> Check:
    checked = 0
    for index, statement in enumerate(statements):
        if statement["predicateType"] not in (VSA_TYPE, DECISION_TYPE):
            continue
        verifier = _predicate(statement).get("verifier")
        found = verifier.get("id") if isinstance(verifier, dict) else None
        if found != options.verifier_id:
            return Check(
                "verifier",
                "fail",
                f"{_label(index, total)} was verified by {found!r}, not {options.verifier_id!r} "
                "(--verifier-id names the one you trust)",
            )
        checked += 1
    if not checked:
        return Check("verifier", "skip", "no predicate that names a verifier")
    return Check("verifier", "pass", f"verifier.id is {options.verifier_id}")


def _time_of(statement: dict[str, Any]) -> tuple[str, Any] | None:
    predicate = _predicate(statement)
    if statement["predicateType"] == VSA_TYPE:
        return "timeVerified", predicate.get("timeVerified")
    if statement["predicateType"] == DECISION_TYPE:
        return "timestamp", predicate.get("timestamp")
    return None


def _freshness_check(statements: list[dict[str, Any]], options: Options, total: int, now: datetime) -> Check:
    oldest: datetime | None = None
    for index, statement in enumerate(statements):
        found = _time_of(statement)
        if found is None:
            continue
        name, value = found
        moment = parse_time(value)
        if moment is None:
            return Check(
                "freshness", "fail", f"{_label(index, total)}: {name} {value!r} is not an RFC 3339 time"
            )
        if moment > now + CLOCK_SKEW:
            return Check("freshness", "fail", f"{_label(index, total)}: {name} {value} is in the future")
        if options.max_age is not None and now - moment > options.max_age:
            age = now - moment
            return Check(
                "freshness",
                "fail",
                f"{_label(index, total)}: {name} {value} is {_human(age)} old, "
                f"older than --max-age {_human(options.max_age)}",
            )
        oldest = moment if oldest is None or moment < oldest else oldest
    if oldest is None:
        return Check("freshness", "skip", "no predicate with a verification time")
    if options.max_age is None:
        return Check("freshness", "pass", f"verified at {oldest.isoformat()} (no --max-age given)")
    return Check(
        "freshness", "pass", f"verified {_human(now - oldest)} ago, within {_human(options.max_age)}"
    )


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 3 * 86400:
        return f"{seconds // 86400}d"
    if seconds >= 3600:
        hours, rest = divmod(seconds, 3600)
        return f"{hours}h" + (f"{rest // 60}m" if rest >= 60 else "")
    if seconds >= 60:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def _result_check(statements: list[dict[str, Any]], options: Options, total: int) -> Check:
    expect = options.expect_verdict
    seen: list[str] = []
    for index, statement in enumerate(statements):
        predicate = _predicate(statement)
        if statement["predicateType"] == VSA_TYPE:
            found = predicate.get("verificationResult")
            wanted = {"promote": "PASSED", "block": "FAILED", "manual-review": "FAILED"}.get(expect)
            if wanted is not None and found != wanted:
                return Check(
                    "result",
                    "fail",
                    f"{_label(index, total)}: verificationResult is {found!r}, "
                    f"not {wanted!r} (--expect-verdict {expect})",
                )
            seen.append(f"verificationResult {found}")
        elif statement["predicateType"] == DECISION_TYPE:
            decision = predicate.get("decision")
            verdict = decision.get("verdict") if isinstance(decision, dict) else None
            if expect != "any" and verdict != expect:
                return Check(
                    "result", "fail", f"{_label(index, total)}: verdict is {verdict!r}, not {expect!r}"
                )
            seen.append(f"verdict {verdict}")
    if not seen:
        return Check("result", "skip", "no predicate with a result")
    return Check("result", "pass", ", ".join(seen))


def _policy_check(statements: list[dict[str, Any]], options: Options, total: int) -> Check:
    if options.policy_digest is None:
        return Check("policy-digest", "skip", "no --policy-digest given")
    checked = 0
    for index, statement in enumerate(statements):
        if statement["predicateType"] not in (VSA_TYPE, DECISION_TYPE):
            continue
        policy = _predicate(statement).get("policy")
        digest = policy.get("digest") if isinstance(policy, dict) else None
        found = digest.get("sha256") if isinstance(digest, dict) else None
        if found != options.policy_digest:
            return Check(
                "policy-digest",
                "fail",
                f"{_label(index, total)}: policy digest is sha256:{found}, "
                f"not sha256:{options.policy_digest}",
            )
        checked += 1
    if not checked:
        return Check("policy-digest", "fail", "no predicate records a policy digest")
    return Check("policy-digest", "pass", f"policy digest is sha256:{options.policy_digest}")
