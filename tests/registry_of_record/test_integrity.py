"""Tampering with the registry behind gate's back, as someone with write access to the database
would: with the sqlite3 module or psql, not through gate. ``gate registry verify`` must say what
was done (exit 1, one line per problem), gate must refuse to write while a trigger is missing or
altered, and INSERT OR REPLACE / upserts must be refused on the append-only tables."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from gate.registry.store import Store
from tests.helpers import BIN
from tests.registry_of_record.conftest import _bin
from tests.registry_of_record.test_store import record


def _gate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "gate"), "registry", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )


def _sql(url: str, *statements: str) -> None:
    """Run *statements* against the database directly: sqlite3 for SQLite, psql for PostgreSQL."""
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url[len("sqlite:///") :])
        try:
            for statement in statements:
                conn.execute(statement)
            conn.commit()
        finally:
            conn.close()
        return
    psql = _bin("psql")
    assert psql, "psql is not installed"
    target = url.replace("postgresql+psycopg://", "postgresql://")
    argv = [psql, target, "-v", "ON_ERROR_STOP=1", "-q"]
    for statement in statements:
        argv += ["-c", statement]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip())


def _registry(url: str) -> Store:
    store = Store(url)
    store.register(record())
    store.transition("llama-guard", "1.2.0", "draft", "candidate", {"reasons": ["all_stages_passed"]})
    assert _gate("verify", "--db", url).returncode == 0
    return store


def _sqlite(url: str) -> bool:
    return url.startswith("sqlite:///")


def _broken(url: str) -> list[str]:
    done = _gate("verify", "--db", url)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert all(line.startswith("BROKEN: ") for line in lines), lines
    return lines


_TRANSITION = (
    "INSERT INTO transitions (model_version_id, seq, from_state, to_state, reasons, decision, at, actor) "
    "VALUES (1, 2, 'candidate', 'approved', '[]', '{}', '2026-12-01 00:00:00', 'mallory')"
)


def test_insert_or_replace_and_upserts_are_refused(db_url: str) -> None:
    _registry(db_url)
    if _sqlite(db_url):
        replaces = [
            "INSERT OR REPLACE INTO model_versions SELECT id, name, version, checksum, 's3://evil', record, "
            "record_sha256, registered_at, registered_by FROM model_versions WHERE id = 1",
            "REPLACE INTO transitions SELECT id, model_version_id, seq, from_state, 'approved', reasons, "
            "decision, at, actor FROM transitions WHERE id = 1",
            # a new id but the same (name, version): REPLACE would delete the old row
            "INSERT OR REPLACE INTO model_versions (name, version, checksum, storage_uri, record, "
            "record_sha256, registered_at, registered_by) "
            "SELECT name, version, checksum, 's3://evil', record, "
            "record_sha256, registered_at, registered_by FROM model_versions WHERE id = 1",
        ]
        for statement in replaces:
            with pytest.raises(sqlite3.IntegrityError, match="INSERT OR REPLACE is refused"):
                _sql(db_url, statement)
    upsert = (
        "INSERT INTO model_versions (id, name, version, checksum, storage_uri, record, record_sha256, "
        "registered_at, registered_by) "
        "SELECT id, name, version, checksum, storage_uri, record, record_sha256, "
        "registered_at, registered_by FROM model_versions WHERE id = 1 "
        "ON CONFLICT (id) DO UPDATE SET storage_uri = 's3://evil'"
    )
    with pytest.raises((sqlite3.IntegrityError, RuntimeError), match="append-only"):
        _sql(db_url, upsert)
    assert _gate("verify", "--db", db_url).returncode == 0


def test_a_transition_inserted_without_an_event_is_reported(db_url: str) -> None:
    store = _registry(db_url)
    _sql(db_url, _TRANSITION)
    assert store.show("llama-guard", "1.2.0").state == "approved"  # what the attacker wanted
    assert _broken(db_url) == ["BROKEN: transitions row 2: recorded by no event (written behind gate's back)"]


def test_a_replaced_version_row_is_reported(db_url: str) -> None:
    _registry(db_url)
    if _sqlite(db_url):
        _sql(
            db_url,
            "DROP TRIGGER model_versions_no_replace",
            "INSERT OR REPLACE INTO model_versions SELECT id, name, version, "
            "'sha256:' || lower(hex(randomblob(32))), storage_uri, record, record_sha256, registered_at, "
            "registered_by FROM model_versions WHERE id = 1",
        )
        trigger = "model_versions_no_replace"
    else:  # PostgreSQL has no REPLACE: the upsert needs the UPDATE trigger gone
        _sql(
            db_url,
            "DROP TRIGGER model_versions_append_only ON model_versions",
            "INSERT INTO model_versions SELECT * FROM model_versions WHERE id = 1 "
            "ON CONFLICT (id) DO UPDATE SET checksum = 'sha256:' || md5('x') || md5('y')",
        )
        trigger = "model_versions_append_only"
    assert _broken(db_url) == [
        "BROKEN: model_versions row 1: does not match the hash event 1 recorded "
        "(changed or replaced after it was written)",
        f"BROKEN: trigger {trigger} on model_versions is missing",
    ]


def _record_file(tmp_path: Path) -> str:
    path = tmp_path / "record-1.3.0.json"
    path.write_text(json.dumps(record("1.3.0")))
    return str(path)


def test_a_dropped_trigger_and_an_update_are_reported_and_gate_refuses_to_write(
    tmp_path: Path, db_url: str
) -> None:
    store = _registry(db_url)
    trigger = "transitions_no_update" if _sqlite(db_url) else "transitions_append_only ON transitions"
    _sql(db_url, f"DROP TRIGGER {trigger}", "UPDATE transitions SET to_state = 'approved'")
    assert store.show("llama-guard", "1.2.0").state == "approved"
    name = trigger.split()[0]
    assert _broken(db_url) == [
        "BROKEN: transitions row 1: does not match the hash event 2 recorded "
        "(changed or replaced after it was written)",
        f"BROKEN: trigger {name} on transitions is missing",
    ]
    events = store.verify_events()["events"]
    refused = _gate("register", _record_file(tmp_path), "--db", db_url)
    assert (
        refused.returncode == 1
        and f"refusing to write: trigger {name} on transitions is missing" in refused.stderr
    )
    with pytest.raises(Exception, match="refusing to write"):
        store.register(record("1.3.0"))  # a store opened before the trigger went away
    assert store.verify_events()["events"] == events and len(store.versions()) == 1

    # the row put back as recorded and the trigger re-created: valid again; a new row behind
    # gate's back is still caught
    _sql(db_url, "UPDATE transitions SET to_state = 'candidate'")
    if _sqlite(db_url):
        from gate.registry.integrity import sqlite_triggers

        _sql(db_url, sqlite_triggers()[name][1])
    else:
        _sql(
            db_url,
            f"CREATE TRIGGER {name} BEFORE UPDATE OR DELETE ON transitions "
            "FOR EACH ROW EXECUTE FUNCTION gate_append_only()",
        )
    assert _gate("verify", "--db", db_url).returncode == 0  # the row is as it was recorded again
    _sql(db_url, _TRANSITION)
    assert len(_broken(db_url)) == 1


def test_a_disabled_or_hollowed_out_trigger_on_postgresql_is_refused(
    tmp_path: Path, postgres_url: str
) -> None:
    from tests.registry_of_record.conftest import create_database

    for n, tamper in enumerate(
        [
            "ALTER TABLE events DISABLE TRIGGER events_append_only",
            "CREATE OR REPLACE FUNCTION gate_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RETURN NEW; END $$",
        ]
    ):
        url = create_database(postgres_url, f"gate_hollow_{os.getpid()}_{n}")
        _registry(url)
        _sql(url, tamper)
        lines = _broken(url)
        assert lines[0] == (
            "BROKEN: trigger events_append_only on events is disabled"
            if n == 0
            else "BROKEN: trigger model_versions_append_only on model_versions: function gate_append_only() "
            "was altered"
        )
        refused = _gate("register", _record_file(tmp_path), "--db", url)
        assert refused.returncode == 1 and "refusing to write: trigger" in refused.stderr, refused.stderr


def test_an_existing_registry_is_upgraded_with_a_baseline_and_verifies(db_url: str) -> None:
    """A registry written before row hashes were kept: its rows are recorded by one baseline event."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text

    import gate.registry.store as store_module

    engine = create_engine(db_url)
    config = Config()
    config.set_main_option("script_location", str(Path(store_module.__file__).parent / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0004")
        connection.execute(
            text(
                "INSERT INTO model_versions (name, version, checksum, storage_uri, record, record_sha256, "
                "registered_at, registered_by) VALUES ('old', '1.0.0', 'sha256:00', 's3://m', '{}', '00', "
                ":at, 'ci')"
            ),
            {"at": "2026-01-01 00:00:00"},
        )
    engine.dispose()
    store = Store(db_url)
    report = store.verify_events()
    assert report["valid"], report["problems"]
    assert (report["events"], report["rows"]) == (1, 1)
    assert store.history("old", "1.0.0") == []  # the baseline's subject is the registry
    store.register(record())
    assert store.verify_events()["valid"]
