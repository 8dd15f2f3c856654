"""Closing a serving window: an appended close record (a handover is a close plus a new window).

An open window (``serve-window --from`` without ``--to``) ends when a close
record names it; nothing is updated. A window's end is its ``ends`` or, when
that is empty, its close's ``ends``. Append-only like the rest (triggers
refuse UPDATE and DELETE); a close of a window that already has an end, a
second close, or a close not after the window's start is refused by the
database too, and the overlap trigger on ``serving_windows`` now reads a
window's end through its close.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

_END = "COALESCE(w.ends, (SELECT c.ends FROM serving_window_closes c WHERE c.window_id = w.id))"


def upgrade() -> None:
    op.create_table(
        "serving_window_closes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("window_id", sa.Integer, sa.ForeignKey("serving_windows.id"), nullable=False, unique=True),
        sa.Column("ends", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(256), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        for name, when, each in (
            ("append_only", "UPDATE OR DELETE", "ROW"),
            ("no_truncate", "TRUNCATE", "STATEMENT"),
        ):
            op.execute(
                f"CREATE TRIGGER serving_window_closes_{name} BEFORE {when} ON serving_window_closes "
                f"FOR EACH {each} EXECUTE FUNCTION gate_append_only()"
            )
        op.execute(
            f"""
            CREATE OR REPLACE FUNCTION gate_no_window_overlap() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              PERFORM pg_advisory_xact_lock(hashtext('gate_serving_windows:' || NEW.deployment));
              IF EXISTS (
                SELECT 1 FROM serving_windows w
                WHERE w.deployment = NEW.deployment
                  AND tstzrange(w.starts, {_END}, '[)') && tstzrange(NEW.starts, NEW.ends, '[)')
              ) THEN
                RAISE EXCEPTION 'gate registry: serving window overlaps another for deployment %',
                  NEW.deployment
                  USING ERRCODE = 'exclusion_violation';
              END IF;
              RETURN NEW;
            END $$;
            """
        )
        op.execute(
            """
            CREATE FUNCTION gate_window_close_check() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE w serving_windows%ROWTYPE;
            BEGIN
              SELECT * INTO w FROM serving_windows WHERE id = NEW.window_id;
              PERFORM pg_advisory_xact_lock(hashtext('gate_serving_windows:' || w.deployment));
              IF w.ends IS NOT NULL OR NEW.ends <= w.starts THEN
                RAISE EXCEPTION 'gate registry: only an open serving window can be closed, after its start'
                  USING ERRCODE = 'check_violation';
              END IF;
              RETURN NEW;
            END $$;
            """
        )
        op.execute(
            "CREATE TRIGGER serving_window_closes_check BEFORE INSERT ON serving_window_closes "
            "FOR EACH ROW EXECUTE FUNCTION gate_window_close_check()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER serving_window_closes_no_{action.lower()} BEFORE {action} "
                f"ON serving_window_closes BEGIN SELECT RAISE(ABORT, 'gate registry: {action} on "
                "serving_window_closes refused: history is append-only'); END"
            )
        op.execute("DROP TRIGGER serving_windows_no_overlap")
        op.execute(
            f"""
            CREATE TRIGGER serving_windows_no_overlap BEFORE INSERT ON serving_windows
            WHEN EXISTS (
              SELECT 1 FROM serving_windows w
              WHERE w.deployment = NEW.deployment
                AND (NEW.ends IS NULL OR w.starts < NEW.ends)
                AND ({_END} IS NULL OR NEW.starts < {_END})
            )
            BEGIN
              SELECT RAISE(ABORT, 'gate registry: serving window overlaps another for this deployment');
            END
            """
        )
        op.execute(
            """
            CREATE TRIGGER serving_window_closes_check BEFORE INSERT ON serving_window_closes
            WHEN NOT EXISTS (
              SELECT 1 FROM serving_windows w
              WHERE w.id = NEW.window_id AND w.ends IS NULL AND w.starts < NEW.ends
            )
            BEGIN
              SELECT RAISE(ABORT,
                'gate registry: only an open serving window can be closed, after its start');
            END
            """
        )
