"""Serving windows end by an appended close record; a handover closes and opens in one write.

The case the review filed: ``serve-window --from`` with no ``--to`` could never be closed, so no
later version could ever serve that deployment. Through the CLI on SQLite and PostgreSQL, and the
database's own triggers written to directly."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gate.registry.store import RegistryError, Store
from tests.helpers import BIN
from tests.registry_of_record.test_store import record


def _gate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "gate"), "registry", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _approved(store: Store, *versions: str) -> None:
    for version in versions:
        store.register(record(version))
        for a, b in (("draft", "candidate"), ("candidate", "approved")):
            store.transition("llama-guard", version, a, b, {"reasons": []})


def test_an_open_window_is_closed_or_handed_over_and_a_later_version_serves(
    tmp_path: Path, db_url: str
) -> None:
    store = Store(db_url)
    _approved(store, "1.2.0", "1.3.0", "1.4.0")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    began = now - timedelta(days=10)
    ok = _gate(
        "serve-window",
        "llama-guard@1.2.0",
        "--deployment",
        "chat-prod",
        "--from",
        _iso(began),
        "--db",
        db_url,
    )
    assert ok.returncode == 0, ok.stderr

    # the stuck state: no later version can serve while the window is open
    later = _iso(now + timedelta(hours=1))
    stuck = _gate(
        "serve-window", "llama-guard@1.3.0", "--deployment", "chat-prod", "--from", later, "--db", db_url
    )
    assert stuck.returncode == 1 and "overlaps" in stuck.stderr and "close-window" in stuck.stderr

    # a close may not be backdated: the registry's answer for yesterday stays 1.2.0
    past = _gate(
        "close-window", "--deployment", "chat-prod", "--at", _iso(now - timedelta(days=1)), "--db", db_url
    )
    assert past.returncode == 1 and "cannot be closed in the past" in past.stderr

    # handover: 1.2.0's window ends at T, 1.3.0's starts at T, one transaction
    handed = _gate(
        "serve-window", "llama-guard@1.3.0", "--deployment", "chat-prod", "--from", later, "--handover",
        "--db", db_url, "-o", "json",
    )  # fmt: skip
    assert handed.returncode == 0, handed.stderr
    before = store.served("chat-prod", now + timedelta(minutes=59))
    after = store.served("chat-prod", now + timedelta(hours=1))
    assert before is not None and before["version"] == "1.2.0" and before["to"].startswith(later[:19])
    assert after is not None and after["version"] == "1.3.0" and after["to"] is None
    yesterday = store.served("chat-prod", now - timedelta(days=1))
    assert yesterday is not None and yesterday["version"] == "1.2.0"

    # closing 1.3.0's open window lets 1.4.0 serve after it, with a gap
    end = now + timedelta(hours=2)
    closed = _gate(
        "close-window", "--deployment", "chat-prod", "--at", _iso(end), "--db", db_url, "-o", "json"
    )
    assert closed.returncode == 0, closed.stderr
    assert json.loads(closed.stdout)["version"] == "llama-guard@1.3.0"
    assert store.served("chat-prod", end) is None
    again = _gate("close-window", "--deployment", "chat-prod", "--db", db_url)
    assert again.returncode == 1 and "no open serving window" in again.stderr
    serve_next = ["serve-window", "llama-guard@1.4.0", "--deployment", "chat-prod", "--db", db_url, "--from"]
    inside = _gate(*serve_next, _iso(end - timedelta(minutes=1)))
    assert inside.returncode == 1 and "overlaps" in inside.stderr
    assert _gate(*serve_next, _iso(end + timedelta(hours=1))).returncode == 0
    kinds = [e["kind"] for e in store.history("llama-guard", "1.2.0")]
    assert kinds[-2:] == ["serve-window", "close-window"]
    assert _gate("verify", "--db", db_url).returncode == 0


def test_the_database_itself_refuses_a_bad_close_and_rewriting_one(db_url: str) -> None:
    """A writer that skips gate cannot close a closed window, close before the start, or edit a close."""
    from sqlalchemy import text

    store = Store(db_url)
    _approved(store, "1.2.0")
    now = datetime.now(timezone.utc)
    store.serve_window("llama-guard", "1.2.0", "fixed", now - timedelta(days=2), now - timedelta(days=1))
    store.serve_window("llama-guard", "1.2.0", "open", now - timedelta(days=2), None)
    row = (
        "INSERT INTO serving_window_closes (window_id, ends, recorded_at, recorded_by) "
        "VALUES (:w, :e, :e, 'x')"
    )
    refused = "only an open serving window"
    for window, ends in ((1, now), (2, now - timedelta(days=3))):
        with pytest.raises(Exception, match=refused), store.engine.begin() as conn:
            conn.execute(text(row), {"w": window, "e": ends})
    store.close_window("open", now + timedelta(hours=1))
    with pytest.raises(RegistryError, match="no open serving window"):
        store.close_window("open", now + timedelta(hours=2))
    for statement in ("UPDATE serving_window_closes SET ends = ends", "DELETE FROM serving_window_closes"):
        with pytest.raises(Exception, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(statement))
    # the overlap trigger reads the close: a window after it is accepted by the database
    later = now + timedelta(hours=3)
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO serving_windows (model_version_id, deployment, starts, ends, recorded_at, "
                "recorded_by) VALUES (1, 'open', :s, NULL, :s, 'x')"
            ),
            {"s": later},
        )
