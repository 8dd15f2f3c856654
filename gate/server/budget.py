"""Every evaluation gate serve runs, under a time and a memory budget it cannot escape.

A Rego query can run for ever or take all memory (``numbers.range(1,
100000000)``), and neither engine can be interrupted from Python. So each
evaluation runs in a child forked from the worker (:func:`run`): the child
inherits the compiled policy (copy-on-write, nothing is recompiled), lowers
its own address-space limit (``RLIMIT_AS``: what the worker has mapped plus
the budget) and its CPU limit, evaluates, writes the JSON answer to a pipe
and exits. The worker waits on the pipe with a deadline; past it the child
is killed (SIGKILL). A child killed by its limits, or that dies any other
way, is a :class:`BudgetExceeded`, which the server answers with 500, and
the worker itself never grew: it keeps serving. The child is started with
``os.fork`` from one thread and only evaluates and exits (``os._exit``).
"""

from __future__ import annotations

import contextlib
import math
import os
import resource
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from gate import procs
from gate.engine.interface import Undefined
from gate.errors import EngineError, GateError

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MEMORY_BYTES = 1024 * 1024 * 1024
MAX_ANSWER_BYTES = 256 * 1024 * 1024


class BudgetExceeded(GateError):
    """The evaluation ran past its time or memory budget, or its process died (answered 500)."""


@dataclass(frozen=True)
class Budget:
    """Limits for one evaluation."""

    timeout_s: float = DEFAULT_TIMEOUT_S
    """Wall-clock seconds (also the CPU-time limit, rounded up)."""
    memory_bytes: int = DEFAULT_MEMORY_BYTES
    """Address space the evaluation may add to what the worker has mapped."""


def _mapped_bytes() -> int:
    """VmSize of this process (what RLIMIT_AS counts)."""
    with open("/proc/self/status", "rb") as handle:
        for line in handle:
            if line.startswith(b"VmSize:"):
                return int(line.split()[1]) * 1024
    return 0  # pragma: no cover - Linux always reports it


def _child(write_fd: int, evaluate: Callable[[], Any], budget: Budget, mapped: int) -> None:
    """In the forked child: limits, evaluation, answer, exit. Never returns."""
    code = 0
    try:
        procs.die_with_parent()  # a worker that dies takes its evaluation with it
        limit = mapped + budget.memory_bytes
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        cpu = max(1, math.ceil(budget.timeout_s)) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        try:
            answer: list[Any] = ["ok", evaluate()]
        except Undefined as exc:
            answer = ["undefined", str(exc)]
        except EngineError as exc:
            answer = ["error", str(exc)]
        except MemoryError:
            answer = ["memory", ""]
        data = orjson.dumps(answer)
        view = memoryview(data)
        while view:
            view = view[os.write(write_fd, view) :]
    except BaseException:
        code = 3
    finally:
        os._exit(code)


def _describe(status: int, budget: Budget) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU:
            return f"the evaluation used more than its CPU budget of {budget.timeout_s:g} s"
        return (
            f"the evaluation was ended by {signal.Signals(sig).name} "
            f"(most likely past its memory budget of {budget.memory_bytes} bytes)"
        )
    return f"the evaluation failed (status {os.WEXITSTATUS(status)}; most likely past its memory budget)"


def run(evaluate: Callable[[], Any], budget: Budget) -> Any:
    """*evaluate()* in a forked child under *budget*; its value.

    Raises Undefined and EngineError as the engine did, BudgetExceeded when
    time or memory ran out or the child died. The answer must be JSON.
    """
    mapped = _mapped_bytes()
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
    except OSError as exc:
        os.close(read_fd)
        os.close(write_fd)
        raise BudgetExceeded(f"cannot start the evaluation: {exc.strerror or exc}") from None
    if pid == 0:  # pragma: no cover - the child (measured by the serve tests)
        os.close(read_fd)
        _child(write_fd, evaluate, budget, mapped)
    os.close(write_fd)
    chunks: list[bytes] = []
    size = 0
    deadline = time.monotonic() + budget.timeout_s
    timed_out = False
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([read_fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise BudgetExceeded(f"the answer is larger than {MAX_ANSWER_BYTES} bytes")
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        if timed_out or size > MAX_ANSWER_BYTES:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    if timed_out:
        raise BudgetExceeded(f"the evaluation ran longer than its budget of {budget.timeout_s:g} s")
    if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0) or not chunks:
        raise BudgetExceeded(_describe(status, budget))
    kind, value = orjson.loads(b"".join(chunks))
    if kind == "undefined":
        raise Undefined(value)
    if kind == "error":
        raise EngineError(value)
    if kind == "memory":
        raise BudgetExceeded(f"the evaluation ran past its memory budget of {budget.memory_bytes} bytes")
    return value
