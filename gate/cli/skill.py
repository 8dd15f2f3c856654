"""``gate skill``: the skills quarantine, from intake to the trusted registry (and revocation)."""

from __future__ import annotations

import json
from typing import Any

import click

from gate.cli.collect_skill import build_request, skill_options
from gate.cli.common import (
    EXIT_CODES_HELP,
    engine_option,
    output_option,
    profile_option,
    renderer,
    verdict_exit,
    write,
)

SKILL_EPILOG = (
    """\b
examples:
  gate skill scan ./skills/pdf-text                        # a folder or archive never taken in
  gate skill intake pdf-text.zip --source https://github.com/acme/skills@3f1c...40hex \\
      --maintainer alice --network none --tier trusted --submitter alice \\
      --rollback none --update-cadence quarterly --sbom sbom.cdx.json --signature pdf-text.sig.json
  gate skill scan pdf-text                                 # pending_scan -> rejected_scan | pending_policy
  gate skill evaluate pdf-text        # -> approved_limited | approved_trusted | rejected_policy
  gate skill approve pdf-text --role security --key sec.pem --as bob
  gate skill publish pdf-text                              # approved_trusted only, with its evidence
  gate skill allowlist -o json > trusted-skills-allowlist.json
  gate skill revoke sha256:... --reason "malicious update" --role incident-commander \\
      --key ic.pem --as carol
  gate enforce --manifest skills.json --key startup.pem    # the four startup gates

\b
states: pending_scan -> rejected_scan | pending_policy -> approved_limited |
approved_trusted | rejected_policy; any -> revoked. A revoked digest
returns only through a new intake that reaches approved_trusted (two-party
approval): until then it stays revoked and off the allowlist.
Every transition is decided in Rego (rego/gate/skills) and recorded only
when allowed. A skill is named by its name (latest submission), its
sha256 digest, or #ID. Database: --db URL or $GATE_DB (as gate registry).

"""
    + EXIT_CODES_HELP
)


def _db_options(f: Any) -> Any:
    f = click.option("--audit-log", metavar="FILE", help="also append every change to this audit log")(f)
    f = click.option(
        "--db", metavar="URL", envvar="GATE_DB", help="registry database URL or SQLite path ($GATE_DB)"
    )(f)
    return f


def _skills(db: str | None, audit_log: str | None) -> Any:
    from gate.registry.store import Store
    from gate.skills.store import SkillStore

    return SkillStore(Store(db, audit_log=audit_log))


def _emit(output: str, value: Any, text: str) -> None:
    if output == "json":
        click.echo(json.dumps(value, indent=2, ensure_ascii=False))
    else:
        click.echo(text)


def _step_text(name: str, result: dict[str, Any]) -> str:
    decision = result["decision"]
    if result.get("unchanged"):
        held = [f"  {r['code']}: {r['message']}" for r in decision["results"]]
        approved = result["to"] in ("approved_limited", "approved_trusted")
        return "\n".join([f"{name}: stays {result['to']}", *([] if approved else held)])
    head = f"{name}: {result['from']} -> {result['to']}: {'recorded' if result['recorded'] else 'refused'}"
    lines = [head]
    if not result["recorded"] or result["to"] in ("rejected_scan", "rejected_policy"):
        lines += [f"  {r['code']}: {r['message']}" for r in decision["results"]]
    gaps = decision.get("skill", {}).get("trusted_gaps", [])
    if gaps and result["to"] == "approved_limited":
        lines.append(f"  not approved_trusted: {', '.join(gaps)}")
    return "\n".join(lines)


@click.group(
    "skill", epilog=SKILL_EPILOG, short_help="skills quarantine: intake, scan, approve, publish, revoke"
)
def skill() -> None:
    """Take agent skills in, scan them, decide them by tier, approve, publish and revoke."""


@skill.command("scan")
@click.argument("target", metavar="PATH|NAME|DIGEST")
@skill_options
@click.option("--signature", metavar="FILE", help="skill signature (gate skill sign) over the package digest")
@click.option("--path", "package_path", metavar="PATH", help="for a submission: where its package is now")
@profile_option(default="skills-quarantine")
@output_option()
@engine_option
@_db_options
def scan(
    target: str,
    signature: str | None,
    package_path: str | None,
    profile: str,
    output: str,
    engine: str,
    db: str | None,
    audit_log: str | None,
    **options: Any,
) -> int:
    """Scan a skill folder or archive, or a submission.

    A PATH that exists is scanned on its own: nothing is recorded, the
    decision is printed like gate eval's (usable in CI and pre-commit). A
    NAME, DIGEST or #ID names a submission in pending_scan: the scan and
    policy artifacts are stored and it moves to rejected_scan or
    pending_policy.

    \b
    Exit codes: 0 promote, 1 block, 3 manual-review (a PATH's decision);
    2 bad usage or an unreadable package; 4 internal or engine error.
    """
    import os

    from gate.profile import load_profile

    loaded = load_profile(profile)
    if os.path.lexists(target) and not target.startswith(("sha256:", "#")):
        from gate.evidence.skill.collect import collect_document
        from gate.skills.pipeline import decide

        document = collect_document(build_request(target, options, signature), loaded)
        decision = decide(document, loaded, engine)
        write(renderer(output).render_decision(decision))
        return verdict_exit(decision["verdict"])
    given = [k for k, v in options.items() if v not in (None, ())] + (["signature"] if signature else [])
    if given:
        raise click.UsageError(f"--{given[0].replace('_', '-')}: declarations belong to gate skill intake")
    from gate.skills.pipeline import scan as run_scan

    skills = _skills(db, audit_log)
    result = run_scan(skills, target, loaded, engine, package_path)
    _emit(output, result, _step_text(target, result))
    return 0 if result["recorded"] and result["to"] == "pending_policy" else 1


@skill.command("intake")
@click.argument("path", metavar="PATH|ARCHIVE")
@skill_options
@click.option("--signature", metavar="FILE", help="skill signature (gate skill sign) over the package digest")
@output_option("text", "json")
@_db_options
def intake(
    path: str, signature: str | None, output: str, db: str | None, audit_log: str | None, **options: Any
) -> int:
    """Validate a submission (schemas/skill-intake.schema.json) and record it as pending_scan."""
    from gate.skills.intake import build_intake

    record, name, digest = build_intake(path, options, signature)
    result = _skills(db, audit_log).intake(name, digest, record)
    _emit(output, result, f"{name} ({digest}): pending_scan (submission #{result['id']})")
    return 0


@skill.command("evaluate")
@click.argument("ref", metavar="NAME|DIGEST|#ID")
@profile_option(default="skills-quarantine")
@output_option("text", "json")
@engine_option
@_db_options
def evaluate(ref: str, profile: str, output: str, engine: str, db: str | None, audit_log: str | None) -> int:
    """Policy evaluation: move to what the policy and the recorded approvals decide.

    Exit 0 when the skill is (or stays) approved, 1 when rejected or refused.
    """
    from gate.profile import load_profile
    from gate.skills.pipeline import evaluate as run

    result = run(_skills(db, audit_log), ref, load_profile(profile), engine)
    _emit(output, result, _step_text(ref, result))
    ok = result["to"] in ("approved_limited", "approved_trusted") and (
        result["recorded"] or result.get("unchanged")
    )
    return 0 if ok else 1


@skill.command("approve")
@click.argument("ref", metavar="NAME|DIGEST|#ID")
@click.option("--role", metavar="ROLE", help="the role approved as (security, runtime-owner)")
@click.option("--key", metavar="FILE|env://VAR", help="the approver's private key (gate keygen)")
@click.option("--as", "approver", metavar="ID", help="the approver, as the profile lists them")
@click.option("--statement", metavar="FILE", help="record an approval signed elsewhere instead")
@output_option("text", "json")
@_db_options
def approve(
    ref: str,
    role: str | None,
    key: str | None,
    approver: str | None,
    statement: str | None,
    output: str,
    db: str | None,
    audit_log: str | None,
) -> int:
    """Sign and record an approval bound to this exact skill digest (or record --statement FILE).

    Whether it counts (signature against the profile's key for the person,
    role held, not the submitter, distinct approvers, not expired) is decided
    by every later evaluation, never here.
    """
    from gate.errors import UsageError
    from gate.registry.approvals import make_statement, sign_statement
    from gate.registry.store import load_json_file

    skills = _skills(db, audit_log)
    submission = skills.get(ref)
    if statement:
        if role or key or approver:
            raise UsageError("--statement FILE records a signed statement as it is; no --role, --key or --as")
        envelope, _ = load_json_file(statement)
        if not isinstance(envelope, dict):
            raise UsageError(f"{statement}: not a DSSE envelope")
    else:
        if not (role and key and approver):
            raise UsageError("give --role, --key and --as (or --statement FILE)")
        from gate.attest.keys import load_signing_key

        body = make_statement(
            "approval",
            name=submission.name,
            version=submission.digest,
            digest=submission.digest,
            approver=approver,
            role=role,
        )
        envelope = sign_statement(body, load_signing_key(key))
    result = skills.record_statement(submission, envelope)
    _emit(output, result, f"{submission.name} ({submission.digest}): approval recorded")
    return 0


@skill.command("publish")
@click.argument("ref", metavar="NAME|DIGEST|#ID")
@profile_option(default="skills-quarantine")
@output_option("text", "json")
@engine_option
@_db_options
def publish(ref: str, profile: str, output: str, engine: str, db: str | None, audit_log: str | None) -> int:
    """Publish an approved_trusted skill to the trusted registry (re-decided now, evidence by digest)."""
    from gate.profile import load_profile
    from gate.skills.pipeline import publish as run

    result = run(_skills(db, audit_log), ref, load_profile(profile), engine)
    _emit(output, result, f"{ref}: published {result['record']['digest']}")
    return 0


@skill.command("allowlist")
@output_option("text", "json")
@_db_options
def allowlist(output: str, db: str | None, audit_log: str | None) -> int:
    """The trusted allowlist runners enforce: published digests and revoked digests."""
    value = _skills(db, audit_log).allowlist()
    lines = [f"{d}  {e['name']}" for d, e in value["byDigest"].items()]
    lines += [f"{d}  REVOKED ({e['reason']})" for d, e in value["revocations"].items()]
    _emit(output, value, "\n".join(lines) or "(empty)")
    return 0


@skill.command("revoke")
@click.argument("digest", metavar="DIGEST")
@click.option("--reason", metavar="TEXT", help="why (incident reference, what was found), signed")
@click.option("--role", metavar="ROLE", help="the revocation role revoked as (skills.revocation_roles)")
@click.option("--key", metavar="FILE|env://VAR", help="the revoker's private key (gate keygen)")
@click.option("--as", "revoker", metavar="ID", help="the revoker, as the profile's skills.people lists them")
@click.option("--statement", metavar="FILE", help="record a revocation signed elsewhere instead")
@profile_option(default="skills-quarantine")
@output_option("text", "json")
@engine_option
@_db_options
def revoke(
    digest: str,
    reason: str | None,
    role: str | None,
    key: str | None,
    revoker: str | None,
    statement: str | None,
    profile: str,
    output: str,
    engine: str,
    db: str | None,
    audit_log: str | None,
) -> int:
    """Emergency revocation, signed: revoked at once, off the allowlist, audited, notification run.

    The revocation is a signed statement (--reason, --role, --key, --as; or
    --statement FILE signed elsewhere) bound to the digest. It counts only
    when the policy says so: a revocation role the profile lists, held by
    the revoker, the signature verified against the revoker's key in the
    profile, signed since this submission was taken in. Exit 0 when revoked
    and notified, 1 when refused or when the notification command failed
    (the revocation stands), 2 for bad usage.
    """
    from gate.errors import UsageError
    from gate.profile import load_profile
    from gate.skills.revocation import make
    from gate.skills.revocation import revoke as run

    loaded = load_profile(profile)
    skills = _skills(db, audit_log)
    if statement:
        if reason or role or key or revoker:
            raise UsageError(
                "--statement FILE records a signed revocation as it is; no --reason, --role, --key or --as"
            )
        from gate.registry.store import load_json_file

        envelope, _ = load_json_file(statement)
        if not isinstance(envelope, dict):
            raise UsageError(f"{statement}: not a DSSE envelope")
    else:
        if not (reason and role and key and revoker):
            raise UsageError("give --reason, --role, --key and --as (or --statement FILE)")
        from gate.attest.keys import load_signing_key
        from gate.registry.approvals import sign_statement

        envelope = sign_statement(make(skills.get(digest), revoker, role, reason), load_signing_key(key))
    result = run(skills, digest, envelope, loaded, engine)
    if not result["recorded"]:
        text = "\n".join(f"refused: {r['code']}: {r['message']}" for r in result["decision"]["results"])
        _emit(output, result, text)
        return 1
    notified = result["notified"]
    failed = notified.get("ran") and (notified.get("error") or notified.get("exit_code") != 0)
    text = f"{digest}: revoked ({result['revocation']['from']} -> revoked)"
    if notified.get("ran"):
        text += "; notification " + (
            "FAILED: " + str(notified.get("error") or notified.get("stderr")) if failed else "sent"
        )
    _emit(output, result, text)
    return 1 if failed else 0


@skill.command("show")
@click.argument("ref", metavar="NAME|DIGEST|#ID")
@output_option("text", "json")
@_db_options
def show(ref: str, output: str, db: str | None, audit_log: str | None) -> int:
    """A submission: its intake, state and artifacts."""
    skills = _skills(db, audit_log)
    found = skills.get(ref)
    value = found.to_json()
    value["artifacts"] = {k: v["sha256"] for k, v in skills.artifacts(found.id).items()}
    text = (
        f"{found.name} #{found.id}\n  digest: {found.digest}\n  state: {found.state}\n"
        f"  tier: {found.intake.get('tier')}"
    )
    _emit(output, value, text)
    return 0


@skill.command("list")
@click.option("--state", metavar="STATE", help="only submissions in this state")
@output_option("text", "json")
@_db_options
def list_command(state: str | None, output: str, db: str | None, audit_log: str | None) -> int:
    """The latest submission of every digest."""
    rows = _skills(db, audit_log).submissions(state)
    _emit(
        output, rows, "\n".join(f"{r['name']:<32} {r['state']:<18} {r['digest']}" for r in rows) or "(none)"
    )
    return 0


@skill.command("history")
@click.argument("ref", metavar="NAME|DIGEST|#ID")
@output_option("text", "json")
@_db_options
def history(ref: str, output: str, db: str | None, audit_log: str | None) -> int:
    """Every transition of a submission, with its reasons."""
    rows = _skills(db, audit_log).history(ref)
    text = "\n".join(
        f"{r['at']}  {r['from']} -> {r['to']}  {r['actor']}  {' '.join(r['reasons'])}" for r in rows
    )
    _emit(output, rows, text or "(no transitions: pending_scan)")
    return 0


@skill.command("sign")
@click.argument("path", metavar="PATH|ARCHIVE")
@click.option("--key", required=True, metavar="FILE|env://VAR", help="the signer's private key (gate keygen)")
@click.option(
    "--as",
    "signer",
    required=True,
    metavar="NAME",
    help="signer name, as the profile's skills.signers lists it",
)
@click.option("--source", metavar="REPO_URL@SHA", help="source tuple to bind into the signature")
@click.option(
    "-o", "--output-file", "output_file", required=True, metavar="FILE", help="where to write the signature"
)
def sign(path: str, key: str, signer: str, source: str | None, output_file: str) -> int:
    """Sign a skill package's digest (a DSSE envelope over an in-toto statement)."""
    from pathlib import Path

    from gate.attest.keys import load_signing_key
    from gate.evidence.skill.package import load
    from gate.evidence.skill.signature import make
    from gate.evidence.skill.signature import sign as sign_statement
    from gate.fsutil import write_atomic

    package = load(path)
    name = Path(path.rstrip("/")).name
    envelope = sign_statement(
        make(name, package.digest, signer, {"source": source} if source else None), load_signing_key(key)
    )
    write_atomic(Path(output_file), (json.dumps(envelope, indent=2) + "\n").encode())
    click.echo(f"signed {package.digest} as {signer}: {output_file}")
    return 0
