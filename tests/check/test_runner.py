"""gate check as a conftest user meets it: lines, summary, exit codes, exceptions, namespaces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import ROOT, run_cli


def test_output_lines_and_summary_match_conftest(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "check", "good.yaml", "bad.yaml")
    assert run.code == 1
    assert run.out.splitlines() == [
        "WARN - bad.yaml - main - Deployment api has no team label",
        "FAIL - bad.yaml - main - Deployment api must set runAsNonRoot",
        "FAIL - bad.yaml - main - container api uses a :latest image",
        "FAIL - bad.yaml - main - Service api is a LoadBalancer",
        "",
        "12 tests, 8 passed, 1 warning, 3 failures, 0 exceptions",
    ]


def test_exception_waives_the_named_rule(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "check", "legacy.json")
    assert run.code == 0
    assert run.out.splitlines() == [
        'EXCP - legacy.json - main - data.main.exception[_][_] == "latest_tag"',
        "",
        "4 tests, 3 passed, 0 warnings, 0 failures, 1 exception",
    ]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["good.yaml"], 0),
        (["bad.yaml"], 1),
        (["--fail-on-warn", "good.yaml"], 0),
        (["--fail-on-warn", "bad.yaml"], 2),
        (["--no-fail", "bad.yaml"], 0),
        (["--fail-on-warn", "--namespace", "other", "--data", "limits.yaml", "bad.yaml"], 1),
    ],
)
def test_exit_codes_are_conftests(
    args: list[str], code: int, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "check", *args).code == code


def test_warnings_alone_exit_0_unless_fail_on_warn(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "warn.yaml").write_text(
        "kind: Deployment\nmetadata: {name: w}\n"
        "spec: {template: {spec: {securityContext: {runAsNonRoot: true}, containers: []}}}\n"
    )
    assert run_cli(capsys, "check", "warn.yaml").code == 0
    assert run_cli(capsys, "check", "--fail-on-warn", "warn.yaml").code == 1


def test_all_namespaces_and_data(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "check", "--all-namespaces", "--data", "limits.yaml", "bad.yaml")
    assert "WARN - bad.yaml - other - only 1 replicas" in run.out
    assert "FAIL - bad.yaml - main - Service api is a LoadBalancer" in run.out
    assert run.out.strip().endswith("10 tests, 5 passed, 2 warnings, 3 failures, 0 exceptions")


def test_combine_sees_every_file_at_once(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "policy" / "combined.rego").write_text(
        "package combined\n\nimport rego.v1\n\n"
        'deny contains msg if {\n\tcount(input) != 2\n\tmsg := sprintf("%d files", [count(input)])\n}\n\n'
        'deny_paths contains msg if {\n\tsome file in input\n\tnot file.path\n\tmsg := "no path"\n}\n'
    )
    run = run_cli(
        capsys, "check", "--combine", "--namespace", "combined", "good.yaml", "legacy.json", "-o", "json"
    )
    assert run.code == 0
    assert json.loads(run.out) == [{"filename": "Combined", "namespace": "combined", "successes": 2}]


def test_json_output_is_conftests_shape(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "check", "bad.yaml", "-o", "json")
    results = json.loads(run.out)
    assert [r["filename"] for r in results] == ["bad.yaml", "bad.yaml"]  # one per YAML document
    service = results[1]
    assert service["failures"] == [
        {"msg": "Service api is a LoadBalancer", "metadata": {"details": {"kind": "Service"}}}
    ]
    assert "\t" in run.out


def test_gate_checks_its_own_config_files(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    profiles = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "policy-profiles").glob("*.yaml"))
    run = run_cli(capsys, "check", *profiles)
    assert run.code == 0, run.out
    assert run.out.splitlines()[-1].endswith("0 failures, 0 exceptions")


def test_gate_checks_find_profile_mistakes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (ROOT / "policy-profiles" / "nim-promotion.yaml").read_text()
    bad = tmp_path / "bad-profile.yaml"
    bad.write_text(
        text.replace("collections: [nim-promotion]", "collections: [nim-promoton]")
        .replace('registries: ["nvcr.io/"]', 'registries: ["nvcr.io"]')
        .replace("attestation_ttl_hours: 24", "attestation_ttl_hours: 720")
    )
    run = run_cli(capsys, "check", str(bad))
    assert run.code == 1
    lines = run.out.splitlines()
    ttl = "container.attestation_ttl_hours is 720: evidence older than a week still promotes"
    assert f"WARN - {bad} - gate.check.profile - {ttl}" in lines
    assert (
        f'FAIL - {bad} - gate.check.profile - collection "nim-promoton" selects no rule of policy "container"'
        in lines
    )
    assert any(
        line.startswith(f'FAIL - {bad} - gate.check.profile - registry prefix "nvcr.io"') for line in lines
    )


def test_gate_checks_lock_and_allowlist_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock = tmp_path / "models.lock.yaml"
    lock.write_text(
        "version: 1\nmodels:\n  - {name: a, filename: a.gguf, source: 'http://x/a', sha256: 'XYZ'}\n"
        "  - {name: a, filename: a.gguf, sha256: ''}\n"
    )
    allow = tmp_path / "sources.allowlist.yaml"
    allow.write_text("version: 1\nmodels:\n  - {name: HF, url_prefix: 'https://huggingface.co'}\n")
    run = run_cli(capsys, "check", str(lock), str(allow))
    assert run.code == 1
    text = run.out
    assert 'pin "a.gguf": sha256 must be 64 lower-case hex digits, got XYZ' in text
    assert 'pin "a.gguf": source http://x/a must use https://' in text
    assert 'file "a.gguf" is pinned twice' in text
    assert 'pin "a.gguf" has no real sha256' in text
    assert "url_prefix https://huggingface.co must end with '/'" in text


def test_errors_are_one_line(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "broken.yaml").write_text("a: [1\n")
    run = run_cli(capsys, "check", "broken.yaml")
    assert run.code == 2
    assert len(run.err_lines) == 1
    assert "broken.yaml: not valid YAML" in run.err
    run = run_cli(capsys, "check", "notes.txt")
    assert run.code == 2
    assert "unknown file type" in run.err
    (project / "policy" / "main.rego").write_text("package main\n\ndeny contains msg if {\n")
    run = run_cli(capsys, "check", "good.yaml")
    assert run.code == 4
    assert len(run.err_lines) == 1


def test_rego_v0_policies_run_with_rego_version_v0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "v0"
    policy.mkdir()
    (policy / "main.rego").write_text(
        "package main\n\nname = input.metadata.name\n\n"
        'deny[msg] {\n  input.kind == "Deployment"\n  not input.spec.replicas\n'
        '  msg = sprintf("%s sets no replicas", [name])\n}\n'
    )
    manifest = tmp_path / "d.yaml"
    manifest.write_text("kind: Deployment\nmetadata: {name: d}\nspec: {}\n")
    run = run_cli(capsys, "check", "-p", str(policy), str(manifest))
    assert run.code == 4  # v1 parsing refuses v0 syntax
    run = run_cli(capsys, "check", "-p", str(policy), "--rego-version", "v0", str(manifest))
    assert run.code == 1
    assert f"FAIL - {manifest} - main - d sets no replicas" in run.out
    run = run_cli(
        capsys, "check", "-p", str(policy), "--rego-version", "v0", "--engine", "opa", str(manifest)
    )
    assert run.code == 2
