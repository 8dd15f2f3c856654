"""A writer process for the audit tests: appends entries and prints each acknowledged seq.

    python -m tests.audit.appender LOG COUNT [--tag T] [--tear-at N] [--max-bytes B] [--pad BYTES]

A seq is printed (and flushed) only after append() returned, that is after
the fsync: the parent may treat every printed seq as acknowledged. With
--tear-at N the N-th append of this process writes only half of its line
and the process then kills itself with SIGKILL: a crash in the middle of
an append, made to happen at a known place.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from gate.audit import log as audit_log
from gate.audit.log import AuditLog


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("log")
    parser.add_argument("count", type=int)
    parser.add_argument("--tag", default="w")
    parser.add_argument("--tear-at", type=int, default=0)
    parser.add_argument("--max-bytes", type=int, default=audit_log.DEFAULT_MAX_BYTES)
    parser.add_argument("--pad", type=int, default=0)
    args = parser.parse_args()
    log = AuditLog(args.log, max_bytes=args.max_bytes)
    calls = {"n": 0}
    real_write = os.write

    def tearing_write(fd: int, data: bytes | memoryview) -> int:
        if bytes(data[-1:]) == b"\n":
            calls["n"] += 1
            if calls["n"] == args.tear_at:
                real_write(fd, bytes(data[: len(data) // 2]))
                os.kill(os.getpid(), signal.SIGKILL)
        return real_write(fd, data)

    if args.tear_at:
        audit_log.os.write = tearing_write  # type: ignore[assignment]
    for i in range(args.count):
        entry = log.append("test", None, {"tag": args.tag, "i": i, "pad": "x" * args.pad})
        sys.stdout.write(f"{entry.seq}\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
