"""Signed approval and exception statements: who approved is cryptographic, not a string.

An approval is an in-toto Statement v1 whose subject is ``NAME@VERSION`` with
the artifact's sha256 and whose predicate (``https://gate.dev/approval/v1``)
names the approver, the role and the time; an exception
(``https://gate.dev/exception/v1``) also names one reason code, an end date
and why; a skill revocation (``https://gate.dev/revocation/v1``) names the
revoker, the revocation role and the reason instead of an approver. Each is
a DSSE envelope signed with gate's keys (``gate keygen``).

The statements match ``schemas/approval-statement.schema.json`` and
``schemas/exception-statement.schema.json``. ``verify_statement`` checks an
envelope's statement against its schema and the signature against the public key the profile
lists for the person it names (``lifecycle.people.<id>.public_key``) and
returns the evidence record the lifecycle policy reads: it never decides
whether the approval counts (role held, version, digest, expiry,
self-approval are Rego's).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from gate import schemas
from gate.attest import dsse
from gate.attest.keys import SigningKey, VerifyKey, keyid_of
from gate.attest.sign import statement_bytes

APPROVAL_TYPE = "https://gate.dev/approval/v1"
EXCEPTION_TYPE = "https://gate.dev/exception/v1"
REVOCATION_TYPE = "https://gate.dev/revocation/v1"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
TYPES = {"approval": APPROVAL_TYPE, "exception": EXCEPTION_TYPE, "revocation": REVOCATION_TYPE}
# The predicate field naming the person who signs (and whose listed key must verify it).
PERSON = {"approval": "approver", "exception": "approver", "revocation": "revoker"}


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_statement(
    kind: str,
    *,
    name: str,
    version: str,
    digest: str,
    approver: str,
    role: str,
    signed_at: str | None = None,
    code: str | None = None,
    until: str | None = None,
    why: str | None = None,
) -> dict[str, Any]:
    predicate: dict[str, Any] = {
        PERSON[kind]: approver,
        "role": role,
        "version": version,
        "signed_at": signed_at or _now(),
    }
    if kind == "exception":
        predicate.update({"code": code, "until": until, "why": why})
    if kind == "revocation":
        predicate["reason"] = why
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": f"{name}@{version}", "digest": {"sha256": digest.removeprefix("sha256:")}}],
        "predicateType": TYPES[kind],
        "predicate": predicate,
    }


def sign_statement(statement: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    """The DSSE envelope (JSON form) of *statement* signed by *key*."""
    return dsse.sign(dsse.INTOTO_PAYLOAD_TYPE, statement_bytes(statement), key).to_json()


def profile_key(entries: dict[str, Any], who: str, where: str = "lifecycle.people") -> VerifyKey | None:
    """The public key the profile lists for *who* under *where* (None: none, or not a PEM key)."""
    from cryptography.hazmat.primitives import serialization

    pem = (entries.get(who) or {}).get("public_key")
    if not isinstance(pem, str):
        return None
    try:
        public = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError):
        return None
    return VerifyKey(public, keyid_of(public), f"profile {where}.{who}")  # type: ignore[arg-type]


class StatementVerifier:
    """``verify_statement`` for many statements: each person's key parsed once, each distinct
    envelope (by its sha256) verified once."""

    def __init__(self, people: dict[str, Any]) -> None:
        self.people = people
        self._keys: dict[str, VerifyKey | None] = {}
        self._done: dict[tuple[str, str], dict[str, Any]] = {}

    def __call__(self, envelope_json: Any, kind: str, sha256: str) -> dict[str, Any]:
        found = self._done.get((kind, sha256))
        if found is None:
            found = verify_statement(envelope_json, kind, self.people, self._keys)
            self._done[(kind, sha256)] = found
        return dict(found)


def verify_statement(
    envelope_json: Any,
    kind: str,
    people: dict[str, Any],
    keys: dict[str, VerifyKey | None] | None = None,
) -> dict[str, Any]:
    """The evidence record of one stored statement (``verified`` false with ``error`` when it is not).

    *keys* caches each person's parsed public key across calls."""
    try:
        envelope = dsse.Envelope.from_json(envelope_json)
        statement = json.loads(envelope.payload)
        predicate = statement["predicate"]
        subject = statement["subject"][0]
    except (dsse.EnvelopeError, ValueError, KeyError, IndexError, TypeError) as exc:
        return {"verified": False, "error": f"not a signed {kind} statement: {str(exc)[:200]}"}
    approver = str(predicate.get(PERSON[kind], ""))[:256]
    record: dict[str, Any] = {
        "role": str(predicate.get("role", ""))[:64],
        PERSON[kind]: approver,
        "digest": "sha256:" + str(subject.get("digest", {}).get("sha256", ""))[:64],
        "version": str(predicate.get("version", ""))[:128],
        "signed_at": str(predicate.get("signed_at", ""))[:64],
    }
    if kind == "exception":
        record.update(
            {
                "code": str(predicate.get("code", ""))[:64],
                "until": str(predicate.get("until", ""))[:64],
                "why": str(predicate.get("why", ""))[:2048],
            }
        )
    if kind == "revocation":
        record["reason"] = str(predicate.get("reason", ""))[:2048]
    if statement.get("predicateType") != TYPES[kind]:
        return {**record, "verified": False, "error": f"predicate type is not {TYPES[kind]}"}
    problems = schemas.problems(f"{kind}-statement", statement)
    if problems:
        why = f"the statement does not match schemas/{kind}-statement.schema.json: {problems[0]}"
        return {**record, "verified": False, "error": why[:500]}
    if keys is None:
        key = profile_key(people, approver)
    else:
        if approver not in keys:
            keys[approver] = profile_key(people, approver)
        key = keys[approver]
    if key is None:
        return {**record, "verified": False, "error": f"the profile lists no public key for {approver!r}"}
    if dsse.verify(envelope, key) is None:
        return {
            **record,
            "verified": False,
            "error": f"the signature does not verify with the key listed for {approver}",
        }
    return {**record, "verified": True, "keyid": key.keyid}
