"""``gate registry``: the registry of record (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import json
from typing import Any

import click

from gate.cli.common import EXIT_CODES_HELP, engine_option, output_option

REGISTRY_EPILOG = (
    """\b
examples:
  gate registry register record.json                       # from CI: validated, recorded as draft
  gate registry attach llama-guard@1.2.0 --sbom sbom.spdx.json --scan grype.json
  gate registry show llama-guard@1.2.0 -o json
  gate registry list --state approved
  gate registry history llama-guard@1.2.0
  gate registry serve-window llama-guard@1.2.0 --deployment chat-prod --from 2026-11-23T10:00:00Z
  gate registry served --deployment chat-prod --at 2026-11-24T08:00:00Z
  gate registry close-window --deployment chat-prod        # ends the open window now
  gate registry serve-window llama-guard@1.3.0 --deployment chat-prod --from 2026-12-01T10:00:00Z --handover
  gate registry verify                                     # the database's own event chain
  gate registry request llama-guard@1.2.0 --to candidate --profile governance.yaml \\
      --attestation decision.intoto.jsonl

\b
database: --db URL or $GATE_DB; a file path or sqlite:///PATH, or
postgresql+psycopg://USER@HOST/DB. Default: ~/.local/share/gate/registry.sqlite.
History is append-only: the database refuses UPDATE and DELETE on it.

"""
    + EXIT_CODES_HELP
)


def _db_options(f: Any) -> Any:
    f = click.option("--audit-log", metavar="FILE", help="also append every change to this audit log")(f)
    f = click.option(
        "--db", metavar="URL", envvar="GATE_DB", help="registry database URL or SQLite path ($GATE_DB)"
    )(f)
    return f


def _store(db: str | None, audit_log: str | None) -> Any:
    from gate.registry.store import Store

    return Store(db, audit_log=audit_log)


def _emit(output: str, value: Any, text: str) -> None:
    if output == "json":
        click.echo(json.dumps(value, indent=2, ensure_ascii=False))
    else:
        click.echo(text)


@click.group(
    "registry", epilog=REGISTRY_EPILOG, short_help="the registry of record: model versions and their history"
)
def registry() -> None:
    """Register model versions, attach their evidence, and record where they served."""


@registry.command("register")
@click.argument("file", metavar="FILE")
@_db_options
@output_option()
def register(file: str, db: str | None, audit_log: str | None, output: str) -> int:
    """Validate a metadata record (schemas/registry-record.schema.json) and register it as draft."""
    from gate.registry.record import validate_record
    from gate.registry.store import load_json_file

    value, _ = load_json_file(file)
    record = validate_record(value, file)
    result = _store(db, audit_log).register(record)
    _emit(output, result, f"registered {result['name']}@{result['version']} (draft)")
    return 0


_ATTACH_KINDS = ("sbom", "provenance", "scan", "evals")


@registry.command("attach")
@click.argument("ref", metavar="NAME@VERSION")
@click.option("--sbom", "sbom", metavar="FILE", help="an SPDX or CycloneDX JSON SBOM (parsed and validated)")
@click.option(
    "--provenance", metavar="FILE", help="a provenance document: in-toto Statement, DSSE or Sigstore bundle"
)
@click.option("--scan", metavar="FILE", help="a grype or Trivy JSON report (critical CVEs counted)")
@click.option(
    "--evals", metavar="FILE", help="an evaluation package (JSON: scores and when they were measured)"
)
@_db_options
@output_option()
def attach(ref: str, db: str | None, audit_log: str | None, output: str, **files: str | None) -> int:
    """Attach one evidence document to a version: parsed, digested and stored by digest."""
    from gate.errors import UsageError
    from gate.registry.attachments import summarise
    from gate.registry.store import load_json_file, parse_ref

    given = [(kind, path) for kind, path in files.items() if path]
    if len(given) != 1:
        raise UsageError(f"give exactly one of {', '.join('--' + k for k in _ATTACH_KINDS)}")
    kind, path = given[0]
    assert path is not None
    name, version = parse_ref(ref)
    value, data = load_json_file(path)
    summary = summarise(kind, value, path)
    result = _store(db, audit_log).attach(name, version, kind, path, data, summary)
    _emit(output, {**result, "summary": summary}, f"attached {kind} {result['sha256']} to {name}@{version}")
    return 0


@registry.command("show")
@click.argument("ref", metavar="NAME@VERSION")
@_db_options
@output_option()
def show(ref: str, db: str | None, audit_log: str | None, output: str) -> int:
    """One version: its state, record and attachments."""
    from gate.registry.store import parse_ref

    found = _store(db, audit_log).show(*parse_ref(ref))
    lines = [f"{found.name}@{found.version}  {found.state}  {found.checksum}"]
    lines += [f"  {a['kind']:<11}{a['sha256']}  {a['filename']}" for a in found.attachments]
    _emit(output, found.to_json(), "\n".join(lines))
    return 0


@registry.command("list")
@click.option(
    "--state",
    metavar="STATE",
    help="only versions in this state (draft, candidate, approved, deprecated, retired)",
)
@_db_options
@output_option()
def list_versions(state: str | None, db: str | None, audit_log: str | None, output: str) -> int:
    """Every registered version with its current state."""
    rows = _store(db, audit_log).versions(state)
    text = "\n".join(f"{r['name']}@{r['version']}  {r['state']}  {r['checksum']}" for r in rows) or "(none)"
    _emit(output, rows, text)
    return 0


@registry.command("history")
@click.argument("ref", metavar="NAME@VERSION")
@_db_options
@output_option()
def history(ref: str, db: str | None, audit_log: str | None, output: str) -> int:
    """Everything recorded about a version, oldest first (from the event chain)."""
    from gate.registry.store import parse_ref

    rows = _store(db, audit_log).history(*parse_ref(ref))
    text = "\n".join(f"{r['at']}  {r['kind']:<13}{json.dumps(r['data'], sort_keys=True)}" for r in rows)
    _emit(output, rows, text)
    return 0


@registry.command("serve-window")
@click.argument("ref", metavar="NAME@VERSION")
@click.option("--deployment", required=True, metavar="D", help="deployment or customer")
@click.option("--from", "starts", required=True, metavar="TIME", help="RFC 3339 start (inclusive)")
@click.option("--to", "ends", metavar="TIME", help="RFC 3339 end (exclusive); open-ended when omitted")
@click.option(
    "--handover",
    is_flag=True,
    help="close the deployment's open window at --from and start this one there (one transaction)",
)
@_db_options
@output_option()
def serve_window(
    ref: str,
    deployment: str,
    starts: str,
    ends: str | None,
    handover: bool,
    db: str | None,
    audit_log: str | None,
    output: str,
) -> int:
    """Record that an approved version serves a deployment during an interval (overlaps refused)."""
    from gate.registry.store import parse_ref, parse_time

    name, version = parse_ref(ref)
    result = _store(db, audit_log).serve_window(
        name,
        version,
        deployment,
        parse_time(starts, "--from"),
        parse_time(ends, "--to") if ends else None,
        handover=handover,
    )
    _emit(
        output,
        result,
        f"{name}@{version} serves {deployment} from {result['from']} to {result['to'] or '(open)'}",
    )
    return 0


@registry.command("close-window")
@click.option("--deployment", required=True, metavar="D", help="deployment or customer")
@click.option("--at", "at", metavar="TIME", help="RFC 3339 end (exclusive); default now, never in the past")
@_db_options
@output_option()
def close_window(deployment: str, at: str | None, db: str | None, audit_log: str | None, output: str) -> int:
    """End a deployment's open serving window (an appended close record; exit 1 when none is open)."""
    from gate.registry.store import parse_time

    result = _store(db, audit_log).close_window(deployment, parse_time(at, "--at") if at else None)
    _emit(output, result, f"{result['version']} serves {deployment} from {result['from']} to {result['to']}")
    return 0


@registry.command("served")
@click.option("--deployment", required=True, metavar="D")
@click.option("--at", "at", required=True, metavar="TIME", help="RFC 3339 time")
@_db_options
@output_option()
def served(deployment: str, at: str, db: str | None, audit_log: str | None, output: str) -> int:
    """What served a deployment at a time, from the records (exit 1 when nothing did)."""
    from gate.registry.store import parse_time

    found = _store(db, audit_log).served(deployment, parse_time(at, "--at"))
    if found is None:
        _emit(output, None, f"nothing recorded as serving {deployment} at {at}")
        return 1
    _emit(
        output,
        found,
        f"{found['name']}@{found['version']} ({found['checksum']}) "
        f"from {found['from']} to {found['to'] or '(open)'}",
    )
    return 0


@registry.command("verify")
@_db_options
@output_option()
def verify(db: str | None, audit_log: str | None, output: str) -> int:
    """Recompute the event chain, every history row and the triggers (exit 1, one line per problem)."""
    report = _store(db, audit_log).verify_events()
    if report["valid"]:
        text = f"valid: {report['detail']}"
    else:
        text = "\n".join(f"BROKEN: {problem}" for problem in report["problems"])
    _emit(output, report, text)
    return 0 if report["valid"] else 1


@registry.command("request")
@click.argument("ref", metavar="NAME@VERSION")
@click.option(
    "--to", "to", required=True, metavar="STATE", help="draft, candidate, approved, deprecated or retired"
)
@click.option(
    "--profile",
    required=True,
    metavar="NAME|FILE",
    help="the governance profile (policy: lifecycle) naming the approvers and the gate signers",
)
@click.option(
    "--attestation", metavar="FILE", help="gate eval --attest output for the artifact (draft -> candidate)"
)
@click.option(
    "--key",
    "key",
    metavar="PUB",
    help="also check the attestation with this key; it counts only if the profile lists it "
    "(lifecycle.gate_signers)",
)
@click.option(
    "--replacement", metavar="NAME@VERSION", help="the version that replaces this one (-> deprecated)"
)
@engine_option
@_db_options
@output_option()
def request(
    ref: str,
    to: str,
    profile: str,
    attestation: str | None,
    key: str | None,
    replacement: str | None,
    engine: str,
    db: str | None,
    audit_log: str | None,
    output: str,
) -> int:
    """Ask for a lifecycle transition: Rego decides, and it is recorded only if allowed.

    Exit 0 when the transition was allowed and recorded, 1 when refused (the
    reasons say why), 2 for bad input, 4 for an engine error.
    """
    from datetime import datetime, timezone

    from gate.cli.eval import _validated
    from gate.decide import Decider
    from gate.errors import UsageError
    from gate.registry.governance import load_governance
    from gate.registry.lifecycle_input import build_input, verified_decision
    from gate.registry.store import STATES, parse_ref

    if to not in STATES:
        raise UsageError(f"--to {to!r}: one of {', '.join(STATES)}")
    if key and not attestation:
        raise UsageError("--key checks an --attestation: give the attestation too")
    if replacement:
        parse_ref(replacement)
    name, version = parse_ref(ref)
    loaded = load_governance(profile)
    store = _store(db, audit_log)
    found = store.show(name, version)
    signers = dict(loaded.settings.get("lifecycle", {}).get("gate_signers", {}))
    decisions = [verified_decision(attestation, key, found.checksum, signers)] if attestation else []
    document = build_input(
        found,
        request_kind="transition",
        to=to,
        now=datetime.now(timezone.utc),
        profile=loaded,
        gate_decisions=decisions,
        replacement=replacement,
        statements=store.statements(name, version),
    )
    decision = Decider(loaded, engine).decide(_validated(document))
    allowed = decision["transition"]["allowed"] is True and decision["verdict"] == "promote"
    recorded = None
    if allowed:
        recorded = store.transition(name, version, found.state, to, decision)
    answer = {"decision": decision, "recorded": recorded is not None}
    if output == "json":
        click.echo(json.dumps(answer, indent=2, ensure_ascii=False))
    else:
        lines = [f"{name}@{version}: {found.state} -> {to}: {'recorded' if recorded else 'refused'}"]
        lines += [f"  {r['code']}: {r['message']}" for r in decision["results"] if not allowed]
        lines += [f"  waived {w['code']}: {w['message']}" for w in decision.get("waived", [])]
        click.echo("\n".join(lines))
    return 0 if recorded else 1


def _sign_and_record(
    kind: str, ref: str, key: str | None, passphrase_env: str | None, statement_file: str | None,
    approver: str | None, role: str, db: str | None, audit_log: str | None, **extra: str,
) -> dict[str, Any]:  # fmt: skip
    from gate.errors import UsageError
    from gate.registry.approvals import make_statement, sign_statement
    from gate.registry.store import load_json_file, parse_ref

    name, version = parse_ref(ref)
    store = _store(db, audit_log)
    if statement_file:
        envelope, _ = load_json_file(statement_file)
    else:
        if not key or not approver:
            raise UsageError(f"give --key and --as to sign the {kind}, or --statement FILE signed elsewhere")
        from gate.cli.record import load_key

        found = store.show(name, version)
        statement = make_statement(
            kind, name=name, version=version, digest=found.checksum, approver=approver, role=role, **extra
        )
        envelope = sign_statement(statement, load_key(key, passphrase_env))
    return dict(store.record_statement(name, version, kind, envelope))


@registry.command("approve")
@click.argument("ref", metavar="NAME@VERSION")
@click.option(
    "--role", required=True, metavar="ROLE", help="the role approved as (platform, product, security, ...)"
)
@click.option("--as", "approver", metavar="ID", help="who approves: a person the profile lists with this key")
@click.option("--key", metavar="KEY", help="the approver's private key (PEM or env://VAR)")
@click.option("--key-passphrase-env", metavar="VAR")
@click.option(
    "--statement", "statement_file", metavar="FILE", help="record an approval signed elsewhere (DSSE JSON)"
)
@_db_options
@output_option()
def approve(
    ref: str, role: str, approver: str | None, key: str | None, key_passphrase_env: str | None,
    statement_file: str | None, db: str | None, audit_log: str | None, output: str,
) -> int:  # fmt: skip
    """Sign an approval of this version and digest (or record one signed elsewhere).

    It counts, when a decision reads it, only if it verifies against the key
    the profile lists for that person and the person holds the role.
    """
    result = _sign_and_record(
        "approval", ref, key, key_passphrase_env, statement_file, approver, role, db, audit_log
    )
    _emit(output, result, f"recorded the {role} approval of {ref} ({result['statement_sha256'][:12]})")
    return 0


@registry.command("except")
@click.argument("ref", metavar="NAME@VERSION")
@click.option("--code", required=True, metavar="REASON", help="the one reason code waived")
@click.option("--until", required=True, metavar="TIME", help="RFC 3339 end of the waiver")
@click.option("--why", required=True, metavar="TEXT", help="the justification (kept in the signed statement)")
@click.option("--role", default="security", show_default=True, metavar="ROLE")
@click.option("--as", "approver", metavar="ID")
@click.option("--key", metavar="KEY")
@click.option("--key-passphrase-env", metavar="VAR")
@click.option("--statement", "statement_file", metavar="FILE", help="record an exception signed elsewhere")
@_db_options
@output_option()
def except_command(
    ref: str, code: str, until: str, why: str, role: str, approver: str | None, key: str | None,
    key_passphrase_env: str | None, statement_file: str | None,
    db: str | None, audit_log: str | None, output: str,
) -> int:  # fmt: skip
    """Sign an exception: one reason code waived for this digest until a date."""
    from gate.registry.store import parse_time

    parse_time(until, "--until")
    result = _sign_and_record(
        "exception", ref, key, key_passphrase_env, statement_file, approver, role, db, audit_log,
        code=code, until=until, why=why,
    )  # fmt: skip
    _emit(output, result, f"recorded an exception of {code} for {ref} until {until}")
    return 0


@registry.command("hygiene")
@click.option(
    "--profile",
    required=True,
    metavar="NAME|FILE",
    help="the governance profile (policy: lifecycle); one that names nobody is refused",
)
@click.option("--dry-run", is_flag=True, help="print what would be retired; record nothing")
@engine_option
@_db_options
@output_option()
def hygiene(
    profile: str, dry_run: bool, engine: str, db: str | None, audit_log: str | None, output: str
) -> int:
    """Evaluate every approved and deprecated version; retire what Rego says must go.

    Stale (no evaluation since the last prompt change or within the freshness
    window), vulnerable (a critical CVE in the latest scan), unowned, approval
    expired, or deprecated past its grace period: each retirement is recorded
    with its reasons. Run it from a scheduler (deploy/systemd/gate-registry-hygiene.timer).
    """
    from gate.registry.governance import load_governance
    from gate.registry.hygiene import run_hygiene

    loaded = load_governance(profile)
    actions = run_hygiene(_store(db, audit_log), loaded, engine, dry_run=dry_run)
    if output == "json":
        click.echo(json.dumps(actions, indent=2))
    else:
        retire = [a for a in actions if a["to"] != a["from"] and "refused" not in a]
        refused = [a for a in actions if "refused" in a]
        verb = "would retire" if dry_run else "retired"
        lines = [f"{a['name']}@{a['version']}: {verb} ({', '.join(a['reasons'])})" for a in retire]
        lines += [f"{a['refused']}" for a in refused]
        lines.append(
            f"{len(actions)} versions evaluated, {len(retire)} {verb}"
            + (f", {len(refused)} changed meanwhile and left as they are" if refused else "")
        )
        click.echo("\n".join(lines))
    return 0
