"""Child processes that die with gate: the one way gate starts a program.

Every child is started by :func:`spawn`:

- in its own session and process group (``start_new_session``), so a
  timeout or gate's exit kills the child *and* whatever it started
  (``killpg``), and a Ctrl-C on gate's terminal is gate's to handle;
- with ``PR_SET_PDEATHSIG=SIGKILL`` (Linux), so even a gate killed with
  SIGKILL takes its direct children with it;
- recorded until it is reaped: on exit (``atexit``), on SIGTERM or SIGHUP
  (handlers installed with the first child, when gate has none of its own)
  and on any exception out of :func:`run`, every live group is killed.

:func:`run` waits with a deadline and keeps at most a bounded number of
bytes of each output stream (the rest is drained and counted, never held).
Standard library only: ``gate.behaviour.inside`` uses it in its sandbox.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_PR_SET_PDEATHSIG = 1
_live: dict[int, subprocess.Popen[bytes]] = {}
_lock = threading.Lock()
_handlers_installed = False


def _prctl() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return None


_PRCTL = _prctl()


def die_with_parent() -> None:
    """In a child: be killed (SIGKILL) when the thread that started it ends (Linux)."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def _child_setup(parent: int, extra: Callable[[], None] | None) -> Callable[[], None]:
    def setup() -> None:
        die_with_parent()
        if os.getppid() != parent:  # gate died between fork and prctl
            os._exit(1)
        if extra is not None:
            extra()

    return setup


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's whole process group and reap the child."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        process.wait()
    with _lock:
        _live.pop(process.pid, None)


def kill_all() -> None:
    """Kill every child gate started that has not been reaped (atexit, SIGTERM)."""
    with _lock:
        live = list(_live.values())
    for process in live:
        if process.returncode is None:  # reaped elsewhere: its group was that caller's to end
            kill_group(process)


def _on_signal(signum: int, frame: Any) -> None:
    kill_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)  # die of the signal, as gate did before a child was started


def _install_handlers() -> None:
    global _handlers_installed
    if _handlers_installed or threading.current_thread() is not threading.main_thread():
        return
    _handlers_installed = True
    atexit.register(kill_all)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) == signal.SIG_DFL:  # gate serve and gate watch keep their own
            signal.signal(signum, _on_signal)


def spawn(
    argv: list[str], *, preexec: Callable[[], None] | None = None, **options: Any
) -> subprocess.Popen[bytes]:
    """Start *argv* (never a shell) in its own session, to die with gate; raises OSError.

    *options* go to :class:`subprocess.Popen` (stdin, stdout, stderr, cwd, env);
    *preexec* runs in the child after the death signal is set (rlimits).
    """
    _install_handlers()
    process: subprocess.Popen[bytes] = subprocess.Popen(
        argv,
        shell=False,
        start_new_session=True,
        preexec_fn=_child_setup(os.getpid(), preexec),
        **options,
    )
    with _lock:
        _live[process.pid] = process
    return process


@dataclass(frozen=True)
class Result:
    """What a bounded run left."""

    code: int | None
    """Exit status (negative: killed by that signal); None when it was killed on the deadline."""
    stdout: bytes
    """At most stdout_cap bytes: the first ones (``keep="head"``) or the last."""
    stderr: bytes
    """At most stderr_cap bytes, the last ones."""
    stdout_bytes: int
    """How many bytes it wrote to stdout in all."""
    timed_out: bool

    @property
    def stdout_truncated(self) -> bool:
        """More was written to stdout than was kept."""
        return self.stdout_bytes > len(self.stdout)


def _keep(buffer: bytearray, chunk: bytes, cap: int, head: bool) -> None:
    if head:
        buffer.extend(chunk[: max(0, cap - len(buffer))])
    else:
        buffer.extend(chunk)
        if len(buffer) > cap:
            del buffer[: len(buffer) - cap]


def run(
    argv: list[str],
    *,
    timeout: float,
    input: bytes | None = None,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    stdout_cap: int = 1 << 20,
    stderr_cap: int = 64 * 1024,
    keep: str = "tail",
    kill_on_overflow: bool = False,
) -> Result:
    """Run *argv* to completion or *timeout* seconds, output bounded; raises OSError if it cannot start.

    The child's group is killed on the deadline, with *kill_on_overflow* as
    soon as stdout passes *stdout_cap*, and whatever happens once it is done
    (a grandchild left behind dies too).
    """
    process = spawn(
        argv,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=dict(env) if env is not None else None,
    )
    assert process.stdout is not None and process.stderr is not None
    out, err = bytearray(), bytearray()
    written = 0
    deadline = time.monotonic() + timeout
    timed_out = False
    try:
        if input is not None and process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                process.stdin.write(input)  # small (a server name, an event): fits the pipe
            process.stdin.close()
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ, "stdout")
            selector.register(process.stderr, selectors.EVENT_READ, "stderr")
            while selector.get_map():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                for key, _ in selector.select(timeout=min(remaining, 1.0)):
                    chunk = os.read(key.fd, 1 << 16)
                    if not chunk:
                        selector.unregister(key.fileobj)
                    elif key.data == "stdout":
                        written += len(chunk)
                        _keep(out, chunk, stdout_cap, keep == "head")
                        if kill_on_overflow and written > stdout_cap:
                            selector.unregister(key.fileobj)
                            selector.unregister(process.stderr)
                            break
                    else:
                        _keep(err, chunk, stderr_cap, False)
        if not timed_out and not (kill_on_overflow and written > stdout_cap):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
    finally:
        code = process.poll()
        kill_group(process)  # always: nothing it started outlives the run
        process.stdout.close()
        process.stderr.close()
    return Result(None if timed_out else code, bytes(out), bytes(err), written, timed_out)
