"""gate check refuses deny/violation/warn rules that are not sets, and expands namespace globs.

Each case runs ``gate check`` as a real process on real policy and input files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.helpers import run_process

SET_RULE = 'package main\n\ndeny contains msg if {\n\tinput.kind == "bad"\n\tmsg := "bad kind"\n}\n'


def _check(*args: str) -> tuple[int, str, str]:
    run = run_process(sys.executable, "-m", "gate", "check", *args)
    return run.code, run.out, run.err


def _project(tmp_path: Path, policies: dict[str, str]) -> tuple[Path, Path]:
    policy = tmp_path / "policy"
    policy.mkdir(parents=True)
    for name, text in policies.items():
        (policy / name).write_text(text)
    data = tmp_path / "in.yaml"
    data.write_text("kind: bad\n")
    return policy, data


@pytest.mark.parametrize("rule", ["deny", "violation", "warn_kind"])
@pytest.mark.parametrize("engine", ["regorus", "opa"])
def test_an_object_rule_that_fires_is_refused_not_passed(rule: str, engine: str, tmp_path: Path) -> None:
    # Rego v1 reads "deny[msg] if" as an object rule: {"bad kind": true}, never a set.
    text = f'package main\n\n{rule}[msg] if {{\n\tinput.kind == "bad"\n\tmsg := "bad kind"\n}}\n'
    policy, data = _project(tmp_path, {"p.rego": text})
    code, out, err = _check("-p", str(policy), "--engine", engine, str(data))
    assert code == 4, out
    assert "passed" not in out
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("gate: error: ")
    assert lines[0].endswith(
        f"policy/p.rego:3: rule {rule} is an object rule, not a set of messages "
        f"('if' without 'contains'): write '{rule} contains msg if {{ ... }}'"
    )


def test_a_rule_whose_value_is_an_object_or_string_is_refused(tmp_path: Path) -> None:
    for value in ('{"a": 1}', '"just a string"'):
        policy, data = _project(
            tmp_path / value[:2].strip('"{'), {"p.rego": f"package main\n\ndeny := {value}\n"}
        )
        code, out, err = _check("-p", str(policy), str(data))
        assert code == 4, out
        assert "data.main.deny is a" in err
        assert "not a set of messages" in err


def test_set_and_boolean_rules_still_work(tmp_path: Path) -> None:
    policy, data = _project(tmp_path, {"p.rego": SET_RULE + "\nwarn if input.kind == 'nothing'\n"})
    (policy / "p.rego").write_text(SET_RULE + '\nwarn if input.kind == "nothing"\n')
    code, out, _ = _check("-p", str(policy), str(data))
    assert code == 1
    assert "FAIL - " in out
    assert "2 tests, 1 passed, 0 warnings, 1 failure, 0 exceptions" in out


@pytest.mark.parametrize("glob", ["*", "ma*", "m?in", "[m]ain"])
def test_namespace_globs_match_the_packages_with_rules(glob: str, tmp_path: Path) -> None:
    other = 'package other.rules\n\nwarn contains "other" if input.kind == "bad"\n'
    policy, data = _project(tmp_path, {"p.rego": SET_RULE, "o.rego": other})
    code, out, err = _check("-p", str(policy), "--namespace", glob, str(data))
    assert code == 1, err
    assert f"FAIL - {data} - main - bad kind" in out
    assert ("WARN - " in out) == (glob == "*")


@pytest.mark.parametrize(
    ("namespace", "problem"),
    [("zz*", "matches no package"), ("a b", "is not a Rego package name"), ("main;", "is not a Rego")],
)
def test_unusable_namespaces_are_usage_errors(namespace: str, problem: str, tmp_path: Path) -> None:
    policy, data = _project(tmp_path, {"p.rego": SET_RULE})
    code, out, err = _check("-p", str(policy), "--namespace", namespace, str(data))
    assert code == 2, out
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert problem in lines[0]
    assert "internal" not in err
