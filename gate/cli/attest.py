"""``gate attest``: verify signed attestations; print a policy digest."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import click

from gate.cli.common import engine_option, output_option, policy_dir_option, profile_option, write
from gate.errors import EXIT_BLOCK, EXIT_PROMOTE, InputError, UsageError

VERIFY_EPILOG = """\b
examples:
  gate attest verify decision.intoto.jsonl --key gate.pub --digest sha256:7f3b... --max-age 24h
  gate attest verify decision.intoto.jsonl --key gate.pub --expect-verdict any -o json
  gate attest verify vsa.dsse.jsonl --key vendor.pem --verifier-id https://vendor.example/verifier
  gate attest verify keyless.sigstore.jsonl \
      --certificate-oidc-issuer https://token.actions.githubusercontent.com \
      --certificate-identity https://github.com/org/repo/.github/workflows/gate.yml@refs/heads/main

\b
checks, in this order (the first failure is named, exit 1):
  signature       a signature verifies with --key over the DSSE pre-authentication encoding, or
                  (keyless) each Sigstore bundle verifies offline against the Sigstore trust root,
                  its transparency-log entry, and the certificate identity and issuer given
  statement       the payload is an in-toto Statement with a subject
  subject         a subject's sha256 is the artifact's (--artifact or --digest)
  predicate-type  SLSA VSA v1 or gate's decision predicate (or --type)
  verifier        verifier.id is gate's (or --verifier-id)
  freshness       the verification time is not in the future, nor older than --max-age
  result          VSA PASSED and verdict promote (or --expect-verdict)
  policy-digest   the policy digest is --policy-digest (when given)

\b
exit codes:
  0  every check passed
  1  a check failed (named on the last line)
  2  bad usage, or a file or key that is unreadable or not an attestation
"""


@click.group("attest", short_help="verify signed attestations")
def attest() -> None:
    """Signed attestations: gate eval --attest writes them, gate attest verify checks them."""


def _sha256_arg(value: str | None, option: str) -> str | None:
    if value is None:
        return None
    text = value.strip().lower()
    text = text.removeprefix("sha256:")
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise UsageError(f"{option} {value!r}: expected sha256:<64 hex digits>")
    return text


def _file_sha256(path: Path) -> str:
    if path.is_dir():
        raise UsageError(f"--artifact {path}: a directory; give its digest with --digest sha256:...")
    from gate.fsutil import open_regular

    digest = hashlib.sha256()
    fd, _ = open_regular(str(path))  # a FIFO or device: one line, exit 2, never a hang
    try:
        with os.fdopen(fd, "rb", closefd=False) as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    return digest.hexdigest()


@attest.command("verify", epilog=VERIFY_EPILOG, short_help="check a signed attestation")
@click.argument("file", metavar="FILE")
@click.option("--key", "key_spec", metavar="PUB", help="public key or certificate (PEM file or env://VAR)")
@click.option(
    "--certificate-identity",
    metavar="ID",
    help="keyless: the signer identity (SAN) the Sigstore bundles' certificates must carry",
)
@click.option(
    "--certificate-oidc-issuer", metavar="URL", help="keyless: the OIDC issuer the certificates must carry"
)
@click.option("--staging", is_flag=True, help="keyless: trust Sigstore's staging instance (testing only)")
@click.option(
    "--artifact",
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="the artifact file: its sha256 must be a subject",
)
@click.option("--digest", metavar="sha256:HEX", help="the artifact digest that must be a subject")
@click.option("--max-age", metavar="DURATION", help="oldest acceptable verification time, e.g. 24h, 30m, 7d")
@click.option(
    "--expect-verdict",
    type=click.Choice(["promote", "block", "manual-review", "any"]),
    default="promote",
    show_default=True,
    help="the verdict the decision must carry (promote = VSA PASSED)",
)
@click.option(
    "--policy-digest", metavar="sha256:HEX", help="the policy digest the decision must have been made under"
)
@click.option("--verifier-id", metavar="ID", help="the verifier.id you trust (default: gate's)")
@click.option(
    "--type",
    "types",
    multiple=True,
    metavar="URI",
    help="accepted predicate type (repeatable; default: VSA and gate's)",
)
@output_option()
def verify(
    file: str,
    key_spec: str | None,
    certificate_identity: str | None,
    certificate_oidc_issuer: str | None,
    staging: bool,
    artifact: Path | None,
    digest: str | None,
    max_age: str | None,
    expect_verdict: str,
    policy_digest: str | None,
    verifier_id: str | None,
    types: tuple[str, ...],
    output: str,
) -> int:
    """Check an attestation file (DSSE or Sigstore bundle, one or more per line)."""
    from gate.attest.bundle import AttestationFileError, parse_attestations
    from gate.attest.keys import load_verify_key
    from gate.attest.statement import DECISION_TYPE, VERIFIER_ID, VSA_TYPE
    from gate.attest.verify import Options, parse_duration, verify_attestations
    from gate.document import read_bytes

    if artifact is not None and digest is not None:
        raise UsageError("give --artifact or --digest, not both")
    expected = _file_sha256(artifact) if artifact is not None else _sha256_arg(digest, "--digest")
    try:
        age = parse_duration(max_age) if max_age is not None else None
    except ValueError as exc:
        raise UsageError(f"--max-age: {exc}") from None
    keyless = certificate_identity is not None or certificate_oidc_issuer is not None
    if key_spec and keyless:
        raise UsageError("give --key, or --certificate-identity with --certificate-oidc-issuer, not both")
    if not key_spec and not (certificate_identity and certificate_oidc_issuer):
        raise UsageError(
            "give --key PUB, or --certificate-identity ID and --certificate-oidc-issuer URL "
            "for keyless bundles"
        )
    key = load_verify_key(key_spec) if key_spec else None
    if keyless:
        import logging

        # sigstore-python announces offline TUF mode on stderr; offline is the point here.
        logging.getLogger("sigstore").setLevel(logging.ERROR)
    data = read_bytes(file)
    try:
        signed = parse_attestations(data)
    except AttestationFileError as exc:
        raise InputError(f"{file}: {exc}") from None
    accepted = types or (VSA_TYPE, DECISION_TYPE)
    options = Options(
        key=key,
        digest=expected,
        max_age=age,
        expect_verdict=expect_verdict,
        policy_digest=_sha256_arg(policy_digest, "--policy-digest"),
        verifier_id=verifier_id or VERIFIER_ID,
        predicate_types=accepted,
        identity=(certificate_identity, certificate_oidc_issuer)
        if certificate_identity and certificate_oidc_issuer
        else None,
        staging=staging,
    )
    result = verify_attestations(signed, options)
    if output == "json":
        write(json.dumps({"file": file, **result.as_json()}, indent=2) + "\n")
    else:
        lines = [f"{c.status.upper():4}  {c.name:14}  {c.detail}" for c in result.checks]
        failed = result.failed
        lines.append(
            f"{file}: verified" if failed is None else f"{file}: NOT verified: {failed.name} check failed"
        )
        write("\n".join(lines) + "\n")
    return EXIT_PROMOTE if result.valid else EXIT_BLOCK


@attest.command("policy-digest", short_help="print the policy digest a profile evaluates under")
@profile_option()
@policy_dir_option
@engine_option
def policy_digest_command(profile: str, policy_dir: Path | None, engine: str) -> int:
    """Print sha256:<digest> of the Rego modules and profile, as attestations record it.

    Use it with gate attest verify --policy-digest to accept only decisions
    made under a reviewed policy.
    """
    from gate.attest.statement import policy_digest
    from gate.policy import load_policies
    from gate.profile import check_against_policies, load_profile
    from gate.resources import rego_dir

    loaded = load_profile(profile)
    policies = load_policies(policy_dir or rego_dir())
    check_against_policies(loaded, policies)
    write(f"sha256:{policy_digest(policies, loaded).sha256}\n")
    return EXIT_PROMOTE
