"""The ``gate`` command line: parse options, wire the pieces, map exit codes.

Heavy modules (engines, jsonschema, yaml) are imported inside the command
functions so that ``gate --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gate import __version__
from gate.errors import (
    EXIT_BLOCK,
    EXIT_INTERNAL,
    EXIT_MANUAL_REVIEW,
    EXIT_PROMOTE,
    EXIT_USAGE,
    GateError,
)

ENGINES = ("regorus", "opa")
FORMATS = ("text", "json")

EXIT_CODES = f"""\
exit codes:
  {EXIT_PROMOTE}  promote (gate eval); every test passed (gate test); success
  {EXIT_BLOCK}  block (gate eval); a test failed or errored (gate test)
  {EXIT_USAGE}  bad usage, or an input document or profile that is unreadable or invalid
  {EXIT_MANUAL_REVIEW}  manual-review (gate eval)
  {EXIT_INTERNAL}  engine or internal error: Rego syntax error, rule conflict, undefined
     function, broken METADATA; never a verdict
"""

MAIN_DESCRIPTION = """\
gate decides, with evidence, whether an AI artifact (a model-serving
container, a model file, an agent skill) may be promoted to production.

Collectors gather evidence into one JSON input document; Rego policies
compute the decision (promote / block / manual-review, with reason codes);
the decision can be replayed from the saved input at any time.
"""

MAIN_EPILOG = (
    """\
examples:
  gate eval --input fixtures/container/clean-runtime-promote.input.json --profile nim-promotion
  gate eval --input - --profile ./my-profile.yaml -o json < input.json
  gate rules                      list every reason code with its title
  gate test --coverage            run the bundled Rego unit tests

"""
    + EXIT_CODES
)

EVAL_EPILOG = (
    """\
The input document is validated against schemas/input.schema.json first; a
document that does not match is rejected with one line per problem, each
naming its JSON pointer, and nothing is evaluated.

"""
    + EXIT_CODES
)


def _add_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o", "--output", choices=FORMATS, default="text", help="output format (default: text)"
    )


def _add_engine(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="regorus",
        help="Rego evaluator: regorus (default, fast, in-process) or opa (the real OPA "
        "evaluator, the reference)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="gate", description=MAIN_DESCRIPTION, epilog=MAIN_EPILOG, formatter_class=formatter
    )
    parser.add_argument("--version", action="version", version=f"gate {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    evaluate = commands.add_parser(
        "eval",
        help="decide on one input document",
        description="Evaluate an input document under a profile and print the decision.",
        epilog=EVAL_EPILOG,
        formatter_class=formatter,
    )
    evaluate.add_argument(
        "-i", "--input", required=True, metavar="FILE", help="input document (JSON), or - for standard input"
    )
    evaluate.add_argument(
        "-p",
        "--profile",
        required=True,
        metavar="NAME|PATH",
        help="bundled profile name (e.g. nim-promotion) or a profile YAML file",
    )
    evaluate.add_argument(
        "--policy-dir", type=Path, metavar="DIR", help="Rego policy root (default: the bundled policies)"
    )
    _add_output(evaluate)
    _add_engine(evaluate)

    rules = commands.add_parser(
        "rules",
        help="list the reason codes",
        description="Print the catalogue of reason codes, generated from the Rego METADATA.",
        formatter_class=formatter,
    )
    rules.add_argument(
        "--policy-dir", type=Path, metavar="DIR", help="Rego policy root (default: the bundled policies)"
    )
    _add_output(rules)

    test = commands.add_parser(
        "test",
        help="run Rego unit tests (like opa test)",
        description="Run every test_* rule under PATH: PASS when it evaluates to true, FAIL when "
        "false or undefined, ERROR when evaluation fails. todo_test_* rules are SKIPped.",
        epilog=EXIT_CODES,
        formatter_class=formatter,
    )
    test.add_argument(
        "path", nargs="?", type=Path, metavar="PATH", help="file or folder (default: bundled policies)"
    )
    test.add_argument("--coverage", action="store_true", help="report line coverage of the policy files")
    _add_output(test)
    _add_engine(test)
    return parser


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from gate.decide import Decider
    from gate.document import load_input
    from gate.profile import load_profile

    profile = load_profile(args.profile)
    document = load_input(args.input)
    decider = Decider(profile, args.engine, args.policy_dir)
    decision = decider.decide(document)
    _write(_renderer(args.output).render_decision(decision))
    verdict = decision["verdict"]
    return {"promote": EXIT_PROMOTE, "block": EXIT_BLOCK}.get(verdict, EXIT_MANUAL_REVIEW)


def _cmd_rules(args: argparse.Namespace) -> int:
    from gate.policy import load_policies
    from gate.resources import rego_dir

    policies = load_policies(args.policy_dir or rego_dir())
    rules = [meta for package in policies.catalog.values() for meta in package.values()]
    _write(_renderer(args.output).render_rules(rules))
    return EXIT_PROMOTE


def _cmd_test(args: argparse.Namespace) -> int:
    from gate.regotest import run_tests
    from gate.resources import rego_dir

    run = run_tests(args.path or rego_dir(), engine=args.engine, coverage=args.coverage)
    _write(_renderer(args.output).render_tests(run))
    return EXIT_PROMOTE if run.ok else EXIT_BLOCK


def _renderer(name: str) -> Any:
    import importlib

    return importlib.import_module(f"gate.report.{name}")


_COMMANDS = {"eval": _cmd_evaluate, "rules": _cmd_rules, "test": _cmd_test}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return _COMMANDS[args.command](args)
    except GateError as exc:
        lines = getattr(exc, "lines", None)
        for line in lines() if callable(lines) else [str(exc)]:
            print(f"gate: error: {line}", file=sys.stderr)
        return exc.exit_code
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
