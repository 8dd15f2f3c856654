"""The registry's integrity: every history row is bound into the event chain, and the
database's append-only triggers are checked, not assumed.

- Every row gate inserts into a history table is hashed (its table, every
  column) and the hash is recorded in the event the same transaction
  appends (``events.rows``: ``[[table, id, sha256], ...]``, part of the
  event's own hash). A transaction that inserts a history row without an
  event is refused.
- ``verify`` recomputes the chain and every row: a row no event recorded
  (inserted behind gate's back), a row whose content no longer matches
  (changed with the triggers dropped, or replaced by ``INSERT OR REPLACE``),
  a recorded row that is gone, a table the chain does not cover, and a
  trigger that is missing, disabled or altered are each one problem.
- ``trigger_problems`` is what gate checks on open and inside every write:
  it refuses to write while a trigger is missing or altered.
- The trigger definitions below are the ones migration 0005 (re)creates, so
  the check compares against exactly what gate installed.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any

HISTORY_TABLES = (
    "model_versions",
    "attachments",
    "transitions",
    "serving_windows",
    "serving_window_closes",
    "statements",
    "skill_submissions",
    "skill_transitions",
    "skill_artifacts",
    "skill_statements",
    "skill_publications",
    "skill_revocations",
)
"""Tables that carry history: each row is covered by the event chain."""

APPEND_ONLY = (*HISTORY_TABLES, "events")
NOT_HISTORY = ("events", "alembic_version")

UNIQUE_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "model_versions": (("name", "version"),),
    "transitions": (("model_version_id", "seq"),),
    "serving_window_closes": (("window_id",),),
    "statements": (("sha256",),),
    "skill_transitions": (("submission_id", "seq"),),
    "skill_statements": (("sha256",),),
    "events": (("prev_hash",), ("hash",)),
}
"""Besides ``id``: the keys an ``INSERT OR REPLACE`` could replace a row by (SQLite)."""

# --- row hashes ----------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:  # SQLite hands back naive UTC
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def row_digest(table: str, row: dict[str, Any]) -> str:
    """Hex sha256 of a row: its table and every column, as JSON with sorted keys."""
    body = {"table": table, "row": {name: _plain(value) for name, value in row.items()}}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def orm_row(obj: Any) -> tuple[str, dict[str, Any]]:
    """(table, {column: value}) of a flushed ORM object."""
    from sqlalchemy import inspect

    mapper = inspect(obj).mapper
    values = {attr.columns[0].name: getattr(obj, attr.key) for attr in mapper.column_attrs}
    return str(mapper.local_table.name), values


def track(session: Any) -> None:
    """Collect the history rows *session* inserts; refuse to commit any no event recorded."""
    from sqlalchemy import event

    from gate.registry.store import RegistryError

    def flushed(session: Any, _context: Any) -> None:
        for obj in session.new:
            table, _ = orm_row(obj)
            if table in HISTORY_TABLES:
                session.info.setdefault("gate_rows", []).append(obj)

    def committing(session: Any) -> None:
        if session.info.get("gate_rows"):
            raise RegistryError("internal error: history rows written without an event; nothing recorded")

    event.listen(session, "after_flush", flushed)
    event.listen(session, "before_commit", committing)


def take_rows(session: Any) -> list[list[Any]]:
    """``[[table, id, sha256], ...]`` of the rows inserted since the last event (and forget them)."""
    out = []
    for obj in session.info.pop("gate_rows", []):
        table, values = orm_row(obj)
        out.append([table, values["id"], row_digest(table, values)])
    return out


# --- triggers --------------------------------------------------------------------------------

PG_APPEND_ONLY = """
BEGIN
  RAISE EXCEPTION 'gate registry: % on % refused: history is append-only', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END """

_END = "COALESCE(w.ends, (SELECT c.ends FROM serving_window_closes c WHERE c.window_id = w.id))"

PG_NO_OVERLAP = f"""
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('gate_serving_windows:' || NEW.deployment));
  IF EXISTS (
    SELECT 1 FROM serving_windows w
    WHERE w.deployment = NEW.deployment
      AND tstzrange(w.starts, {_END}, '[)') && tstzrange(NEW.starts, NEW.ends, '[)')
  ) THEN
    RAISE EXCEPTION 'gate registry: serving window overlaps another for deployment %', NEW.deployment
      USING ERRCODE = 'exclusion_violation';
  END IF;
  RETURN NEW;
END """

PG_CLOSE_CHECK = """
DECLARE w serving_windows%ROWTYPE;
BEGIN
  SELECT * INTO w FROM serving_windows WHERE id = NEW.window_id;
  PERFORM pg_advisory_xact_lock(hashtext('gate_serving_windows:' || w.deployment));
  IF w.ends IS NOT NULL OR NEW.ends <= w.starts THEN
    RAISE EXCEPTION 'gate registry: only an open serving window can be closed, after its start'
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END """

PG_FUNCTIONS = {
    "gate_append_only": PG_APPEND_ONLY,
    "gate_no_window_overlap": PG_NO_OVERLAP,
    "gate_window_close_check": PG_CLOSE_CHECK,
}

# tgtype bits: ROW 1, BEFORE 2, INSERT 4, DELETE 8, UPDATE 16, TRUNCATE 32
_ROW_UPDATE_DELETE, _TRUNCATE, _ROW_INSERT = 27, 34, 7


def pg_triggers() -> dict[str, tuple[str, int, str]]:
    """name -> (table, tgtype, function) of every trigger gate installs on PostgreSQL."""
    out = {}
    for table in APPEND_ONLY:
        out[f"{table}_append_only"] = (table, _ROW_UPDATE_DELETE, "gate_append_only")
        out[f"{table}_no_truncate"] = (table, _TRUNCATE, "gate_append_only")
    out["serving_windows_no_overlap"] = ("serving_windows", _ROW_INSERT, "gate_no_window_overlap")
    out["serving_window_closes_check"] = ("serving_window_closes", _ROW_INSERT, "gate_window_close_check")
    return out


def _replace_guard(table: str) -> str:
    keys = " OR ".join(
        "(" + " AND ".join(f"{c} = NEW.{c}" for c in key) + ")" for key in UNIQUE_KEYS.get(table, ())
    )
    match = f"id = NEW.id OR {keys}" if keys else "id = NEW.id"
    return (
        f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
        f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {match}) "
        f"BEGIN SELECT RAISE(ABORT, 'gate registry: INSERT on {table} refused: a row with this key "
        "exists (history is append-only: INSERT OR REPLACE is refused)'); END"
    )


def sqlite_triggers() -> dict[str, tuple[str, str]]:
    """name -> (table, CREATE TRIGGER text) of every trigger gate installs on SQLite."""
    out = {}
    for table in APPEND_ONLY:
        for action in ("UPDATE", "DELETE"):
            out[f"{table}_no_{action.lower()}"] = (
                table,
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'gate registry: {action} on {table} refused: "
                "history is append-only'); END",
            )
        out[f"{table}_no_replace"] = (table, _replace_guard(table))
    out["serving_windows_no_overlap"] = (
        "serving_windows",
        "CREATE TRIGGER serving_windows_no_overlap BEFORE INSERT ON serving_windows "
        "WHEN EXISTS (SELECT 1 FROM serving_windows w WHERE w.deployment = NEW.deployment "
        f"AND (NEW.ends IS NULL OR w.starts < NEW.ends) AND ({_END} IS NULL OR NEW.starts < {_END})) "
        "BEGIN SELECT RAISE(ABORT, 'gate registry: serving window overlaps another for this "
        "deployment'); END",
    )
    out["serving_window_closes_check"] = (
        "serving_window_closes",
        "CREATE TRIGGER serving_window_closes_check BEFORE INSERT ON serving_window_closes "
        "WHEN NOT EXISTS (SELECT 1 FROM serving_windows w WHERE w.id = NEW.window_id "
        "AND w.ends IS NULL AND w.starts < NEW.ends) "
        "BEGIN SELECT RAISE(ABORT, 'gate registry: only an open serving window can be closed, "
        "after its start'); END",
    )
    return out


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def trigger_problems(connection: Any) -> list[str]:
    """One line per trigger gate installed that is missing, disabled or altered."""
    from sqlalchemy import text

    problems = []
    if connection.dialect.name == "postgresql":
        rows = connection.execute(
            text(
                "SELECT t.tgname, c.relname, t.tgtype, t.tgenabled, p.proname, p.prosrc "
                "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid "
                "WHERE NOT t.tgisinternal AND c.relnamespace = to_regnamespace(current_schema())"
            )
        ).all()
        found = {r[0]: r for r in rows}
        for name, (table, kind, function) in pg_triggers().items():
            row = found.get(name)
            if row is None:
                problems.append(f"trigger {name} on {table} is missing")
            elif row[1] != table or int(row[2]) != kind or row[4] != function:
                problems.append(f"trigger {name} on {table} is not the one gate installed")
            elif row[3] not in ("O", "A"):
                problems.append(f"trigger {name} on {table} is disabled")
            elif not _same(row[5], PG_FUNCTIONS[function]):
                problems.append(f"trigger {name} on {table}: function {function}() was altered")
        return problems
    rows = connection.execute(
        text("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
    ).all()
    found = {r[0]: r for r in rows}
    for name, (table, sql) in sqlite_triggers().items():
        row = found.get(name)
        if row is None:
            problems.append(f"trigger {name} on {table} is missing")
        elif row[1] != table or not _same(row[2] or "", sql):
            problems.append(f"trigger {name} on {table} is not the one gate installed")
    return problems


def install_triggers(connection: Any) -> None:
    """(Re)create every trigger and trigger function gate installs (migration 0005)."""
    from sqlalchemy import text

    if connection.dialect.name == "postgresql":
        for function, body in PG_FUNCTIONS.items():
            connection.execute(
                text(
                    f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $${body}$$"
                )
            )
        for name, (table, kind, function) in pg_triggers().items():
            when, each = {
                _ROW_UPDATE_DELETE: ("UPDATE OR DELETE", "ROW"),
                _TRUNCATE: ("TRUNCATE", "STATEMENT"),
                _ROW_INSERT: ("INSERT", "ROW"),
            }[kind]
            connection.execute(text(f"DROP TRIGGER IF EXISTS {name} ON {table}"))
            connection.execute(
                text(
                    f"CREATE TRIGGER {name} BEFORE {when} ON {table} "
                    f"FOR EACH {each} EXECUTE FUNCTION {function}()"
                )
            )
        return
    for name, (_, sql) in sqlite_triggers().items():
        connection.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        connection.execute(text(sql))


# --- verification ----------------------------------------------------------------------------


def _event_body(e: Any) -> dict[str, Any]:
    from gate.registry.store import _iso

    body = {"kind": e.kind, "subject": e.subject, "data": e.data, "at": _iso(e.at), "prev_hash": e.prev_hash}
    if e.rows is not None:
        body["rows"] = e.rows
    return body


def _table_rows(connection: Any, name: str) -> Any:
    from sqlalchemy import MetaData, Table, select

    table = Table(name, MetaData(), autoload_with=connection)
    return connection.execute(select(table).order_by(table.c.id)).mappings()


def verify(store: Any) -> dict[str, Any]:
    """Recompute the event chain and every history row; one line per problem."""
    from sqlalchemy import inspect, select

    from gate.registry.models import Event
    from gate.registry.store import GENESIS, _canonical

    problems: list[str] = []
    recorded: dict[tuple[str, int], tuple[str, int]] = {}
    broken_at = None
    prev, count, rows = GENESIS, 0, 0
    with store._tx() as session:
        for e in session.execute(select(Event).order_by(Event.id)).scalars():
            if e.prev_hash != prev:
                problems.append(f"event {e.id}: prev_hash does not link to the event before it")
                broken_at = broken_at or e.id
            if hashlib.sha256(_canonical(_event_body(e))).hexdigest() != e.hash:
                problems.append(
                    f"event {e.id}: its hash does not match its content (changed after it was written)"
                )
                broken_at = broken_at or e.id
            for entry in e.rows or []:
                key = (str(entry[0]), int(entry[1]))
                if key in recorded:
                    problems.append(
                        f"event {e.id}: {key[0]} row {key[1]} is already recorded by event {recorded[key][1]}"
                    )
                recorded[key] = (str(entry[2]), e.id)
            prev = e.hash
            count += 1
        connection = session.connection()
        present = set(inspect(connection).get_table_names())
        for name in sorted(present - set(HISTORY_TABLES) - set(NOT_HISTORY)):
            problems.append(f"table {name} is not covered by the event chain")
        for name in HISTORY_TABLES:
            if name not in present:
                continue
            for row in _table_rows(connection, name):
                rows += 1
                found = recorded.pop((name, int(row["id"])), None)
                if found is None:
                    problems.append(
                        f"{name} row {row['id']}: recorded by no event (written behind gate's back)"
                    )
                elif row_digest(name, dict(row)) != found[0]:
                    problems.append(
                        f"{name} row {row['id']}: does not match the hash event {found[1]} recorded "
                        "(changed or replaced after it was written)"
                    )
        for (table_name, row_id), (_, event_id) in sorted(recorded.items()):
            problems.append(
                f"{table_name} row {row_id}: recorded by event {event_id} but missing (deleted or replaced)"
            )
        problems += trigger_problems(connection)
    detail = f"{count} events chain from genesis and cover {rows} rows" if not problems else problems[0]
    return {
        "valid": not problems,
        "events": count,
        "rows": rows,
        "broken_at": broken_at,
        "problems": problems,
        "detail": detail,
    }


def baseline(connection: Any) -> None:
    """Append one event recording every history row already in the database (migration 0005)."""
    from sqlalchemy import MetaData, Table, inspect, select

    from gate.registry.store import GENESIS, _canonical, _iso

    present = set(inspect(connection).get_table_names())
    covered = [
        [name, int(row["id"]), row_digest(name, dict(row))]
        for name in HISTORY_TABLES
        if name in present
        for row in _table_rows(connection, name)
    ]
    if not covered:
        return
    events = Table("events", MetaData(), autoload_with=connection)
    last = connection.execute(select(events.c.hash).order_by(events.c.id.desc()).limit(1)).scalar()
    at = datetime.now(timezone.utc)
    data = {"rows": len(covered), "why": "rows recorded before row hashes were kept (migration 0005)"}
    body = {
        "kind": "integrity-baseline",
        "subject": "registry",
        "data": data,
        "at": _iso(at),
        "prev_hash": last or GENESIS,
    }
    body["rows"] = covered
    digest = hashlib.sha256(_canonical(body)).hexdigest()
    connection.execute(
        events.insert().values(
            kind=body["kind"],
            subject="registry",
            data=data,
            at=at,
            prev_hash=body["prev_hash"],
            hash=digest,
            rows=covered,
        )
    )
