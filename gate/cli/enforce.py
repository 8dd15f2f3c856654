"""``gate enforce``: the startup gates of a trusted run, and its signed startup attestation."""

from __future__ import annotations

import json
from pathlib import Path

import click

from gate.cli.common import EXIT_CODES_HELP, engine_option, output_option, profile_option

ENFORCE_EPILOG = (
    """\b
examples:
  gate enforce --manifest skills.json --key startup.pem --attestation startup.intoto.json
  gate enforce --manifest skills.json --key env://STARTUP_KEY -o json

\b
gates, in order, each failing closed:
  pre-resolution         pinned digest, trusted registry, on the allowlist, not revoked, no runtime fetch
  artifact verification  fetched package = pin, signature by the approved signer, source tuple = registry's
  dependency graph       SBOM published, dependencies pinned from trusted registries, no drift
  runtime activation     still allowlisted and approved_trusted now (approvals valid, not revoked)
A failing gate stops startup with one policy error naming the skill and the
gate; later gates are not observed. Paths in the manifest are relative to it.

"""
    + EXIT_CODES_HELP
)


@click.command("enforce", epilog=ENFORCE_EPILOG, short_help="startup gates for the skills of a trusted run")
@click.option("--manifest", required=True, metavar="FILE", help="the run's skill manifest (JSON)")
@click.option("--key", "key_spec", metavar="FILE|env://VAR", help="key that signs the startup attestation")
@click.option(
    "--attestation", metavar="FILE", help="where to write the signed startup attestation (DSSE envelope)"
)
@profile_option(default="skills-quarantine")
@output_option("text", "json")
@engine_option
@click.option("--db", metavar="URL", envvar="GATE_DB", help="registry database URL or SQLite path ($GATE_DB)")
@click.option("--audit-log", metavar="FILE", help="also append the startup decision to this audit log")
def enforce(
    manifest: str,
    key_spec: str | None,
    attestation: str | None,
    profile: str,
    output: str,
    engine: str,
    db: str | None,
    audit_log: str | None,
) -> int:
    """Run the four startup gates; exit 0 and sign the startup attestation only when all pass."""
    from gate.attest import dsse
    from gate.attest.keys import load_signing_key
    from gate.attest.sign import statement_bytes
    from gate.errors import UsageError
    from gate.fsutil import write_atomic
    from gate.profile import load_profile
    from gate.registry.store import Store
    from gate.skills.enforce import attestation as make_attestation
    from gate.skills.enforce import load_manifest, observe
    from gate.skills.pipeline import decide
    from gate.skills.store import SkillStore

    if bool(key_spec) != bool(attestation):
        raise UsageError("--key and --attestation go together (the startup attestation is signed)")
    key = load_signing_key(key_spec) if key_spec else None
    loaded = load_profile(profile)
    value, sha = load_manifest(manifest)
    skills = SkillStore(Store(db, audit_log=audit_log))
    document = observe(value, sha, Path(manifest).resolve().parent, skills, loaded, engine)
    decision = decide(document, loaded, engine)
    allowed = decision["verdict"] == "promote"
    signed = None
    if allowed and key is not None and attestation:
        statement = make_attestation(document, decision, skills)
        envelope = dsse.sign(dsse.INTOTO_PAYLOAD_TYPE, statement_bytes(statement), key).to_json()
        write_atomic(Path(attestation), (json.dumps(envelope, indent=2) + "\n").encode())
        signed = attestation
    if audit_log:
        from gate.audit.events import record_event
        from gate.audit.log import AuditLog

        record_event(
            AuditLog(audit_log),
            "skills.startup",
            document["subject"]["digest"],
            actor=skills.store.actor,
            subject=document["subject"]["ref"],
            verdict=decision["verdict"],
            reasons=decision["reasons"],
        )
    if output == "json":
        click.echo(json.dumps({"decision": decision, "input": document, "attestation": signed}, indent=2))
    elif allowed:
        names = ", ".join(f"{s['name']} ({s['digest']})" for s in document["evidence"]["startup"]["skills"])
        click.echo(f"startup allowed: {names}" + (f"\nstartup attestation: {signed}" if signed else ""))
    else:
        first = decision["results"][0]
        click.echo(f"policy error: {first['message']}", err=True)
        for more in decision["results"][1:]:
            if more["code"] != "startup_gate_not_reached":
                click.echo(f"  also: {more['message']}", err=True)
    return 0 if allowed else 1
