"""Real `gate serve` processes on free loopback ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import BIN, ROOT

TOKEN = "t0k3n-for-tests-only-0123456789"


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running gate serve."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> int:
        """SIGTERM, then wait; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def start_server(tmp: Path, *args: str, token: str | None = TOKEN, wait: bool = True) -> Server:
    """Start ``gate serve`` with *args* and wait until /health answers."""
    port = free_port()
    stderr = tmp / f"serve-{port}.log"
    env = {k: v for k, v in os.environ.items() if k != "GATE_SERVE_TOKEN"}
    if token:
        env["GATE_SERVE_TOKEN"] = token
    process = subprocess.Popen(
        [str(BIN / "gate"), "serve", "--addr", f"127.0.0.1:{port}", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=stderr.open("wb"),
    )
    server = Server(process, port, stderr)
    if not wait:
        return server
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"gate serve exited {process.returncode}: {stderr.read_text()}")
        try:
            with urllib.request.urlopen(f"{server.url}/health", timeout=1) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise AssertionError(f"gate serve did not become healthy: {stderr.read_text()}")


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """gate serve --profile nim-promotion --workers 2, with a token and a decision log."""
    tmp = tmp_path_factory.mktemp("serve")
    server = start_server(
        tmp,
        "--profile",
        "nim-promotion",
        "--workers",
        "2",
        "--decision-log",
        str(tmp / "decisions.jsonl"),
        "--mask",
        "/input/operator/expected_signer_identity",
    )
    yield server
    server.stop()
