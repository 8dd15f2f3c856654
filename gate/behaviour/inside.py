"""The program that runs inside the smoke-test sandbox (``python -m gate.behaviour.inside CONFIG``).

It brings up the loopback interface of its fresh network namespace (when it
is in one), starts the inference server bound to 127.0.0.1 with the rlimits
it was given, waits for it to be healthy, sends every prompt with
deterministic sampling, and prints one JSON line per event on stdout. The
server's whole process group is killed when it is done, whatever happened.
Standard library only (and gate.procs, which is too): it must start fast and import
nothing of the model's.
"""

from __future__ import annotations

import fcntl
import json
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from gate import procs

_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1


def emit(**event: Any) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def loopback_up() -> None:
    """``ip link set lo up`` by ioctl (a fresh network namespace starts with lo down)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock.fileno(), _SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | _IFF_UP))


def _limits(limits: dict[str, int]) -> Any:
    def apply() -> None:
        for name, value in (
            ("RLIMIT_AS", limits.get("memory_bytes")),
            ("RLIMIT_CPU", limits.get("cpu_seconds")),
            ("RLIMIT_NPROC", limits.get("processes")),
            ("RLIMIT_FSIZE", limits.get("file_bytes")),
            ("RLIMIT_CORE", 0),
        ):
            if value is not None:
                resource.setrlimit(getattr(resource, name), (value, value))

    return apply


def _post(url: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        data = response.read(4 * 1024 * 1024)
    value: dict[str, Any] = json.loads(data)
    return value


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def run(config: dict[str, Any]) -> int:
    if config.get("netns"):
        try:
            loopback_up()
        except OSError as exc:
            emit(event="error", stage="sandbox", detail=f"cannot bring up loopback in the namespace: {exc}")
            return 3
    log = open(os.path.join(config["tmp"], "server.log"), "wb")  # noqa: SIM115 - closed below
    started = time.monotonic()
    try:
        # Its own process group, killed below, and dead with this process whatever kills it.
        server = procs.spawn(
            config["server_argv"],
            preexec=_limits(config["limits"]),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            cwd=config["tmp"],
            env=config["env"],
        )
    except OSError as exc:
        emit(event="error", stage="start", detail=f"cannot start the server: {exc.strerror}")
        return 3
    url = f"http://127.0.0.1:{config['port']}"
    try:
        deadline = started + float(config["startup_timeout"])
        while True:
            if server.poll() is not None:
                emit(
                    event="error",
                    stage="start",
                    detail=f"the server exited with status {server.returncode} while loading",
                    log=_tail(config),
                )
                return 3
            if _healthy(url):
                break
            if time.monotonic() > deadline:
                emit(
                    event="error",
                    stage="start",
                    detail=f"the server was not healthy after {config['startup_timeout']} s",
                    log=_tail(config),
                )
                return 3
            time.sleep(0.1)
        emit(event="started", seconds=round(time.monotonic() - started, 3))
        for prompt in config["prompts"]:
            begun = time.monotonic()
            body = {
                "messages": [{"role": "user", "content": prompt["text"]}],
                "max_tokens": config["max_tokens"],
                "temperature": 0,
                "top_k": 1,
                "seed": config["seed"],
                "stream": False,
            }
            try:
                answer = _post(url + "/v1/chat/completions", body, float(config["prompt_timeout"]))
            except TimeoutError:
                emit(
                    event="error",
                    stage="prompt",
                    id=prompt["id"],
                    detail=f"no answer within {config['prompt_timeout']} s (hung)",
                )
                return 3
            except (urllib.error.URLError, OSError, ValueError) as exc:
                crashed = server.poll() is not None
                what = f"the server exited with status {server.returncode}" if crashed else str(exc)[:300]
                emit(event="error", stage="prompt", id=prompt["id"], detail=what, log=_tail(config))
                return 3
            choice = (answer.get("choices") or [{}])[0]
            usage = answer.get("usage") or {}
            emit(
                event="answer",
                id=prompt["id"],
                content=str((choice.get("message") or {}).get("content") or "")[:65536],
                finish=str(choice.get("finish_reason") or ""),
                tokens=int(usage.get("completion_tokens") or 0),
                seconds=round(time.monotonic() - begun, 3),
            )
        return 0
    finally:
        _stop(server)
        log.close()


def _tail(config: dict[str, Any]) -> str:
    try:
        with open(os.path.join(config["tmp"], "server.log"), "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 4096))
            lines = handle.read().decode("utf-8", "replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def _stop(server: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            return
        try:
            server.wait(timeout=wait)
            # the group may outlive its leader: make sure nothing of it is left
            os.killpg(server.pid, signal.SIGKILL)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            continue
        return


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as handle:
        config = json.load(handle)
    return run(config)


if __name__ == "__main__":
    raise SystemExit(main())
