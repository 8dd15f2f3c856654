"""gate serve as a process: graceful SIGTERM, workers, tokens, startup refusals,
and decision logs shipped to a decision-log service."""

from __future__ import annotations

import gzip
import json
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests

from tests.helpers import BIN, ROOT, QuietHTTPServer, good_input, run_process
from tests.server.conftest import TOKEN, start_server

SLOW_POLICY = """\
package gate.slow

import rego.v1

# About a second per million: long enough to be in flight when SIGTERM arrives.
total := count([x | some x in numbers.range(1, input.n); x % 7 == 0])
"""


@pytest.fixture
def slow_policy(tmp_path: Path) -> Path:
    root = tmp_path / "policy"
    (root / "gate" / "slow").mkdir(parents=True)
    (root / "gate" / "slow" / "slow.rego").write_text(SLOW_POLICY)
    return root


def test_sigterm_lets_the_request_in_flight_finish(slow_policy: Path, tmp_path: Path) -> None:
    server = start_server(tmp_path, "--policy-dir", str(slow_policy), "--workers", "2")
    answers: list[requests.Response] = []

    def slow_request() -> None:
        answers.append(
            requests.post(
                f"{server.url}/v1/data/gate/slow/total",
                json={"input": {"n": 2_500_000}},
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=60,
            )
        )

    thread = threading.Thread(target=slow_request)
    thread.start()
    time.sleep(0.5)  # the request is being evaluated now
    server.process.send_signal(signal.SIGTERM)
    thread.join(60)
    assert answers and answers[0].status_code == 200
    assert answers[0].json()["result"] == 2_500_000 // 7
    assert server.process.wait(timeout=30) == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/health", timeout=2)


def test_token_file_and_a_single_worker(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-a-file-0123456789\n")
    server = start_server(
        tmp_path, "--profile", "nim-promotion", "--workers", "1", "--token-file", str(token_file), token=None
    )
    try:
        url = f"{server.url}/v1/gate/eval"
        assert requests.post(url, json={"input": good_input()}, timeout=10).status_code == 401
        headers = {"Authorization": "Bearer from-a-file-0123456789"}
        response = requests.post(url, json={"input": good_input()}, headers=headers, timeout=10)
        assert response.json()["result"]["verdict"] == "promote"
    finally:
        assert server.stop() == 0
    assert "1 worker," in server.log.read_text()
    assert "token required" in server.log.read_text()


def test_no_profile_serves_profile_missing(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--workers", "1", token=None)
    try:
        answer = requests.post(
            f"{server.url}/v1/data/gate/main/decision", json={"input": good_input()}, timeout=10
        ).json()
        assert answer["result"]["reasons"] == ["profile_missing"]
        response = requests.post(f"{server.url}/v1/gate/eval", json={"input": good_input()}, timeout=10)
        assert response.status_code == 400
    finally:
        server.stop()
    assert "no token" in server.log.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--addr", "0.0.0.0:1"], "a non-loopback address needs a token"),
        (["--addr", "nonsense"], "expected HOST:PORT"),
        (["--profile", "no-such-profile"], "no profile named 'no-such-profile'"),
        (["--mask", "input/x"], "a JSON pointer starts with /"),
        (["--mask", "/gate/now"], "mask a field under /input/... or /result/..."),
        (["--decision-log-url", "ftp://x"], "expected an http(s) URL"),
        (["--attest-key", "missing.pem"], "--attest-key needs --profile"),
    ],
)
def test_startup_refusals_are_one_line(args: list[str], message: str) -> None:
    run = run_process(str(BIN / "gate"), "serve", *args, env={"GATE_SERVE_TOKEN": ""})
    assert run.code == 2, run.err
    assert len(run.err_lines) == 1
    assert message in run.err


class _LogService(BaseHTTPRequestHandler):
    """An OPA-compatible decision-log service: gzip JSON arrays; fails the first N posts."""

    batches: ClassVar[list[list[dict[str, Any]]]] = []
    failures_left: ClassVar[int] = 0
    posts: ClassVar[int] = 0

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        type(self).posts += 1
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if type(self).failures_left > 0:
            type(self).failures_left -= 1
            self.send_response(503)
            self.end_headers()
            return
        assert self.headers["Content-Encoding"] == "gzip"
        type(self).batches.append(json.loads(gzip.decompress(body)))
        self.send_response(204)
        self.end_headers()


@pytest.fixture
def log_service() -> Iterator[str]:
    _LogService.batches = []
    _LogService.failures_left = 2
    _LogService.posts = 0
    server = QuietHTTPServer(("127.0.0.1", 0), _LogService)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/logs"
    server.shutdown()
    server.server_close()


def test_decision_logs_are_shipped_with_retries(log_service: str, tmp_path: Path) -> None:
    server = start_server(
        tmp_path,
        "--profile",
        "nim-promotion",
        "--workers",
        "1",
        "--decision-log-url",
        log_service,
        "--mask",
        "/input/operator",
        "--log-input",
        "digest",
    )
    ids = []
    try:
        for _ in range(5):
            answer = requests.post(
                f"{server.url}/v1/data/gate/main/decision",
                json={"input": good_input()},
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=10,
            ).json()
            ids.append(answer["decision_id"])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and sum(len(b) for b in _LogService.batches) < 5:
            time.sleep(0.1)
    finally:
        assert server.stop() == 0
    events = [e for batch in _LogService.batches for e in batch]
    assert [e["decision_id"] for e in events] == ids  # each once, in order, after two refused posts
    assert _LogService.posts >= 3
    for event in events:
        assert "input" not in event
        assert event["input_digest"].startswith("sha256:")
        assert event["result"]["verdict"] == "promote"
        assert event["path"] == "gate/main/decision"


def test_events_still_queued_at_shutdown_are_uploaded(log_service: str, tmp_path: Path) -> None:
    _LogService.failures_left = 0
    server = start_server(
        tmp_path, "--profile", "nim-promotion", "--workers", "1", "--decision-log-url", log_service
    )
    requests.post(
        f"{server.url}/v1/gate/eval",
        json={"input": good_input()},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert server.stop() == 0
    events = [e for batch in _LogService.batches for e in batch]
    assert len(events) == 1
    assert events[0]["path"] == "gate/eval"
    assert events[0]["input"]["subject"]["kind"] == "oci-image"


def test_root_is_importable_without_the_server_extra() -> None:
    # gate --help must not import uvicorn or starlette
    run = run_process(
        str(BIN / "python"),
        "-c",
        "import sys, gate.cli; gate.cli.main(['--help']); print('uvicorn' in sys.modules)",
    )
    assert run.out.strip().endswith("False")
    assert ROOT.is_dir()


def test_gate_eval_endpoint_returns_a_signed_attestation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from tests.helpers import run_cli

    key = ec.generate_private_key(ec.SECP256R1())
    private = tmp_path / "gate.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public = tmp_path / "gate.pub"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    server = start_server(
        tmp_path, "--profile", "nim-promotion", "--workers", "1", "--attest-key", str(private)
    )
    try:
        answer = requests.post(
            f"{server.url}/v1/gate/eval",
            json={"input": good_input()},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        ).json()
    finally:
        server.stop()
    assert answer["result"]["verdict"] == "promote"
    assert len(answer["attestation"]) == 2
    lines = tmp_path / "decision.intoto.jsonl"
    lines.write_text("".join(json.dumps(envelope) + "\n" for envelope in answer["attestation"]))
    run = run_cli(capsys, "attest", "verify", str(lines), "--key", str(public))
    assert run.code == 0, run.out + run.err
