"""Lifecycle decisions through gate eval --input, on both engines, from the bundled examples."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.helpers import BIN, ROOT

FIXTURES = ROOT / "fixtures" / "registry"
PROFILE = FIXTURES / "registry-governance.example.yaml"


@pytest.mark.parametrize("engine", ["regorus", "opa"])
@pytest.mark.parametrize("example", ["approve-complete", "approve-forged-security", "approve-cve-waived"])
def test_examples_decide_as_expected(example: str, engine: str) -> None:
    expected = json.loads((FIXTURES / f"{example}.expected.json").read_text())
    argv = [str(BIN / "gate"), "eval", "--input", str(FIXTURES / f"{example}.input.json")]
    argv += ["--profile", str(PROFILE), "--engine", engine, "-o", "json"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == (0 if expected["verdict"] == "promote" else 1), done.stderr
    decision = json.loads(done.stdout)
    assert decision["verdict"] == expected["verdict"]
    assert decision["reasons"] == expected["reasons"]
    assert [w["code"] for w in decision["waived"]] == expected["waived"]
    assert decision["transition"] == expected["transition"]


def test_a_waived_reason_is_shown_never_dropped() -> None:
    argv = [str(BIN / "gate"), "eval", "--input", str(FIXTURES / "approve-cve-waived.input.json")]
    done = subprocess.run(
        [*argv, "--profile", str(PROFILE), "-o", "json"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    (waived,) = json.loads(done.stdout)["waived"]
    assert waived["code"] == "critical_cve_unresolved" and "CVE-2026-0001" in waived["message"]
