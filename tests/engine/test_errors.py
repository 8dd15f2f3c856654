"""gate/engine/*: broken policies are engine errors (exit 4, one file:line), never a verdict."""

from __future__ import annotations

import json
import re
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

from gate.engine import create_engine
from gate.engine.interface import JsonDocument, Undefined
from gate.errors import EXIT_INTERNAL, EngineError
from tests.helpers import ENGINES, REGO, Run, good_input, run_cli, run_process, write_json

_LOCATED = re.compile(r"\b[\w.-]+\.rego:\d+")

BROKEN_MODULES = {
    "syntax": (
        "broken.rego",
        """\
        package gate.container

        import rego.v1

        broken if {
            x :=
        }
        """,
        r"broken\.rego:\d+",
    ),
    # Two complete definitions of ttl_hours with different values: a conflict at evaluation time.
    "conflict": (
        "conflict.rego",
        """\
        package gate.container

        import rego.v1

        ttl_hours := 1
        """,
        r"(container|conflict)\.rego:\d+",
    ),
    "undefined-function": (
        "undefined.rego",
        """\
        package gate.container

        import rego.v1

        deny contains result if {
            result := no_such_function(input.gate.now)
        }
        """,
        r"undefined\.rego:6\b",
    ),
    "builtin-error": (
        "builtin.rego",
        """\
        package gate.container

        import rego.v1

        deny contains result if {
            result := to_number("x")
        }
        """,
        r"builtin\.rego:6\b",
    ),
}


@pytest.fixture
def policy_copy(tmp_path: Path) -> Path:
    """A private copy of the bundled policies to break."""
    return Path(shutil.copytree(REGO, tmp_path / "rego"))


def _eval(capsys: pytest.CaptureFixture[str], tmp_path: Path, policy_dir: Path, engine: str) -> Run:
    source = write_json(tmp_path / "input.json", good_input())
    return run_cli(
        capsys,
        "eval",
        "--input",
        str(source),
        "--profile",
        "nim-promotion",
        "--policy-dir",
        str(policy_dir),
        "--engine",
        engine,
    )


def _assert_engine_error(run: Run, location: str) -> str:
    assert run.code == EXIT_INTERNAL
    assert run.out == "", "an engine error must never print a verdict"
    assert len(run.err_lines) == 1, run.err
    line = run.err_lines[0]
    assert line.startswith("gate: error: "), line
    assert re.search(location, line), line
    return line


def test_unbroken_copy_evaluates(
    policy_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _eval(capsys, tmp_path, policy_copy, "regorus")

    assert run.code == 0
    assert "verdict:         promote" in run.out


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("kind", sorted(BROKEN_MODULES))
def test_broken_module_is_an_engine_error(
    kind: str, engine: str, policy_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name, text, location = BROKEN_MODULES[kind]
    (policy_copy / "gate" / "container" / name).write_text(textwrap.dedent(text), encoding="utf-8")

    _assert_engine_error(_eval(capsys, tmp_path, policy_copy, engine), location)


@pytest.mark.parametrize("engine", ENGINES)
def test_malformed_decision_is_an_engine_error(
    engine: str, policy_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main = policy_copy / "gate" / "main" / "main.rego"
    text = main.read_text(encoding="utf-8")
    main.write_text(text.replace('"verdict": _outcome.verdict', '"verdict": "maybe"'), encoding="utf-8")

    line = _assert_engine_error(_eval(capsys, tmp_path, policy_copy, engine), r".")

    assert "data.gate.main.decision does not match the decision schema: /verdict:" in line


@pytest.mark.parametrize("engine", ENGINES)
def test_undefined_decision_is_an_engine_error(
    engine: str, policy_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main = policy_copy / "gate" / "main" / "main.rego"
    main.write_text(
        main.read_text(encoding="utf-8").replace("\ndecision := {", "\nverdict := {"), encoding="utf-8"
    )

    line = _assert_engine_error(_eval(capsys, tmp_path, policy_copy, engine), r".")

    assert line == "gate: error: data.gate.main.decision is undefined"


# --- the engine interface directly ---

_MODULE = (
    "probe.rego",
    "package probe\n\nimport rego.v1\n\ndouble := input.x * 2\n\nfrom_data := data.value\n",
)


@pytest.mark.parametrize("engine", ENGINES)
def test_engines_answer_the_same_queries(engine: str) -> None:
    compiled = create_engine(engine, [_MODULE], {"value": {"a": [1, 2]}})

    assert compiled.name == engine
    assert compiled.evaluate("data.probe.double", JsonDocument.of({"x": 21})) == 42
    assert compiled.evaluate("data.probe.from_data", None) == {"a": [1, 2]}
    with pytest.raises(Undefined, match=r"data\.probe\.double is undefined"):
        compiled.evaluate("data.probe.double", JsonDocument.of({}))


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(EngineError, match="unknown engine 'rego'"):
        create_engine("rego", [_MODULE], {})


@pytest.mark.parametrize("engine", ENGINES)
def test_compile_error_names_the_module(engine: str) -> None:
    with pytest.raises(EngineError, match=r"^probe\.rego:\d+"):
        create_engine(engine, [("probe.rego", "package probe\n\nx := {\n")], {})


_ENGINE_PROBE = """
import json, sys
from gate.engine.regorus import RegorusEngine
from gate.engine.interface import JsonDocument
from gate.errors import EngineError
engine = RegorusEngine([("probe.rego", "package probe\\n\\nx := input.y\\n")], {})
try:
    engine.evaluate("data.probe.x", JsonDocument({"y": 1}, sys.argv[1]))
except EngineError as exc:
    print(json.dumps(str(exc)))
"""


def test_regorus_error_message_survives_rust_backtrace() -> None:
    run = run_process(sys.executable, "-c", _ENGINE_PROBE, '{"y": 1e400}', env={"RUST_BACKTRACE": "1"})

    assert run.code == 0, run.err
    message = json.loads(run.out)
    assert "number out of range" in message
    assert "_start" not in message


def test_regorus_error_message_without_backtrace() -> None:
    run = run_process(sys.executable, "-c", _ENGINE_PROBE, '{"y": 1e400}', env={"RUST_BACKTRACE": "0"})

    assert run.code == 0, run.err
    assert json.loads(run.out) == "number out of range at line 1 column 11"
