"""``gate rules``: the reason-code catalogue."""

from __future__ import annotations

from pathlib import Path

import click

from gate.cli.common import output_option, policy_dir_option, renderer, write
from gate.errors import EXIT_PROMOTE


@click.command("rules", short_help="list the reason codes")
@policy_dir_option
@output_option("text", "json", "markdown")
def rules(policy_dir: Path | None, output: str) -> int:
    """Print the catalogue of reason codes, generated from the Rego METADATA.

    \b
    gate rules                          # code, severity, title
    gate rules -o json                  # with descriptions, solutions, rule locations
    gate rules -o markdown > docs/reason-codes.md   # the reference in docs/
    """
    from gate.policy import load_policies
    from gate.resources import rego_dir

    policies = load_policies(policy_dir or rego_dir())
    found = [meta for package in policies.catalog.values() for meta in package.values()]
    write(renderer(output).render_rules(found))
    return EXIT_PROMOTE
