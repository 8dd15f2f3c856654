"""The copyable examples in deploy/ and .pre-commit-hooks.yaml stay runnable.

No container engine and no GitHub runner exist here: these tests check
what can be checked locally (valid YAML, the commands they run exist with
the options they use, the paths a Containerfile copies exist).
"""

from __future__ import annotations

import re
import shlex

import pytest
import yaml

from tests.helpers import ROOT, run_cli


def test_pre_commit_hooks_are_well_formed() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert {h["id"] for h in hooks} == {"gate-check", "gate-eval"}
    for hook in hooks:
        assert {"id", "name", "entry", "language", "files"} <= set(hook)
        re.compile(hook["files"])
    check = next(h for h in hooks if h["id"] == "gate-check")
    assert re.search(check["files"], "policy-profiles/nim-promotion.yaml")
    assert re.search(check["files"], "models.lock.yaml")
    assert not re.search(check["files"], "deploy/k8s.yaml")


def test_workflow_runs_commands_that_exist(capsys: pytest.CaptureFixture[str]) -> None:
    workflow = yaml.safe_load((ROOT / "deploy" / "github-actions" / "gate.yml").read_text())
    assert set(workflow["jobs"]) == {"check", "decide"}
    commands = [
        line.strip()
        for job in workflow["jobs"].values()
        for step in job["steps"]
        for line in str(step.get("run", "")).splitlines()
        if line.strip().startswith("gate ")
    ]
    assert len(commands) == 3
    for command in commands:
        argv = shlex.split(command.split(">")[0])
        subcommand = argv[1]
        assert run_cli(capsys, subcommand, "--help").code == 0
        options = [a for a in argv[2:] if a.startswith("-")]
        helptext = run_cli(capsys, subcommand, "--help").out
        for option in options:
            assert option in helptext, (command, option)


def test_containerfile_copies_existing_paths_and_serves(capsys: pytest.CaptureFixture[str]) -> None:
    text = (ROOT / "deploy" / "Containerfile.serve").read_text()
    for line in text.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
    entry = re.search(r"^ENTRYPOINT (\[.*\])$", text, re.MULTILINE)
    assert entry is not None
    argv = yaml.safe_load(entry.group(1))
    assert argv[:2] == ["gate", "serve"]
    helptext = run_cli(capsys, "serve", "--help").out
    assert all(option in helptext for option in argv[2:] if option.startswith("--"))
    assert "USER 10001" in text
    assert "STOPSIGNAL SIGTERM" in text
