"""Signed approval and exception statements, append-only like the rest of the history.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "statements",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "model_version_id", sa.Integer, sa.ForeignKey("model_versions.id"), nullable=False, index=True
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("envelope", sa.JSON, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(256), nullable=False),
        sa.CheckConstraint("kind IN ('approval', 'exception')", name="ck_statements_kind"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER statements_append_only BEFORE UPDATE OR DELETE ON statements "
            "FOR EACH ROW EXECUTE FUNCTION gate_append_only()"
        )
        op.execute(
            "CREATE TRIGGER statements_no_truncate BEFORE TRUNCATE ON statements "
            "FOR EACH STATEMENT EXECUTE FUNCTION gate_append_only()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER statements_no_{action.lower()} BEFORE {action} ON statements "
                f"BEGIN SELECT RAISE(ABORT, 'gate registry: {action} on statements refused: "
                "history is append-only'); END"
            )
