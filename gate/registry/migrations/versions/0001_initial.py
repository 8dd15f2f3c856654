"""The registry of record: model versions, attachments, transitions, serving windows, events.

Append-only, enforced by the database: triggers refuse UPDATE and DELETE on
every table, on SQLite and on PostgreSQL. Overlapping serving windows for one
deployment are refused by a trigger too (both engines).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None

TABLES = ("model_versions", "attachments", "transitions", "serving_windows", "events")
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, index=True),
        sa.Column("version", sa.String(128), nullable=False),
        sa.Column("checksum", sa.String(71), nullable=False),
        sa.Column("storage_uri", sa.Text, nullable=False),
        sa.Column("record", sa.JSON, nullable=False),
        sa.Column("record_sha256", sa.String(64), nullable=False),
        sa.Column("registered_at", TZ, nullable=False),
        sa.Column("registered_by", sa.String(256), nullable=False),
        sa.UniqueConstraint("name", "version", name="uq_model_versions_name_version"),
    )
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "model_version_id", sa.Integer, sa.ForeignKey("model_versions.id"), nullable=False, index=True
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("sha256", sa.String(71), nullable=False),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("attached_at", TZ, nullable=False),
        sa.Column("attached_by", sa.String(256), nullable=False),
    )
    op.create_table(
        "transitions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "model_version_id", sa.Integer, sa.ForeignKey("model_versions.id"), nullable=False, index=True
        ),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("from_state", sa.String(32), nullable=False),
        sa.Column("to_state", sa.String(32), nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("decision", sa.JSON, nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.UniqueConstraint("model_version_id", "seq", name="uq_transitions_version_seq"),
    )
    op.create_table(
        "serving_windows",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "model_version_id", sa.Integer, sa.ForeignKey("model_versions.id"), nullable=False, index=True
        ),
        sa.Column("deployment", sa.String(256), nullable=False, index=True),
        sa.Column("starts", TZ, nullable=False),
        sa.Column("ends", TZ, nullable=True),
        sa.Column("recorded_at", TZ, nullable=False),
        sa.Column("recorded_by", sa.String(256), nullable=False),
        sa.CheckConstraint("ends IS NULL OR ends > starts", name="ck_serving_windows_order"),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            """
            CREATE FUNCTION gate_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              RAISE EXCEPTION 'gate registry: % on % refused: history is append-only', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege';
            END $$;
            """
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION gate_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION gate_append_only()"
            )
        op.execute(
            """
            CREATE FUNCTION gate_no_window_overlap() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              PERFORM pg_advisory_xact_lock(hashtext('gate_serving_windows:' || NEW.deployment));
              IF EXISTS (
                SELECT 1 FROM serving_windows w
                WHERE w.deployment = NEW.deployment
                  AND tstzrange(w.starts, w.ends, '[)') && tstzrange(NEW.starts, NEW.ends, '[)')
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
            "CREATE TRIGGER serving_windows_no_overlap BEFORE INSERT ON serving_windows "
            "FOR EACH ROW EXECUTE FUNCTION gate_no_window_overlap()"
        )
    else:
        for table in TABLES:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'gate registry: {action} on {table} refused: "
                    "history is append-only'); END"
                )
        op.execute(
            """
            CREATE TRIGGER serving_windows_no_overlap BEFORE INSERT ON serving_windows
            WHEN EXISTS (
              SELECT 1 FROM serving_windows w
              WHERE w.deployment = NEW.deployment
                AND (NEW.ends IS NULL OR w.starts < NEW.ends)
                AND (w.ends IS NULL OR NEW.starts < w.ends)
            )
            BEGIN
              SELECT RAISE(ABORT, 'gate registry: serving window overlaps another for this deployment');
            END
            """
        )
