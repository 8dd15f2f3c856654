"""``gate test``: Rego unit tests, like ``opa test``."""

from __future__ import annotations

from pathlib import Path

import click

from gate.cli.common import EXIT_CODES_HELP, engine_option, output_option, renderer, write
from gate.errors import EXIT_BLOCK, EXIT_PROMOTE


@click.command("test", epilog=EXIT_CODES_HELP, short_help="run Rego unit tests (like opa test)")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--coverage", is_flag=True, help="report line coverage of the policy files")
@output_option()
@engine_option
def test(path: Path | None, coverage: bool, output: str, engine: str) -> int:
    """Run every test_* rule under PATH (default: the bundled policies).

    PASS when it evaluates to true, FAIL when false or undefined, ERROR when
    evaluation fails. todo_test_* rules are SKIPped. PATH may be an OPA
    bundle (.tar.gz): its tests then run against its own data.json.
    """
    from gate.regotest import run_tests
    from gate.resources import rego_dir

    if path is not None and path.is_file() and path.name.endswith((".tar.gz", ".tgz")):
        from gate.bundle.verify import run_bundle_tests

        run = run_bundle_tests(path, engine=engine, coverage=coverage)
    else:
        run = run_tests(path or rego_dir(), engine=engine, coverage=coverage)
    write(renderer(output).render_tests(run))
    return EXIT_PROMOTE if run.ok else EXIT_BLOCK
