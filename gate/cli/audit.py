"""``gate audit``: verify, show, checkpoint and repair the hash-chained audit log."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gate.cli.common import output_option, write
from gate.cli.record import key_options, load_key
from gate.errors import EXIT_BLOCK, EXIT_PROMOTE, UsageError

if TYPE_CHECKING:
    from gate.audit.checkpoint import Checkpoint
    from gate.audit.entry import Entry
    from gate.audit.log import AuditLog

AUDIT_EPILOG = """\b
examples:
  gate eval --input in.json --profile nim-promotion --audit-log /var/lib/gate/audit.jsonl --key gate.key
  gate audit verify /var/lib/gate/audit.jsonl --key gate.pub
  gate audit show /var/lib/gate/audit.jsonl --verdict block --since 24h
  gate audit checkpoint /var/lib/gate/audit.jsonl --key gate.key
  gate audit repair /var/lib/gate/audit.jsonl

\b
exit codes:
  0  the log verifies / the command did what it says
  1  the log does not verify (broken_at names the entry)
  2  bad usage, or a log that is missing, unreadable, torn (appends refuse) or a bad key
"""


@click.group("audit", epilog=AUDIT_EPILOG, short_help="verify and read the tamper-evident audit log")
def audit() -> None:
    """The hash-chained audit log that gate eval --audit-log appends to."""


def _log(path: Path, *, must_exist: bool = True) -> AuditLog:
    from gate.audit.log import AuditError, AuditLog

    log = AuditLog(path)
    if must_exist and not log.files():
        raise AuditError(f"{path}: no audit log here")
    return log


def parse_since(text: str, option: str, now: datetime | None = None) -> datetime:
    """An RFC 3339 time, or a duration ago (``24h``, ``7d``)."""
    from gate.attest.verify import parse_duration, parse_time

    moment = parse_time(text)
    if moment is not None:
        return moment
    try:
        return (now or datetime.now(timezone.utc)) - parse_duration(text)
    except ValueError:
        raise UsageError(f"{option} {text!r}: give an RFC 3339 time or a duration ago (24h, 7d)") from None


@audit.command("verify", short_help="check the chain, the files and the signed checkpoints")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False), metavar="PATH")
@click.option("--key", "key_spec", metavar="PUB", help="public key: also verify every checkpoint's signature")
@click.option("--strict", is_flag=True, help="also re-canonicalise every entry (RFC 8785) and parse it fully")
@click.option(
    "--checkpoint",
    "notes",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="NOTE",
    help="a checkpoint kept elsewhere (as gate audit checkpoint printed it); repeatable",
)
@output_option()
def verify(path: Path, key_spec: str | None, strict: bool, notes: tuple[Path, ...], output: str) -> int:
    """Verify the whole chain across rotated files and against every checkpoint.

    Prints valid, entries, files, broken_at and detail; broken_at is the
    position (seq) of the first entry that is not what the chain promises.
    """
    from gate.attest.keys import load_verify_key
    from gate.audit.verify import verify_log

    key = load_verify_key(key_spec) if key_spec else None
    report = verify_log(_log(path), key, strict=strict, notes=[_note(p) for p in notes])
    if output == "json":
        write(json.dumps(report.as_json(), indent=2) + "\n")
    else:
        state = "valid" if report.valid else "NOT valid"
        write(
            f"{path}: {state}\n"
            f"entries:   {report.entries}\nfiles:     {report.files}\n"
            f"broken_at: {report.broken_at if report.broken_at is not None else '-'}\n"
            f"detail:    {report.detail}\n"
        )
    return EXIT_PROMOTE if report.valid else EXIT_BLOCK


def _note(path: Path) -> tuple[str, Checkpoint | str]:
    from gate.audit.checkpoint import CheckpointError, parse
    from gate.document import read_bytes

    try:
        return str(path), parse(read_bytes(str(path), 64 * 1024).decode("utf-8", "replace"))
    except CheckpointError as exc:
        return str(path), f"not a checkpoint ({exc})"


def _matches(entry: Entry, subject: str | None, verdict: str | None, event: str | None,
             since: datetime | None, until: datetime | None) -> bool:  # fmt: skip
    from gate.attest.verify import parse_time

    if subject is not None:
        wanted = subject if subject.startswith("sha256:") else f"sha256:{subject}"
        if entry.subject_digest != wanted and not (entry.subject_digest or "").startswith(wanted):
            return False
    if verdict is not None and entry.data.get("verdict") != verdict:
        return False
    if event is not None and entry.event != event:
        return False
    if since is not None or until is not None:
        moment = parse_time(entry.time)
        if moment is None or (since is not None and moment < since) or (until is not None and moment > until):
            return False
    return True


def _row(entry: Entry) -> str:
    data = entry.data
    subject = data.get("subject")
    name = (subject.get("name") or subject.get("ref") or "") if isinstance(subject, dict) else ""
    digest = (entry.subject_digest or "-")[:19]
    verdict = data.get("verdict") or ""
    reasons = ",".join(data.get("reasons") or []) if isinstance(data.get("reasons"), list) else ""
    actor = data.get("actor") or ""
    return (
        f"{entry.seq:>7}  {entry.time}  {entry.event:<12}  {digest:<19}  {verdict:<13}  "
        f"{reasons}  {name}  {actor}"
    )


@audit.command("show", short_help="list entries, filtered")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False), metavar="PATH")
@click.option("--subject", metavar="sha256:HEX", help="only this subject digest (a prefix is enough)")
@click.option("--verdict", type=click.Choice(["promote", "block", "manual-review"]), help="only this verdict")
@click.option("--event", metavar="NAME", help="only this event (decision, audit.repair, ...)")
@click.option("--since", metavar="TIME", help="from this RFC 3339 time, or a duration ago (24h)")
@click.option("--until", metavar="TIME", help="up to this RFC 3339 time, or a duration ago")
@output_option()
def show(path: Path, subject: str | None, verdict: str | None, event: str | None,
         since: str | None, until: str | None, output: str) -> int:  # fmt: skip
    """Print entries (oldest first) that match every filter given."""
    start = parse_since(since, "--since") if since else None
    end = parse_since(until, "--until") if until else None
    found = [e for e in _log(path).entries() if _matches(e, subject, verdict, event, start, end)]
    if output == "json":
        write(json.dumps([e.as_json() for e in found], indent=2, ensure_ascii=False) + "\n")
    else:
        header = (
            f"{'seq':>7}  {'time':<27}  {'event':<12}  {'subject':<19}  {'verdict':<13}  reasons  name  actor"
        )
        write("\n".join([header, *(_row(e) for e in found)]) + f"\n{len(found)} entries\n")
    return EXIT_PROMOTE


@audit.command("checkpoint", short_help="sign the head of the log now")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False), metavar="PATH")
@key_options
def checkpoint(path: Path, key_spec: str | None, key_passphrase_env: str | None) -> int:
    """Sign the current head (size and last entry hash) and append it to PATH.checkpoints.

    The note is also printed: keep a copy somewhere the log's host cannot
    rewrite, so cutting both the log and its checkpoints is still noticed.
    """
    if not key_spec:
        raise UsageError("gate audit checkpoint needs --key KEY")
    key = load_key(key_spec, key_passphrase_env)
    write(_log(path).checkpoint(key))
    return EXIT_PROMOTE


@audit.command("repair", short_help="truncate an incomplete last line and record the repair")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False), metavar="PATH")
@click.option("--actor", metavar="NAME", help="who repairs (recorded in the repair event)")
def repair(path: Path, actor: str | None) -> int:
    """Remove an incomplete last line left by a crash, and append an audit.repair event.

    Nothing else is ever changed: a corrupt or missing entry is evidence,
    reported by gate audit verify, not repaired.
    """
    result = _log(path).repair(actor or _login())
    if result is None:
        write(f"{path}: nothing to repair (the last line is complete)\n")
    else:
        write(
            f"{result.file}: removed an incomplete last line ({result.removed} bytes at offset "
            f"{result.offset}); recorded as entry {result.entry.seq} (audit.repair)\n"
        )
    return EXIT_PROMOTE


def _login() -> str | None:
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None
