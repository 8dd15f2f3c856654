"""The skills quarantine's tables (SQLAlchemy 2), in the registry's database. Append-only.

A submission is one intake of one package digest; its state is its latest
transition (``pending_scan`` before any). Re-intake of a revoked digest is a
new submission: the old one's history stays as it was.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gate.registry.models import Base


class SkillSubmission(Base):
    __tablename__ = "skill_submissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    digest: Mapped[str] = mapped_column(String(71), index=True)
    intake: Mapped[dict[str, Any]] = mapped_column(JSON)
    intake_sha256: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(256))


class SkillTransition(Base):
    __tablename__ = "skill_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("skill_submissions.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    from_state: Mapped[str] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    reasons: Mapped[list[str]] = mapped_column(JSON)
    decision: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(256))


class SkillArtifact(Base):
    """The scan (input document) and policy (decision) artifacts, the SBOM and signature, by digest."""

    __tablename__ = "skill_artifacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("skill_submissions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(71))
    content: Mapped[Any] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(256))


class SkillStatement(Base):
    """A signed approval (DSSE envelope), verified when a decision reads it."""

    __tablename__ = "skill_statements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("skill_submissions.id"), index=True)
    envelope: Mapped[dict[str, Any]] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(256))


class SkillPublication(Base):
    """An approved_trusted skill published to the trusted registry, with its evidence by digest."""

    __tablename__ = "skill_publications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("skill_submissions.id"), index=True)
    digest: Mapped[str] = mapped_column(String(71), index=True)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(256))


class SkillRevocation(Base):
    __tablename__ = "skill_revocations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(71), index=True)
    reason: Mapped[str] = mapped_column(Text)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(256))
