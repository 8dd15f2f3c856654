"""Decision -> signed attestation file (DSSE JSON Lines or Sigstore bundles)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from gate.attest import dsse
from gate.attest.bundle import dumps_lines, to_bundle
from gate.attest.keys import SigningKey
from gate.attest.statement import DecisionRecord, build_statements

FORMATS = ("dsse", "sigstore-bundle")


def statement_bytes(statement: dict[str, Any]) -> bytes:
    """The payload bytes: compact JSON, keys sorted, UTF-8."""
    return json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign_statements(statements: list[dict[str, Any]], key: SigningKey, fmt: str = "dsse") -> bytes:
    """One signed envelope per Statement, one per line, in *fmt*."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown attestation format {fmt!r}")
    envelopes = [dsse.sign(dsse.INTOTO_PAYLOAD_TYPE, statement_bytes(s), key) for s in statements]
    if fmt == "dsse":
        return dumps_lines([e.to_json() for e in envelopes])
    return dumps_lines([to_bundle(e, key.keyid) for e in envelopes])


def attest_decision(
    record: DecisionRecord,
    *,
    key: SigningKey | None,
    fmt: str = "dsse",
    keyless: bool = False,
    now: datetime | None = None,
) -> bytes:
    """The attestation file for one decision: VSA first, gate's predicate second.

    With *keyless*, each Statement is signed through Sigstore (Fulcio
    certificate from ambient OIDC credentials, Rekor entry) and written as
    a Sigstore bundle; otherwise *key* signs.
    """
    statements = list(build_statements(record, now=now))
    if keyless:
        from gate.attest.keyless import sign_keyless

        return sign_keyless([statement_bytes(s) for s in statements])
    if key is None:
        raise ValueError("a signing key is needed unless signing keyless")
    return sign_statements(statements, key, fmt)
