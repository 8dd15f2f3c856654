"""The command line as a user meets it: help, exit codes, output formats, stdin, engines."""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

import gate
from gate.errors import EXIT_BLOCK, EXIT_INTERNAL, EXIT_MANUAL_REVIEW, EXIT_PROMOTE, EXIT_USAGE
from tests.helpers import (
    BIN,
    BUNDLED_PROFILE,
    ENGINES,
    IMAGE,
    SCHEMAS,
    good_input,
    run_cli,
    run_process,
    sha256_file,
    write_json,
)


def _eval(capsys: pytest.CaptureFixture[str], path: Path, *extra: str) -> Any:
    return run_cli(capsys, "eval", "--input", str(path), "--profile", "nim-promotion", *extra)


def _static_input() -> dict[str, Any]:
    doc = good_input()
    doc["gate"]["mode"] = "static"
    return doc


def _blocking_input() -> dict[str, Any]:
    doc = good_input()
    doc["evidence"]["signature"]["verified"] = False
    return doc


# --- help and version ---


def test_help_lists_commands_and_every_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "--help")

    assert run.code == 0
    for command in ("eval", "rules", "test"):
        assert re.search(rf"^\s+{command}\s+\S", run.out, re.MULTILINE), command
    assert "exit codes:" in run.out
    for code, word in [
        (EXIT_PROMOTE, "promote"),
        (EXIT_BLOCK, "block"),
        (EXIT_USAGE, "bad usage"),
        (EXIT_MANUAL_REVIEW, "manual-review"),
        (EXIT_INTERNAL, "internal error"),
    ]:
        assert re.search(rf"^\s+{code}\s+.*{word}", run.out, re.MULTILINE), (code, word)
    assert (EXIT_PROMOTE, EXIT_BLOCK, EXIT_USAGE, EXIT_MANUAL_REVIEW, EXIT_INTERNAL) == (0, 1, 2, 3, 4)


def test_eval_help_mentions_json_pointer_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "eval", "--help")

    assert run.code == 0
    assert "JSON pointer" in run.out
    assert "exit codes:" in run.out
    for option in ("--input", "--profile", "--policy-dir", "--engine", "--output"):
        assert option in run.out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "--version")

    assert run.code == 0
    assert run.out.strip() == f"gate {gate.__version__}"


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys)

    assert run.code == EXIT_USAGE
    assert "Usage: gate" in run.out


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "eval", "--input", "x.json", "--profile", "nim-promotion", "--engine", "nope")

    assert run.code == EXIT_USAGE
    assert run.out == ""
    assert "is not one of" in run.err


# --- eval: verdicts and exit codes ---


def test_passing_runtime_input_promotes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _eval(capsys, write_json(tmp_path / "good.json", good_input()))

    assert run.code == EXIT_PROMOTE
    assert run.err == ""
    assert re.search(r"^verdict:\s+promote$", run.out, re.MULTILINE)
    assert re.search(r"^evidence level:\s+live$", run.out, re.MULTILINE)
    assert re.search(r"^\s+all_gates_passed \[info\] All gates passed$", run.out, re.MULTILINE)
    assert f"All gates passed for {IMAGE}" in run.out
    assert f"sha256 {sha256_file(BUNDLED_PROFILE)[:12]}" in run.out


def test_json_output_matches_the_decision_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _eval(capsys, write_json(tmp_path / "good.json", good_input()), "-o", "json")

    assert run.code == EXIT_PROMOTE
    decision = json.loads(run.out)
    schema = json.loads((SCHEMAS / "decision.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator(schema, format_checker=FormatChecker()).validate(decision)
    assert decision["verdict"] == "promote"
    assert decision["evidence_level"] == "live"
    assert decision["reasons"] == ["all_gates_passed"]
    assert decision["results"][0]["title"] == "All gates passed"
    assert decision["profile"] == {"name": "nim-promotion", "sha256": sha256_file(BUNDLED_PROFILE)}


def test_blocking_input_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _eval(capsys, write_json(tmp_path / "unsigned.json", _blocking_input()), "-o", "json")

    assert run.code == EXIT_BLOCK
    assert run.err == ""
    decision = json.loads(run.out)
    assert decision["verdict"] == "block"
    assert decision["reasons"] == ["unsigned"]


def test_blocking_text_output_shows_reason_and_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _eval(capsys, write_json(tmp_path / "unsigned.json", _blocking_input()))

    assert run.code == EXIT_BLOCK
    assert re.search(r"^verdict:\s+block$", run.out, re.MULTILINE)
    assert "unsigned [high] Image is not signed" in run.out
    assert "fix: Sign the image digest with cosign" in run.out


def test_manual_review_input_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _eval(capsys, write_json(tmp_path / "static.json", _static_input()), "-o", "json")

    assert run.code == EXIT_MANUAL_REVIEW
    decision = json.loads(run.out)
    assert decision["verdict"] == "manual-review"
    assert decision["evidence_level"] == "documentation-only"
    assert decision["reasons"] == ["static_mode_no_runtime_evidence"]


def test_incomplete_operator_inputs_need_manual_review(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = good_input()
    del doc["operator"]["current_prod_digest"]

    run = _eval(capsys, write_json(tmp_path / "incomplete.json", doc))

    assert run.code == EXIT_MANUAL_REVIEW
    assert "inputs_incomplete" in run.out
    assert "current_prod_digest" in run.out


# --- stdin ---


class _Stdin:
    """Stands in for sys.stdin: only .buffer is read."""

    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


def test_input_dash_reads_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin(json.dumps(_blocking_input()).encode()))

    run = run_cli(capsys, "eval", "--input", "-", "--profile", "nim-promotion", "-o", "json")

    assert run.code == EXIT_BLOCK
    assert json.loads(run.out)["reasons"] == ["unsigned"]


def test_invalid_stdin_names_standard_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin(b'{"gate": '))

    run = run_cli(capsys, "eval", "--input", "-", "--profile", "nim-promotion")

    assert run.code == EXIT_USAGE
    assert run.out == ""
    assert run.err_lines == [run.err_lines[0]]
    assert run.err_lines[0].startswith("gate: error: -: not valid JSON")


# --- engines ---


@pytest.mark.parametrize(
    "builder", [good_input, _blocking_input, _static_input], ids=["promote", "block", "review"]
)
def test_opa_engine_gives_the_same_decision(
    builder: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_json(tmp_path / "input.json", builder())
    runs = {engine: _eval(capsys, path, "-o", "json", "--engine", engine) for engine in ENGINES}

    assert runs["regorus"].code == runs["opa"].code
    assert json.loads(runs["regorus"].out) == json.loads(runs["opa"].out)
    assert runs["regorus"].err == runs["opa"].err == ""


# --- real processes: exit codes and separated streams ---


def test_console_script_promotes_with_clean_stderr(tmp_path: Path) -> None:
    path = write_json(tmp_path / "good.json", good_input())

    run = run_process(str(BIN / "gate"), "eval", "--input", str(path), "--profile", "nim-promotion")

    assert run.code == EXIT_PROMOTE
    assert run.err == ""
    assert "verdict:         promote" in run.out


def test_python_m_gate_reads_stdin_and_exits_with_the_verdict() -> None:
    run = run_process(
        sys.executable,
        "-m",
        "gate",
        "eval",
        "--input",
        "-",
        "--profile",
        "nim-promotion",
        "-o",
        "json",
        "--engine",
        "opa",
        stdin=json.dumps(_blocking_input()).encode(),
    )

    assert run.code == EXIT_BLOCK
    assert run.err == ""
    assert json.loads(run.out)["verdict"] == "block"


def test_errors_go_to_stderr_only(tmp_path: Path) -> None:
    doc = good_input()
    doc["subject"]["kind"] = "docker"
    path = write_json(tmp_path / "bad.json", doc)

    run = run_process(
        sys.executable, "-m", "gate", "eval", "--input", str(path), "--profile", "nim-promotion"
    )

    assert run.code == EXIT_USAGE
    assert run.out == ""
    kinds = "['oci-image', 'model-file', 'model-dir', 'skill', 'model-version', 'skill-startup']"
    expected = f"/subject/kind: 'docker' is not one of {kinds}"
    assert run.err_lines == [f"gate: error: {path}: {expected}"]


def test_python_m_gate_help() -> None:
    run = run_process(sys.executable, "-m", "gate", "--help")

    assert run.code == 0
    assert run.out.startswith("Usage: gate")
    assert run.err == ""


def test_completion_script_for_bash_names_the_completion_variable(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "completion", "bash")

    assert run.code == 0
    assert "_GATE_COMPLETE" in run.out
    assert "complete " in run.out


def test_shell_completion_offers_commands() -> None:
    run = run_process(
        str(BIN / "gate"), env={"_GATE_COMPLETE": "bash_complete", "COMP_WORDS": "gate ev", "COMP_CWORD": "1"}
    )

    assert run.code == 0
    assert "eval" in run.out


def test_help_does_not_import_engines_or_schemas() -> None:
    heavy = "{'regorus', 'opa_bindings', 'jsonschema', 'yaml', 'jsonschema_rs'}"
    code = (
        "import sys; from gate.cli import main; main(['--help']); "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy}))"
    )
    run = run_process(sys.executable, "-c", code)

    assert run.out.strip().splitlines()[-1] == "[]"
