"""Bearer-token authentication and a request-size bound, as ASGI middleware.

Both run before a route sees the request: an unauthenticated or oversized
request is answered without its body being read.
"""

from __future__ import annotations

import hmac
from typing import Any

import orjson

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Any
Send = Any
ASGIApp = Any

OPEN_PATHS = frozenset({"/health"})


async def _error(
    send: Send, status: int, code: str, message: str, headers: list[tuple[bytes, bytes]]
) -> None:
    body = orjson.dumps({"code": code, "message": message})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BearerAuth:
    """Every path but /health needs ``Authorization: Bearer <token>``.

    The comparison is hmac.compare_digest over bytes, so its time does not
    depend on where a guess first differs.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        given = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                given = value
                break
        if not hmac.compare_digest(given, self.expected):
            await _error(
                send,
                401,
                "unauthorized",
                "missing or invalid bearer token",
                [(b"www-authenticate", b'Bearer realm="gate"')],
            )
            return
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuse request bodies larger than *limit* bytes with 413.

    A declared Content-Length over the limit is refused before any of the
    body is read; a chunked body is counted as it arrives and refused as
    soon as it passes the limit.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > self.limit:
                    await self._refuse(send)
                    return
                break
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message: Message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise RequestTooLarge(self.limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except RequestTooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        await _error(
            send,
            413,
            "request_too_large",
            f"request body larger than the limit of {self.limit} bytes",
            [(b"connection", b"close")],
        )


class RequestTooLarge(Exception):
    """Raised inside the app when a streamed body passes the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than the limit of {limit} bytes")
