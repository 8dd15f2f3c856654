"""``gate bundle``: build and verify OPA bundles of gate's policies."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gate.cli.common import EXIT_CODES_HELP, policy_dir_option, profile_option, write
from gate.errors import EXIT_PROMOTE

BUILD_EPILOG = (
    """\b
examples:
  gate bundle build -o bundle.tar.gz --profile nim-promotion
  gate bundle build -o bundle.tar.gz --profile nim-promotion --signing-key key.pem --revision v1.2.0
  opa run --server --bundle bundle.tar.gz         # serve data.gate.main.decision from real OPA
  opa run --server --bundle bundle.tar.gz --verification-key pub.pem --verification-key-id default

The bundle holds every .rego file (unit tests too, so `opa test bundle.tar.gz`
runs them), data.json with gate.catalog and the profile as gate.config, and a
.manifest with its revision and roots ["gate"]. The same inputs give the same
bytes. With --signing-key it carries .signatures.json as OPA specifies.

"""
    + EXIT_CODES_HELP
)

VERIFY_EPILOG = (
    """\b
examples:
  gate bundle verify bundle.tar.gz --key pub.pem
  gate bundle verify bundle.tar.gz --key pub.pem --scope write

Checks, as OPA does before it activates a bundle: exactly one JWT in
.signatures.json, its signature under KEY, its scope, and that it lists
every file of the bundle (no more, no fewer) with a matching SHA-256.
Exit 0 when it verifies, 1 when it does not, 2 for an unreadable file.

"""
    + EXIT_CODES_HELP
)


@click.group("bundle", short_help="build and verify OPA bundles of gate's policies")
def bundle() -> None:
    """OPA bundles: gate's Rego and a profile, for real OPA sidecars."""


@bundle.command("build", epilog=BUILD_EPILOG, short_help="write an OPA bundle (.tar.gz)")
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path), metavar="FILE")
@profile_option(required=False)
@policy_dir_option
@click.option("--revision", default="", metavar="R", help="manifest revision (default: derived from content)")
@click.option("--signing-key", metavar="KEY", help="PEM private key (EC P-256 or RSA) to sign the bundle")
@click.option(
    "--signing-alg",
    default="",
    metavar="ALG",
    help="JWT algorithm (default: ES256 for EC P-256 keys, RS256 for RSA keys)",
)
@click.option("--keyid", default="default", show_default=True, help="key id written as the JWT kid")
@click.option("--scope", default="", help="optional scope claim of the signature")
def build(
    output: Path,
    profile: str | None,
    policy_dir: Path | None,
    revision: str,
    signing_key: str | None,
    signing_alg: str,
    keyid: str,
    scope: str,
) -> int:
    """Build an OPA bundle from the policies and a profile."""
    from gate.bundle.build import BundleSpec, build_bundle, write_bundle
    from gate.bundle.sign import load_private_key
    from gate.profile import load_profile
    from gate.resources import rego_dir

    loaded = load_profile(profile) if profile else None
    key = load_private_key(signing_key) if signing_key else None
    spec = BundleSpec(
        policy_root=policy_dir or rego_dir(),
        profile=loaded,
        revision=revision,
        signing_key=key,
        signing_algorithm=signing_alg,
        keyid=keyid,
        scope=scope,
    )
    data = build_bundle(spec)
    write_bundle(output, data)
    if loaded is None:
        print(
            "gate: note: no --profile: the bundle carries no gate.config, so its decisions "
            "block with profile_missing until one is loaded",
            file=sys.stderr,
        )
    signed = f", signed ({key and spec.keyid})" if key is not None else ", unsigned"
    write(f"wrote {output} ({len(data)} bytes{signed})\n")
    return EXIT_PROMOTE


@bundle.command("verify", epilog=VERIFY_EPILOG, short_help="verify a signed OPA bundle")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--key", "key", required=True, metavar="PUB", help="PEM public key (or certificate)")
@click.option("--scope", default="", help="the scope the signature must carry (default: none)")
def verify(path: Path, key: str, scope: str) -> int:
    """Verify BUNDLE's .signatures.json and every file it covers."""
    from gate.bundle.verify import verify_file

    contents, verified = verify_file(path, key, scope=scope)
    revision = contents.manifest.get("revision", "")
    write(
        f"verified {path}: {len(verified.files)} files, {verified.algorithm}, "
        f"kid {verified.keyid or '-'}, revision {revision or '-'}\n"
    )
    return EXIT_PROMOTE
