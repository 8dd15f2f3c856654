"""Every bundled container example, through the CLI, on both engines."""

from __future__ import annotations

import json

import pytest

from gate.cli import main
from tests.conftest import CONTAINER_FIXTURES, container_examples

EXIT_FOR_VERDICT = {"promote": 0, "block": 1, "manual-review": 3}

# The contract rows the examples must cover (docs/decisions.md section 1).
REQUIRED_EXAMPLES = {
    "clean-runtime-promote", "unsigned", "digest-drift", "missing-sbom", "missing-model-card",
    "label-only-model-card", "cve-regression", "expired-cert", "wrong-issuer", "wrong-identity",
    "unknown-registry", "stale-attestation", "malformed-age", "rekor-unreachable-alone",
    "rekor-unreachable-plus-another", "static-mode", "inputs-incomplete",
}  # fmt: skip


def test_every_contract_row_has_an_example() -> None:
    assert set(container_examples()) >= REQUIRED_EXAMPLES


@pytest.mark.parametrize("name", container_examples())
def test_example_decision(name: str, engine: str, capsys: pytest.CaptureFixture[str]) -> None:
    expected = json.loads((CONTAINER_FIXTURES / f"{name}.expected.json").read_text())
    source = str(CONTAINER_FIXTURES / f"{name}.input.json")

    code = main(["eval", "--input", source, "--profile", "nim-promotion", "-o", "json", "--engine", engine])

    out, err = capsys.readouterr()
    assert err == ""
    decision = json.loads(out)
    assert decision["verdict"] == expected["verdict"]
    assert decision["evidence_level"] == expected["evidence_level"]
    assert set(decision["reasons"]) == set(expected["reasons"])
    assert len(decision["reasons"]) == len(set(decision["reasons"]))
    assert code == EXIT_FOR_VERDICT[expected["verdict"]]


@pytest.mark.parametrize("name", ["clean-runtime-promote", "unsigned", "rekor-unreachable-alone"])
def test_example_text_output_explains_the_decision(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    expected = json.loads((CONTAINER_FIXTURES / f"{name}.expected.json").read_text())
    main(["eval", "--input", str(CONTAINER_FIXTURES / f"{name}.input.json"), "--profile", "nim-promotion"])
    out = capsys.readouterr().out
    assert f"verdict:         {expected['verdict']}" in out
    assert f"evidence level:  {expected['evidence_level']}" in out
    for reason in expected["reasons"]:
        assert reason in out
    assert "fix: " in out
