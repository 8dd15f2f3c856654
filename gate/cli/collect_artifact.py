"""``gate collect artifact``: the input document for a model file or directory."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from gate.cli.common import EXIT_CODES_HELP, profile_option

F = TypeVar("F", bound=Callable[..., Any])

COLLECT_EPILOG = (
    """\b
examples:
  gate collect artifact ./model.safetensors --source-url https://huggingface.co/org/model \\
      --lock models.lock.yaml --profile standalone -o input.json
  gate collect artifact ./model-dir/ --profile appliance --signature model.sig --identity me@example.org \\
      --issuer https://accounts.example.org

Every file is hashed in one streaming read and parsed by content; nothing is
decided here: gate eval --input input.json decides. Without --source-url
the artifact is a local import.

"""
    + EXIT_CODES_HELP
)


def artifact_options(f: F) -> F:
    """The options that describe a model artifact (shared by gate eval --artifact)."""
    options = [
        click.option(
            "--source-url", metavar="URL", help="where the artifact was fetched from (absent: a local import)"
        ),
        click.option("--revision", metavar="REV", help="source revision (commit) that was fetched"),
        click.option("--lock", metavar="FILE", help="models.lock.yaml with pinned sha256 digests"),
        click.option(
            "--allowlist", metavar="FILE", help="sources.allowlist.yaml (default: the profile's allowlist)"
        ),
        click.option(
            "--signature",
            metavar="FILE",
            help="OpenSSF model-signing signature (Sigstore bundle) over the file or directory",
        ),
        click.option("--public-key", metavar="FILE", help="PEM public key for a key-signed model"),
        click.option(
            "--certificate", metavar="FILE", help="PEM certificate chain for a certificate-signed model"
        ),
        click.option(
            "--trusted-root", metavar="FILE", help="Sigstore trusted_root.json (default: the bundled one)"
        ),
        click.option(
            "--identity", metavar="ID", help="accept this signer identity (in addition to the profile's)"
        ),
        click.option(
            "--issuer", metavar="URL", help="accept this OIDC issuer (in addition to the profile's)"
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def build_request(path: str, options: dict[str, Any]) -> Any:
    """An admission request from the command-line options."""
    from gate.evidence.admission import Request

    return Request(path=path, **{k: options.get(k) for k in _REQUEST_FIELDS})


_REQUEST_FIELDS = (
    "source_url",
    "revision",
    "lock",
    "allowlist",
    "signature",
    "public_key",
    "certificate",
    "trusted_root",
    "identity",
    "issuer",
)


def collect_with_progress(request: Any, profile: Any) -> dict[str, Any]:
    """Collect the document, with a progress bar on stderr when it is a terminal."""
    from gate.evidence.admission import collect_document

    if not sys.stderr.isatty():
        result: dict[str, Any] = collect_document(request, profile)
        return result
    bars: list[Any] = []

    def start(total: int) -> Callable[[int], None]:
        bar = click.progressbar(length=total, label="hashing and scanning", file=sys.stderr, width=30)
        bar.__enter__()
        bars.append(bar)
        return bar.update

    try:
        result = collect_document(request, profile, progress=start)
    finally:
        for bar in bars:
            bar.__exit__(None, None, None)
    return result


def write_document(document: dict[str, Any], output: str | None) -> None:
    """Write the document to a file atomically, or to standard output."""
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if output is None or output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from gate.fsutil import write_atomic

    write_atomic(Path(output), text.encode("utf-8"))


@click.command("artifact", epilog=COLLECT_EPILOG, short_help="input document for a model file or directory")
@click.argument("path", metavar="PATH")
@artifact_options
@profile_option()
@click.option(
    "-o", "--output", "output_file", metavar="FILE", help="write the document here (default: stdout)"
)
def artifact(path: str, profile: str, output_file: str | None, **options: Any) -> int:
    """Hash, parse and record a model file or directory (never deciding)."""
    from gate.profile import load_profile

    loaded = load_profile(profile)
    document = collect_with_progress(build_request(path, options), loaded)
    write_document(document, output_file)
    return 0
