"""gate check -o tap|table|junit|github|sarif: every format a CI system reads."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from tests.check.conftest import project  # noqa: F401 - the fixture
from tests.helpers import run_cli


def _check(capsys: pytest.CaptureFixture[str], output: str) -> str:
    run = run_cli(capsys, "check", "good.yaml", "bad.yaml", "legacy.json", "-o", output)
    assert run.code == 1
    return run.out


@pytest.mark.usefixtures("project")
def test_tap(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _check(capsys, "tap").splitlines()
    assert lines[0] == "1..4"
    assert "not ok 1 - bad.yaml - main - Deployment api must set runAsNonRoot" in lines
    assert "# warnings" in lines and "# successes" in lines
    assert sum(1 for line in lines if line.startswith("ok ")) == 11  # the summary's passes


@pytest.mark.usefixtures("project")
def test_junit_is_xml_with_a_case_per_outcome(capsys: pytest.CaptureFixture[str]) -> None:
    root = ET.fromstring(_check(capsys, "junit"))
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert len(cases) == int(suite.get("tests", "0")) == 16
    failures = [c for c in cases if c.find("failure") is not None]
    assert len(failures) == int(suite.get("failures", "0")) == 4
    assert failures[0].get("name", "").startswith("bad.yaml - main - ")
    assert len([c for c in cases if c.find("skipped") is not None]) == 1


@pytest.mark.usefixtures("project")
def test_github_annotations(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _check(capsys, "github").splitlines()
    assert "::group::Testing 'bad.yaml' against 4 policies in namespace 'main'" in lines
    assert "::error file=bad.yaml::Service api is a LoadBalancer" in lines
    assert "::warning file=bad.yaml::Deployment api has no team label" in lines
    assert lines[-1] == "16 tests, 11 passed, 1 warning, 3 failures, 1 exception"


@pytest.mark.usefixtures("project")
def test_sarif(capsys: pytest.CaptureFixture[str]) -> None:
    document = json.loads(_check(capsys, "sarif"))
    assert document["version"] == "2.1.0"
    results = document["runs"][0]["results"]
    assert {r["level"] for r in results} == {"error", "warning", "note"}
    rule_ids = {r["id"] for r in document["runs"][0]["tool"]["driver"]["rules"]}
    assert {r["ruleId"] for r in results} <= rule_ids
    assert "main.deny_latest_tag" in rule_ids
    assert results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "bad.yaml"


@pytest.mark.usefixtures("project")
def test_table(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _check(capsys, "table").splitlines()
    assert [cell.strip() for cell in lines[1].split("|")[1:-1]] == ["RESULT", "FILE", "NAMESPACE", "MESSAGE"]
    assert any("| failure   | bad.yaml" in line for line in lines)
    assert len({len(line) for line in lines}) == 1
