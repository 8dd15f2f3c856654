"""What ``gate eval`` records about a decision: a signed attestation and an audit event.

Two pieces, so the eval command stays small: ``record_options`` adds the
options (and loads the key before anything is evaluated, so a bad key
fails fast), and ``record_decision`` is called once the decision is
printed.
"""

from __future__ import annotations

import functools
import getpass
import hashlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from gate.errors import GateError, UsageError

if TYPE_CHECKING:
    from gate.attest.keys import SigningKey
    from gate.decide import Decider
    from gate.engine.interface import JsonDocument

F = TypeVar("F", bound=Callable[..., Any])

_META = "gate.record"


@dataclass(frozen=True)
class Recorder:
    """What to record for the decision about to be made."""

    attest: Path | None
    """Where to write the attestation."""
    key: SigningKey | None
    """The signing key (None for keyless)."""
    fmt: str
    """dsse or sigstore-bundle."""
    keyless: bool
    """Sign through Sigstore instead of with a key."""
    actor: str | None
    """Who asked (--actor, GATE_ACTOR, operator.name, or the login name)."""
    audit_log: Path | None = None
    """Where to append the decision event."""


def passphrase_from(env_var: str | None) -> Callable[[str], bytes] | None:
    """A passphrase source: the named environment variable, else a terminal prompt, else none."""
    if env_var:

        def from_env(source: str) -> bytes:
            value = os.environ.get(env_var)
            if value is None:
                raise UsageError(f"--key-passphrase-env {env_var}: the environment variable is not set")
            return value.encode("utf-8")

        return from_env
    if sys.stdin.isatty():

        def ask(source: str) -> bytes:
            return str(click.prompt(f"Passphrase for {source}", hide_input=True)).encode("utf-8")

        return ask
    return None


def load_key(spec: str, passphrase_env: str | None) -> SigningKey:
    """The signing key named on the command line (path or env://VAR)."""
    from gate.attest.keys import load_signing_key

    return load_signing_key(spec, prompt=passphrase_from(passphrase_env))


def key_options(f: F) -> F:
    """``--key KEY`` and ``--key-passphrase-env VAR``."""
    f = click.option(
        "--key-passphrase-env",
        metavar="VAR",
        help="environment variable holding the key's passphrase (else a terminal prompt)",
    )(f)
    return click.option(
        "--key",
        "key_spec",
        metavar="KEY",
        help="ECDSA P-256 private key: a PEM file (gate keygen) or env://VAR holding the PEM",
    )(f)


def record_options(f: F) -> F:
    """Add --attest/--key/... to a command; the key is loaded before the command runs."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        attest: Path | None = kwargs.pop("attest")
        key_spec: str | None = kwargs.pop("key_spec")
        passphrase_env: str | None = kwargs.pop("key_passphrase_env")
        fmt: str = kwargs.pop("attest_format")
        sign: str = kwargs.pop("sign")
        actor: str | None = kwargs.pop("actor")
        audit_log: Path | None = kwargs.pop("audit_log")
        keyless = sign == "sigstore"
        if attest is None and keyless:
            raise UsageError("--sign sigstore needs --attest FILE (where to write the attestation)")
        if attest is None and audit_log is None and key_spec:
            raise UsageError("--key needs --attest FILE or --audit-log PATH (what to sign)")
        if attest is not None and not keyless and not key_spec:
            raise UsageError("--attest needs --key KEY (or --sign sigstore for keyless signing)")
        if keyless and key_spec:
            raise UsageError("--sign sigstore signs keyless: leave out --key")
        if attest is not None and not (attest.parent if str(attest.parent) else Path(".")).is_dir():
            raise UsageError(f"--attest {attest}: directory {attest.parent} does not exist")
        key = load_key(key_spec, passphrase_env) if key_spec else None
        if keyless:
            from gate.attest.keyless import identity_token

            identity_token()  # fail before evaluating when there is no usable credential
            fmt = "sigstore-bundle"
        if audit_log is not None:
            from gate.audit.log import AuditLog

            AuditLog(audit_log).tail()  # refuse a torn or corrupt log before deciding anything
        click.get_current_context().meta[_META] = Recorder(attest, key, fmt, keyless, actor, audit_log)
        return f(*args, **kwargs)

    options = [
        click.option(
            "--audit-log",
            type=click.Path(path_type=Path, dir_okay=False),
            metavar="PATH",
            help="append the decision to this hash-chained audit log (input kept in inputs/ beside it)",
        ),
        click.option(
            "--actor", metavar="NAME", help="who asks for this decision (recorded; default: login name)"
        ),
        click.option(
            "--sign",
            type=click.Choice(["key", "sigstore"]),
            default="key",
            show_default=True,
            help="sign with --key, or keyless through Sigstore with ambient OIDC credentials (CI)",
        ),
        click.option(
            "--attest-format",
            type=click.Choice(["dsse", "sigstore-bundle"]),
            default="dsse",
            show_default=True,
            help="DSSE envelopes or Sigstore bundles (v0.3), one per line",
        ),
        key_options,
        click.option(
            "--attest",
            type=click.Path(path_type=Path, dir_okay=False),
            metavar="FILE",
            help="write a signed attestation (SLSA VSA + gate decision) for any verdict",
        ),
    ]
    decorated: Any = wrapper
    for option in options:
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]


def _actor(recorder: Recorder, document: Any) -> str | None:
    if recorder.actor:
        return recorder.actor
    if os.environ.get("GATE_ACTOR"):
        return os.environ["GATE_ACTOR"]
    operator = document.get("operator") if isinstance(document, dict) else None
    name = operator.get("name") if isinstance(operator, dict) else None
    if isinstance(name, str) and name:
        return name
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None


def record_decision(decider: Decider, document: JsonDocument, decision: dict[str, Any]) -> None:
    """Write the attestation the options asked for (nothing when none were given)."""
    ctx = click.get_current_context()
    recorder: Recorder | None = ctx.meta.get(_META)
    if recorder is None or (recorder.attest is None and recorder.audit_log is None):
        return
    from gate.attest.sign import attest_decision
    from gate.attest.statement import DecisionRecord, policy_digest
    from gate.audit.log import AuditLog
    from gate.fsutil import write_atomic

    cve_delta = None
    if decider.profile.settings.get("policy") == "container":
        try:
            cve_delta = decider.engine.evaluate("data.gate.container.cve_delta", document)
        except GateError:  # undefined (no usable scans), or a backend that does not answer it
            cve_delta = None
    record = DecisionRecord(
        document=document,
        decision=decision,
        policy=policy_digest(decider.policies, decider.profile),
        # With --opa-url the sidecar decided (under the same profile, which
        # Decider checks); the policy digest is that of the local policy copy.
        engine="opa-sidecar" if ctx.params.get("opa_url") else str(ctx.params.get("engine") or "regorus"),
        cve_delta=cve_delta,
        actor=_actor(recorder, document.value),
    )
    attestation_digest = None
    if recorder.attest is not None:
        data = attest_decision(record, key=recorder.key, fmt=recorder.fmt, keyless=recorder.keyless)
        write_atomic(recorder.attest, data)
        attestation_digest = "sha256:" + hashlib.sha256(data).hexdigest()
    if recorder.audit_log is not None:
        from gate.audit.events import record_decision_event

        record_decision_event(
            AuditLog(recorder.audit_log, key=recorder.key), record, attestation_digest, recorder.attest
        )
