"""Decision logs in OPA's event shape: JSON lines on disk, batches to a service.

Each event carries ``decision_id``, ``path``, ``input`` (with configured
JSON pointers erased, as OPA's mask rules erase them, and listed under
``erased``), ``input_digest`` (sha256 of the canonical JSON of the whole
input, so a masked or omitted input can still be matched to a saved
document), ``result``, ``timestamp``, ``requested_by``, ``labels``
(``id``, ``version``), ``bundles`` (revision) and ``metrics``.

Shipping follows OPA's decision-log service protocol: ``POST`` of a
gzip-compressed JSON array (``Content-Encoding: gzip``). Failed batches are
retried with backoff and kept for the next round; beyond the buffer limit
the oldest events are dropped and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import os
import sys
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson

from gate.errors import UsageError

MAX_BUFFERED_EVENTS = 10_000
_PREFIXES = ("input", "result")


def parse_mask(pointer: str) -> tuple[str, ...]:
    """``/input/operator/name`` -> ("input", "operator", "name") (RFC 6901)."""
    if not pointer.startswith("/"):
        raise UsageError(f"--mask {pointer!r}: a JSON pointer starts with /")
    parts = tuple(p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/"))
    if parts[0] not in _PREFIXES or len(parts) < 2 or any(p == "" for p in parts):
        raise UsageError(f"--mask {pointer!r}: mask a field under /input/... or /result/...")
    return parts


def _erase(value: Any, parts: tuple[str, ...]) -> tuple[Any, bool]:
    """A copy of *value* without the field at *parts* (copying only along the path)."""
    if not parts:
        return value, False
    head, rest = parts[0], parts[1:]
    if isinstance(value, dict) and head in value:
        if not rest:
            return {k: v for k, v in value.items() if k != head}, True
        child, changed = _erase(value[head], rest)
        return ({**value, head: child}, True) if changed else (value, False)
    if isinstance(value, list) and head.isdigit() and int(head) < len(value):
        index = int(head)
        if not rest:
            return [*value[:index], *value[index + 1 :]], True
        child, changed = _erase(value[index], rest)
        if changed:
            copied = list(value)
            copied[index] = child
            return copied, True
    return value, False


def input_digest(value: Any) -> str:
    """sha256 of the canonical JSON (sorted keys, compact, UTF-8) of *value*."""
    return "sha256:" + hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _now() -> str:
    now = time.time_ns()
    seconds = datetime.fromtimestamp(now // 1_000_000_000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{seconds}.{now % 1_000_000_000:09d}Z"


@dataclass(frozen=True)
class DecisionLogConfig:
    """Where decision events go and what they hide."""

    path: str | None = None
    """JSON-lines file (appended; several workers may share it)."""
    url: str | None = None
    """Decision-log service endpoint (full URL) receiving gzip JSON arrays."""
    masks: tuple[str, ...] = ()
    """JSON pointers (``/input/...``, ``/result/...``) erased from every event."""
    include_input: bool = True
    """False logs only the input digest, never the input."""
    batch_size: int = 100
    """Most events per upload."""
    flush_interval_s: float = 1.0
    """Longest an event waits before upload."""
    retries: int = 3
    """Upload attempts per round (exponential backoff between them)."""
    timeout_s: float = 5.0
    """Per-upload timeout."""

    @property
    def enabled(self) -> bool:
        """True when events go anywhere."""
        return bool(self.path or self.url)


class DecisionLog:
    """One worker's decision logger."""

    def __init__(self, config: DecisionLogConfig, labels: dict[str, str], bundles: dict[str, Any]) -> None:
        self.config = config
        self.labels = labels
        self.bundles = bundles
        self._masks = [parse_mask(m) for m in config.masks]
        self._fd: int | None = None
        if config.path:
            try:
                self._fd = os.open(config.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            except OSError as exc:
                raise UsageError(f"{config.path}: cannot open the decision log: {exc.strerror}") from None
        self._queue: deque[dict[str, Any]] = deque()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0
        self.shipped = 0

    @property
    def enabled(self) -> bool:
        """True when events go anywhere."""
        return self.config.enabled

    def record(
        self,
        *,
        decision_id: str,
        path: str,
        input_value: Any,
        has_input: bool,
        result: Any,
        defined: bool,
        requested_by: str,
        metrics: dict[str, int],
    ) -> None:
        """Build one event, append it to the file and queue it for upload."""
        event: dict[str, Any] = {"decision_id": decision_id, "path": path, "labels": self.labels}
        erased: list[str] = []
        if has_input:
            event["input_digest"] = input_digest(input_value)
            if self.config.include_input:
                event["input"] = input_value
        if defined:
            event["result"] = result
        for parts in self._masks:
            target = parts[0]
            if target in event:
                event[target], changed = _erase(event[target], parts[1:])
                if changed:
                    erased.append("/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts))
        if erased:
            event["erased"] = erased
        event["requested_by"] = requested_by
        event["timestamp"] = _now()
        event["bundles"] = self.bundles
        event["metrics"] = metrics
        if self._fd is not None:
            os.write(self._fd, orjson.dumps(event) + b"\n")
        if self.config.url:
            if len(self._queue) >= MAX_BUFFERED_EVENTS:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append(event)
            if self._wake is not None and len(self._queue) >= self.config.batch_size:
                self._wake.set()

    async def start(self) -> None:
        """Start the uploader (when a service URL is configured)."""
        if self.config.url and self._task is None:
            self._wake = asyncio.Event()
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Upload what is left (one round), then close the file."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            while self._queue:
                if not await self._ship_once():
                    break
        if self._queue:
            print(f"gate serve: {len(self._queue)} decision events not uploaded", file=sys.stderr)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.config.flush_interval_s)
            self._wake.clear()
            while self._queue:
                if not await self._ship_once():
                    break

    async def _ship_once(self) -> bool:
        """Upload one batch with retries; True when it was accepted."""
        batch = [self._queue[i] for i in range(min(self.config.batch_size, len(self._queue)))]
        body = gzip.compress(orjson.dumps(batch), mtime=0)
        delay = 0.2
        for attempt in range(self.config.retries):
            if await asyncio.to_thread(self._post, body):
                for _ in batch:
                    self._queue.popleft()
                self.shipped += len(batch)
                return True
            if attempt + 1 < self.config.retries:
                await asyncio.sleep(delay)
                delay *= 2
        return False

    def _post(self, body: bytes) -> bool:
        assert self.config.url is not None
        request = urllib.request.Request(
            self.config.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
                return 200 <= int(response.status) < 300
        except (urllib.error.URLError, OSError, ValueError):
            return False
