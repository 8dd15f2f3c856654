"""Load figures for ``gate serve`` (``make bench``): a script, not a test.

Starts ``gate serve --profile nim-promotion`` on a free loopback port
(``--workers`` default: one per CPU), then runs 64 concurrent clients, each
on its own keep-alive connection, posting the ~10 KiB container input that
bench/decide.py builds to ``POST /v1/data/gate/main/decision`` for 30 s.
Prints requests/s, latency p50/p90/p99/max and errors (any status but 200,
any answer without a promote result, any connection failure), then the same
request answered in-process (parse, evaluate, serialize: no HTTP) on one
core for comparison. Targets: >= 1,000 requests/s, p99 < 25 ms, zero errors.

The load generator shares the machine with the server; it is a minimal
asyncio HTTP/1.1 client on uvloop (pre-built request bytes, Content-Length
framing), so that as little CPU as possible goes to the client.

A third phase paces the clients at half the measured saturation rate, to
show the latency of a server that is busy but not overloaded.

Options: --seconds, --clients, --workers, --decision-log (log every decision
to a temporary JSON-lines file, to see its cost), --quick (5 s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from decide import SIZES, SMALL, make_sample  # noqa: E402

TOKEN = "bench-token-0123456789abcdef"
PATH = "/v1/data/gate/main/decision"
TARGET_RPS = 1_000.0
TARGET_P99_MS = 25.0


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int, workers: int | None, log_path: str | None) -> subprocess.Popen[bytes]:
    """gate serve, waited for until /health answers."""
    argv = [str(Path(sys.executable).parent / "gate"), "serve", "--addr", f"127.0.0.1:{port}"]
    argv += ["--profile", "nim-promotion"]
    if workers:
        argv += ["--workers", str(workers)]
    if log_path:
        argv += ["--decision-log", log_path]
    process = subprocess.Popen(argv, env={**os.environ, "GATE_SERVE_TOKEN": TOKEN}, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return process
        except OSError:
            if process.poll() is not None:
                detail = process.stderr.read().decode() if process.stderr else ""
                raise SystemExit(f"bench: gate serve exited: {detail}") from None
            time.sleep(0.1)
    process.kill()
    raise SystemExit("bench: gate serve did not become healthy")


def request_bytes(body: bytes, port: int) -> bytes:
    """One complete HTTP/1.1 request."""
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Status and body of one Content-Length-framed response."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def client(
    port: int, request: bytes, stop_at: float, latencies: list[float], errors: list[str]
) -> None:
    """One connection, requests back to back until *stop_at*."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as exc:
        errors.append(f"connect: {exc}")
        return
    try:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            writer.write(request)
            status, body = await read_response(reader)
            latencies.append(time.perf_counter() - started)
            if status != 200 or b'"verdict":"promote"' not in body:
                errors.append(f"status {status}: {body[:120]!r}")
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        writer.close()


async def paced_client(
    port: int,
    request: bytes,
    start: float,
    interval: float,
    stop_at: float,
    latencies: list[float],
    errors: list[str],
) -> None:
    """One connection sending on a fixed schedule (open loop). Latency runs from
    the scheduled send time, so a slow answer also counts against the requests
    it delayed (no coordinated omission)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as exc:
        errors.append(f"connect: {exc}")
        return
    scheduled = start
    try:
        while scheduled < stop_at:
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            writer.write(request)
            status, body = await read_response(reader)
            latencies.append(time.perf_counter() - scheduled)
            if status != 200 or b'"verdict":"promote"' not in body:
                errors.append(f"status {status}: {body[:120]!r}")
            scheduled += interval
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        writer.close()


async def load(
    port: int, request: bytes, clients: int, seconds: float, rate: float | None = None
) -> tuple[list[float], list[str], float]:
    """Run the clients, back to back or (with *rate*) paced to *rate* requests/s
    in total; (latencies, errors, elapsed seconds)."""
    latencies: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    stop_at = started + seconds
    if rate is None:
        await asyncio.gather(*(client(port, request, stop_at, latencies, errors) for _ in range(clients)))
    else:
        interval = clients / rate
        await asyncio.gather(
            *(
                paced_client(
                    port, request, started + i * interval / clients, interval, stop_at, latencies, errors
                )
                for i in range(clients)
            )
        )
    return latencies, errors, time.perf_counter() - started


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile, in milliseconds."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
    return ordered[index] * 1000


def in_process(body: bytes, seconds: float) -> tuple[int, list[float]]:
    """The server's work for one request, without HTTP: parse, evaluate, serialize."""
    import orjson

    from gate.decide import Decider
    from gate.document import parse_json
    from gate.engine.interface import JsonDocument
    from gate.profile import load_profile

    decider = Decider(load_profile("nim-promotion"), "regorus")
    times: list[float] = []
    stop_at = time.perf_counter() + seconds
    while time.perf_counter() < stop_at:
        started = time.perf_counter()
        value = parse_json("bench", body).value["input"]
        document = JsonDocument(value, orjson.dumps(value).decode())
        result = decider.engine.evaluate("data.gate.main.decision", document)
        orjson.dumps({"decision_id": "x", "result": result})
        times.append(time.perf_counter() - started)
    return len(times), times


def main(argv: list[str] | None = None) -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--workers", type=int, default=None, help="gate serve --workers (default: CPU count)")
    parser.add_argument("--decision-log", action="store_true", help="log decisions to a temporary file")
    parser.add_argument("--quick", action="store_true", help="5 s instead of 30")
    args = parser.parse_args(argv)
    seconds = 5.0 if args.quick else args.seconds

    sample = make_sample(SMALL, SIZES[SMALL])
    body = b'{"input":' + sample.raw + b"}"
    port = free_port()
    with tempfile.TemporaryDirectory() as temp:
        log_path = str(Path(temp) / "decisions.jsonl") if args.decision_log else None
        server = start_server(port, args.workers, log_path)
        try:
            import uvloop

            uvloop.install()
        except ImportError:  # pragma: no cover - not on every platform
            pass
        try:
            # warm-up: every worker compiles at startup; let connections settle
            asyncio.run(load(port, request_bytes(body, port), args.clients, 1.0))
            request = request_bytes(body, port)
            latencies, errors, elapsed = asyncio.run(load(port, request, args.clients, seconds))
            paced, paced_errors, paced_elapsed = asyncio.run(
                load(port, request, args.clients, seconds, rate=TARGET_RPS)
            )
            # Latency when the machine is not overloaded: half the measured saturation rate.
            half_rate = max(1.0, len(latencies) / elapsed / 2)
            half, half_errors, half_elapsed = asyncio.run(
                load(port, request, args.clients, seconds, rate=half_rate)
            )
        finally:
            server.terminate()
            server.wait(timeout=30)

    count, local = in_process(body, min(seconds, 10.0))
    rate = len(latencies) / elapsed
    paced_rate = len(paced) / paced_elapsed
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"gate serve load: {args.clients} clients, {seconds:g} s per phase, {len(body)} byte requests, "
        f"{args.workers or cpus} workers on {cpus} CPUs, "
        f"decision log {'on' if args.decision_log else 'off'}, "
        f"load average before: {os.getloadavg()[0]:.2f}"
    )
    header = f"{'':<34} {'requests':>9} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}"
    header += f" {'max ms':>8}"
    print(header + f" {'errors':>7}")

    def row(label: str, n: int, per_s: float, values: list[float], errs: int) -> None:
        print(
            f"{label:<34} {n:>9} {per_s:>9,.0f} {percentile(values, 50):>8.2f} "
            f"{percentile(values, 90):>8.2f} {percentile(values, 99):>8.2f} "
            f"{max(values) * 1000:>8.2f} {errs:>7}"
        )

    row("HTTP, back to back (saturation)", len(latencies), rate, latencies, len(errors))
    row(f"HTTP, paced at {TARGET_RPS:,.0f}/s in total", len(paced), paced_rate, paced, len(paced_errors))
    row(
        f"HTTP, paced at {half_rate:,.0f}/s (half of max)",
        len(half),
        len(half) / half_elapsed,
        half,
        len(half_errors),
    )
    row("in-process, one core, no HTTP", count, count / sum(local), local, 0)
    for name, found in (("back to back", errors), ("paced", paced_errors), ("half", half_errors)):
        if found:
            print(f"first error ({name}): {found[0]}")
    p99 = percentile(paced, 99)
    print("targets")
    rate_mark = "met" if rate >= TARGET_RPS else "MISSED"
    p99_mark = "met" if p99 < TARGET_P99_MS else "MISSED"
    print(f"  >= {TARGET_RPS:,.0f} requests/s (saturation)   {rate:>9,.0f}  {rate_mark}")
    print(f"  p99 < {TARGET_P99_MS:g} ms at {TARGET_RPS:,.0f}/s            {p99:>9.2f}  {p99_mark}")
    total_errors = len(errors) + len(paced_errors) + len(half_errors)
    print(f"  zero errors                       {total_errors:>9}  {'met' if not total_errors else 'MISSED'}")
    print(
        f"  (back to back, {args.clients} clients keep {args.clients} requests in flight: by Little's law "
        f"their mean latency is {args.clients}/throughput = {args.clients / rate * 1000:.1f} ms)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
