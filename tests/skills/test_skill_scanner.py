"""cisco-ai-skill-scanner as a second opinion (static analyzers only), run for real when installed."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from gate.evidence.skill.collect import SkillRequest, collect_document
from gate.profile import load_profile
from gate.skills.pipeline import decide
from tests.helpers import ROOT

SCANNER_BIN = ROOT / ".ci" / "cache" / "skill-scanner" / "bin"
SOURCE = "https://github.com/acme/skills@" + "3f1c" * 10
needs_scanner = pytest.mark.skipif(
    not (SCANNER_BIN / "skill-scanner").exists(),
    reason=".ci/run installs cisco-ai-skill-scanner into .ci/cache/skill-scanner (its own virtualenv)",
)


def _profile(tmp_path: Path, missing: str) -> Any:
    profile = yaml.safe_load((ROOT / "policy-profiles" / "skills-quarantine.yaml").read_text())
    profile["skills"]["scanners"] = {"run": ["skill-scanner"], "missing": missing, "timeout_seconds": 120}
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(profile))
    return load_profile(str(path))


def _decide(target: Path, profile: Any, tier: str) -> tuple[dict[str, Any], dict[str, Any]]:
    document = collect_document(SkillRequest(str(target), source=SOURCE, tier=tier), profile)
    return document, decide(document, profile, "regorus")


@needs_scanner
def test_the_scanner_agrees_on_a_clean_skill_and_objects_to_a_malicious_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", f"{SCANNER_BIN}:{__import__('os').environ['PATH']}")
    profile = _profile(tmp_path, "fail-closed")
    document, decision = _decide(ROOT / "fixtures" / "skills" / "pdf-text", profile, "untrusted")
    [record] = document["evidence"]["scanners"]
    assert record["installed"] and record["exit_code"] == 0 and record["version"]
    assert record["argv"][1:3] == ["scan", str(ROOT / "fixtures" / "skills" / "pdf-text")]
    assert decision["verdict"] == "promote", decision["results"]

    _, bad = _decide(ROOT / "fixtures" / "skills" / "repo-tidy", profile, "untrusted")
    assert "skill_scanner_finding" in bad["reasons"]
    texts = [r["message"] for r in bad["results"] if r["code"] == "skill_scanner_finding"]
    assert any("skill-scanner reports a critical issue" in t for t in texts)


@needs_scanner
def test_an_archive_is_laid_out_for_the_scanner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{SCANNER_BIN}:{__import__('os').environ['PATH']}")
    skill = ROOT / "fixtures" / "skills" / "repo-tidy"
    archive = tmp_path / "repo-tidy.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in skill.rglob("*"):
            if path.is_file():
                z.write(path, f"repo-tidy/{path.relative_to(skill)}")
    document, decision = _decide(archive, _profile(tmp_path, "fail-closed"), "untrusted")
    assert document["evidence"]["scanners"][0]["exit_code"] == 0
    assert "skill_scanner_finding" in decision["reasons"]


def test_a_missing_scanner_fails_closed_or_warns_as_the_profile_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    skill = tmp_path / "pdf-text"
    shutil.copytree(ROOT / "fixtures" / "skills" / "pdf-text", skill)
    document, closed = _decide(skill, _profile(tmp_path, "fail-closed"), "untrusted")
    assert document["evidence"]["scanners"] == [{"name": "skill-scanner", "installed": False}]
    assert closed["reasons"] == ["skill_scanner_missing"] and closed["verdict"] == "block"
    _, warned = _decide(skill, _profile(tmp_path, "warn-and-skip"), "untrusted")
    assert warned["verdict"] == "promote"
    assert [w["code"] for w in warned["warnings"]] == ["skill_scanner_missing"]
