"""gate serve's HTTP/1.1 protocol: uvicorn's h11 protocol with read deadlines and a connection cap.

uvicorn bounds neither how long a client may take to send a request's
headers and body (a slow client holds its connection, before any auth, for
as long as it likes) nor, with httptools, how large the headers may be. gate
serve therefore runs h11 (``h11_max_incomplete_event_size``: headers past
the limit are a 400 and the connection is closed) with this protocol:

- from the moment a connection opens, and again when a kept-alive
  connection starts its next request, the client has ``read_timeout_s`` to
  deliver the whole request (headers and body); past it the connection is
  answered 408 (when no response has started) and closed;
- a worker holds at most ``max_connections`` connections; one more is closed
  as soon as it is accepted.

Once the request is fully read the deadline is off: the evaluation has its
own budget (gate.server.budget).
"""

from __future__ import annotations

import asyncio
import functools
import os
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

_READING = (h11.IDLE, h11.SEND_BODY)
_TIMEOUT_BODY = b'{"code":"request_timeout","message":"the request was not sent in time"}'
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: " + str(len(_TIMEOUT_BODY)).encode() + b"\r\n\r\n" + _TIMEOUT_BODY
)


@functools.lru_cache(maxsize=1)
def _limits() -> tuple[float, int]:
    from gate.server.app import CONFIG_ENV, ServeConfig

    config = ServeConfig.from_json(os.environ.get(CONFIG_ENV) or "{}")
    return config.read_timeout_s, config.max_connections


class GateH11Protocol(H11Protocol):
    """H11Protocol plus a whole-request read deadline and a per-worker connection cap."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_timeout, self._max_connections = _limits()
        self._read_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self._max_connections:
            transport.abort()  # over the cap: not even a response
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._read_deadline is None and self.conn.their_state is h11.IDLE:
            self._arm()  # the next request on a kept-alive connection
        super().data_received(data)
        if self.conn.their_state not in _READING:
            self._disarm()  # the whole request is in: the evaluation budget takes over

    def _arm(self) -> None:
        self._disarm()
        self._read_deadline = self.loop.call_later(self._read_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _too_slow(self) -> None:
        self._read_deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(_TIMEOUT_RESPONSE)
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.close()
