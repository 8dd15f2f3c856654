"""What every collector shares: the request, the collection record, the contract.

A collector observes one kind of evidence and returns the section of the
input document it owns (``evidence.<section>``). Anything that goes wrong is
recorded, in that section (``error``), where the policy fails closed, and in
``collection.errors``; a collector never raises for a failure of the thing it
observes, and never decides a verdict.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

# docs/decisions.md §1: values of these flags never reach a record, in either
# the --flag=value or the --flag value form.
SECRET_FLAGS = (
    "--password",
    "--token",
    "--auth",
    "--key",
    "--username",
    "--registry-token",
    "--secret",
)
REDACTED = "[REDACTED]"

_SECRET_IN_URL = re.compile(r"(?i)(://)([^/@\s:]+):([^/@\s]+)@")


def redact_argv(argv: list[str]) -> list[str]:
    """A copy of *argv* with secret flag values (and URL userinfo) replaced by ``[REDACTED]``."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        flag, eq, _ = arg.partition("=")
        if flag in SECRET_FLAGS:
            if eq:
                out.append(f"{flag}={REDACTED}")
            else:
                out.append(arg)
                hide_next = True
            continue
        out.append(_SECRET_IN_URL.sub(rf"\1{REDACTED}@", arg))
    return out


@dataclass
class Collection:
    """The ``collection`` section being built while collectors run."""

    runtime: bool = False
    """True in runtime mode: the network may be used (profile-allowed hosts only)."""
    errors: list[dict[str, str]] = field(default_factory=list)
    """{collector, message} for every failure, in order."""
    executed_commands: list[list[str]] = field(default_factory=list)
    """Exact argv of every command run, secrets redacted."""
    egress_hosts_contacted: list[str] = field(default_factory=list)
    """Every host contacted, in first-contact order, once each."""

    def error(self, collector: str, message: str) -> str:
        """Record a failure; returns *message* so callers can also put it in their section."""
        self.errors.append({"collector": collector, "message": message[:2048]})
        return message[:2048]

    def ran(self, argv: list[str]) -> None:
        """Record a command about to run (redacted)."""
        self.executed_commands.append(redact_argv(argv))

    def contacted(self, host: str) -> None:
        """Record a host contacted over the network."""
        if host not in self.egress_hosts_contacted:
            self.egress_hosts_contacted.append(host)

    def to_json(self) -> dict[str, Any]:
        """The ``collection`` section of the input document."""
        return {
            "errors": list(self.errors),
            "executed_commands": [list(a) for a in self.executed_commands],
            "egress_hosts_contacted": list(self.egress_hosts_contacted),
        }


class NetworkRefused(Exception):
    """A collector tried to reach a host it may not contact (static mode, or not allowed)."""


class Collector(ABC):
    """One kind of evidence; fills ``evidence.<section>``."""

    name: str = ""
    """Short name used in ``collection.errors`` (e.g. ``oci-registry``)."""
    section: str = ""
    """The key under ``evidence`` this collector owns."""

    @abstractmethod
    def collect(self, collection: Collection) -> dict[str, Any]:
        """Observe and return the section; record failures, never raise for them."""
