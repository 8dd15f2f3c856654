"""``gate collect``: gather evidence into an input document without deciding."""

from __future__ import annotations

import click

from gate.cli.collect_artifact import artifact
from gate.cli.collect_container import collect_container
from gate.cli.collect_skill import collect_skill


@click.group("collect", short_help="gather evidence into an input document (no decision)")
def collect() -> None:
    """Run collectors and write the input document that gate eval decides on."""


collect.add_command(artifact)
collect.add_command(collect_container)
collect.add_command(collect_skill)
