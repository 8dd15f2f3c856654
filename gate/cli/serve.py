"""``gate serve``: an OPA-compatible decision server (Starlette on uvicorn)."""

from __future__ import annotations

import ipaddress
import os
import signal
import sys
from pathlib import Path

import click

from gate.cli.common import EXIT_CODES_HELP, engine_option, policy_dir_option, profile_option
from gate.errors import EXIT_PROMOTE, UsageError

SERVE_EPILOG = (
    """\b
examples:
  gate serve --profile nim-promotion
  GATE_SERVE_TOKEN=$(cat token) gate serve --addr 0.0.0.0:8181 --profile nim-promotion --workers 4
  gate serve --profile nim-promotion --decision-log decisions.jsonl --mask /input/operator/source_url
  curl -s -H "Authorization: Bearer $TOKEN" -d @req.json http://127.0.0.1:8181/v1/data/gate/main/decision

\b
endpoints (OPA's REST Data API):
  POST /v1/data/{path}   {"input": ...} -> {"decision_id", "result"} (no result when undefined)
  GET  /v1/data/{path}   also GET/POST /v1/data for the whole document
  POST /v1/query         {"query": "...", "input": ...} -> {"result": [bindings]}
  GET  /v1/policies      module ids and source (no ast)
  GET  /health           ?bundles and ?plugins accepted; never needs the token
  POST /v1/gate/eval     {"input": <input document>} -> the decision, both schema-checked
  POST /v1/model/promote a gate watch promotion, checked against --registry-dir (201, or
                         200 when its idempotency key is already recorded)

Every endpoint but /health needs "Authorization: Bearer TOKEN" when a token is
set (--token-file or $GATE_SERVE_TOKEN; required on a non-loopback address).
Bodies over --max-body-bytes get 413 before they are read; headers over
--max-header-bytes get 400; a request not fully sent within --read-timeout
gets 408 and its connection is closed. Every evaluation runs in a child
process under --query-timeout and --query-memory-bytes: past either, 500,
and the worker keeps serving. SIGTERM stops accepting connections and lets
requests in flight finish.

"""
    + EXIT_CODES_HELP
)


def _address(addr: str) -> tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--addr {addr!r}: expected HOST:PORT, e.g. 127.0.0.1:8181")
    return host.strip("[]") or "127.0.0.1", int(port)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@click.command("serve", epilog=SERVE_EPILOG, short_help="serve decisions over OPA's REST Data API")
@click.option("--addr", default="127.0.0.1:8181", show_default=True, metavar="HOST:PORT")
@profile_option(required=False)
@policy_dir_option
@engine_option
@click.option(
    "--workers", type=click.IntRange(1, 64), metavar="N", help="worker processes [default: CPU count]"
)
@click.option("--token-file", metavar="FILE", help="file holding the bearer token (else $GATE_SERVE_TOKEN)")
@click.option("--decision-log", metavar="FILE", help="append decision events (JSON lines) to FILE")
@click.option("--decision-log-url", metavar="URL", help="POST gzip JSON batches of decision events to URL")
@click.option("--mask", multiple=True, metavar="/input/PATH", help="JSON pointer erased from logged events")
@click.option(
    "--log-input",
    type=click.Choice(["masked", "digest"]),
    default="masked",
    show_default=True,
    help="log the (masked) input, or only its sha256 digest",
)
@click.option("--max-body-bytes", type=click.IntRange(1024), default=4 * 1024 * 1024, show_default=True)
@click.option(
    "--attest-key",
    metavar="KEY",
    help="ECDSA P-256 private key (PEM path or env://VAR): /v1/gate/eval also returns signed attestations",
)
@click.option(
    "--registry-dir",
    metavar="DIR",
    help="answer POST /v1/model/promote (gate watch announcements) for this registry folder; "
    "needs a token and --watch-key",
)
@click.option(
    "--watch-key",
    metavar="FILE",
    help="the gate watch provenance public key (PEM): a promotion is recorded only when the "
    "artifact's sha256 and its manifest's DSSE signature verify",
)
@click.option("--graceful-timeout", type=click.IntRange(0), default=30, show_default=True, metavar="SECONDS")
@click.option(
    "--query-timeout",
    type=click.FloatRange(0.1),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="time (wall clock and CPU) one evaluation may take; past it: 500",
)
@click.option(
    "--query-memory-bytes",
    type=click.IntRange(16 * 1024 * 1024),
    default=1024 * 1024 * 1024,
    show_default=True,
    metavar="BYTES",
    help="memory one evaluation may add to its worker's; past it: 500",
)
@click.option(
    "--read-timeout",
    type=click.FloatRange(0.1),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="time a client has to send a request's headers and body; past it: 408, closed",
)
@click.option("--max-header-bytes", type=click.IntRange(1024), default=64 * 1024, show_default=True)
@click.option(
    "--max-connections",
    type=click.IntRange(1),
    default=1024,
    show_default=True,
    metavar="N",
    help="open connections per worker; more are closed at once",
)
def serve(
    addr: str,
    profile: str | None,
    policy_dir: Path | None,
    engine: str,
    workers: int | None,
    token_file: str | None,
    decision_log: str | None,
    decision_log_url: str | None,
    mask: tuple[str, ...],
    log_input: str,
    max_body_bytes: int,
    attest_key: str | None,
    registry_dir: str | None,
    watch_key: str | None,
    graceful_timeout: int,
    query_timeout: float,
    query_memory_bytes: int,
    read_timeout: float,
    max_header_bytes: int,
    max_connections: int,
) -> int:
    """Serve data.gate.main.decision (and every data path) as an OPA sidecar would."""
    import uvicorn

    from gate.server.app import CONFIG_ENV, ServeConfig, Service, resolve_token
    from gate.server.decision_log import DecisionLogConfig, parse_mask

    host, port = _address(addr)
    for pointer in mask:
        parse_mask(pointer)
    if decision_log_url and not decision_log_url.startswith(("http://", "https://")):
        raise UsageError(f"--decision-log-url {decision_log_url!r}: expected an http(s) URL")
    config = ServeConfig(
        profile=profile,
        policy_dir=str(policy_dir) if policy_dir else None,
        engine=engine,
        token_file=token_file,
        max_body_bytes=max_body_bytes,
        attest_key=attest_key,
        registry_dir=registry_dir,
        query_timeout_s=query_timeout,
        query_memory_bytes=query_memory_bytes,
        read_timeout_s=read_timeout,
        max_header_bytes=max_header_bytes,
        max_connections=max_connections,
        watch_key=watch_key,
        decision_log=DecisionLogConfig(
            path=decision_log, url=decision_log_url, masks=mask, include_input=log_input == "masked"
        ),
    )
    token = resolve_token(config)
    if not token and not _loopback(host):
        raise UsageError(
            f"--addr {addr}: a non-loopback address needs a token (--token-file or $GATE_SERVE_TOKEN)"
        )
    if registry_dir and not token:
        raise UsageError(
            "--registry-dir needs a bearer token (--token-file or $GATE_SERVE_TOKEN): "
            "promotions are never open"
        )
    if registry_dir and not watch_key:
        raise UsageError(
            "--registry-dir needs --watch-key (the gate watch public key): "
            "a promotion is recorded only when its signed provenance verifies"
        )
    if registry_dir and not Path(registry_dir).is_dir():
        raise UsageError(f"--registry-dir {registry_dir}: not a folder")
    config = ServeConfig(**{**config.__dict__, "require_token": bool(token)})
    # Compile once here so a broken policy or profile fails before any worker starts.
    service = Service(config)
    count = workers or _cpu_count()
    os.environ[CONFIG_ENV] = config.to_json()
    print(
        f"gate serve: http://{host}:{port} ({count} worker{'s' if count > 1 else ''}, "
        f"profile {service.profile.name if service.profile else '(none)'}, revision {service.revision}, "
        f"{'token required' if token else 'no token'})",
        file=sys.stderr,
        flush=True,
    )
    del service
    # uvicorn re-raises the signal that stopped it once shutdown is complete;
    # after a graceful SIGTERM gate serve exits 0, as with several workers.
    signal.signal(signal.SIGTERM, lambda *_: None)
    from gate.server.protocol import GateH11Protocol

    uvicorn.run(
        "gate.server.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=count,
        loop="auto",
        # h11 with gate's read deadline and connection cap (httptools bounds no header size)
        http=GateH11Protocol,
        h11_max_incomplete_event_size=max_header_bytes,
        lifespan="on",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=graceful_timeout,
        server_header=False,
        date_header=False,
    )
    return EXIT_PROMOTE
