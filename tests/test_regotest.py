"""gate/regotest.py and ``gate test``: Rego unit tests the way ``opa test`` runs them."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from gate.errors import EXIT_BLOCK, EXIT_INTERNAL, EXIT_PROMOTE, EXIT_USAGE
from gate.regotest import run_tests
from tests.helpers import ENGINES, REGO, run_cli

SAMPLE = textwrap.dedent(
    """\
    package sample_test

    import rego.v1

    test_passes if {
        1 + 1 == 2
    }

    test_fails if {
        false
    }

    test_undefined if {
        input.nothing == 1
    }

    test_errors if {
        to_number("x") == 1
    }

    todo_test_later if {
        false
    }
    """
)

EXPECTED = {
    "test_passes": "PASS",
    "test_fails": "FAIL",
    "test_undefined": "FAIL",
    "test_errors": "ERROR",
    "todo_test_later": "SKIP",
}


def _bundled_test_rules() -> set[str]:
    """Every test rule in the bundled *_test.rego files, found independently."""
    names = set()
    for path in REGO.rglob("*_test.rego"):
        text = path.read_text(encoding="utf-8")
        package = re.search(r"^package (\S+)", text, re.MULTILINE)
        assert package is not None
        for match in re.finditer(r"^(test_\w+)\b", text, re.MULTILINE):
            names.add(f"data.{package.group(1)}.{match.group(1)}")
    return names


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    folder = tmp_path / "sample"
    folder.mkdir()
    (folder / "sample_test.rego").write_text(SAMPLE, encoding="utf-8")
    return folder


# --- the bundled tests ---


@pytest.mark.parametrize("engine", ENGINES)
def test_bundled_tests_all_pass(engine: str, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "test", "--engine", engine, "-o", "json")

    assert run.code == EXIT_PROMOTE, run.out
    report = json.loads(run.out)
    assert report["engine"] == engine
    names = {f"{t['package']}.{t['name']}" for t in report["tests"]}
    assert names == _bundled_test_rules()
    assert {t["status"] for t in report["tests"]} == {"PASS"}
    total = len(names)
    assert report["summary"] == {"pass": total, "fail": 0, "error": 0, "skip": 0, "total": total}
    assert "coverage" not in report


def test_coverage_prints_a_line_per_policy_file(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "test", "--coverage")

    assert run.code == EXIT_PROMOTE
    policy_files = sorted(p for p in REGO.rglob("*.rego") if not p.name.endswith("_test.rego"))
    coverage = run.out.split("\ncoverage:\n", 1)[1]
    lines = [line for line in coverage.splitlines() if re.match(r"^  \S", line)]
    assert len(lines) == len(policy_files)
    for path, line in zip(policy_files, lines, strict=True):
        assert re.fullmatch(rf"  \S*{re.escape(path.name)}: \d+\.\d% \(\d+/\d+ lines\)", line), line
    assert "_test.rego:" not in coverage


# --- a folder with one test of each outcome ---


@pytest.mark.parametrize("engine", ENGINES)
def test_statuses_of_each_outcome(engine: str, sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "test", str(sample), "--engine", engine)

    assert run.code == EXIT_BLOCK
    statuses = dict(
        re.findall(r"^data\.sample_test\.(\w+): (PASS|FAIL|ERROR|SKIP) \(", run.out, re.MULTILINE)
    )
    assert statuses == EXPECTED
    for status, count in [("PASS", 1), ("FAIL", 2), ("ERROR", 1), ("SKIP", 1)]:
        assert f"{status}: {count}/5" in run.out
    lines = run.out.splitlines()
    error_line = lines[lines.index(next(line for line in lines if "test_errors: ERROR" in line)) + 1]
    assert re.search(r"sample_test\.rego:18\b", error_line), error_line


@pytest.mark.parametrize("engine", ENGINES)
def test_json_summary_counts(engine: str, sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "test", str(sample), "--engine", engine, "-o", "json")

    assert run.code == EXIT_BLOCK
    report = json.loads(run.out)
    assert report["summary"] == {"pass": 1, "fail": 2, "error": 1, "skip": 1, "total": 5}
    by_name = {t["name"]: t for t in report["tests"]}
    assert {name: t["status"] for name, t in by_name.items()} == EXPECTED
    assert all(t["package"] == "data.sample_test" for t in report["tests"])
    assert by_name["test_passes"]["location"].endswith("sample_test.rego:5")
    assert "sample_test.rego:18" in by_name["test_errors"]["error"]
    assert "error" not in by_name["test_fails"]


def test_run_tests_api(sample: Path) -> None:
    run = run_tests(sample, engine="regorus")

    assert not run.ok
    assert [r.test.name for r in run.results] == list(EXPECTED)
    assert [r.status for r in run.results] == list(EXPECTED.values())
    assert run.coverage is None
    assert [r.test.skipped for r in run.results] == [False, False, False, False, True]


def test_single_passing_file_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "one_test.rego"
    path.write_text("package one_test\n\nimport rego.v1\n\ntest_ok if true\n", encoding="utf-8")

    run = run_cli(capsys, "test", str(path))

    assert run.code == EXIT_PROMOTE
    assert "data.one_test.test_ok: PASS" in run.out
    assert "PASS: 1/1" in run.out


# --- nothing to run ---


def test_empty_folder_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "test", str(tmp_path))

    assert run.code != EXIT_PROMOTE
    assert run.code == EXIT_USAGE
    assert run.out == ""
    assert run.err_lines == [f"gate: error: {tmp_path}: no .rego files found"]


def test_folder_without_tests_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "policy.rego").write_text(
        "package policy\n\nimport rego.v1\n\nallow := true\n", encoding="utf-8"
    )

    run = run_cli(capsys, "test", str(tmp_path))

    assert run.code == EXIT_BLOCK
    assert "no tests found" in run.out


def test_only_skipped_tests_is_not_a_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "later_test.rego").write_text(
        "package later_test\n\nimport rego.v1\n\ntodo_test_later if false\n", encoding="utf-8"
    )

    run = run_cli(capsys, "test", str(tmp_path), "-o", "json")

    report = json.loads(run.out)
    assert report["summary"] == {"pass": 0, "fail": 0, "error": 0, "skip": 1, "total": 1}
    assert run.code != EXIT_PROMOTE


def test_syntax_error_in_a_test_file_is_an_engine_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad_test.rego").write_text("package bad_test\n\ntest_x if {\n", encoding="utf-8")

    run = run_cli(capsys, "test", str(tmp_path))

    assert run.code == EXIT_INTERNAL
    assert run.out == ""
    assert len(run.err_lines) == 1
    assert re.search(r"bad_test\.rego:\d+", run.err_lines[0])
