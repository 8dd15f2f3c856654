"""The registry store: open (and migrate) a database, record changes, answer questions.

``Store(url)`` opens SQLite (a file path or ``sqlite:///…``; the default is
``registry.sqlite`` under the user's data folder) or PostgreSQL
(``postgresql+psycopg://…``), and brings its schema to the latest Alembic
revision. Every change is one transaction that also appends a hash-chained
row to the ``events`` table (and, when an audit log is given, an entry to it):
the event chain's unique ``prev_hash`` serialises writers, so two processes
racing the same change end with exactly one of them recorded — the other
re-checks its preconditions and is refused.

Times are stored in UTC. Nothing is ever updated or deleted: the database
refuses it (see the migration).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from gate.errors import GateError, InputError, UsageError
from gate.registry.integrity import take_rows, track, trigger_problems

STATES = ("draft", "candidate", "approved", "deprecated", "retired")
GENESIS = "0" * 64
T = TypeVar("T")
_REF = re.compile(r"^([a-z0-9][a-z0-9._-]{0,127})@(\S{1,128})$")


class RegistryError(GateError):
    """A refused registry change (exit 1): the message says why."""

    exit_code = 1


def default_url() -> str:
    """``$GATE_DB``, else SQLite under ``$XDG_DATA_HOME/gate`` (``~/.local/share/gate``)."""
    if os.environ.get("GATE_DB"):
        return os.environ["GATE_DB"]
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "gate"
    return f"sqlite:///{base / 'registry.sqlite'}"


def normalise_url(url: str) -> str:
    if "://" not in url:
        return f"sqlite:///{Path(url).resolve()}"
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def parse_ref(ref: str) -> tuple[str, str]:
    """``NAME@VERSION`` -> (name, version)."""
    match = _REF.match(ref)
    if not match:
        raise UsageError(f"{ref!r}: expected NAME@VERSION, e.g. llama-guard@1.2.0")
    return match.group(1), match.group(2)


def utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise InputError(f"{moment.isoformat()}: a time needs a timezone (e.g. ...Z)")
    return moment.astimezone(timezone.utc)


def parse_time(text: str, what: str) -> datetime:
    try:
        return utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise InputError(f"{what} {text!r}: not an RFC 3339 time (e.g. 2026-11-23T10:00:00Z)") from None


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _canonical(value: Any) -> bytes:
    import rfc8785

    return rfc8785.dumps(value)


@dataclass
class Version:
    """A model version as the commands show it."""

    name: str
    version: str
    checksum: str
    state: str
    record: dict[str, Any]
    registered_at: str | None
    attachments: list[dict[str, Any]]
    registered_by: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "checksum": self.checksum,
            "state": self.state,
            "registered_at": self.registered_at,
            "attachments": self.attachments,
            "record": self.record,
        }


@dataclass
class Change:
    """One transition to record: *name*@*version* from *expected_from* to *to_state*."""

    name: str
    version: str
    expected_from: str
    to_state: str
    decision: dict[str, Any]


@dataclass
class Snapshot:
    """A version as one read saw it, with its statements (kind, envelope, sha256) and deprecation time."""

    version: Version
    statements: list[tuple[str, dict[str, Any], str]]
    deprecated_at: str | None


class Store:
    """One registry database."""

    def __init__(
        self, url: str | None = None, *, audit_log: str | None = None, actor: str | None = None
    ) -> None:
        from sqlalchemy import create_engine, event

        self.url = normalise_url(url or default_url())
        if self.url.startswith("sqlite:///"):
            Path(self.url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(self.url, connect_args={"timeout": 30})

            @event.listens_for(self.engine, "connect")
            def _sqlite(dbapi: Any, _record: Any) -> None:
                dbapi.isolation_level = None  # BEGIN IMMEDIATE below, not pysqlite's deferred one
                cursor = dbapi.cursor()
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA busy_timeout=30000")
                cursor.close()

            @event.listens_for(self.engine, "begin")
            def _begin(conn: Any) -> None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        else:
            self.engine = create_engine(self.url, pool_pre_ping=True)
        self.audit_log = audit_log
        self.actor = actor or os.environ.get("GATE_ACTOR") or _login()
        try:
            self.migrate()
            with self.engine.connect() as connection:
                self.trigger_problems = trigger_problems(connection)
        except Exception as exc:
            raise UsageError(f"{_shown(self.url)}: cannot open the registry: {_first(exc)}") from None

    # --- schema ---

    def migrate(self) -> None:
        """Bring the schema to the latest revision (idempotent)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    # --- transactions ---

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        from sqlalchemy.orm import Session

        with Session(self.engine) as session:
            track(session)
            with session.begin():
                yield session

    def _write(self, change: Callable[[Any], T], attempts: int = 20) -> T:
        """Run *change* in a transaction; a lost race on the event chain re-runs it (re-checked)."""
        from sqlalchemy.exc import IntegrityError, OperationalError

        for attempt in range(attempts):
            try:
                with self._tx() as session:
                    # checked inside the write: a trigger dropped after open is caught too
                    missing = trigger_problems(session.connection())
                    if missing:
                        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
                        raise RegistryError(
                            f"refusing to write: {missing[0]}{more}; the registry's append-only "
                            "triggers are not as gate installed them (gate registry verify lists them)"
                        )
                    return change(session)
            except IntegrityError as exc:
                if "events" not in str(exc.orig) and "prev_hash" not in str(exc.orig):
                    raise RegistryError(f"refused by the database: {_first(exc)}") from None
            except OperationalError as exc:
                if "locked" not in str(exc).lower() and "serializ" not in str(exc).lower():
                    raise
            if attempt == attempts - 1:
                break
        raise RegistryError("too many concurrent writers: the change was not recorded; try again")

    def _event(self, session: Any, kind: str, subject: str, data: dict[str, Any]) -> dict[str, Any]:
        from sqlalchemy import select

        from gate.registry.models import Event

        rows = take_rows(session)
        last = session.execute(select(Event.hash).order_by(Event.id.desc()).limit(1)).scalar()
        prev = last or GENESIS
        at = datetime.now(timezone.utc)
        body = {"kind": kind, "subject": subject, "data": data, "at": _iso(at), "prev_hash": prev}
        digest = hashlib.sha256(_canonical({**body, "rows": rows})).hexdigest()
        session.add(
            Event(kind=kind, subject=subject, data=data, at=at, prev_hash=prev, hash=digest, rows=rows)
        )
        session.flush()
        return {**body, "hash": digest}

    def _audit(self, event: dict[str, Any], subject_digest: str | None) -> None:
        if not self.audit_log:
            return
        from gate.audit.events import record_event
        from gate.audit.log import AuditLog

        record_event(
            AuditLog(self.audit_log),
            f"registry.{event['kind']}",
            subject_digest,
            actor=self.actor,
            subject=event["subject"],
            registry_event=event["hash"],
            **event["data"],
        )

    # --- model versions ---

    def _version(self, session: Any, name: str, version: str) -> Any:
        from sqlalchemy import select

        from gate.registry.models import ModelVersion

        found = session.execute(
            select(ModelVersion).where(ModelVersion.name == name, ModelVersion.version == version)
        ).scalar_one_or_none()
        if found is None:
            raise RegistryError(f"{name}@{version}: not registered")
        return found

    def _state(self, session: Any, model_version_id: int) -> tuple[str, int]:
        from sqlalchemy import select

        from gate.registry.models import Transition

        row = session.execute(
            select(Transition.to_state, Transition.seq)
            .where(Transition.model_version_id == model_version_id)
            .order_by(Transition.seq.desc())
            .limit(1)
        ).first()
        return (row[0], row[1]) if row else ("draft", 0)

    def register(self, record: dict[str, Any]) -> dict[str, Any]:
        """Record a validated metadata record as a new version in ``draft``."""
        from sqlalchemy import select

        from gate.registry.models import ModelVersion

        record_sha = hashlib.sha256(_canonical(record)).hexdigest()
        name, version = record["name"], record["version"]

        def change(session: Any) -> dict[str, Any]:
            exists = session.execute(
                select(ModelVersion.record_sha256).where(
                    ModelVersion.name == name, ModelVersion.version == version
                )
            ).scalar()
            if exists is not None:
                same = "the same record" if exists == record_sha else "a different record"
                raise RegistryError(
                    f"{name}@{version}: already registered ({same}); a new version starts over"
                )
            session.add(
                ModelVersion(
                    name=name,
                    version=version,
                    checksum=record["checksum"],
                    storage_uri=record["storage_uri"],
                    record=record,
                    record_sha256=record_sha,
                    registered_at=datetime.now(timezone.utc),
                    registered_by=self.actor,
                )
            )
            session.flush()
            return self._event(
                session,
                "register",
                f"{name}@{version}",
                {"checksum": record["checksum"], "record_sha256": record_sha},
            )

        event = self._write(change)
        self._audit(event, record["checksum"])
        return {"name": name, "version": version, "state": "draft", "event": event["hash"]}

    def attach(
        self, name: str, version: str, kind: str, filename: str, data: bytes, summary: dict[str, Any]
    ) -> dict[str, Any]:
        """Record an evidence document (by digest) for a version."""
        from gate.registry.models import Attachment

        digest = "sha256:" + hashlib.sha256(data).hexdigest()

        def change(session: Any) -> dict[str, Any]:
            found = self._version(session, name, version)
            session.add(
                Attachment(
                    model_version_id=found.id,
                    kind=kind,
                    sha256=digest,
                    filename=filename[:1024],
                    summary=summary,
                    attached_at=datetime.now(timezone.utc),
                    attached_by=self.actor,
                )
            )
            session.flush()
            return self._event(
                session, "attach", f"{name}@{version}", {"kind": kind, "sha256": digest, **summary}
            )

        event = self._write(change)
        self._audit(event, None)
        return {"name": name, "version": version, "kind": kind, "sha256": digest, "event": event["hash"]}

    def transition(
        self,
        name: str,
        version: str,
        expected_from: str,
        to_state: str,
        decision: dict[str, Any],
    ) -> dict[str, Any]:
        """Record an allowed transition, only if the version is still in *expected_from*."""
        from gate.registry.models import Transition

        if to_state not in STATES:
            raise UsageError(f"--to {to_state!r}: one of {', '.join(STATES)}")

        def change(session: Any) -> dict[str, Any]:
            found = self._version(session, name, version)
            state, seq = self._state(session, found.id)
            if state != expected_from:
                raise RegistryError(
                    f"{name}@{version}: is {state} now, not {expected_from}: the transition was not recorded"
                )
            session.add(
                Transition(
                    model_version_id=found.id,
                    seq=seq + 1,
                    from_state=state,
                    to_state=to_state,
                    reasons=list(decision.get("reasons", [])),
                    decision=decision,
                    at=datetime.now(timezone.utc),
                    actor=self.actor,
                )
            )
            session.flush()
            return self._event(
                session,
                "transition",
                f"{name}@{version}",
                {"from": state, "to": to_state, "reasons": list(decision.get("reasons", []))},
            )

        event = self._write(change)
        self._audit(event, None)
        return {
            "name": name,
            "version": version,
            "from": expected_from,
            "to": to_state,
            "event": event["hash"],
        }

    def transitions(self, changes: list[Change], batch: int = 500) -> list[dict[str, Any]]:
        """Record many transitions, *batch* per transaction (each still one transition row + one event).

        Each change is re-checked inside its transaction: a version no longer
        in its expected state is not moved (its result says ``refused`` and
        why) and the others are recorded. One result per change, in order.
        """
        from gate.registry.models import Transition

        for change in changes:
            if change.to_state not in STATES:
                raise UsageError(f"--to {change.to_state!r}: one of {', '.join(STATES)}")
        results: list[dict[str, Any]] = []
        for start in range(0, len(changes), batch):
            chunk = changes[start : start + batch]

            def write(session: Any, chunk: list[Change] = chunk) -> list[tuple[dict[str, Any], Any]]:
                done: list[tuple[dict[str, Any], Any]] = []
                for c in chunk:
                    found = self._version(session, c.name, c.version)
                    state, seq = self._state(session, found.id)
                    result: dict[str, Any] = {
                        "name": c.name,
                        "version": c.version,
                        "from": c.expected_from,
                        "to": c.to_state,
                    }
                    if state != c.expected_from:
                        result["refused"] = (
                            f"{c.name}@{c.version}: is {state} now, not {c.expected_from}: "
                            "the transition was not recorded"
                        )
                        done.append((result, None))
                        continue
                    reasons = list(c.decision.get("reasons", []))
                    session.add(
                        Transition(
                            model_version_id=found.id,
                            seq=seq + 1,
                            from_state=state,
                            to_state=c.to_state,
                            reasons=reasons,
                            decision=c.decision,
                            at=datetime.now(timezone.utc),
                            actor=self.actor,
                        )
                    )
                    session.flush()
                    event = self._event(
                        session,
                        "transition",
                        f"{c.name}@{c.version}",
                        {"from": state, "to": c.to_state, "reasons": reasons},
                    )
                    done.append(({**result, "event": event["hash"]}, event))
                return done

            for result, event in self._write(write):
                if event is not None:
                    self._audit(event, None)
                results.append(result)
        return results

    def lifecycle_snapshot(self, states: tuple[str, ...]) -> list[Snapshot]:
        """Every version whose current state is in *states*, with everything a decision reads.

        A handful of queries in one transaction (not one round of queries per
        version): the versions with their latest transition, their
        attachments, their statements and when each last entered ``deprecated``.
        Ordered as ``versions()`` orders them.
        """
        from sqlalchemy import func, select

        from gate.registry.models import Attachment, ModelVersion, Statement, Transition

        with self._tx() as session:
            latest = (
                select(Transition.model_version_id, func.max(Transition.seq).label("seq"))
                .group_by(Transition.model_version_id)
                .subquery()
            )
            current = (
                select(
                    ModelVersion.id,
                    ModelVersion.name,
                    ModelVersion.version,
                    ModelVersion.checksum,
                    ModelVersion.record,
                    ModelVersion.registered_at,
                    ModelVersion.registered_by,
                    Transition.to_state,
                )
                .join(latest, latest.c.model_version_id == ModelVersion.id)
                .join(
                    Transition,
                    (Transition.model_version_id == latest.c.model_version_id)
                    & (Transition.seq == latest.c.seq),
                )
                .where(Transition.to_state.in_(states))
                .order_by(ModelVersion.name, ModelVersion.id)
            )
            rows = session.execute(current).all()
            ids = (
                select(latest.c.model_version_id)
                .join(
                    Transition,
                    (Transition.model_version_id == latest.c.model_version_id)
                    & (Transition.seq == latest.c.seq),
                )
                .where(Transition.to_state.in_(states))
            )
            attachments: dict[int, list[dict[str, Any]]] = {}
            for a in session.execute(
                select(
                    Attachment.model_version_id,
                    Attachment.kind,
                    Attachment.sha256,
                    Attachment.filename,
                    Attachment.summary,
                    Attachment.attached_at,
                )
                .where(Attachment.model_version_id.in_(ids))
                .order_by(Attachment.id)
            ).all():
                attachments.setdefault(a[0], []).append(
                    {"kind": a[1], "sha256": a[2], "filename": a[3], "summary": a[4], "at": _iso(a[5])}
                )
            statements: dict[int, list[tuple[str, dict[str, Any], str]]] = {}
            for s in session.execute(
                select(Statement.model_version_id, Statement.kind, Statement.envelope, Statement.sha256)
                .where(Statement.model_version_id.in_(ids))
                .order_by(Statement.id)
            ).all():
                statements.setdefault(s[0], []).append((s[1], s[2], s[3]))
            deprecated: dict[int, tuple[int, Any]] = {}
            for d in session.execute(
                select(Transition.model_version_id, Transition.seq, Transition.at).where(
                    Transition.model_version_id.in_(ids), Transition.to_state == "deprecated"
                )
            ).all():
                if d[0] not in deprecated or d[1] > deprecated[d[0]][0]:
                    deprecated[d[0]] = (d[1], d[2])
            out = []
            for key, name, version, checksum, record, registered_at, registered_by, state in rows:
                found = Version(
                    name,
                    version,
                    checksum,
                    state,
                    record,
                    _iso(registered_at),
                    attachments.get(key, []),
                    registered_by,
                )
                moved = deprecated.get(key)
                out.append(Snapshot(found, statements.get(key, []), _iso(moved[1]) if moved else None))
        return out

    def record_statement(
        self, name: str, version: str, kind: str, envelope: dict[str, Any]
    ) -> dict[str, Any]:
        """Record a signed approval or exception (verified later, against the profile, by each decision)."""
        from gate.registry.models import Statement

        digest = hashlib.sha256(_canonical(envelope)).hexdigest()

        def change(session: Any) -> dict[str, Any]:
            found = self._version(session, name, version)
            session.add(
                Statement(
                    model_version_id=found.id,
                    kind=kind,
                    envelope=envelope,
                    sha256=digest,
                    recorded_at=datetime.now(timezone.utc),
                    recorded_by=self.actor,
                )
            )
            session.flush()
            return self._event(session, kind, f"{name}@{version}", {"statement_sha256": digest})

        try:
            event = self._write(change)
        except RegistryError as exc:
            if "statements" in str(exc) or "UNIQUE" in str(exc).upper():
                raise RegistryError(f"{name}@{version}: this {kind} statement is already recorded") from None
            raise
        self._audit(event, None)
        return {
            "name": name,
            "version": version,
            "kind": kind,
            "statement_sha256": digest,
            "event": event["hash"],
        }

    def statements(self, name: str, version: str) -> list[tuple[str, dict[str, Any]]]:
        """(kind, envelope) of every statement recorded for a version, oldest first."""
        from sqlalchemy import select

        from gate.registry.models import Statement

        with self._tx() as session:
            found = self._version(session, name, version)
            rows = session.execute(
                select(Statement.kind, Statement.envelope)
                .where(Statement.model_version_id == found.id)
                .order_by(Statement.id)
            ).all()
        return [(row[0], row[1]) for row in rows]

    def entered_at(self, name: str, version: str, state: str) -> str | None:
        """When the version last entered *state* (RFC 3339), or None."""
        from sqlalchemy import select

        from gate.registry.models import Transition

        with self._tx() as session:
            found = self._version(session, name, version)
            at = session.execute(
                select(Transition.at)
                .where(Transition.model_version_id == found.id, Transition.to_state == state)
                .order_by(Transition.seq.desc())
                .limit(1)
            ).scalar()
        return _iso(at)

    def serve_window(
        self,
        name: str,
        version: str,
        deployment: str,
        starts: datetime,
        ends: datetime | None,
        *,
        handover: bool = False,
    ) -> dict[str, Any]:
        """Record which version serves *deployment* from *starts* (``gate.registry.windows``)."""
        from gate.registry import windows

        return windows.serve(self, name, version, deployment, starts, ends, handover=handover)

    def close_window(self, deployment: str, at: datetime | None = None) -> dict[str, Any]:
        """Append the close of *deployment*'s open serving window (``gate.registry.windows``)."""
        from gate.registry import windows

        return windows.close(self, deployment, at)

    def served(self, deployment: str, at: datetime) -> dict[str, Any] | None:
        """Which version served *deployment* at *at* (None: nothing was recorded)."""
        from gate.registry import windows

        return windows.served(self, deployment, at)

    # --- reading ---

    def show(self, name: str, version: str) -> Version:
        from sqlalchemy import select

        from gate.registry.models import Attachment

        with self._tx() as session:
            found = self._version(session, name, version)
            state, _ = self._state(session, found.id)
            attachments = [
                {
                    "kind": a.kind,
                    "sha256": a.sha256,
                    "filename": a.filename,
                    "summary": a.summary,
                    "at": _iso(a.attached_at),
                }
                for a in session.execute(
                    select(Attachment).where(Attachment.model_version_id == found.id).order_by(Attachment.id)
                ).scalars()
            ]
            return Version(
                found.name,
                found.version,
                found.checksum,
                state,
                found.record,
                _iso(found.registered_at),
                attachments,
                found.registered_by,
            )

    def versions(self, state: str | None = None) -> list[dict[str, Any]]:
        from sqlalchemy import func, select

        from gate.registry.models import ModelVersion, Transition

        if state is not None and state not in STATES:
            raise UsageError(f"--state {state!r}: one of {', '.join(STATES)}")
        with self._tx() as session:
            latest = (
                select(Transition.model_version_id, func.max(Transition.seq).label("seq"))
                .group_by(Transition.model_version_id)
                .subquery()
            )
            rows = session.execute(
                select(ModelVersion.name, ModelVersion.version, ModelVersion.checksum, Transition.to_state)
                .outerjoin(latest, latest.c.model_version_id == ModelVersion.id)
                .outerjoin(
                    Transition,
                    (Transition.model_version_id == latest.c.model_version_id)
                    & (Transition.seq == latest.c.seq),
                )
                .order_by(ModelVersion.name, ModelVersion.id)
            ).all()
        out = [{"name": r[0], "version": r[1], "checksum": r[2], "state": r[3] or "draft"} for r in rows]
        return [r for r in out if state is None or r["state"] == state]

    def history(self, name: str, version: str) -> list[dict[str, Any]]:
        from sqlalchemy import select

        from gate.registry.models import Event

        subject = f"{name}@{version}"
        with self._tx() as session:
            self._version(session, name, version)
            rows = session.execute(select(Event).where(Event.subject == subject).order_by(Event.id)).scalars()
            return [{"kind": e.kind, "at": _iso(e.at), "data": e.data, "hash": e.hash} for e in rows]

    def verify_events(self) -> dict[str, Any]:
        """Recompute the event chain, every history row and the triggers (``gate.registry.integrity``):
        {valid, events, rows, broken_at, problems, detail}."""
        from gate.registry.integrity import verify

        return verify(self)


def _login() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _first(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _shown(url: str) -> str:
    """The URL without a password."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def load_json_file(path: str, limit: int = 16 * 1024 * 1024) -> tuple[Any, bytes]:
    """(value, bytes) of a JSON file (or ``-``), read no further than *limit*; errors name the file."""
    from gate.document import parse_json, read_bytes

    data = read_bytes(path, limit)
    return parse_json(path, data).value, data


__all__ = ["STATES", "RegistryError", "Store", "default_url", "parse_ref", "parse_time"]
