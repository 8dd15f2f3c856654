"""gate serve as OPA's own Python client sees it (opa-python-client, sync and async)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import requests
from opa_client import AsyncOpaClient, OpaClient

from gate.decide import Decider
from gate.document import load_input
from gate.profile import load_profile
from tests.conftest import CONTAINER_FIXTURES, container_examples
from tests.helpers import good_input, run_cli
from tests.server.conftest import TOKEN, Server


@pytest.fixture(scope="module")
def embedded() -> Decider:
    return Decider(load_profile("nim-promotion"), "regorus")


def _input(name: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads((CONTAINER_FIXTURES / f"{name}.input.json").read_text())
    return value


def test_sync_client_query_rule_health_and_ad_hoc_query(served: Server, embedded: Decider) -> None:
    client = OpaClient(host="127.0.0.1", port=served.port, token=TOKEN)
    try:
        assert client.check_health() is True
        assert client.check_health({"bundles": True}) is True
        assert client.check_health({"plugins": True}) is True
        for name in container_examples():
            answer = client.query_rule(_input(name), "gate.main", "decision")
            assert set(answer) == {"decision_id", "result"}
            assert answer["result"] == embedded.decide(
                load_input(str(CONTAINER_FIXTURES / f"{name}.input.json"))
            )
        answer = client.ad_hoc_query("v := data.gate.main.decision.verdict", _input("unsigned"))
        assert answer == {"result": [{"v": "block"}]}
        assert client.ad_hoc_query('data.gate.main.decision.verdict == "promote"', _input("unsigned")) == {}
        policies = client.get_policies_list()
        assert "rego/gate/main/main.rego" in policies
    finally:
        client.close_connection()


def test_async_client_query_rule_health_and_ad_hoc_query(served: Server, embedded: Decider) -> None:
    async def run() -> None:
        async with AsyncOpaClient(host="127.0.0.1", port=served.port, token=TOKEN) as client:
            assert await client.check_health() is True
            assert await client.check_health({"bundles": True}) is True
            answers = await asyncio.gather(
                *(client.query_rule(_input(n), "gate.main", "decision") for n in container_examples())
            )
            for name, answer in zip(container_examples(), answers, strict=True):
                expected = embedded.decide(load_input(str(CONTAINER_FIXTURES / f"{name}.input.json")))
                assert answer["result"] == expected, name
            found = await client.ad_hoc_query("r := data.gate.main.decision.reasons", _input("unsigned"))
            assert found == {"result": [{"r": ["unsigned"]}]}

    asyncio.run(run())


def test_undefined_document_has_a_decision_id_and_no_result(served: Server) -> None:
    client = OpaClient(host="127.0.0.1", port=served.port, token=TOKEN)
    try:
        answer = client.query_rule({"x": 1}, "gate.main", "no_such_rule")
    finally:
        client.close_connection()
    assert list(answer) == ["decision_id"]


@pytest.mark.parametrize("name", container_examples())
@pytest.mark.parametrize("output", ["text", "json"])
def test_gate_eval_against_gate_serve_prints_what_the_embedded_engine_prints(
    name: str,
    output: str,
    served: Server,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATE_OPA_TOKEN", TOKEN)
    path = str(CONTAINER_FIXTURES / f"{name}.input.json")
    args = ["eval", "--input", path, "--profile", "nim-promotion", "-o", output]
    assert run_cli(capsys, *args, "--opa-url", served.url) == run_cli(capsys, *args)


def test_gate_eval_without_the_token_exits_4(
    served: Server, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GATE_OPA_TOKEN", raising=False)
    path = str(CONTAINER_FIXTURES / "clean-runtime-promote.input.json")
    run = run_cli(capsys, "eval", "--input", path, "--profile", "nim-promotion", "--opa-url", served.url)
    assert run.code == 4
    assert run.out == ""
    assert "HTTP 401" in run.err and "unauthorized" in run.err


def _post(
    served: Server, path: str, body: Any, token: str | None = TOKEN, **kwargs: Any
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return requests.post(f"{served.url}{path}", json=body, headers=headers, timeout=10, **kwargs)


def test_every_endpoint_but_health_needs_the_token(served: Server) -> None:
    assert requests.get(f"{served.url}/health", timeout=5).status_code == 200
    for method, path in [
        ("GET", "/v1/data/gate/main/decision"),
        ("POST", "/v1/data/gate/main/decision"),
        ("GET", "/v1/data"),
        ("GET", "/v1/policies"),
        ("POST", "/v1/query"),
        ("POST", "/v1/gate/eval"),
    ]:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            response = requests.request(method, f"{served.url}{path}", headers=headers, timeout=5)
            assert response.status_code == 401, (method, path, headers)
            assert response.json()["code"] == "unauthorized"
            assert response.headers["www-authenticate"].startswith("Bearer")


def test_gate_eval_endpoint_returns_the_checked_decision(served: Server, embedded: Decider) -> None:
    response = _post(served, "/v1/gate/eval", {"input": good_input()})
    assert response.status_code == 200
    body = response.json()
    assert body["result"]["verdict"] == "promote"
    assert body["decision_id"]
    bad = good_input()
    bad["gate"]["now"] = "yesterday"
    response = _post(served, "/v1/gate/eval", {"input": bad})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"
    assert "/gate/now" in response.json()["message"]


def test_oversized_and_overdeep_bodies_are_refused(served: Server) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    big = b'{"input": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    response = requests.post(
        f"{served.url}/v1/data/gate/main/decision", data=big, headers=headers, timeout=30
    )
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"

    def chunks() -> Any:
        for _ in range(80):
            yield b"x" * 65536

    response = requests.post(f"{served.url}/v1/data/x", data=chunks(), headers=headers, timeout=30)
    assert response.status_code == 413

    deep = '{"input": ' + "[" * 100 + "]" * 100 + "}"
    response = requests.post(f"{served.url}/v1/data/x", data=deep, headers=headers, timeout=10)
    assert response.status_code == 400
    assert "nested deeper than 64 levels" in response.json()["message"]
    response = requests.post(
        f"{served.url}/v1/data/x", data=b'{"input": {"a": 1, "a": 2}}', headers=headers, timeout=10
    )
    assert response.status_code == 400
    assert "duplicate key" in response.json()["message"]


def test_writes_are_refused_and_policies_list_their_source(served: Server) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    response = requests.put(f"{served.url}/v1/data/gate/config", json={}, headers=headers, timeout=5)
    assert response.status_code == 405
    response = requests.get(f"{served.url}/v1/policies", headers=headers, timeout=5)
    modules = {m["id"]: m["raw"] for m in response.json()["result"]}
    assert not any(i.endswith("_test.rego") for i in modules)
    main = Path("rego/gate/main/main.rego")
    assert modules["rego/gate/main/main.rego"] == main.read_text()
    response = requests.get(f"{served.url}/v1/policies/rego/gate/nope.rego", headers=headers, timeout=5)
    assert response.status_code == 404


def test_get_data_with_input_parameter(served: Server) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    response = requests.get(
        f"{served.url}/v1/data/gate/main/decision",
        params={"input": json.dumps(_input("unsigned")), "metrics": "true"},
        headers=headers,
        timeout=5,
    )
    body = response.json()
    assert body["result"]["reasons"] == ["unsigned"]
    assert body["metrics"]["timer_rego_query_eval_ns"] > 0
    whole = requests.get(f"{served.url}/v1/data/gate/config", headers=headers, timeout=5).json()
    assert whole["result"]["profile"]["name"] == "nim-promotion"


def test_decision_log_lines_follow_opas_shape(served: Server, tmp_path: Path) -> None:
    document = _input("clean-runtime-promote")
    answer = _post(served, "/v1/data/gate/main/decision", {"input": document}).json()
    log = served.log.parent / "decisions.jsonl"
    events = [json.loads(line) for line in log.read_text().splitlines()]
    event = next(e for e in events if e["decision_id"] == answer["decision_id"])
    assert event["path"] == "gate/main/decision"
    assert event["result"] == answer["result"]
    assert event["erased"] == ["/input/operator/expected_signer_identity"]
    assert "expected_signer_identity" not in event["input"]["operator"]
    assert event["input"]["subject"] == document["subject"]
    assert event["input_digest"].startswith("sha256:")
    assert event["labels"]["version"] and event["labels"]["id"]
    assert event["timestamp"].endswith("Z")
    assert event["bundles"]["gate"]["revision"].startswith("gate-")
    assert event["requested_by"].startswith("127.0.0.1:")
