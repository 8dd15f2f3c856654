"""``gate eval``: decide on one subject."""

from __future__ import annotations

from pathlib import Path

import click

from gate.cli.common import (
    EXIT_CODES_HELP,
    engine_option,
    output_option,
    policy_dir_option,
    profile_option,
    renderer,
    verdict_exit,
    write,
)
from gate.cli.record import record_decision, record_options

EVAL_EPILOG = (
    """\b
examples:
  gate eval --input fixtures/container/unsigned.input.json --profile nim-promotion
  gate eval --input - --profile ./my-profile.yaml -o json < input.json

The input document is validated against schemas/input.schema.json first; a
document that does not match is rejected with one line per problem, each
naming its JSON pointer, and nothing is evaluated.

"""
    + EXIT_CODES_HELP
)


@click.command(
    "eval", epilog=EVAL_EPILOG, short_help="decide on one subject (promote / block / manual-review)"
)
@click.option(
    "-i",
    "--input",
    "input_path",
    required=True,
    metavar="FILE",
    help="input document (JSON), or - for standard input",
)
@profile_option()
@policy_dir_option
@output_option()
@engine_option
@click.option(
    "--opa-url",
    metavar="URL",
    help="ask a running OPA or gate serve (http://HOST:PORT) instead of an embedded engine; "
    "bearer token from $GATE_OPA_TOKEN",
)
@record_options
def eval_command(
    input_path: str, profile: str, policy_dir: Path | None, output: str, engine: str, opa_url: str | None
) -> int:
    """Evaluate an input document under a profile and print the decision."""
    from gate.decide import Decider
    from gate.document import load_input
    from gate.profile import load_profile

    loaded = load_profile(profile)
    document = load_input(input_path)
    backend = None
    if opa_url:
        from gate.engine.sidecar import SidecarEngine

        backend = SidecarEngine(opa_url)
    decider = Decider(loaded, engine, policy_dir, backend=backend)
    decision = decider.decide(document)
    write(renderer(output).render_decision(decision))
    record_decision(decider, document, decision)
    return verdict_exit(decision["verdict"])
