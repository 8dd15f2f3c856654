"""``gate check``: conftest-compatible policy checks over configuration files."""

from __future__ import annotations

from pathlib import Path

import click

from gate.cli.common import engine_option, renderer, write

FORMATS = {
    "stdout": "text",
    "json": "json",
    "tap": "tap",
    "table": "table",
    "junit": "junit",
    "github": "github",
    "sarif": "sarif",
}

CHECK_EPILOG = """\b
examples:
  gate check policy-profiles/*.yaml                   gate's own checks for its config files
  gate check --policy policy/ deployment.yaml         your conftest policies (namespace main)
  gate check -p policy/ --all-namespaces -o junit k8s/
  gate check -p policy/ --combine --data exceptions.yaml manifests/*.yaml

Policies follow conftest: deny/violation/warn rules (and deny_<name>
variants) returning strings or objects with a msg; exception rules list the
rule names (deny_<name> as <name>) to waive. Inputs: YAML (every document of
a multi-document file), JSON, TOML; safe loaders with size, depth and
alias-expansion limits. Output lines are conftest's
(FAIL - file - namespace - message) with its summary line.

\b
exit codes (conftest's):
  0  no failures (warnings allowed)
  1  a failure; with --fail-on-warn: a warning
  2  with --fail-on-warn: a failure; also bad usage or an unreadable file
  4  engine error (Rego syntax error, conflict, ...)
  --no-fail always exits 0 after printing the results
"""


@click.command("check", epilog=CHECK_EPILOG, short_help="conftest-style checks of config files")
@click.argument("files", nargs=-1, required=True)
@click.option(
    "-p",
    "--policy",
    "policy",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="Rego policy folder (repeatable) [default: policy/ if it exists, else gate's bundled checks]",
)
@click.option(
    "-n", "--namespace", multiple=True, metavar="NS", help="namespace to test (repeatable) [default: main]"
)
@click.option(
    "--all-namespaces", is_flag=True, help="test every namespace that defines deny/violation/warn rules"
)
@click.option(
    "-d", "--data", "data", multiple=True, metavar="FILE", help="data file (YAML/JSON/TOML), repeatable"
)
@click.option("--combine", is_flag=True, help="check all inputs at once, as a list of {path, contents}")
@click.option(
    "--parser", type=click.Choice(["yaml", "json", "toml"]), help="parse every input with this parser"
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(list(FORMATS)),
    default="stdout",
    show_default=True,
    help="output format",
)
@click.option(
    "--rego-version",
    type=click.Choice(["v0", "v1"]),
    default="v1",
    show_default=True,
    help="Rego syntax of the policies (v0: conftest policies not yet upgraded; regorus only)",
)
@click.option("--fail-on-warn", is_flag=True, help="warnings exit 1 and failures exit 2")
@click.option("--no-fail", is_flag=True, help="exit 0 whatever the results")
@engine_option
def check(
    files: tuple[str, ...],
    policy: tuple[Path, ...],
    namespace: tuple[str, ...],
    all_namespaces: bool,
    data: tuple[str, ...],
    combine: bool,
    parser: str | None,
    output: str,
    rego_version: str,
    fail_on_warn: bool,
    no_fail: bool,
    engine: str,
) -> int:
    """Test configuration FILES (or folders) against Rego policies, like conftest test."""
    from gate.check.runner import load_data, run_check
    from gate.errors import UsageError
    from gate.resources import rego_dir

    if namespace and all_namespaces:
        raise UsageError("give --namespace or --all-namespaces, not both")
    policy_dirs = list(policy)
    extra_data = load_data(list(data))
    namespaces: list[str] | None = list(namespace) or (None if all_namespaces else ["main"])
    if not policy_dirs:
        if Path("policy").is_dir():
            policy_dirs = [Path("policy")]
        else:
            from gate.policy import load_policies

            # gate's own checks: every gate.check.* namespace, with the rule
            # catalogue as data so profiles can be checked against it.
            policy_dirs = [rego_dir() / "gate" / "check"]
            catalog = load_policies(rego_dir()).catalog_data()
            extra_data.setdefault("gate", {}).setdefault("catalog", catalog)
            namespaces = list(namespace) or None
    run = run_check(
        list(files),
        policy_dirs=policy_dirs,
        namespaces=namespaces,
        data=extra_data,
        combine=combine,
        engine=engine,
        parser=parser,
        rego_version=rego_version,
    )
    write(renderer(FORMATS[output]).render_check(run))
    return run.exit_code(fail_on_warn=fail_on_warn, no_fail=no_fail)
