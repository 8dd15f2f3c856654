"""Real-shaped benign skills pass as a submission is decided; their malicious twins keep failing."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.evidence.skill.collect import SkillRequest, collect_document
from gate.profile import load_profile
from gate.skills.pipeline import decide
from tests.skills.pairs import PAIRS

SOURCE = "https://github.com/acme/skills@" + "3f1c" * 10


def _decide(path: Path, tier: str) -> dict[str, object]:
    profile = load_profile("skills-quarantine")
    return decide(
        collect_document(SkillRequest(str(path), source=SOURCE, tier=tier), profile), profile, "regorus"
    )


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_benign_skill_is_admitted(tmp_path: Path, name: str) -> None:
    tier, benign, _twin, _code = PAIRS[name]
    decision = _decide(benign(tmp_path / name), tier)
    assert decision["verdict"] == "promote", decision["results"]


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_malicious_twin_is_refused(tmp_path: Path, name: str) -> None:
    tier, _benign, twin, code = PAIRS[name]
    decision = _decide(twin(tmp_path / name), tier)
    assert decision["verdict"] == "block", decision["results"]
    assert code in decision["reasons"], decision["reasons"]  # type: ignore[operator]


def test_unlicensed_skill_warns_untrusted_and_is_refused_trusted(tmp_path: Path) -> None:
    _tier, benign, _twin, _code = PAIRS["csv-summary-no-license"]
    skill = benign(tmp_path / "csv")
    untrusted = _decide(skill, "untrusted")
    assert [w["code"] for w in untrusted["warnings"]] == ["skill_license_unidentified"]  # type: ignore[union-attr,index]
    trusted = _decide(skill, "trusted")
    assert "skill_license_invalid" in trusted["reasons"]  # type: ignore[operator]
