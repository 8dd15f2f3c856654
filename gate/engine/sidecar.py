"""The sidecar backend: a running OPA (or ``gate serve``) over its REST Data API.

Queries go through ``opa-python-client`` (``OpaClient.query_rule``:
``POST /v1/data/<package>/<rule>`` with ``{"input": ...}``). Anything but a
defined result is an engine error, so a sidecar that is down, slow, refusing
or missing the policy never yields a verdict.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from gate.engine.interface import Coverage, Engine, JsonDocument, Undefined
from gate.errors import EngineError, UsageError

DEFAULT_TIMEOUT_S = 10.0
TOKEN_ENV = "GATE_OPA_TOKEN"


def parse_url(url: str) -> tuple[str, int, bool]:
    """(host, port, tls) of ``http[s]://host[:port]``; no path, query or credentials."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--opa-url {url!r}: expected http://HOST:PORT or https://HOST:PORT")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise UsageError(
            f"--opa-url {url!r}: give only scheme, host and port (OPA serves /v1/data at the root)"
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 8181)
    except ValueError:
        raise UsageError(f"--opa-url {url!r}: invalid port") from None
    return parts.hostname, port, parts.scheme == "https"


def _server_message(response: Any) -> str:
    """OPA's error body is ``{"code": ..., "message": ...}``; keep it to one line."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        code = f"{body['code']}: " if isinstance(body.get("code"), str) else ""
        return " ".join(f"{code}{body['message']}".split())[:300]
    return " ".join(str(getattr(response, "reason", "") or "").split())[:300]


class SidecarEngine(Engine):
    """Queries answered by an OPA-compatible server at *url*."""

    name = "sidecar"

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT_S, token: str | None = None) -> None:
        from opa_client import OpaClient

        self.url = url.rstrip("/")
        host, port, tls = parse_url(url)
        token = token if token is not None else os.environ.get(TOKEN_ENV) or None
        # One retry for a dropped connection; a slow server is not retried.
        self._client = OpaClient(host=host, port=port, ssl=tls, token=token, timeout=timeout, retries=1)
        self._timeout = timeout

    def close(self) -> None:
        """Release the HTTP session."""
        self._client.close_connection()

    def evaluate(self, ref: str, document: JsonDocument | None) -> Any:
        """See Engine.evaluate: ``data.a.b.c`` -> ``POST /v1/data/a/b/c``."""
        import requests

        path = ref.removeprefix("data.")
        package, _, rule = path.rpartition(".")
        where = f"OPA at {self.url}"
        try:
            answer = self._client.query_rule(
                document.value if document is not None else {}, package or rule, rule if package else None
            )
        except requests.exceptions.JSONDecodeError:
            raise EngineError(f"{where}: the answer for {ref} is not JSON") from None
        except requests.exceptions.ConnectTimeout:
            raise EngineError(f"{where}: connection timed out after {self._timeout:g} s") from None
        except requests.exceptions.ReadTimeout:
            raise EngineError(f"{where}: no answer within {self._timeout:g} s") from None
        except requests.exceptions.ConnectionError as exc:
            reason = "connection refused" if "refused" in str(exc).lower() else "cannot connect"
            raise EngineError(f"{where}: {reason}") from None
        except requests.exceptions.HTTPError as exc:
            response = exc.response
            status = response.status_code if response is not None else "?"
            message = _server_message(response) if response is not None else ""
            raise EngineError(
                f"{where}: HTTP {status} for {ref}{': ' + message if message else ''}"
            ) from None
        except requests.exceptions.RequestException as exc:
            raise EngineError(f"{where}: request failed: {type(exc).__name__}") from None
        if not isinstance(answer, dict):
            raise EngineError(f"{where}: the answer for {ref} is not a JSON object")
        if "result" not in answer:
            raise Undefined(f"{where}: {ref} is undefined (is gate's bundle loaded?)")
        return answer["result"]

    def enable_coverage(self) -> None:
        """Coverage is not available over the REST API."""
        raise EngineError("coverage is not available from an OPA sidecar")

    def coverage(self) -> Coverage:
        """See enable_coverage."""
        return {}
