"""``gate collect container REF``: the input document for a container image.

The container options live in one decorator (``container_options``) that
``gate eval --image`` uses too, so both commands read them the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from gate.cli.common import profile_option
from gate.errors import EngineError, InputError

F = TypeVar("F", bound=Callable[..., Any])

COLLECT_EPILOG = """\b
examples:
  gate collect container nvcr.io/nim/meta/llama-3.3-70b:1.5.0 \\
      --pin sha256:... --prod-digest sha256:... \\
      --identity https://github.com/nvidia/nim-builder/.github/workflows/release.yml@refs/tags/v1.5.0 \\
      --issuer https://token.actions.githubusercontent.com \\
      --mode runtime --profile nim-promotion > input.json
  gate collect container REF ... --grype-report cand.json --baseline-report prod.json -o input.json

Without --mode runtime nothing on the network is contacted: the registry
sections record that they were not collected, report files are read, and
the decision on such a document is never promote. In runtime mode gate
contacts only the image's registry, the token service it names, and the
hosts in the profile's container.egress; every host is recorded in
collection.egress_hosts_contacted.

Credentials: GATE_REGISTRY_USERNAME/GATE_REGISTRY_PASSWORD, NGC_API_KEY (for
nvcr.io), or the docker config (auths, credHelpers, credsStore). They are
never printed or recorded.

\b
exit codes:
  0  the document was written (evidence failures are recorded in it)
  2  bad usage, or an unreadable profile or file
  4  internal error
"""


def container_options(f: F) -> F:
    """Every option of a container collection except the image reference (``gate collect container``)."""
    return _with_options(f, ("--key", "--cosign-key"))


def eval_container_options(f: F) -> F:
    """The container options for ``gate eval --image``.

    There ``--key`` is the attestation signing key, so the cosign public key
    is ``--cosign-key``; ``--identity``, ``--issuer`` and ``--trusted-root``
    are left out because ``gate eval`` already has them (shared with
    ``--artifact``).
    """
    return _with_options(f, ("--cosign-key",), shared=False)


SHARED_OPTIONS = ("identity", "issuer", "trusted_root")
"""Container options that ``gate eval`` shares with ``--artifact``."""


def _with_options(f: F, key_flags: tuple[str, ...], shared: bool = True) -> F:
    options = [
        click.option(
            "--pin", default="", metavar="DIGEST", help="expected digest: sha256:... or REF@sha256:..."
        ),
        click.option(
            "--prod-digest", default="", metavar="DIGEST", help="digest now in production (CVE baseline)"
        ),
        *(
            [
                click.option(
                    "--identity", default="", metavar="SAN", help="expected signer identity, matched exactly"
                ),
                click.option(
                    "--issuer", default="", metavar="URL", help="expected OIDC issuer, matched exactly"
                ),
            ]
            if shared
            else []
        ),
        click.option(
            "--identity-regexp", default="", metavar="RE", help="signer identity as a regular expression"
        ),
        click.option("--issuer-regexp", default="", metavar="RE", help="OIDC issuer as a regular expression"),
        click.option(
            "--mode",
            default="static",
            show_default=True,
            metavar="static|runtime",
            help="runtime contacts the registry; static (dry run) contacts nothing and never promotes",
        ),
        click.option(
            "--grype-report",
            type=click.Path(path_type=Path, dir_okay=False),
            metavar="FILE",
            help="grype or Trivy JSON report of the candidate",
        ),
        click.option(
            "--baseline-report",
            type=click.Path(path_type=Path, dir_okay=False),
            metavar="FILE",
            help="grype or Trivy JSON report of current production",
        ),
        *(
            [
                click.option(
                    "--trusted-root",
                    type=click.Path(path_type=Path, dir_okay=False),
                    metavar="FILE",
                    help="Sigstore trusted_root.json (default: the production trust root, offline)",
                )
            ]
            if shared
            else []
        ),
        click.option(
            *key_flags,
            "keys",
            multiple=True,
            type=click.Path(path_type=Path, dir_okay=False),
            metavar="FILE",
            help="cosign public key (PEM) for key-based signatures; repeatable",
        ),
        click.option(
            "--insecure-registry",
            "insecure_registries",
            multiple=True,
            metavar="HOST",
            help="reach this registry over plain HTTP (loopback needs no flag); repeatable",
        ),
        click.option("--operator", "operator_name", default="", metavar="NAME", help="who asks (recorded)"),
        click.option(
            "--ttl-hours",
            type=click.FloatRange(0, 87600),
            default=None,
            help="evidence TTL for this decision",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def request_from(ref: str, values: dict[str, Any]) -> Any:
    """A ContainerRequest from the options ``container_options`` parsed."""
    from gate.errors import UsageError
    from gate.evidence.container import ContainerRequest
    from gate.evidence.oci.reference import ReferenceError, parse_reference

    try:
        parse_reference(ref)
    except ReferenceError as exc:
        raise UsageError(str(exc)) from None
    keys = tuple(values.get("keys") or ())
    for path in keys:
        if not path.is_file():
            raise InputError(f"{path}: cannot read the public key")
    return ContainerRequest(
        ref=ref,
        pin=values.get("pin") or "",
        prod_digest=values.get("prod_digest") or "",
        identity=values.get("identity") or "",
        issuer=values.get("issuer") or "",
        identity_regexp=values.get("identity_regexp") or "",
        issuer_regexp=values.get("issuer_regexp") or "",
        mode=values.get("mode") or "static",
        grype_report=values.get("grype_report"),
        baseline_report=values.get("baseline_report"),
        trusted_root=Path(values["trusted_root"]) if values.get("trusted_root") else None,
        keys=keys,
        insecure_registries=tuple(values.get("insecure_registries") or ()),
        operator_name=values.get("operator_name") or "",
        ttl_hours=values.get("ttl_hours"),
    )


def collect_document(ref: str, profile: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Collect and schema-check the input document for *ref* under a loaded profile."""
    from gate import schemas
    from gate.evidence.container import collect

    request = request_from(ref, values)
    result = collect(request, profile.name, profile.sha256, profile.settings)
    problems = schemas.problems("input", result.document)
    if problems:
        raise EngineError(f"collected input document does not match its schema: {problems[0]}")
    return result.document


CONTAINER_ONLY = (
    "pin",
    "prod_digest",
    "identity_regexp",
    "issuer_regexp",
    "mode",
    "grype_report",
    "baseline_report",
    "keys",
    "insecure_registries",
    "operator_name",
    "ttl_hours",
)
"""The options ``eval_container_options`` adds to ``gate eval``."""


def given(values: dict[str, Any]) -> list[str]:
    """The container options given a non-default value (as --option-names)."""
    defaults: tuple[Any, ...] = (None, "", (), "static")
    names = {"keys": "cosign-key", "insecure_registries": "insecure-registry", "operator_name": "operator"}
    return [
        "--" + names.get(name, name.replace("_", "-"))
        for name, value in values.items()
        if value not in defaults
    ]


def dump(document: dict[str, Any]) -> str:
    """The document as indented JSON with a final newline."""
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


@click.command("container", epilog=COLLECT_EPILOG, short_help="evidence for a container image")
@click.argument("ref", metavar="REF")
@container_options
@profile_option()
@click.option(
    "-o",
    "--output",
    "output_file",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="write the document to FILE (atomically) instead of standard output",
)
def collect_container(ref: str, profile: str, output_file: Path | None, **values: Any) -> int:
    """Collect the input document for image REF (evidence only, no decision)."""
    from gate.cli.common import write
    from gate.profile import load_profile

    loaded = load_profile(profile)
    text = dump(collect_document(ref, loaded, values))
    if output_file is None:
        write(text)
    else:
        from gate.fsutil import write_atomic

        write_atomic(output_file, text.encode("utf-8"))
    return 0
