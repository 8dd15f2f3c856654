"""``gate keygen``: an ECDSA P-256 key pair for signing attestations and audit checkpoints."""

from __future__ import annotations

import os

import click

from gate.cli.common import write
from gate.errors import EXIT_PROMOTE, UsageError

KEYGEN_EPILOG = """\b
examples:
  gate keygen --out gate                       writes gate.key (0600) and gate.pub
  GATE_PASS=... gate keygen --out ci/gate --passphrase-env GATE_PASS
  gate eval ... --attest out.intoto.jsonl --key gate.key
  gate attest verify out.intoto.jsonl --key gate.pub

The key id printed is the hex sha256 of the public key's DER
SubjectPublicKeyInfo; envelopes name it in signatures[].keyid.
"""


@click.command("keygen", epilog=KEYGEN_EPILOG, short_help="create a signing key pair")
@click.option(
    "--out",
    "prefix",
    default="gate",
    show_default=True,
    metavar="PREFIX",
    help="write PREFIX.key and PREFIX.pub",
)
@click.option(
    "--passphrase-env", metavar="VAR", help="encrypt the private key with the passphrase in this variable"
)
@click.option("--force", is_flag=True, help="overwrite existing files")
def keygen(prefix: str, passphrase_env: str | None, force: bool) -> int:
    """Create an ECDSA P-256 key pair: PREFIX.key (PKCS#8 PEM, mode 0600) and PREFIX.pub."""
    from gate.attest.keys import generate_key, write_keypair

    passphrase = None
    if passphrase_env:
        value = os.environ.get(passphrase_env)
        if not value:
            raise UsageError(
                f"--passphrase-env {passphrase_env}: the environment variable is not set or empty"
            )
        passphrase = value.encode("utf-8")
    key = generate_key()
    private_path, public_path = write_keypair(prefix, key, passphrase, force=force)
    state = "encrypted" if passphrase else "unencrypted"
    write(
        f"private key: {private_path} ({state}, mode 0600)\n"
        f"public key:  {public_path}\nkey id:      {key.keyid}\n"
    )
    return EXIT_PROMOTE
