"""Decision-log events: masks erase exactly the named fields, digests are canonical."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from gate.errors import UsageError
from gate.server.decision_log import DecisionLog, DecisionLogConfig, input_digest, parse_mask


def _record(log: DecisionLog, value: Any, result: Any = True) -> None:
    log.record(
        decision_id="d1",
        path="gate/main/decision",
        input_value=value,
        has_input=True,
        result=result,
        defined=True,
        requested_by="127.0.0.1:1",
        metrics={"timer_rego_query_eval_ns": 1},
    )


def test_masks_erase_fields_and_list_them(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    config = DecisionLogConfig(
        path=str(path),
        masks=("/input/operator/name", "/input/list/1", "/input/a~1b", "/input/missing/x", "/result/secret"),
    )
    log = DecisionLog(config, {"id": "i", "version": "v"}, {})
    original = {"operator": {"name": "alice", "team": "ml"}, "list": [1, 2, 3], "a/b": 1, "keep": True}
    _record(log, original, {"secret": "s", "verdict": "promote"})
    asyncio.run(log.stop())
    event = json.loads(path.read_text())
    assert event["input"] == {"operator": {"team": "ml"}, "list": [1, 3], "keep": True}
    assert event["result"] == {"verdict": "promote"}
    assert event["erased"] == ["/input/operator/name", "/input/list/1", "/input/a~1b", "/result/secret"]
    assert original["operator"] == {"name": "alice", "team": "ml"}  # the caller's value is untouched
    assert event["input_digest"] == input_digest(original)


def test_digest_is_sha256_of_sorted_compact_json() -> None:
    value = {"b": [1, "é"], "a": None}
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert input_digest(value) == "sha256:" + hashlib.sha256(canonical).hexdigest()


@pytest.mark.parametrize("pointer", ["input/x", "/", "/input", "/gate/now", "/input//x"])
def test_bad_masks_are_refused(pointer: str) -> None:
    with pytest.raises(UsageError):
        parse_mask(pointer)
