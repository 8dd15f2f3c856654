"""Options and helpers every command shares, named the same everywhere."""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Any, TypeVar

import click

from gate.errors import (
    EXIT_BLOCK,
    EXIT_INTERNAL,
    EXIT_MANUAL_REVIEW,
    EXIT_PROMOTE,
    EXIT_USAGE,
)

ENGINES = ("regorus", "opa")
FORMATS = ("text", "json")

EXIT_CODES_HELP = f"""\b
exit codes:
  {EXIT_PROMOTE}  promote (gate eval); every test passed (gate test); success
  {EXIT_BLOCK}  block (gate eval); a test failed or errored (gate test); a check failed
  {EXIT_USAGE}  bad usage, or an input document, profile or other file that is unreadable or invalid
  {EXIT_MANUAL_REVIEW}  manual-review (gate eval)
  {EXIT_INTERNAL}  engine or internal error: Rego syntax error, rule conflict, undefined
     function, broken METADATA, unreachable decision server; never a verdict
"""

F = TypeVar("F", bound=Callable[..., Any])


def output_option(*choices: str, default: str = "text") -> Callable[[F], F]:
    """``-o/--output FORMAT`` with the given choices (text and json by default)."""
    names = choices or FORMATS
    return click.option(
        "-o",
        "--output",
        type=click.Choice(names),
        default=default,
        show_default=True,
        help="output format",
    )


def engine_option(f: F) -> F:
    """``--engine regorus|opa``."""
    return click.option(
        "--engine",
        type=click.Choice(ENGINES),
        default="regorus",
        show_default=True,
        help="Rego evaluator: regorus (fast, in-process) or opa (the real OPA evaluator, the reference)",
    )(f)


def profile_option(required: bool = True, default: str | None = None) -> Callable[[F], F]:
    """``-p/--profile NAME|PATH`` (with a *default*, not required)."""
    # An explicit default=None counts as a value in click 8.3+, so a required
    # --profile would never be reported missing: pass a default only when there is one.
    defaults: dict[str, Any] = {} if default is None else {"default": default, "show_default": True}
    return click.option(
        "-p",
        "--profile",
        required=required and default is None,
        metavar="NAME|PATH",
        help="bundled profile name (e.g. nim-promotion) or a profile YAML file",
        **defaults,
    )


def policy_dir_option(f: F) -> F:
    """``--policy-dir DIR``."""
    return click.option(
        "--policy-dir",
        type=click.Path(path_type=Path, file_okay=False),
        metavar="DIR",
        help="Rego policy root (default: the bundled policies)",
    )(f)


def write(text: str) -> None:
    """Write to standard output and flush."""
    sys.stdout.write(text)
    sys.stdout.flush()


def renderer(name: str) -> Any:
    """The report module for an output format (``gate.report.<name>``)."""
    return import_module(f"gate.report.{name}")


def verdict_exit(verdict: str) -> int:
    """The exit code for a verdict."""
    return {"promote": EXIT_PROMOTE, "block": EXIT_BLOCK}.get(verdict, EXIT_MANUAL_REVIEW)
