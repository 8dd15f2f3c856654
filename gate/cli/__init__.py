"""The ``gate`` command line: click groups, one module per command (group).

Commands are imported only when they run (or when their help is asked
for), so ``gate --help`` stays fast. To add a command: write
``gate/cli/<name>.py`` with a click command or group, and add one line to
``_COMMANDS``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from importlib import import_module
from typing import Any

import click

from gate import __version__
from gate.cli.common import EXIT_CODES_HELP
from gate.errors import EXIT_INTERNAL, EXIT_USAGE, GateError

# name -> "module:attribute"; the module is imported on first use.
_COMMANDS: dict[str, str] = {
    "attest": "gate.cli.attest:attest",
    "audit": "gate.cli.audit:audit",
    "bundle": "gate.cli.bundle:bundle",
    "check": "gate.cli.check:check",
    "collect": "gate.cli.collect:collect",
    "completion": "gate.cli.completion:completion",
    "enforce": "gate.cli.enforce:enforce",
    "eval": "gate.cli.eval:eval_command",
    "keygen": "gate.cli.keygen:keygen",
    "replay": "gate.cli.replay:replay_command",
    "rules": "gate.cli.rules:rules",
    "serve": "gate.cli.serve:serve",
    "registry": "gate.cli.registry:registry",
    "skill": "gate.cli.skill:skill",
    "test": "gate.cli.test:test",
    "watch": "gate.cli.watch:watch",
}

MAIN_HELP = """\
gate decides, with evidence, whether an AI artifact (a model-serving
container, a model file, an agent skill) may be promoted to production.

Collectors gather evidence into one JSON input document; Rego policies
compute the decision (promote / block / manual-review, with reason codes);
the decision can be replayed from the saved input at any time.
"""

MAIN_EPILOG = (
    """\b
examples:
  gate eval --input fixtures/container/clean-runtime-promote.input.json --profile nim-promotion
  gate eval --input - --profile ./my-profile.yaml -o json < input.json
  gate rules                      list every reason code with its title
  gate test --coverage            run the bundled Rego unit tests
  eval "$(gate completion bash)"  shell completion (bash, zsh, fish)

"""
    + EXIT_CODES_HELP
)


class LazyGroup(click.Group):
    """A group whose subcommands are imported when first needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        command = getattr(import_module(module), attribute)
        if not isinstance(command, click.Command):  # pragma: no cover - a wiring bug
            raise TypeError(f"{target} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help comes from each command; importing them all only for
        # `gate --help` is cheap enough because command modules import
        # nothing heavy at module level.
        super().format_commands(ctx, formatter)


@click.group(
    cls=LazyGroup,
    help=MAIN_HELP,
    epilog=MAIN_EPILOG,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    invoke_without_command=True,
)
@click.version_option(__version__, "--version", prog_name="gate", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Root group; without a command it prints help and exits 2."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
        ctx.exit(EXIT_USAGE)


def _report(exc: GateError) -> int:
    lines = getattr(exc, "lines", None)
    for line in lines() if callable(lines) else [str(exc)]:
        print(f"gate: error: {line}", file=sys.stderr)
    return exc.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result: Any = cli.main(args=args, prog_name="gate", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.UsageError as exc:
        exc.show()
        return EXIT_USAGE
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE
    except click.Abort:
        return 130
    except GateError as exc:
        return _report(exc)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: report it in one line, exit as internal
        if os.environ.get("GATE_DEBUG"):
            raise
        print(
            f"gate: internal error: {type(exc).__name__}: {exc} (set GATE_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    return result if isinstance(result, int) else 0


__all__ = ["cli", "main"]
