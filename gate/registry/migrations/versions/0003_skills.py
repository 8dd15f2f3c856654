"""The skills quarantine: submissions, their state transitions, scan and policy artifacts,
signed approvals, trusted-registry publications and revocations. Append-only like the
rest of the history (triggers refuse UPDATE and DELETE on both engines).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

TABLES = (
    "skill_submissions",
    "skill_transitions",
    "skill_artifacts",
    "skill_statements",
    "skill_publications",
    "skill_revocations",
)


def _when() -> sa.Column[object]:
    return sa.Column("at", sa.DateTime(timezone=True), nullable=False)


def _who() -> sa.Column[object]:
    return sa.Column("actor", sa.String(256), nullable=False)


def _submission() -> sa.Column[object]:
    return sa.Column(
        "submission_id", sa.Integer, sa.ForeignKey("skill_submissions.id"), nullable=False, index=True
    )


def upgrade() -> None:
    op.create_table(
        "skill_submissions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, index=True),
        sa.Column("digest", sa.String(71), nullable=False, index=True),
        sa.Column("intake", sa.JSON, nullable=False),
        sa.Column("intake_sha256", sa.String(64), nullable=False),
        _when(),
        _who(),
    )
    op.create_table(
        "skill_transitions",
        sa.Column("id", sa.Integer, primary_key=True),
        _submission(),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("from_state", sa.String(32), nullable=False),
        sa.Column("to_state", sa.String(32), nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("decision", sa.JSON, nullable=False),
        _when(),
        _who(),
        sa.UniqueConstraint("submission_id", "seq", name="uq_skill_transitions_seq"),
    )
    op.create_table(
        "skill_artifacts",
        sa.Column("id", sa.Integer, primary_key=True),
        _submission(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("sha256", sa.String(71), nullable=False),
        sa.Column("content", sa.JSON, nullable=False),
        _when(),
        _who(),
        sa.CheckConstraint("kind IN ('scan', 'policy', 'sbom', 'signature')", name="ck_skill_artifacts_kind"),
    )
    op.create_table(
        "skill_statements",
        sa.Column("id", sa.Integer, primary_key=True),
        _submission(),
        sa.Column("envelope", sa.JSON, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        _when(),
        _who(),
    )
    op.create_table(
        "skill_publications",
        sa.Column("id", sa.Integer, primary_key=True),
        _submission(),
        sa.Column("digest", sa.String(71), nullable=False, index=True),
        sa.Column("record", sa.JSON, nullable=False),
        _when(),
        _who(),
    )
    op.create_table(
        "skill_revocations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("digest", sa.String(71), nullable=False, index=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("record", sa.JSON, nullable=False),
        _when(),
        _who(),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        if postgres:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION gate_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION gate_append_only()"
            )
        else:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'gate registry: {action} on {table} refused: "
                    "history is append-only'); END"
                )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
