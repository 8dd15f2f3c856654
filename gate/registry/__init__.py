"""The registry of record: model versions, their evidence, lifecycle history and serving windows.

``store`` is the API (SQLAlchemy 2 on SQLite or PostgreSQL, schema managed by
the Alembic migrations in ``migrations/``); ``models`` the tables; ``record``
validates a model version's metadata. History tables are append-only, and the
database itself refuses UPDATE and DELETE on them (triggers on both engines).
"""
