"""gate serve under attack, over real sockets: slow and oversized requests, runaway queries."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.server.conftest import TOKEN, Server, start_server

AUTH = {"Authorization": f"Bearer {TOKEN}"}
RUNS_FOREVER = (
    "x := count([1 | some a in numbers.range(1, 100000); some b in numbers.range(1, 100000); a == b])"
)
EATS_MEMORY = "x := numbers.range(1, 100000000)"


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(
        tmp_path_factory.mktemp("limits"),
        "--workers", "1", "--read-timeout", "2", "--query-timeout", "2",
        "--query-memory-bytes", str(256 * 1024 * 1024), "--max-header-bytes", "16384",
    )  # fmt: skip
    yield server
    server.stop()


def _still_serving(server: Server) -> None:
    response = requests.post(f"{server.url}/v1/query", json={"query": "x := 1"}, headers=AUTH, timeout=10)
    assert response.status_code == 200 and response.json() == {"result": [{"x": 1}]}


def test_slow_header_clients_are_cut_off_at_the_read_timeout(limited: Server) -> None:
    started = time.monotonic()
    clients = []
    for _ in range(40):
        sock = socket.create_connection(("127.0.0.1", limited.port), timeout=15)
        sock.sendall(b"GET /v1/data HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # headers never finished
        clients.append(sock)
    for sock in clients:
        answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:60]
        assert sock.recv(4096) == b""  # and closed
        sock.close()
    assert time.monotonic() - started < 10  # 2 s each, in parallel: not held past 30 s
    _still_serving(limited)


def test_a_client_that_sends_nothing_is_closed_too(limited: Server) -> None:
    with socket.create_connection(("127.0.0.1", limited.port), timeout=15) as sock:
        started = time.monotonic()
        assert sock.recv(4096).startswith(b"HTTP/1.1 408")
        assert time.monotonic() - started < 6


def test_oversized_headers_are_refused_before_auth(limited: Server) -> None:
    with socket.create_connection(("127.0.0.1", limited.port), timeout=15) as sock:
        sock.sendall(b"GET /v1/data HTTP/1.1\r\nHost: x\r\nX-Big: ")
        with pytest.raises(OSError):  # refused and closed long before 32 MiB are taken
            for _ in range(32 * 1024):
                sock.sendall(b"a" * 1024)
        answer = sock.recv(4096)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 400"), answer[:60]
    _still_serving(limited)


@pytest.mark.parametrize("query", [RUNS_FOREVER, EATS_MEMORY], ids=["time", "memory"])
def test_a_runaway_query_is_a_500_within_its_budget_and_the_worker_keeps_serving(
    limited: Server, query: str
) -> None:
    started = time.monotonic()
    response = requests.post(f"{limited.url}/v1/query", json={"query": query}, headers=AUTH, timeout=30)
    assert response.status_code == 500, response.text
    assert response.json()["code"] == "internal_error"
    assert time.monotonic() - started < 5  # the 2 s budget, plus process start
    _still_serving(limited)


def test_a_runaway_decision_through_the_data_api_is_a_500_too(tmp_path: Path) -> None:
    policy = tmp_path / "policy" / "gate" / "slow"
    policy.mkdir(parents=True)
    (policy / "slow.rego").write_text(
        "package gate.slow\n\nimport rego.v1\n\n"
        "total := count([x | some x in numbers.range(1, input.n); x % 7 == 0])\n"
    )
    server = start_server(
        tmp_path, "--policy-dir", str(tmp_path / "policy"), "--workers", "1", "--query-timeout", "1"
    )
    try:
        url = f"{server.url}/v1/data/gate/slow/total"
        slow = requests.post(url, json={"input": {"n": 10**9}}, headers=AUTH, timeout=30)
        assert slow.status_code == 500, slow.text
        fast = requests.post(url, json={"input": {"n": 70}}, headers=AUTH, timeout=10)
        assert fast.status_code == 200 and fast.json()["result"] == 10
    finally:
        server.stop()
