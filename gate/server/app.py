"""The decision server: OPA's REST Data API over gate's embedded engine.

``create_app(config)`` builds a Starlette app; nothing is global, so tests
and each uvicorn worker build their own (every worker compiles the policy
once, at startup). Endpoints, as OPA answers them:

- ``POST /v1/data/{path}`` ``{"input": ...}`` -> ``{"decision_id", "result"}``
  (no ``result`` when the document is undefined); ``GET /v1/data/{path}``
  (``?input=<json>``); ``GET``/``POST /v1/data`` for the whole document;
- ``POST /v1/query`` / ``GET /v1/query?q=`` -> ``{"result": [bindings...]}``;
- ``GET /v1/policies`` and ``/v1/policies/{id}`` -> ``id`` and ``raw`` (no
  ``ast``: gate does not expose a parsed syntax tree);
- ``GET /health`` (``?bundles``, ``?plugins``): 200 ``{}`` once compiled;
- ``POST /v1/gate/eval`` ``{"input": <input document>}`` -> the decision,
  with the input and the decision schema-checked exactly as ``gate eval``
  checks them.

Writes (``PUT``/``PATCH``/``DELETE`` of data or policies) are refused:
the policies and the profile are fixed when the server starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gate import __version__, schemas
from gate.document import MAX_DEPTH, parse_json
from gate.engine import create_engine
from gate.engine.interface import Engine, JsonDocument, Undefined
from gate.errors import EngineError, GateError, InputError, UsageError
from gate.server import budget
from gate.server.auth import BearerAuth, BodyLimit, RequestTooLarge
from gate.server.decision_log import DecisionLog, DecisionLogConfig

CONFIG_ENV = "GATE_SERVE_CONFIG"
TOKEN_ENV = "GATE_SERVE_TOKEN"
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_QUERY_CHARS = 16 * 1024
MAX_PATH_SEGMENTS = 32
DECISION_PATH = "gate/main/decision"

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ServeConfig:
    """Everything a worker needs to build the app (JSON-serialisable)."""

    profile: str | None = None
    """Profile name or path; None serves without data.gate.config."""
    policy_dir: str | None = None
    """Policy root (default: the bundled policies)."""
    engine: str = "regorus"
    """Embedded engine."""
    token: str | None = None
    """Bearer token (tests); otherwise token_file, then $GATE_SERVE_TOKEN."""
    token_file: str | None = None
    """File holding the bearer token."""
    require_token: bool = False
    """Refuse to start without a token."""
    max_body_bytes: int = MAX_BODY_BYTES
    """Largest request body accepted."""
    decision_log: DecisionLogConfig = field(default_factory=DecisionLogConfig)
    """Decision-log destinations and masks."""
    attest_key: str | None = None
    """Private key for signed attestations on /v1/gate/eval (when available)."""
    registry_dir: str | None = None
    """Answer POST /v1/model/promote for this registry folder (needs a token)."""
    query_timeout_s: float = budget.DEFAULT_TIMEOUT_S
    """Wall-clock (and CPU) seconds one evaluation may take; past it: 500."""
    query_memory_bytes: int = budget.DEFAULT_MEMORY_BYTES
    """Memory one evaluation may add to its worker's; past it: 500."""
    read_timeout_s: float = 10.0
    """Seconds a client has to send a request's headers and body."""
    max_header_bytes: int = 64 * 1024
    """Largest request line plus headers accepted."""
    max_connections: int = 1024
    """Open connections per worker; more are closed at once."""
    watch_key: str | None = None
    """gate watch's provenance public key: promotions are verified against it."""

    def to_json(self) -> str:
        """Serialised for worker processes (the token itself is left out)."""
        value = asdict(self)
        value["token"] = None
        return json.dumps(value)

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        """The inverse of to_json."""
        value = json.loads(text)
        log = value.pop("decision_log", {}) or {}
        log["masks"] = tuple(log.get("masks") or ())
        return cls(**value, decision_log=DecisionLogConfig(**log))


def resolve_token(config: ServeConfig) -> str | None:
    """The bearer token: explicit, then --token-file, then $GATE_SERVE_TOKEN."""
    if config.token:
        return config.token
    if config.token_file:
        from gate.fsutil import read_bounded

        try:
            text = read_bounded(config.token_file, 4096).decode("utf-8").strip()
        except InputError as exc:
            raise UsageError(f"{exc} (the token file)") from None
        except UnicodeDecodeError:
            raise UsageError(f"{config.token_file}: the token is not UTF-8") from None
        if not text or "\n" in text:
            raise UsageError(f"{config.token_file}: the token file must hold one non-empty line")
        return text
    return os.environ.get(TOKEN_ENV) or None


def _json(value: Any, status: int = 200, pretty: bool = False) -> Response:
    body = orjson.dumps(value, option=orjson.OPT_INDENT_2 if pretty else 0)
    return Response(body, status_code=status, media_type="application/json")


def _error(status: int, code: str, message: str, **extra: Any) -> Response:
    return _json({"code": code, "message": message, **extra}, status)


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name)
    return value is not None and value.lower() not in ("false", "0")


def data_ref(path: str) -> str:
    """``gate/main/decision`` -> ``data.gate.main.decision`` (other keys quoted)."""
    parts = [p for p in path.split("/") if p]
    if len(parts) > MAX_PATH_SEGMENTS:
        raise InputError(f"path has more than {MAX_PATH_SEGMENTS} segments")
    ref = "data"
    for part in parts:
        ref += f".{part}" if _IDENT.match(part) else f"[{json.dumps(part)}]"
    return ref


class Service:
    """One worker's compiled policy, decision log and request handlers."""

    def __init__(self, config: ServeConfig) -> None:
        from gate.bundle.build import BundleSpec, bundle_files
        from gate.policy import load_policies
        from gate.profile import check_against_policies, load_profile
        from gate.resources import rego_dir

        self.config = config
        root = Path(config.policy_dir) if config.policy_dir else rego_dir()
        self.profile = load_profile(config.profile) if config.profile else None
        self.policies = load_policies(root)
        gate_data: dict[str, Any] = {"catalog": self.policies.catalog_data()}
        if self.profile is not None:
            check_against_policies(self.profile, self.policies)
            gate_data["config"] = self.profile.config()
        self.modules = [(f.path, f.text) for f in self.policies.modules(include_tests=False)]
        self.engine: Engine = create_engine(config.engine, self.modules, {"gate": gate_data})
        # The same revision `gate bundle build` gives the same policies and profile.
        manifest = dict(bundle_files(BundleSpec(root, self.profile)))[".manifest"]
        self.revision = str(json.loads(manifest)["revision"])
        self.signer: Any = None
        if config.attest_key:
            from gate.attest.keys import load_signing_key
            from gate.attest.statement import policy_digest

            if self.profile is None:
                raise UsageError(
                    "--attest-key needs --profile: an attestation names the profile it decided under"
                )
            self.signer = load_signing_key(config.attest_key)
            self.policy_digest = policy_digest(self.policies, self.profile)
        self.budget = budget.Budget(config.query_timeout_s, config.query_memory_bytes)
        self.watch_key: Any = None
        if config.watch_key:
            from gate.attest.keys import load_verify_key

            self.watch_key = load_verify_key(config.watch_key)
        labels = {"id": str(uuid.uuid4()), "version": __version__, "app": "gate"}
        self.log = DecisionLog(config.decision_log, labels, {"gate": {"revision": self.revision}})

    # --- evaluation --------------------------------------------------------

    async def _bounded(self, evaluate: Any) -> Any:
        """*evaluate()* in a child process under the query budget (gate.server.budget).

        Forked from the event-loop thread: a regorus engine may only be used
        from the thread that built it. The worker waits at most the budget."""
        return budget.run(evaluate, self.budget)

    async def _evaluate(self, request: Request, path: str, input_value: Any, has_input: bool) -> Response:
        ref = data_ref(path)
        started = time.perf_counter_ns()
        document = JsonDocument(input_value, orjson.dumps(input_value).decode()) if has_input else None
        decision_id = str(uuid.uuid4())
        try:
            result = await self._bounded(lambda: self.engine.evaluate(ref, document))
            defined = True
        except Undefined:
            result, defined = None, False
        except EngineError as exc:
            return _error(500, "internal_error", str(exc))
        elapsed = time.perf_counter_ns() - started
        answer: dict[str, Any] = {"decision_id": decision_id}
        if defined:
            answer["result"] = result
        if _flag(request, "metrics"):
            answer["metrics"] = {"timer_rego_query_eval_ns": elapsed}
        if self.log.enabled:
            self.log.record(
                decision_id=decision_id,
                path=path.strip("/"),
                input_value=input_value,
                has_input=has_input,
                result=result,
                defined=defined,
                requested_by=_client(request),
                metrics={"timer_rego_query_eval_ns": elapsed},
            )
        return _json(answer, pretty=_flag(request, "pretty"))

    async def _input(self, request: Request) -> tuple[Any, bool]:
        """The ``input`` member of a JSON request body (parsed with gate's limits)."""
        body = await request.body()
        if not body.strip():
            return None, False
        document = parse_json("request body", body)
        if not isinstance(document.value, dict):
            raise InputError("request body: expected a JSON object")
        if "input" not in document.value:
            return None, False
        return document.value["input"], True

    async def data_post(self, request: Request) -> Response:
        """``POST /v1/data[/{path}]``."""
        input_value, has_input = await self._input(request)
        return await self._evaluate(request, request.path_params.get("path", ""), input_value, has_input)

    async def data_get(self, request: Request) -> Response:
        """``GET /v1/data[/{path}]`` (``?input=<json>``)."""
        raw = request.query_params.get("input")
        if raw is None:
            return await self._evaluate(request, request.path_params.get("path", ""), None, False)
        document = parse_json("input parameter", raw.encode())
        return await self._evaluate(request, request.path_params.get("path", ""), document.value, True)

    async def query(self, request: Request) -> Response:
        """``POST /v1/query`` ``{"query", "input"}`` or ``GET /v1/query?q=``."""
        if request.method == "GET":
            text, input_value, has_input = request.query_params.get("q", ""), None, False
        else:
            body = parse_json("request body", await request.body()).value
            if not isinstance(body, dict):
                raise InputError("request body: expected a JSON object")
            text = body.get("query", "")
            input_value, has_input = body.get("input"), "input" in body
        if not isinstance(text, str) or not text.strip():
            raise InputError("missing query")
        if len(text) > MAX_QUERY_CHARS:
            raise InputError(f"query longer than {MAX_QUERY_CHARS} characters")
        document = JsonDocument(input_value, orjson.dumps(input_value).decode()) if has_input else None
        try:
            results = await self._bounded(lambda: self.engine.query(text, document))
        except EngineError as exc:
            return _error(400, "invalid_parameter", str(exc))
        return _json({"result": results} if results else {}, pretty=_flag(request, "pretty"))

    async def gate_eval(self, request: Request) -> Response:
        """``POST /v1/gate/eval``: the decision for one input document."""
        input_value, has_input = await self._input(request)
        if not has_input:
            raise InputError('request body: expected {"input": <input document>}')
        found = schemas.problems("input", input_value)
        if found:
            return _error(400, "invalid_input", f"input: {found[0]}", errors=found)
        if self.profile is None:
            return _error(400, "invalid_parameter", "gate serve runs without --profile: no decision")
        started = time.perf_counter_ns()
        document = JsonDocument(input_value, orjson.dumps(input_value).decode())
        decision_id = str(uuid.uuid4())
        try:
            decision = await self._bounded(
                lambda: self.engine.evaluate(f"data.{DECISION_PATH.replace('/', '.')}", document)
            )
        except EngineError as exc:
            return _error(500, "internal_error", str(exc))
        problems = schemas.problems("decision", decision)
        if problems:
            return _error(500, "internal_error", f"the decision does not match its schema: {problems[0]}")
        elapsed = time.perf_counter_ns() - started
        answer: dict[str, Any] = {"decision_id": decision_id, "result": decision}
        if self.signer is not None:
            answer["attestation"] = await self._attest(document, decision)
        if self.log.enabled:
            self.log.record(
                decision_id=decision_id,
                path="gate/eval",
                input_value=input_value,
                has_input=True,
                result=decision,
                defined=True,
                requested_by=_client(request),
                metrics={"timer_rego_query_eval_ns": elapsed},
            )
        return _json(answer, pretty=_flag(request, "pretty"))

    async def _attest(self, document: JsonDocument, decision: dict[str, Any]) -> list[Any]:
        """The signed DSSE envelopes (SLSA VSA, then gate's decision predicate)."""
        from gate.attest.sign import attest_decision
        from gate.attest.statement import DecisionRecord

        cve_delta = None
        if self.profile is not None and self.profile.settings.get("policy") == "container":
            try:
                cve_delta = await self._bounded(
                    lambda: self.engine.evaluate("data.gate.container.cve_delta", document)
                )
            except EngineError:  # undefined without usable scans
                cve_delta = None
        record = DecisionRecord(
            document=document,
            decision=decision,
            policy=self.policy_digest,
            engine=self.config.engine,
            cve_delta=cve_delta,
            actor=None,
        )
        data = attest_decision(record, key=self.signer, fmt="dsse")
        return [json.loads(line) for line in data.splitlines() if line.strip()]

    # --- introspection -----------------------------------------------------

    async def model_promote(self, request: Request) -> Response:
        """``POST /v1/model/promote``: record a watcher's promotion (see gate.server.promotions)."""
        from gate.server.promotions import PromotionRejected, record

        if not self.config.registry_dir:
            return _error(404, "not_found", "this server has no registry folder (gate serve --registry-dir)")
        from starlette.concurrency import run_in_threadpool

        body = await request.body()
        value = parse_json("request body", body).value
        try:
            # The artifact is hashed (a streaming read) off the event loop.
            status, answer = await run_in_threadpool(
                record, Path(self.config.registry_dir), value, self.watch_key
            )
        except PromotionRejected as exc:
            return _error(exc.status, exc.code, str(exc))
        return _json(answer, status)

    async def health(self, request: Request) -> Response:
        """``GET /health``: compiled at startup, so healthy whenever it answers."""
        return _json({})

    async def list_policies(self, request: Request) -> Response:
        """``GET /v1/policies``."""
        return _json({"result": [{"id": path, "raw": text} for path, text in self.modules]})

    async def get_policy(self, request: Request) -> Response:
        """``GET /v1/policies/{id}``."""
        wanted = request.path_params["id"]
        if not wanted:
            return await self.list_policies(request)
        for path, text in self.modules:
            if path == wanted:
                return _json({"result": {"id": path, "raw": text}})
        return _error(404, "resource_not_found", f"storage_not_found_error: policy id {wanted!r}")

    async def read_only(self, request: Request) -> Response:
        """Writes are refused: policies and data are fixed at startup."""
        return _error(
            405,
            "method_not_allowed",
            "gate serve is read-only: policies and data come from its policy folder and profile",
        )


def _client(request: Request) -> str:
    client = request.client
    return f"{client.host}:{client.port}" if client else ""


def _guarded(handler: Any) -> Any:
    """Turn gate's typed errors into OPA-shaped error responses."""

    async def run(request: Request) -> Response:
        try:
            response: Response = await handler(request)
        except InputError as exc:
            return _error(400, "invalid_parameter", str(exc))
        except RequestTooLarge as exc:
            response = _error(413, "request_too_large", str(exc))
            response.headers["connection"] = "close"
            return response
        except GateError as exc:
            return _error(500, "internal_error", str(exc))
        except Exception as exc:  # a bug: one line in the log, an OPA-shaped 500 to the client
            print(f"gate serve: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
            return _error(500, "internal_error", f"internal error ({type(exc).__name__})")
        return response

    return run


def create_app(config: ServeConfig) -> Any:
    """The ASGI app for *config*: the policy is compiled here, once."""
    service = Service(config)
    token = resolve_token(config)
    if config.require_token and not token:
        raise UsageError(f"no bearer token: give --token-file or set ${TOKEN_ENV}")
    if config.registry_dir and not token:
        raise UsageError(
            f"--registry-dir needs a bearer token (--token-file or ${TOKEN_ENV}): promotions are never open"
        )
    if config.registry_dir and not config.watch_key:
        raise UsageError(
            "--registry-dir needs --watch-key (the gate watch public key): "
            "a promotion is recorded only when its signed provenance verifies"
        )
    if config.registry_dir and not Path(config.registry_dir).is_dir():
        raise UsageError(f"{config.registry_dir}: not a folder")
    writes = ["PUT", "PATCH", "DELETE"]
    routes = [
        Route("/health", _guarded(service.health), methods=["GET"]),
        Route("/v1/data", _guarded(service.data_get), methods=["GET"]),
        Route("/v1/data", _guarded(service.data_post), methods=["POST"]),
        Route("/v1/data", service.read_only, methods=writes),
        Route("/v1/data/{path:path}", _guarded(service.data_get), methods=["GET"]),
        Route("/v1/data/{path:path}", _guarded(service.data_post), methods=["POST"]),
        Route("/v1/data/{path:path}", service.read_only, methods=writes),
        Route("/v1/query", _guarded(service.query), methods=["GET", "POST"]),
        Route("/v1/policies", _guarded(service.list_policies), methods=["GET"]),
        Route("/v1/policies/{id:path}", _guarded(service.get_policy), methods=["GET"]),
        Route("/v1/policies/{id:path}", service.read_only, methods=writes),
        Route("/v1/gate/eval", _guarded(service.gate_eval), methods=["POST"]),
        Route("/v1/model/promote", _guarded(service.model_promote), methods=["POST"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.log.start()
        try:
            yield
        finally:
            await service.log.stop()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.service = service
    outer: Any = BodyLimit(app, config.max_body_bytes)
    if token:
        outer = BearerAuth(outer, token)
    return outer


def app_from_environment() -> Any:
    """uvicorn factory for worker processes: the config comes from $GATE_SERVE_CONFIG."""
    text = os.environ.get(CONFIG_ENV)
    if not text:
        raise UsageError(f"${CONFIG_ENV} is not set (start the server with gate serve)")
    return create_app(ServeConfig.from_json(text))


__all__ = ["MAX_DEPTH", "ServeConfig", "app_from_environment", "create_app", "data_ref"]
