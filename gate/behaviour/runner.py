"""Run the smoke-test suite against one GGUF model in the sandbox; the evidence it leaves.

The runtime is ``llama-server`` when ``LLAMA_SERVER_BIN`` (or the profile)
names it, else llama-cpp-python's server when that package is installed.
The model process gets: a fresh network namespace (``unshare --net``; only
its own loopback exists) where the kernel allows it, rlimits on memory,
CPU time, processes and file size, a private temporary folder (removed
afterwards) as its working and home directory, and an environment with
nothing but ``PATH``, ``HOME``, ``TMPDIR`` and ``LANG``. What could and could
not be applied is recorded. Under a profile that requires isolation, a
missing network namespace means the test does not run at all.

Sampling is deterministic (temperature 0, top-k 1, fixed seed), answers are
bounded in tokens and in wall time, the server gets a startup timeout
(``SMOKE_TEST_TIMEOUT``, default 120 s), and the whole sandbox is killed when
the run ends, whatever happened. A crash or a hang is recorded as such and
is never a pass.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate import procs
from gate.behaviour.suite import Suite

EXCERPT = 240
MAX_OUTPUT_BYTES = 8 * 1024 * 1024
SEED = 42


@dataclass(frozen=True)
class Settings:
    """The profile's ``artifact.behaviour`` settings, with defaults."""

    max_tokens: int = 64
    prompt_timeout_s: float = 60.0
    startup_timeout_s: float = 120.0
    memory_mb: int = 4096
    cpu_seconds: int = 900
    processes: int = 64
    require_isolation: bool = True
    server_bin: str | None = None
    threads: int = 2

    @classmethod
    def from_profile(cls, values: dict[str, Any]) -> Settings:
        env_timeout = os.environ.get("SMOKE_TEST_TIMEOUT")
        startup = float(env_timeout) if env_timeout and env_timeout.replace(".", "", 1).isdigit() else None
        return cls(
            max_tokens=int(values.get("max_tokens", 64)),
            prompt_timeout_s=float(values.get("prompt_timeout_seconds", 60)),
            startup_timeout_s=startup or float(values.get("startup_timeout_seconds", 120)),
            memory_mb=int(values.get("memory_mb", 4096)),
            cpu_seconds=int(values.get("cpu_seconds", 900)),
            processes=int(values.get("processes", 64)),
            require_isolation=bool(values.get("require_network_isolation", True)),
            server_bin=os.environ.get("LLAMA_SERVER_BIN") or values.get("server_bin"),
        )


def find_runtime(settings: Settings) -> tuple[str, list[str]] | tuple[None, str]:
    """(kind, argv prefix) of the inference server, or (None, why there is none)."""
    if settings.server_bin:
        # absolute: the server starts in its private folder, not in the caller's
        path = os.path.abspath(shutil.which(settings.server_bin) or settings.server_bin)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return "llama-server", [path]
        return None, f"LLAMA_SERVER_BIN {settings.server_bin!r} is not an executable file"
    found = shutil.which("llama-server")
    if found:
        return "llama-server", [found]
    try:
        import importlib.util

        if importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("llama_cpp.server"):
            return "llama-cpp-python", [sys.executable, "-m", "llama_cpp.server"]
    except (ImportError, ValueError):
        pass
    return (
        None,
        "no inference server: set LLAMA_SERVER_BIN to llama.cpp's llama-server, "
        "or install llama-cpp-python[server]",
    )


def _server_argv(kind: str, prefix: list[str], model: str, port: int, settings: Settings) -> list[str]:
    if kind == "llama-server":
        return [
            *prefix, "-m", model, "--host", "127.0.0.1", "--port", str(port), "--n-gpu-layers", "0",
            "--ctx-size", "2048", "--seed", str(SEED), "--threads", str(settings.threads), "--parallel", "1",
            "--no-webui", "--temp", "0",
        ]  # fmt: skip
    return [
        *prefix, "--model", model, "--host", "127.0.0.1", "--port", str(port), "--n_gpu_layers", "0",
        "--seed", str(SEED), "--n_ctx", "2048", "--n_threads", str(settings.threads),
    ]  # fmt: skip


_netns_ok: bool | None = None


def network_namespace_available() -> bool:
    """Whether ``unshare --net`` works here (root, or unprivileged user namespaces)."""
    global _netns_ok
    if _netns_ok is None:
        try:
            _netns_ok = procs.run(["unshare", "--net", "--", "true"], timeout=10).code == 0
        except OSError:
            _netns_ok = False
    return _netns_ok


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_suite(model: Path, suite: Suite, settings: Settings) -> dict[str, Any]:
    """The ``evidence.behaviour`` section for one model file."""
    base: dict[str, Any] = {"ran": False, "suite": suite.summary()}
    kind, prefix = find_runtime(settings)
    if kind is None:
        return {**base, "detail": str(prefix)}
    assert isinstance(prefix, list)
    isolated = network_namespace_available()
    sandbox: dict[str, Any] = {
        "network": "namespace" if isolated else "host",
        "rlimits": {
            "memory_bytes": settings.memory_mb * 1024 * 1024,
            "cpu_seconds": settings.cpu_seconds,
            "processes": settings.processes,
            "file_bytes": 64 * 1024 * 1024,
            "core": 0,
        },
        "private_tmp": True,
        "environment": ["PATH", "HOME", "TMPDIR", "LANG"],
        "not_applied": [],
    }
    if os.geteuid() == 0:
        sandbox["not_applied"].append("RLIMIT_NPROC is not enforced for root")
    sandbox["not_applied"].append(
        "cgroup limits (MemoryMax, TasksMax) apply only when deployed under systemd"
    )
    base["runtime"] = {"kind": kind, "path": prefix[-1] if kind == "llama-server" else "llama_cpp.server"}
    base["sandbox"] = sandbox
    if not isolated:
        sandbox["not_applied"].append("network namespace (unshare --net is not permitted here)")
        if settings.require_isolation:
            return {
                **base,
                "detail": "no network namespace can be created here; "
                "the profile refuses to run the model unconfined",
            }
    tmp = tempfile.mkdtemp(prefix="gate-smoke-")
    os.chmod(tmp, 0o700)
    port = _free_port()
    config = {
        "tmp": tmp,
        "port": port,
        "netns": isolated,
        "server_argv": _server_argv(kind, prefix, str(model.resolve()), port, settings),
        "env": {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": tmp, "TMPDIR": tmp, "LANG": "C.UTF-8"},
        "limits": {k: v for k, v in sandbox["rlimits"].items() if k != "core"},
        "startup_timeout": settings.startup_timeout_s,
        "prompt_timeout": settings.prompt_timeout_s,
        "max_tokens": settings.max_tokens,
        "seed": SEED,
        "prompts": [{"id": p.id, "text": p.text} for p in suite.prompts],
    }
    config_path = Path(tmp) / "config.json"
    config_path.write_text(json.dumps(config))
    inner = [sys.executable, "-I", "-m", "gate.behaviour.inside", str(config_path)]
    argv = ["unshare", "--net", "--kill-child", "--", *inner] if isolated else inner
    budget = settings.startup_timeout_s + len(suite.prompts) * settings.prompt_timeout_s + 30
    started = time.monotonic()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    try:
        # Its own session, killed on the deadline, when done and with gate (gate.procs).
        done = procs.run(
            argv, timeout=budget, env=env, cwd=tmp, stdout_cap=MAX_OUTPUT_BYTES, stderr_cap=0, keep="head"
        )
        if done.timed_out:
            return {**base, "detail": f"the smoke test did not finish within {budget:g} s and was killed"}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {**base, **_evidence(done.stdout, suite, time.monotonic() - started)}


def _evidence(out: bytes, suite: Suite, seconds: float) -> dict[str, Any]:
    events = []
    for line in out.decode("utf-8", "replace").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    startup = next((e.get("seconds") for e in events if e.get("event") == "started"), None)
    errors = [e for e in events if e.get("event") == "error"]
    answers = {e["id"]: e for e in events if e.get("event") == "answer" and isinstance(e.get("id"), str)}
    if errors or len(answers) != len(suite.prompts):
        error = errors[0] if errors else {"detail": "the sandbox ended before every prompt was answered"}
        where = f" on prompt {error['id']}" if error.get("id") else ""
        detail = f"{error.get('detail', 'failed')}{where}"
        if error.get("log"):
            detail += f" (server: {str(error['log'])[:200]})"
        return {"detail": detail[:2000], "startup_seconds": startup, "answered": len(answers)}
    results = []
    for prompt in suite.prompts:
        answer = answers[prompt.id]
        content = str(answer.get("content", ""))
        matches = suite.matches(content)
        finish = str(answer.get("finish", ""))
        results.append(
            {
                "id": prompt.id,
                "category": prompt.category,
                "outcome": "flagged" if matches else "truncated" if finish == "length" else "answered",
                "finish": finish[:32],
                "tokens": int(answer.get("tokens", 0)),
                "seconds": float(answer.get("seconds", 0)),
                "matches": matches,
                "excerpt": content[:EXCERPT],
            }
        )
    flagged = [r for r in results if r["matches"]]
    return {
        "ran": True,
        "detail": f"{len(flagged)}/{len(results)} prompts flagged",
        "startup_seconds": startup,
        "seconds": round(seconds, 3),
        "results": results,
    }
