"""Who may revoke a skill, and how a revoked digest comes back: attacks through the CLI on a real
database, as the person at the keyboard would try them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from tests.skills.test_pipeline import (  # noqa: F401  (world is a fixture)
    _approve,
    _gate,
    _intake,
    _json,
    _manifest,
    _revoke,
    world,
)


def _trusted_and_published(setup: dict[str, Any], db: str) -> str:
    p = setup["profile"]
    digest = str(_intake(setup, db)["digest"])
    assert _gate("skill", "scan", "pdf-text", "--profile", p, db=db).returncode == 0
    _approve(setup, db, "sec", "security")
    _approve(setup, db, "run", "runtime-owner")
    evaluated = _gate("skill", "evaluate", "pdf-text", "--profile", p, db=db)
    assert evaluated.returncode == 0, evaluated.stdout + evaluated.stderr
    published = _gate("skill", "publish", "pdf-text", "--profile", p, db=db)
    assert published.returncode == 0, published.stdout + published.stderr
    return digest


def _allowlist(db: str) -> dict[str, Any]:
    return dict(_json(_gate("skill", "allowlist", "-o", "json", db=db)))


def test_a_name_or_a_forged_signature_revokes_nothing(world: dict[str, Any], tmp_path: Path) -> None:  # noqa: F811
    db = str(tmp_path / "registry.sqlite")
    p = world["profile"]
    digest = _trusted_and_published(world, db)

    # the incident commander's name alone, as gate used to accept it
    named = _gate("skill", "revoke", digest, "--reason", "x", "--as", "ic", "--profile", p, db=db)
    assert named.returncode == 2 and "--key" in named.stderr
    # the incident commander's name, signed with someone else's key
    forged = _revoke(world, db, digest, "ic", "incident-commander", key="run")
    assert forged.returncode == 1, forged.stdout + forged.stderr
    assert "skill_revocation_unauthorised" in forged.stdout and "does not verify" in forged.stdout
    # a real signature by someone who holds no revocation role
    unauthorised = _revoke(world, db, digest, "run", "runtime-owner")
    assert unauthorised.returncode == 1 and "not a revocation role" in unauthorised.stdout
    claimed = _revoke(world, db, digest, "run", "incident-commander")
    assert claimed.returncode == 1 and "does not list run as holding" in claimed.stdout
    # a statement file that is not signed at all
    bogus = tmp_path / "revocation.json"
    envelope = {"payloadType": "application/vnd.in-toto+json", "payload": "e30=", "signatures": []}
    bogus.write_text(json.dumps(envelope))
    unsigned = _gate("skill", "revoke", digest, "--statement", str(bogus), "--profile", p, db=db)
    assert unsigned.returncode == 1 and "skill_revocation_unauthorised" in unsigned.stdout

    allow = _allowlist(db)
    assert list(allow["byDigest"]) == [digest] and allow["revokedDigests"] == []
    assert _json(_gate("skill", "show", digest, "-o", "json", db=db))["state"] == "approved_trusted"
    assert not world["notified"].exists()

    revoked = _revoke(world, db, digest, "ic", "incident-commander", "-o", "json")
    assert revoked.returncode == 0, revoked.stdout + revoked.stderr
    event = json.loads(world["notified"].read_text())
    assert (event["digest"], event["revoker"], event["role"]) == (digest, "ic", "incident-commander")
    assert _allowlist(db)["revocations"][digest]["by"] == "ic"


def test_a_revoked_digest_returns_only_through_two_party_approval(
    world: dict[str, Any],  # noqa: F811
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "registry.sqlite")
    p = world["profile"]
    digest = _trusted_and_published(world, db)
    assert _revoke(world, db, digest, "ic", "incident-commander").returncode == 0

    # re-intake and re-scan: still revoked, still off the allowlist
    again = _intake(world, db)
    assert again["digest"] == digest and again["state"] == "pending_scan"
    assert _gate("skill", "scan", "pdf-text", "--profile", p, db=db).returncode == 0
    allow = _allowlist(db)
    assert allow["byDigest"] == {} and allow["revokedDigests"] == [digest]

    # evaluation without approvals: never approved_limited, it waits in pending_policy
    held = _gate("skill", "evaluate", "pdf-text", "--profile", p, "-o", "json", db=db)
    assert held.returncode == 1, held.stdout + held.stderr
    assert _json(held)["to"] == "pending_policy" and not _json(held)["recorded"]
    assert _json(held)["decision"]["reasons"][0] == "skill_restore_incomplete"
    assert _json(_gate("skill", "show", "pdf-text", "-o", "json", db=db))["state"] == "pending_policy"
    blocked = _gate("enforce", "--manifest", str(_manifest(world, digest)), "--profile", p, db=db)
    assert blocked.returncode == 1 and "the digest is revoked" in blocked.stderr
    assert _gate("skill", "publish", "pdf-text", "--profile", p, db=db).returncode == 1

    # the revocation statement on record, replayed against the new intake, does not count
    with sqlite3.connect(db) as conn:
        (record,) = conn.execute("SELECT record FROM skill_revocations").fetchone()
    replay = tmp_path / "replayed.json"
    replay.write_text(json.dumps(json.loads(record)["statement"]))
    replayed = _gate("skill", "revoke", digest, "--statement", str(replay), "--profile", p, db=db)
    assert replayed.returncode == 1 and "a replayed revocation" in replayed.stdout

    # one approval is not enough; two distinct people restore it
    _approve(world, db, "sec", "security")
    one = _gate("skill", "evaluate", "pdf-text", "--profile", p, "-o", "json", db=db)
    assert one.returncode == 1 and _json(one)["to"] == "pending_policy"
    _approve(world, db, "run", "runtime-owner")
    restored = _gate("skill", "evaluate", "pdf-text", "--profile", p, "-o", "json", db=db)
    assert restored.returncode == 0 and _json(restored)["to"] == "approved_trusted", restored.stdout
    allow = _allowlist(db)
    assert allow["revokedDigests"] == [] and allow["byDigest"] == {}  # not published again yet
    assert _gate("skill", "publish", "pdf-text", "--profile", p, db=db).returncode == 0
    assert list(_allowlist(db)["byDigest"]) == [digest]
    history = _json(_gate("skill", "history", "pdf-text", "-o", "json", db=db))
    assert [h["to"] for h in history] == ["pending_policy", "approved_trusted"]
    assert _gate("registry", "verify", db=db).returncode == 0


def test_a_revoked_untrusted_re_intake_never_comes_back_limited(
    world: dict[str, Any],  # noqa: F811
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "registry.sqlite")
    p = world["profile"]
    digest = _trusted_and_published(world, db)
    assert _revoke(world, db, digest, "ic", "incident-commander").returncode == 0
    _intake(world, db, tier="untrusted")
    assert _gate("skill", "scan", "pdf-text", "--profile", p, db=db).returncode == 0
    held = _gate("skill", "evaluate", "pdf-text", "--profile", p, "-o", "json", db=db)
    assert held.returncode == 1 and _json(held)["to"] == "pending_policy"
    assert _allowlist(db)["revokedDigests"] == [digest]
