"""Keyless signing through Sigstore: ambient OIDC token -> Fulcio certificate -> Rekor.

This needs a CI environment that hands out OIDC tokens (GitHub Actions with
``id-token: write``, GitLab CI ``SIGSTORE_ID_TOKEN``, Buildkite, CircleCI,
Google Cloud) and network access to Fulcio, Rekor and the Sigstore TUF
repository. Without them it fails with one line, never half-writes.
"""

from __future__ import annotations

import json
from typing import Any

from gate.attest.bundle import dumps_lines
from gate.errors import EXIT_INTERNAL, EXIT_USAGE, GateError


class NoCredential(GateError):
    """No ambient OIDC credential, or a broken one: nothing to sign with."""

    exit_code = EXIT_USAGE


class SigningError(GateError):
    """Sigstore signing failed after a credential was found (network, Fulcio, Rekor)."""

    exit_code = EXIT_INTERNAL


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def detect_token() -> str:
    """The ambient OIDC token, or NoCredential with one line saying why not."""
    try:
        from sigstore.oidc import IdentityError, detect_credential
    except ImportError:  # pragma: no cover - sigstore is a dependency
        raise SigningError("keyless signing needs sigstore-python (pip install sigstore)") from None
    try:
        token = detect_credential()
    except IdentityError as exc:
        raise NoCredential(
            f"--sign sigstore: ambient OIDC credential detection failed: {_one_line(exc)}"
        ) from None
    if not token:
        raise NoCredential(
            "--sign sigstore: no ambient OIDC credential found (GitHub Actions with id-token: write, "
            "GitLab CI SIGSTORE_ID_TOKEN, Buildkite, CircleCI, Google Cloud); sign with --key KEY instead"
        )
    return token


def identity_token() -> Any:
    """The ambient token parsed and checked (issuer, audience, expiry), without network use."""
    raw = detect_token()
    from sigstore.oidc import IdentityToken

    try:
        return IdentityToken(raw)
    except Exception as exc:  # sigstore raises its own types and ValueError for bad JWTs
        raise NoCredential(f"--sign sigstore: the ambient OIDC token is unusable: {_one_line(exc)}") from None


def sign_keyless(payloads: list[bytes], *, staging: bool = False) -> bytes:
    """One Sigstore bundle (DSSE, certificate, Rekor entry) per in-toto Statement, one per line."""
    token = identity_token()
    from sigstore.dsse import Statement
    from sigstore.models import ClientTrustConfig
    from sigstore.sign import SigningContext

    bundles: list[dict[str, Any]] = []
    try:
        config = ClientTrustConfig.staging() if staging else ClientTrustConfig.production()
        context = SigningContext.from_trust_config(config)
        with context.signer(token, cache=True) as signer:
            for payload in payloads:
                bundles.append(json.loads(signer.sign_dsse(Statement(payload)).to_json()))
    except Exception as exc:  # network, TUF, Fulcio and Rekor failures all end here
        raise SigningError(
            f"--sign sigstore: keyless signing failed: {type(exc).__name__}: {_one_line(exc)}"
        ) from None
    return dumps_lines(bundles)
