"""gate eval --opa-url: the decision from an OPA REST server, or exit 4.

The server here is a small REST front on the real OPA evaluator loaded with
a bundle built by ``gate bundle build`` (no ``opa`` binary can be installed
on these machines); tests/server/ runs the same checks against gate serve.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest

from gate.bundle.build import BundleSpec, build_bundle
from gate.bundle.verify import read_bundle
from gate.engine.interface import JsonDocument, Undefined
from gate.engine.opa import OpaGoEngine
from gate.engine.sidecar import SidecarEngine
from gate.errors import EngineError, UsageError
from gate.profile import load_profile
from gate.resources import rego_dir
from tests.conftest import CONTAINER_FIXTURES, container_examples
from tests.helpers import QuietHTTPServer, run_cli


class _OpaRest(BaseHTTPRequestHandler):
    """POST /v1/data/<path> answered by the reference engine; ``mode`` misbehaves on purpose."""

    engine: ClassVar[Any] = None
    lock: ClassVar[threading.Lock] = threading.Lock()
    mode: ClassVar[str] = "ok"
    requests: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization")})
        mode = type(self).mode
        if mode == "slow":
            time.sleep(2)
        if mode == "500":
            self._send(500, b'{"code": "internal_error", "message": "storage unavailable"}')
            return
        if mode == "404":
            self._send(404, b"not here", "text/plain")
            return
        if mode == "not-json":
            self._send(200, b"<html>proxy login</html>", "text/html")
            return
        ref = "data." + self.path.removeprefix("/v1/data/").replace("/", ".")
        try:
            with type(self).lock:
                result = type(self).engine.evaluate(ref, JsonDocument.of(body.get("input")))
            answer: dict[str, Any] = {"result": result}
        except Undefined:
            answer = {}
        if mode == "undefined":
            answer = {}
        self._send(200, json.dumps(answer).encode())


@pytest.fixture(scope="module")
def opa_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("sidecar") / "bundle.tar.gz"
    path.write_bytes(build_bundle(BundleSpec(rego_dir(), load_profile("nim-promotion"))))
    contents = read_bundle(path)
    _OpaRest.engine = OpaGoEngine(contents.modules(), contents.data())
    server = QuietHTTPServer(("127.0.0.1", 0), _OpaRest)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    _OpaRest.mode = "ok"
    _OpaRest.requests = []
    yield
    _OpaRest.mode = "ok"


@pytest.mark.parametrize("name", container_examples())
@pytest.mark.parametrize("output", ["text", "json"])
def test_sidecar_prints_exactly_what_the_embedded_engine_prints(
    name: str, output: str, opa_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(CONTAINER_FIXTURES / f"{name}.input.json")
    args = ["eval", "--input", path, "--profile", "nim-promotion", "-o", output]
    embedded = run_cli(capsys, *args)
    sidecar = run_cli(capsys, *args, "--opa-url", opa_url)
    assert sidecar == embedded
    assert _OpaRest.requests[-1]["path"] == "/v1/data/gate/main/decision"


def test_bearer_token_comes_from_the_environment(
    opa_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATE_OPA_TOKEN", "s3cret")
    path = str(CONTAINER_FIXTURES / "unsigned.input.json")
    run_cli(capsys, "eval", "--input", path, "--profile", "nim-promotion", "--opa-url", opa_url)
    assert _OpaRest.requests[-1]["auth"] == "Bearer s3cret"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("500", "HTTP 500 for data.gate.main.decision: internal_error: storage unavailable"),
        ("404", "HTTP 404 for data.gate.main.decision"),
        ("undefined", "data.gate.main.decision is undefined"),
        ("not-json", "is not JSON"),
    ],
)
def test_server_failures_exit_4_without_a_verdict(
    mode: str, message: str, opa_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _OpaRest.mode = mode
    path = str(CONTAINER_FIXTURES / "clean-runtime-promote.input.json")
    run = run_cli(capsys, "eval", "--input", path, "--profile", "nim-promotion", "--opa-url", opa_url)
    assert run.code == 4
    assert run.out == ""
    assert len(run.err_lines) == 1
    assert message in run.err
    assert opa_url in run.err


def test_connection_refused_exits_4(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    path = str(CONTAINER_FIXTURES / "clean-runtime-promote.input.json")
    run = run_cli(capsys, "eval", "--input", path, "--profile", "nim-promotion", "--opa-url", url)
    assert run.code == 4
    assert run.out == ""
    assert run.err_lines == [f"gate: error: OPA at {url}: connection refused"]


def test_a_slow_server_times_out(opa_url: str) -> None:
    _OpaRest.mode = "slow"
    engine = SidecarEngine(opa_url, timeout=0.3)
    document = JsonDocument.of({"subject": {}})
    with pytest.raises(EngineError, match=r"no answer within 0.3 s"):
        engine.evaluate("data.gate.main.decision", document)
    engine.close()


def test_a_decision_under_another_profile_is_refused(
    opa_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "nim-promotion-copy.yaml"
    text = (Path(rego_dir()).parent / "policy-profiles" / "nim-promotion.yaml").read_text()
    other.write_text(text + "\n# a local edit\n")
    path = str(CONTAINER_FIXTURES / "clean-runtime-promote.input.json")
    run = run_cli(capsys, "eval", "--input", path, "--profile", str(other), "--opa-url", opa_url)
    assert run.code == 4
    assert run.out == ""
    assert "was decided under profile 'nim-promotion'" in run.err


@pytest.mark.parametrize(
    "url", ["ftp://x:1", "http://127.0.0.1:8181/v1/data", "http://user:pw@h:1", "127.0.0.1:8181"]
)
def test_malformed_urls_are_usage_errors(url: str) -> None:
    with pytest.raises(UsageError):
        SidecarEngine(url)


def test_undefined_is_an_engine_error_subclass() -> None:
    assert issubclass(Undefined, EngineError)
