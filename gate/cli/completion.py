"""``gate completion SHELL``: print the shell completion script."""

from __future__ import annotations

import click


@click.command("completion", short_help="print a shell completion script (bash, zsh, fish)")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> int:
    """Print the completion script for SHELL; load it with, for bash:

    \b
      eval "$(gate completion bash)"        # this shell
      gate completion bash > ~/.local/share/bash-completion/completions/gate
    """
    from click.shell_completion import get_completion_class

    from gate.cli import cli

    cls = get_completion_class(shell)
    if cls is None:  # pragma: no cover - the Choice above guards this
        raise click.UsageError(f"no completion for {shell}")
    script = cls(cli, {}, "gate", "_GATE_COMPLETE").source()
    click.echo(script)
    return 0
