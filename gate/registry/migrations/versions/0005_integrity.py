"""Row hashes in the event chain, INSERT OR REPLACE refused, triggers gate can check.

- ``events.rows``: each event records ``[table, id, sha256]`` of the history
  rows its transaction inserted (part of the event's hash); rows already in
  the database are recorded by one ``integrity-baseline`` event appended here.
- SQLite: a BEFORE INSERT trigger per append-only table refuses a row whose
  ``id`` or unique key already exists, so ``INSERT OR REPLACE`` (whose
  implicit delete fires no DELETE trigger) cannot replace history. Upserts
  (``ON CONFLICT DO UPDATE``) are refused by the UPDATE triggers on both engines.
- Every trigger and trigger function is (re)created from
  ``gate.registry.integrity``, the definitions gate checks on open and before
  every write.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gate.registry import integrity

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.add_column("events", sa.Column("rows", sa.JSON, nullable=True))
    connection = op.get_bind()
    integrity.install_triggers(connection)
    integrity.baseline(connection)
