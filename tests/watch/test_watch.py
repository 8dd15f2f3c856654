"""The quarantine watcher on real files: promote with signed provenance, or delete."""

from __future__ import annotations

import json
import os
import pickle
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from gate.attest import dsse
from gate.attest.keys import load_verify_key
from gate.audit.log import AuditLog
from gate.audit.verify import verify_log
from gate.watch import state
from gate.watch.intake import Settler
from gate.watch.promote import ENVELOPE_SUFFIX, MANIFEST_SUFFIX, PREDICATE_TYPE
from tests.watch.conftest import Site, safetensors_bytes


def _events(site: Site) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (site.root / "audit.jsonl").read_text().splitlines()]


def _states(site: Site) -> dict[bytes, str]:
    store = state.StateStore(site.root / "state" / "state.sqlite")
    try:
        return {row.name: row.state for row in store.all()}
    finally:
        store.close()


def _once(site: Site, **overrides: object) -> None:
    watcher = site.watcher(**overrides)
    try:
        watcher.run_once()
    finally:
        watcher.close()


def _leftovers(site: Site) -> list[str]:
    """Anything left in quarantine or in the watcher's work folder."""
    visible = [p.name for p in site.quarantine.iterdir()]
    work = site.root / "state" / "work"
    return visible + [str(p) for p in work.rglob("*")]


def test_a_clean_model_is_promoted_with_a_signed_manifest(site: Site) -> None:
    data = safetensors_bytes()
    (site.quarantine / "model.safetensors").write_bytes(data)
    (site.quarantine / ".model.safetensors.source").write_text(
        "https://huggingface.co/org/model/resolve/abc123/model.safetensors\n"
    )

    import hashlib

    lock = site.root / "models.lock.yaml"
    pin = {"name": "model", "filename": "model.safetensors", "sha256": hashlib.sha256(data).hexdigest()}
    lock.write_text(json.dumps({"version": 1, "models": [{**pin, "size_bytes": len(data)}]}))

    _once(site, lock=str(lock))

    promoted = site.registry / "model.safetensors"
    assert promoted.read_bytes() == data
    assert _leftovers(site) == []
    manifest = json.loads((site.registry / "model.safetensors.provenance.json").read_text())
    assert manifest["artifact"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["artifact"]["size_bytes"] == len(data)
    assert manifest["source"] == {
        "url": "https://huggingface.co/org/model/resolve/abc123/model.safetensors",
        "revision": "abc123",
    }
    assert manifest["decision"]["verdict"] == "promote"
    assert manifest["scan_summary"]["static_scan"] == "PASS"
    assert manifest["policy"]["digest"].startswith("sha256:")
    assert manifest["promotion"]["hostname"]
    assert "fsverity_enabled" in manifest["integrity"]
    # The DSSE envelope verifies with the public key and carries the same manifest.
    envelope = dsse.Envelope.from_json(
        json.loads((site.registry / "model.safetensors.provenance.dsse.json").read_text())
    )
    assert dsse.verify(envelope, load_verify_key(str(site.pub))) is not None
    statement = json.loads(envelope.payload)
    assert statement["predicateType"] == PREDICATE_TYPE
    assert statement["subject"] == [
        {"name": "model.safetensors", "digest": {"sha256": manifest["artifact"]["sha256"]}}
    ]
    assert statement["predicate"] == manifest
    # The decision and the promotion are in a verifiable audit log.
    events = [e["event"] for e in _events(site)]
    assert events == ["decision", "promotion"]
    assert verify_log(AuditLog(site.root / "audit.jsonl")).valid
    assert _states(site) == {b"model.safetensors": state.ANNOUNCED}


def test_a_pickle_is_decided_recorded_and_deleted(site: Site) -> None:
    (site.quarantine / "weights.bin").write_bytes(pickle.dumps({"a": 1}, protocol=4))

    _once(site)

    assert list(site.registry.iterdir()) == []
    assert _leftovers(site) == []
    rejection = _events(site)[-1]
    assert rejection["event"] == "rejection"
    assert rejection["data"]["state"] == state.REJECTED
    assert "denied_format" in rejection["data"]["reasons"]
    assert _states(site) == {b"weights.bin": state.REJECTED}


def test_a_dangerous_pickle_fails_the_scan(site: Site) -> None:
    # os.system("id") as protocol 4 opcodes, written by hand: never produced by pickling
    payload = (
        b"\x80\x04\x95\x1c\x00\x00\x00\x00\x00\x00\x00"
        b"\x8c\x02os\x94\x8c\x06system\x94\x93\x94\x8c\x02id\x94\x85\x94R\x94."
    )
    (site.quarantine / "model.pkl").write_bytes(payload)

    _once(site)

    assert _states(site) == {b"model.pkl": state.FAILED}
    assert "unsafe_pickle" in _events(site)[-1]["data"]["reasons"]
    assert _leftovers(site) == []


@pytest.mark.parametrize(
    "name", [b"my model.safetensors", b"two\nlines.safetensors", b"caf\xe9-\xff.safetensors"]
)
def test_odd_names_are_promoted_byte_for_byte(site: Site, name: bytes) -> None:
    quarantine = os.fsencode(site.quarantine)
    with open(os.path.join(quarantine, name), "wb") as handle:
        handle.write(safetensors_bytes())

    _once(site)

    assert sorted(os.listdir(os.fsencode(site.registry))) == sorted(
        [name, name + MANIFEST_SUFFIX, name + ENVELOPE_SUFFIX]
    )
    manifest = json.loads(
        Path(os.fsdecode(os.path.join(os.fsencode(site.registry), name + MANIFEST_SUFFIX))).read_text()
    )
    assert bytes.fromhex(manifest["artifact"]["filename_hex"]) == name


def test_a_model_directory_is_promoted_whole(site: Site) -> None:
    folder = site.quarantine / "tiny-llama"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(safetensors_bytes())
    (folder / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))

    _once(site)

    assert sorted(p.name for p in (site.registry / "tiny-llama").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]
    manifest = json.loads((site.registry / "tiny-llama.provenance.json").read_text())
    assert manifest["artifact"]["kind"] == "dir" and manifest["artifact"]["files"] == 2
    assert manifest["integrity"]["fsverity_enabled"] is False


def test_symlinks_hardlinks_and_special_files_are_refused_never_followed(site: Site, tmp_path: Path) -> None:
    outside = tmp_path / "outside-secret.safetensors"
    outside.write_bytes(safetensors_bytes())
    before = outside.read_bytes()
    (site.quarantine / "link.safetensors").symlink_to(outside)
    os.link(outside, site.quarantine / "hard.safetensors")
    os.mkfifo(site.quarantine / "pipe.safetensors")
    folder = site.quarantine / "dir-with-link"
    folder.mkdir()
    (folder / "model.safetensors").symlink_to(outside)
    (site.quarantine / "good.safetensors").write_bytes(safetensors_bytes())

    _once(site)

    assert outside.read_bytes() == before and outside.stat().st_nlink == 1
    assert sorted(p.name for p in site.registry.iterdir()) == [
        "good.safetensors",
        "good.safetensors.provenance.dsse.json",
        "good.safetensors.provenance.json",
    ]
    states = _states(site)
    for name in (b"link.safetensors", b"hard.safetensors", b"pipe.safetensors", b"dir-with-link"):
        assert states[name] == state.REJECTED, name
    details = {e["data"]["name"]: e["data"]["detail"] for e in _events(site) if e["event"] == "rejection"}
    assert "symbolic link" in details["link.safetensors"]
    assert "hard links" in details["hard.safetensors"]
    assert "not a regular file" in details["pipe.safetensors"] or "neither" in details["pipe.safetensors"]
    assert "symbolic link" in details["dir-with-link"]
    assert _leftovers(site) == []


def test_an_entry_still_being_written_is_not_taken() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        quarantine = os.fsencode(folder)
        path = Path(folder) / "big.gguf"
        path.write_bytes(b"GGUF" + b"\0" * 100)
        settler = Settler(settle_s=1.0)
        assert settler.ready(quarantine, now=0.0) == []
        with path.open("ab") as handle:
            handle.write(b"\0" * 100)
        os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
        assert settler.ready(quarantine, now=0.6) == []  # it changed: the clock starts again
        assert settler.ready(quarantine, now=1.5) == []
        assert settler.ready(quarantine, now=1.7) == [b"big.gguf"]
        # A completion marker makes an entry ready at once.
        (Path(folder) / "other.gguf").write_bytes(b"x")
        (Path(folder) / ".other.gguf.ready").write_bytes(b"")
        assert b"other.gguf" in settler.ready(quarantine, now=1.8)


def test_partial_write_then_completion_through_the_watcher(site: Site) -> None:
    data = safetensors_bytes(256)
    path = site.quarantine / "slow.safetensors"
    path.write_bytes(data[:100])  # an upload in progress: not a valid file yet
    watcher = site.watcher(settle_s=0.4)
    try:
        watcher.run_once()  # first sighting
        assert _states(site) == {}
        with path.open("ab") as handle:
            handle.write(data[100:])
        watcher.run_once()
        assert _states(site) == {}  # changed since the last look
        time.sleep(0.5)
        watcher.run_once()
    finally:
        watcher.close()
    assert (site.registry / "slow.safetensors").read_bytes() == data


def test_concurrent_drops_are_each_promoted_once(site: Site) -> None:
    # The engine belongs to the thread that compiled it: the service thread builds, runs and
    # drops its watcher; this thread only holds the two events that stop it.
    controls: list[threading.Event] = []
    ready = threading.Event()

    def serve() -> None:
        watcher = site.watcher(poll_s=0.02)
        controls.extend([watcher.stop, watcher.wake])
        ready.set()
        try:
            watcher.run()
        finally:
            watcher.close()

    runner = threading.Thread(target=serve)
    runner.start()
    assert ready.wait(60)
    try:

        def drop(i: int) -> None:
            tmp = site.quarantine / f".incoming-{i}"
            tmp.write_bytes(safetensors_bytes(64 + i))
            os.rename(tmp, site.quarantine / f"m{i:02d}.safetensors")

        droppers = [threading.Thread(target=drop, args=(i,)) for i in range(20)]
        for thread in droppers:
            thread.start()
        for thread in droppers:
            thread.join()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if len([p for p in site.registry.iterdir() if p.suffix == ".safetensors"]) == 20:
                break
            time.sleep(0.05)
    finally:
        for event in controls:
            event.set()
        runner.join(timeout=30)
    artifacts = sorted(p.name for p in site.registry.iterdir() if p.suffix == ".safetensors")
    assert artifacts == [f"m{i:02d}.safetensors" for i in range(20)]
    promotions = [e for e in _events(site) if e["event"] == "promotion"]
    assert len(promotions) == 20 and len({e["data"]["name"] for e in promotions}) == 20
    assert set(_states(site).values()) == {state.ANNOUNCED}


def test_a_second_watcher_on_the_same_state_is_refused(site: Site) -> None:
    from gate.errors import UsageError

    first = site.watcher()
    try:
        with pytest.raises(UsageError, match="another gate watch is running"):
            site.watcher()
    finally:
        first.close()


def test_crash_after_the_move_is_recovered_without_promoting_twice(site: Site) -> None:
    (site.quarantine / "model.safetensors").write_bytes(safetensors_bytes())
    watcher = site.watcher()
    try:
        for name in watcher.settler.ready(watcher._q()):
            watcher._take(name)
        for row in watcher.store.in_state(state.PENDING):
            watcher._scan(row)
        (row,) = watcher.store.in_state(state.PASSED)
        # Simulate the crash: the artifact is moved and signed, the state is not updated.
        from gate.watch.promote import promote

        promote(
            watcher._work_path(row.id, row.name),
            os.fsencode(site.registry),
            row.name,
            json.loads(row.detail or ""),
            watcher.config.key,
        )
    finally:
        watcher.close()

    _once(site)

    assert _states(site) == {b"model.safetensors": state.ANNOUNCED}
    promotions = [e for e in _events(site) if e["event"] == "promotion"]
    assert len(promotions) == 1 and promotions[0]["data"]["recovered"] is True


def test_a_crash_between_rejection_and_deletion_is_finished_at_start_up(site: Site) -> None:
    (site.quarantine / "weights.bin").write_bytes(pickle.dumps({"a": 1}, protocol=4))
    watcher = site.watcher()
    try:
        for name in watcher.settler.ready(watcher._q()):
            watcher._take(name)
        (row,) = watcher.store.in_state(state.PENDING)
        copy = Path(os.fsdecode(watcher._work_path(row.id, row.name)))
        assert copy.read_bytes().startswith(b"\x80\x04")
        # The crash: the rejection is committed, the deletion never ran.
        watcher.store.set(row.id, state.REJECTED, detail="decided block")
    finally:
        watcher.close()
    assert copy.exists()

    restarted = site.watcher()
    restarted.close()

    assert not copy.exists() and not copy.parent.exists()
    assert list((site.root / "state" / "work").iterdir()) == []


def test_scan_restarted_is_recorded_only_for_interrupted_scans(site: Site) -> None:
    for i in range(3):
        (site.quarantine / f"m{i}.safetensors").write_bytes(safetensors_bytes(64 + i))
    watcher = site.watcher()
    try:
        for name in watcher.settler.ready(watcher._q()):
            watcher._take(name)
        rows = watcher.store.in_state(state.PENDING)
        assert len(rows) == 3
        watcher.store.start_scan(rows[1].id)  # killed mid-scan; the other two never started
    finally:
        watcher.close()

    _once(site)

    restarted = [e for e in _events(site) if e["event"] == "scan_restarted"]
    assert [e["data"]["name"] for e in restarted] == ["m1.safetensors"]
    assert set(_states(site).values()) == {state.ANNOUNCED}


def test_every_added_row_has_its_audit_event(site: Site) -> None:
    (site.quarantine / "gone.safetensors").write_bytes(safetensors_bytes())
    watcher = site.watcher()
    try:
        for name in watcher.settler.ready(watcher._q()):
            watcher._take(name)
        (row,) = watcher.store.in_state(state.PENDING)
        os.unlink(watcher._work_path(row.id, row.name))  # the taken copy is lost (a disk error)
        watcher.run_once()
    finally:
        watcher.close()
    assert _states(site) == {b"gone.safetensors": state.REJECTED}
    (event,) = [e for e in _events(site) if e["event"] == "rejection"]
    assert event["data"]["name"] == "gone.safetensors" and "missing" in event["data"]["detail"]


def test_a_take_interrupted_before_the_drop_was_removed_is_taken_again_once(site: Site) -> None:
    data = safetensors_bytes()
    (site.quarantine / "model.safetensors").write_bytes(data)
    watcher = site.watcher()
    try:
        for name in watcher.settler.ready(watcher._q()):
            watcher._take(name)
    finally:
        watcher.close()
    # The crash: the copy exists, the drop was not yet removed and the kind never recorded.
    (site.quarantine / "model.safetensors").write_bytes(data)
    store = state.StateStore(site.root / "state" / "state.sqlite")
    store.db.execute("UPDATE artifacts SET kind = 'unknown'")
    store.close()

    _once(site)

    assert (site.registry / "model.safetensors").read_bytes() == data
    store = state.StateStore(site.root / "state" / "state.sqlite")
    try:
        assert sorted(row.state for row in store.all()) == [state.ANNOUNCED, state.REJECTED]
    finally:
        store.close()
    events = _events(site)
    assert [e["event"] for e in events].count("promotion") == 1
    assert any("interrupted by a crash" in e["data"].get("detail", "") for e in events)
    assert _leftovers(site) == []
