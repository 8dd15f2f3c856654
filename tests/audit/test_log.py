"""The audit log: tampering found at the right entry, torn tails, repair, rotation, checkpoints."""

from __future__ import annotations

import itertools
import json
import stat
from pathlib import Path

import pytest

from gate.attest.keys import SigningKey, VerifyKey, generate_key, keyid_of
from gate.audit.log import AuditError, AuditLog
from gate.audit.verify import verify_log


def _pub(key: SigningKey) -> VerifyKey:
    return VerifyKey(key.public_key, keyid_of(key.public_key), "test key")


def _filled(tmp_path: Path, count: int = 20, **options: object) -> AuditLog:
    log = AuditLog(tmp_path / "audit.jsonl", **options)  # type: ignore[arg-type]
    for i in range(count):
        log.append("decision", f"sha256:{i:064x}", {"verdict": "promote" if i % 2 else "block", "i": i})
    return log


def _lines(log: AuditLog) -> list[bytes]:
    return log.path.read_bytes().splitlines(keepends=True)


def _write(log: AuditLog, lines: list[bytes]) -> None:
    log.path.write_bytes(b"".join(lines))


def test_appends_chain_and_verify(tmp_path: Path) -> None:
    log = _filled(tmp_path)
    entries = list(log.entries())

    assert [e.seq for e in entries] == list(range(1, 21))
    assert entries[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.entry_hash for a, b in itertools.pairwise(entries))
    report = verify_log(log)
    assert (report.valid, report.entries, report.files, report.broken_at) == (True, 20, 1, None)
    assert report.head == entries[-1].entry_hash


def test_one_changed_byte_is_found_at_its_entry(tmp_path: Path) -> None:
    log = _filled(tmp_path)
    lines = _lines(log)
    lines[11] = lines[11].replace(b'"verdict":"promote"', b'"verdict":"promotE"')
    _write(log, lines)

    report = verify_log(log)

    assert (report.valid, report.broken_at, report.entries) == (False, 12, 11)
    assert "audit.jsonl line 12: entry 12: entry_hash does not match" in report.detail


def test_a_deleted_line_is_found_where_it_was(tmp_path: Path) -> None:
    log = _filled(tmp_path)
    lines = _lines(log)
    del lines[6]
    _write(log, lines)

    report = verify_log(log)

    assert (report.valid, report.broken_at) == (False, 7)
    assert "seq 8 where entry 7 belongs" in report.detail


def test_two_swapped_lines_are_found_at_the_first(tmp_path: Path) -> None:
    log = _filled(tmp_path)
    lines = _lines(log)
    lines[3], lines[4] = lines[4], lines[3]
    _write(log, lines)

    report = verify_log(log)

    assert (report.valid, report.broken_at) == (False, 4)


def test_a_rewritten_tail_with_recomputed_hashes_is_caught_by_the_checkpoint(tmp_path: Path) -> None:
    key = generate_key()
    log = _filled(tmp_path, 10)
    log.checkpoint(key)
    # Rebuild entries 6..10 from scratch: a valid chain, but not the signed one.
    kept = _lines(log)[:5]
    _write(log, kept)
    for i in range(5):
        log.append("decision", None, {"verdict": "promote", "forged": i})

    assert verify_log(log).valid is False
    report = verify_log(log, _pub(key))
    assert (report.valid, report.broken_at) == (False, 10)
    assert "entry 10 is not the one the checkpoint signed" in report.detail


def test_a_cut_tail_after_a_checkpoint_is_detected(tmp_path: Path) -> None:
    key = generate_key()
    log = _filled(tmp_path, 30, key=key, checkpoint_every=10)
    assert len(log.checkpoints()) == 3
    _write(log, _lines(log)[:24])

    report = verify_log(log, _pub(key))

    assert (report.valid, report.entries, report.broken_at) == (False, 24, 25)
    assert "covers 30 entries but the log has 24: entries 25..30 were cut" in report.detail
    # Without the key the signatures are not checked, but the checkpoints still say the log was longer.
    assert verify_log(AuditLog(log.path)).broken_at == 25


def test_checkpoint_signed_by_another_key_is_refused(tmp_path: Path) -> None:
    log = _filled(tmp_path, 5)
    log.checkpoint(generate_key())

    report = verify_log(log, _pub(generate_key()))

    assert report.valid is False
    assert "signature does not verify" in report.detail


def test_checkpoint_of_another_log_is_refused(tmp_path: Path) -> None:
    key = generate_key()
    other = _filled(tmp_path / "other", 5)
    other.checkpoint(key)
    log = _filled(tmp_path, 5)
    log.checkpoints_path.write_bytes(other.checkpoints_path.read_bytes())

    report = verify_log(log, _pub(key))

    assert report.valid is False
    assert "is for log gate-audit/" in report.detail


def test_checkpoints_every_n_entries(tmp_path: Path) -> None:
    key = generate_key()
    log = _filled(tmp_path, 25, key=key, checkpoint_every=10)

    sizes = [c.size for _, c in log.checkpoints()]  # type: ignore[union-attr]
    report = verify_log(log, _pub(key))

    assert sizes == [10, 20]
    assert report.valid and report.checkpoints == {"count": 2, "signatures_checked": True, "latest_size": 20}


def test_torn_tail_verify_diagnoses_appends_refuse_repair_fixes(tmp_path: Path) -> None:
    log = _filled(tmp_path, 5)
    whole = log.path.read_bytes()
    log.append("decision", None, {"verdict": "block"})
    full = log.path.read_bytes()
    log.path.write_bytes(full[: len(whole) + (len(full) - len(whole)) // 2])  # half of entry 6

    report = verify_log(log)
    assert (report.valid, report.torn, report.broken_at, report.entries) == (False, True, 6, 5)
    assert "run gate audit repair" in report.detail
    with pytest.raises(AuditError, match="the last line is incomplete"):
        log.append("decision", None, {})

    repair = log.repair(actor="ops")

    assert repair is not None and repair.offset == len(whole)
    assert repair.entry.seq == 6 and repair.entry.event == "audit.repair"
    assert repair.entry.data["removed_bytes"] == (len(full) - len(whole)) // 2
    assert verify_log(log).valid
    assert log.append("decision", None, {}).seq == 7
    assert log.repair() is None


def test_rotation_keeps_one_chain_across_three_files(tmp_path: Path) -> None:
    log = _filled(tmp_path, 40, max_bytes=2500)
    files = log.files()

    assert len(files) >= 3
    assert [f.name for f in files[:2]] == ["audit.000001.jsonl", "audit.000002.jsonl"]
    for archive in files[:-1]:
        assert stat.S_IMODE(archive.stat().st_mode) == 0o444
        assert archive.stat().st_size <= 2500
    last_of_first = json.loads(files[0].read_bytes().splitlines()[-1])
    first_of_second = json.loads(files[1].read_bytes().splitlines()[0])
    assert first_of_second["prev_hash"] == last_of_first["entry_hash"]
    assert first_of_second["seq"] == last_of_first["seq"] + 1
    report = verify_log(log)
    assert (report.valid, report.entries, report.files) == (True, 40, len(files))


def test_a_missing_archive_breaks_the_chain(tmp_path: Path) -> None:
    log = _filled(tmp_path, 40, max_bytes=2500)
    files = log.files()
    first_seq_of_second = json.loads(files[1].read_bytes().splitlines()[0])["seq"]
    files[1].chmod(0o644)
    files[1].unlink()

    report = verify_log(log)

    assert (report.valid, report.broken_at) == (False, first_seq_of_second)


def test_stored_inputs_are_content_addressed(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    first = log.store_input(b'{"a": 1}')
    again = log.store_input(b'{"a": 1}')

    assert first == again
    assert (tmp_path / "inputs" / f"{first}.json").read_bytes() == b'{"a": 1}'
    assert log.load_input(first) == b'{"a": 1}'
    assert sorted(p.name for p in (tmp_path / "inputs").iterdir()) == [f"{first}.json"]


def test_a_changed_stored_input_is_refused(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    digest = log.store_input(b'{"a": 1}')
    target = tmp_path / "inputs" / f"{digest}.json"
    target.chmod(0o644)
    target.write_bytes(b'{"a": 2}')

    with pytest.raises(AuditError, match="content does not match its sha256 name"):
        log.load_input(digest)
