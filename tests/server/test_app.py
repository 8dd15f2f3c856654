"""create_app in-process: routing, OPA-shaped errors, query refusals.

The app is built and driven on one thread: a regorus engine must stay on
the thread that created it (uvicorn builds each worker's app on its loop's
thread, too).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from gate.server.app import ServeConfig, create_app, data_ref
from tests.helpers import good_input

AUTH = {"Authorization": "Bearer abc"}


def _exchange(*calls: tuple[str, str, dict[str, Any]]) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        app = create_app(ServeConfig(profile="nim-promotion", token="abc"))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gate") as client:
            return [await client.request(method, url, headers=AUTH, **kw) for method, url, kw in calls]

    return asyncio.run(run())


def test_data_ref_quotes_keys_that_are_not_identifiers() -> None:
    assert data_ref("gate/main/decision") == "data.gate.main.decision"
    assert data_ref("/gate/x-y/") == 'data.gate["x-y"]'
    assert data_ref("") == "data"


def test_pretty_and_errors_are_opa_shaped() -> None:
    decision = "/v1/data/gate/main/decision"
    pretty, not_json, not_object, bad_query, long_query, get_query, no_body = _exchange(
        ("POST", decision + "?pretty=true", {"json": {"input": good_input()}}),
        ("POST", decision, {"content": b"{not json"}),
        ("POST", decision, {"content": b"[1]"}),
        ("POST", "/v1/query", {"json": {"query": "x := "}}),
        ("POST", "/v1/query", {"json": {"query": "a" * 20000}}),
        ("GET", "/v1/query", {"params": {"q": "x := 1 + 1"}}),
        ("POST", decision, {}),
    )
    assert pretty.text.startswith('{\n  "decision_id"')
    assert not_json.status_code == not_object.status_code == bad_query.status_code == 400
    assert not_json.json()["code"] == "invalid_parameter"
    assert "longer than" in long_query.json()["message"]
    assert get_query.json() == {"result": [{"x": 2}]}
    # no input: the policy blocks on missing evidence; never an error, never a promote
    assert no_body.json()["result"]["verdict"] != "promote"
