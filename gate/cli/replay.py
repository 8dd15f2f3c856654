"""``gate replay``: what a candidate policy/profile would have decided about every recorded decision."""

from __future__ import annotations

import json
from pathlib import Path

import click

from gate.cli.common import engine_option, output_option, policy_dir_option, profile_option, write
from gate.errors import EXIT_BLOCK, EXIT_PROMOTE

REPLAY_EPILOG = """\b
examples:
  gate replay --audit-log /var/lib/gate/audit.jsonl --profile ./nim-promotion-strict.yaml
  gate replay --audit-log audit.jsonl --profile nim-promotion --policy-dir ./rego-candidate --since 7d -o json
  gate replay --audit-log audit.jsonl --profile ./candidate.yaml --fail-on-change   # in CI, before merging

Every recorded decision's input document (inputs/<sha256>.json beside the
log) is evaluated again under the candidate; each one whose verdict or
reasons change is listed with the reasons added (+) and removed (-). The
log is verified first: a log that does not verify is not replayed.

\b
exit codes:
  0  the replay ran (and, with --fail-on-change, nothing changed)
  1  --fail-on-change and at least one decision changed
  2  bad usage, a missing or unverifiable log, or a bad profile
  4  engine or internal error
"""


@click.command(
    "replay", epilog=REPLAY_EPILOG, short_help="re-decide recorded decisions under a candidate policy"
)
@click.option(
    "--audit-log",
    "audit_log",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="PATH",
    help="the audit log gate eval --audit-log wrote",
)
@profile_option()
@policy_dir_option
@click.option(
    "--since", metavar="TIME", help="only decisions recorded from this RFC 3339 time or duration ago (7d)"
)
@engine_option
@click.option("--fail-on-change", is_flag=True, help="exit 1 when any decision would change")
@output_option()
def replay_command(
    audit_log: Path,
    profile: str,
    policy_dir: Path | None,
    since: str | None,
    engine: str,
    fail_on_change: bool,
    output: str,
) -> int:
    """Re-evaluate every recorded decision under a candidate profile (and policy) and print what changes."""
    from gate.attest.statement import policy_digest
    from gate.audit.log import AuditError, AuditLog
    from gate.audit.replay import replay
    from gate.audit.verify import verify_log
    from gate.cli.audit import parse_since
    from gate.decide import Decider
    from gate.profile import load_profile

    start = parse_since(since, "--since") if since else None
    log = AuditLog(audit_log)
    if not log.files():
        raise AuditError(f"{audit_log}: no audit log here")
    report = verify_log(log)
    if not report.valid:
        raise AuditError(f"{audit_log}: does not verify, not replayed: {report.detail}")
    loaded = load_profile(profile)
    decider = Decider(loaded, engine, policy_dir)
    digest = policy_digest(decider.policies, loaded).sha256
    result = replay(log, decider, since=start)
    if output == "json":
        out = {
            "audit_log": str(audit_log),
            "profile": {"name": loaded.name, "sha256": loaded.sha256},
            "policy_digest": f"sha256:{digest}",
            "engine": engine,
            "replayed": result.replayed,
            "changed": len(result.changes),
            "unchanged": result.unchanged,
            "not_replayable": len(result.errors),
            "transitions": result.transitions(),
            "changes": [c.as_json() for c in result.changes],
            "errors": result.errors,
        }
        write(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    else:
        lines = [
            f"replaying {audit_log} under profile {loaded.name} (sha256 {loaded.sha256[:12]}), "
            f"policy sha256:{digest[:12]}, engine {engine}"
        ]
        for c in result.changes:
            reasons = " ".join([*(f"+{r}" for r in c.added), *(f"-{r}" for r in c.removed)])
            digest_short = (c.subject_digest or "-")[:19]
            lines.append(
                f"  CHANGED  seq {c.seq}  {c.time}  {c.subject}  {digest_short}  "
                f"{c.old_verdict} → {c.new_verdict}  {reasons}"
            )
        for error in result.errors:
            lines.append(f"  SKIPPED  seq {error['seq']}  not replayable: {error['detail']}")
        moves = ", ".join(f"{k}: {v}" for k, v in result.transitions().items())
        lines.append(
            f"totals: {result.replayed} replayed, {len(result.changes)} changed"
            + (f" ({moves})" if moves else "")
            + f", {result.unchanged} unchanged, {len(result.errors)} not replayable"
        )
        write("\n".join(lines) + "\n")
    return EXIT_BLOCK if fail_on_change and result.changes else EXIT_PROMOTE
