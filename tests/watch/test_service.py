"""gate watch as a process: SIGKILL mid-scan, the registry API down then up, tokens, the unit file."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import signal
import sqlite3
import struct
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from gate.watch import state
from tests.helpers import BIN, ROOT
from tests.server.conftest import free_port, start_server
from tests.watch.conftest import Site, safetensors_bytes

TOKEN = "registry-token-for-tests-0123456789"


def _events(site: Site) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (site.root / "audit.jsonl").read_text().splitlines()]


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SERVICE_TOKEN", "SERVICE_TOKEN_PATH", "REGISTRY_URL")
    }
    env.update(extra)
    return env


def _argv(site: Site, *extra: str) -> list[str]:
    return [
        str(BIN / "gate"),
        "watch",
        str(site.quarantine),
        "--registry-dir",
        str(site.registry),
        "--profile",
        str(site.profile),
        "--key",
        str(site.key),
        "--audit-log",
        str(site.root / "audit.jsonl"),
        "--state-dir",
        str(site.root / "state"),
        "--settle",
        "0",
        *extra,
    ]


def _big_safetensors(path: Path, size: int) -> None:
    """A valid safetensors file of *size* bytes of F16 zeros, written sparse (fast to make)."""
    count = (size - 4096) // 2
    header = json.dumps({"w": {"dtype": "F16", "shape": [count], "data_offsets": [0, count * 2]}}).encode()
    header += b" " * (-len(header) % 8)
    with path.open("wb") as handle:
        handle.write(struct.pack("<Q", len(header)) + header)
        handle.truncate(8 + len(header) + count * 2)


def test_sigkill_mid_scan_then_restart_scans_again_and_promotes_once(site: Site) -> None:
    _big_safetensors(site.quarantine / "big.safetensors", 1024 * 1024 * 1024)
    size = (site.quarantine / "big.safetensors").stat().st_size
    process = subprocess.Popen(_argv(site, "--once"), env=_env(), stderr=subprocess.PIPE)
    db = site.root / "state" / "state.sqlite"
    deadline = time.monotonic() + 60
    scanning = False
    while time.monotonic() < deadline and process.poll() is None:
        if db.exists():
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                    rows = conn.execute("SELECT state, kind FROM artifacts").fetchall()
            except sqlite3.Error:
                rows = []
            # Killed mid-scan once the take is complete (copy durable, kind committed); a kill
            # before that is a take taken again (tests/watch/test_watch.py).
            if rows and rows[0] == (state.SCANNING, "file"):
                scanning = True
                break
        time.sleep(0.005)
    assert scanning, "the scan never started"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (site.registry / "big.safetensors").exists()  # a half-scanned artifact is not promoted

    again = subprocess.run(_argv(site, "--once"), env=_env(), capture_output=True, timeout=300)
    assert again.returncode == 0, again.stderr.decode()
    assert b"interrupted by a crash will run again" in again.stderr
    assert (site.registry / "big.safetensors").stat().st_size == size
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT state, attempts FROM artifacts").fetchall()
    assert rows == [(state.ANNOUNCED, 2)]
    events = [e["event"] for e in _events(site)]
    assert events.count("promotion") == 1 and "scan_restarted" in events

    third = subprocess.run(_argv(site, "--once"), env=_env(), capture_output=True, timeout=120)
    assert third.returncode == 0 and [e["event"] for e in _events(site)].count("promotion") == 1


def test_registry_api_down_then_up_wrong_token_then_right_one(site: Site, tmp_path: Path) -> None:
    (site.quarantine / "model.safetensors").write_bytes(safetensors_bytes())
    token_file = tmp_path / "service-token"
    token_file.write_text("wrong-token-" + "x" * 20 + "\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    # 1. The registry API is down: promoted into the folder, the announcement is owed.
    down = subprocess.run(
        _argv(site, "--once", "--registry-url", url, "--token-path", str(token_file), "--poll", "0.05"),
        env=_env(),
        capture_output=True,
        timeout=120,
    )
    assert down.returncode == 0, down.stderr.decode()
    assert (site.registry / "model.safetensors").exists()
    assert b"registry API unavailable" in down.stderr
    retries = [e for e in _events(site) if e["event"] == "announce_retry"]
    assert len(retries) == 1 and "ConnectError" in retries[0]["data"]["detail"]

    # 2. Up, but the watcher's token is wrong: 401, still owed, the token never printed.
    token_server = tmp_path / "serve-token"
    token_server.write_text(TOKEN + "\n")
    server = start_server(
        tmp_path,
        "--profile",
        "standalone",
        "--registry-dir",
        str(site.registry),
        "--watch-key",
        str(site.pub),
        token=TOKEN,
    )
    try:
        env = _env()
        time.sleep(0.1)
        wrong = subprocess.run(
            _argv(
                site,
                "--once",
                "--registry-url",
                server.url,
                "--token-path",
                str(token_file),
                "--poll",
                "0.05",
            ),
            env=env,
            capture_output=True,
            timeout=120,
        )
        assert b"HTTP 401" in wrong.stderr
        assert b"wrong-token" not in wrong.stderr
        # 3. SERVICE_TOKEN (the environment wins over the token file) is right: announced once.
        time.sleep(0.2)
        right = subprocess.run(
            _argv(
                site,
                "--once",
                "--registry-url",
                server.url,
                "--token-path",
                str(token_file),
                "--poll",
                "0.05",
            ),
            env=_env(SERVICE_TOKEN=TOKEN),
            capture_output=True,
            timeout=120,
        )
        assert right.returncode == 0, right.stderr.decode()
        assert b"announced to the registry API (201)" in right.stderr
        assert TOKEN.encode() not in right.stderr + wrong.stderr + down.stderr
        records = (site.registry / ".promotions.jsonl").read_text().splitlines()
        assert len(records) == 1
        # A retried announcement (an answer lost on the way) is not recorded twice.
        manifest = json.loads((site.registry / "model.safetensors.provenance.json").read_text())
        body = {
            "filename_hex": manifest["artifact"]["filename_hex"],
            "sha256": manifest["artifact"]["sha256"],
            "size_bytes": manifest["artifact"]["size_bytes"],
        }
        headers = {"authorization": f"Bearer {TOKEN}"}
        again = httpx.post(f"{server.url}/v1/model/promote", json=body, headers=headers)
        assert again.status_code == 200 and again.json()["status"] == "already-recorded"
        assert len((site.registry / ".promotions.jsonl").read_text().splitlines()) == 1
        # Without the token, or for what the registry does not hold, nothing is recorded.
        assert httpx.post(f"{server.url}/v1/model/promote", json=body).status_code == 401
        forged = {**body, "sha256": "0" * 64}
        assert httpx.post(f"{server.url}/v1/model/promote", json=forged, headers=headers).status_code == 409
        escape = {**body, "filename_hex": b"../etc/passwd".hex()}
        assert httpx.post(f"{server.url}/v1/model/promote", json=escape, headers=headers).status_code == 400
    finally:
        server.stop()
    audit = (site.root / "audit.jsonl").read_text()
    assert TOKEN not in audit and "wrong-token" not in audit
    events = [e["event"] for e in _events(site)]
    assert events.count("announced") == 1 and events.count("promotion") == 1


def test_serve_refuses_a_registry_dir_without_a_token(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(BIN / "gate"), "serve", "--addr", f"127.0.0.1:{free_port()}", "--registry-dir", str(tmp_path)],
        env=_env(),
        capture_output=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert b"--registry-dir needs a bearer token" in result.stderr


def test_the_seed_environment_variables_win_over_options(site: Site, tmp_path: Path) -> None:
    (site.quarantine / "model.safetensors").write_bytes(safetensors_bytes())
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    env = _env(
        QUARANTINE_DIR=str(site.quarantine),
        REGISTRY_DIR=str(site.registry),
        POLICY_PATH=str(site.profile),
        AUDIT_LOG_PATH=str(site.root / "env-audit.jsonl"),
        GATE_WATCH_KEY=str(site.key),
    )
    argv = [
        str(BIN / "gate"),
        "watch",
        str(decoy),
        "--registry-dir",
        str(decoy),
        "--profile",
        "appliance",
        "--once",
        "--settle",
        "0",
        "--state-dir",
        str(tmp_path / "state"),
    ]
    result = subprocess.run(argv, env=env, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    assert (site.registry / "model.safetensors").exists() and list(decoy.iterdir()) == []
    assert (site.root / "env-audit.jsonl").exists()


def test_announcing_without_a_key_is_a_usage_error() -> None:
    result = subprocess.run(
        [
            str(BIN / "gate"),
            "watch",
            "/nonexistent",
            "--registry-dir",
            "/tmp",
            "--profile",
            "standalone",
            "--registry-url",
            "http://127.0.0.1:9",
        ],
        env=_env(),
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 2 and b"--registry-url needs a signing key" in result.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_unit_verifies_with_the_seed_hardening(tmp_path: Path) -> None:
    text = (ROOT / "deploy" / "systemd" / "gate-watch.service").read_text()
    for directive in (
        "MemoryMax=4G",
        "TasksMax=128",
        "SystemCallFilter=@system-service",
        "PrivateTmp=yes",
        "ProtectHome=yes",
        "ReadOnlyPaths=/",
        "NoNewPrivileges=yes",
    ):
        assert f"\n{directive}\n" in text, directive
    assert "ReadWritePaths=/data/quarantine /data/registry" in text
    # Verified as installed: the executable must exist, and the service user is this machine's.
    unit = tmp_path / "gate-watch.service"
    local = (
        text.replace("/usr/local/bin/gate", str(BIN / "gate"))
        .replace("User=gate\n", "")
        .replace("Group=gate\n", "")
    )
    unit.write_text(local)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    problems = [line for line in result.stderr.splitlines() if str(unit) in line or "gate-watch" in line]
    assert result.returncode == 0 and problems == [], result.stderr
    # The check can fail: a broken directive is reported.
    unit.write_text(local.replace("TasksMax=128", "TasksMax=lots"))
    broken = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert "Invalid maximum tasks value" in broken.stderr


def test_sha256_in_the_manifest_is_the_file_hash(site: Site) -> None:
    data = safetensors_bytes(512)
    (site.quarantine / "m.safetensors").write_bytes(data)
    result = subprocess.run(_argv(site, "--once"), env=_env(), capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    manifest = json.loads((site.registry / "m.safetensors.provenance.json").read_text())
    assert (
        manifest["artifact"]["sha256"]
        == hashlib.sha256((site.registry / "m.safetensors").read_bytes()).hexdigest()
    )


def test_serve_refuses_a_registry_dir_without_the_watch_key(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(BIN / "gate"), "serve", "--addr", f"127.0.0.1:{free_port()}", "--registry-dir", str(tmp_path)],
        env=_env(GATE_SERVE_TOKEN=TOKEN),
        capture_output=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert b"--registry-dir needs --watch-key" in result.stderr


def test_the_promote_endpoint_hashes_the_artifact_and_verifies_the_signed_manifest(
    site: Site, tmp_path: Path
) -> None:
    from gate.attest.keys import generate_key, write_keypair

    (site.quarantine / "model.safetensors").write_bytes(safetensors_bytes())
    folder = site.quarantine / "tiny"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(safetensors_bytes(32))
    (folder / "config.json").write_text("{}")
    done = subprocess.run(_argv(site, "--once"), env=_env(), capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    server = start_server(
        tmp_path,
        "--profile",
        "standalone",
        "--registry-dir",
        str(site.registry),
        "--watch-key",
        str(site.pub),
        token=TOKEN,
    )
    headers = {"authorization": f"Bearer {TOKEN}"}

    def announce(name: str) -> httpx.Response:
        manifest = json.loads((site.registry / f"{name}.provenance.json").read_text())
        body = {
            "filename_hex": manifest["artifact"]["filename_hex"],
            "sha256": manifest["artifact"]["sha256"],
            "size_bytes": manifest["artifact"]["size_bytes"],
        }
        return httpx.post(f"{server.url}/v1/model/promote", json=body, headers=headers, timeout=60)

    try:
        # A file and a folder the watcher promoted verify: recorded.
        assert announce("model.safetensors").status_code == 201
        assert announce("tiny").status_code == 201
        # A pickle copied into the registry with a hand-written manifest: no signature, refused.
        forged = pickle.dumps({"a": 1}, protocol=4)
        (site.registry / "evil.bin").write_bytes(forged)
        sha = hashlib.sha256(forged).hexdigest()
        artifact = {"filename": "evil.bin", "filename_hex": b"evil.bin".hex(), "sha256": sha}
        (site.registry / "evil.bin.provenance.json").write_text(
            json.dumps({"artifact": {**artifact, "size_bytes": len(forged), "kind": "file"}})
        )
        refused = announce("evil.bin")
        assert refused.status_code == 409 and "signed provenance" in refused.json()["message"]
        # The same, signed with another key: refused.
        from gate.watch.promote import ENVELOPE_SUFFIX, _envelope

        other, _ = write_keypair(str(tmp_path / "other"), generate_key(), None)
        from gate.attest.keys import load_signing_key

        doc = json.loads((site.registry / "evil.bin.provenance.json").read_text())
        (site.registry / f"evil.bin{ENVELOPE_SUFFIX.decode()}").write_bytes(
            _envelope(doc, load_signing_key(str(other)))
        )
        refused = announce("evil.bin")
        assert (
            refused.status_code == 409 and "does not verify with the watch key" in refused.json()["message"]
        )
        # A promoted artifact whose bytes were replaced afterwards: the hash is checked, refused.
        (site.registry / "model.safetensors").unlink()
        (site.registry / "model.safetensors").write_bytes(safetensors_bytes(65))
        records = (site.registry / ".promotions.jsonl").read_text().splitlines()
        (site.registry / ".promotions.jsonl").write_text("")
        refused = announce("model.safetensors")
        assert refused.status_code == 409 and "does not have the signed sha256" in refused.json()["message"]
        assert len(records) == 2 and (site.registry / ".promotions.jsonl").read_text() == ""
    finally:
        server.stop()
