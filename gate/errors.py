"""Typed errors, each carrying the exit code the CLI reports for it."""

from __future__ import annotations

# Exit codes are part of gate's interface: CI scripts branch on them.
EXIT_PROMOTE = 0
EXIT_BLOCK = 1
EXIT_USAGE = 2
EXIT_MANUAL_REVIEW = 3
EXIT_INTERNAL = 4


class GateError(Exception):
    """Base class: a refusal that explains itself in one line."""

    exit_code = EXIT_INTERNAL


class UsageError(GateError):
    """A command-line option or its value is wrong."""

    exit_code = EXIT_USAGE


class InputError(GateError):
    """An input document, profile or other user file cannot be used."""

    exit_code = EXIT_USAGE


class PolicyError(GateError):
    """A Rego file or its METADATA is broken (file:line in the message)."""

    exit_code = EXIT_INTERNAL


class EngineError(GateError):
    """The Rego engine failed: syntax error, conflict, undefined function, ..."""

    exit_code = EXIT_INTERNAL
