"""A skill's licence: SPDX in the field, a licence file identified by its text, unidentified, none."""

from __future__ import annotations

from pathlib import Path

from gate.evidence.skill.license import license_facts

ROOT = Path(__file__).resolve().parents[2]


def _apache() -> str:
    return (ROOT / "fixtures" / "thirdparty" / "LICENSES" / "Apache-2.0.txt").read_text()


def test_spdx_field() -> None:
    facts = license_facts("Apache-2.0 OR MIT", {})
    assert (facts["kind"], facts["ids"]) == ("spdx", ["Apache-2.0", "MIT"])


def test_field_pointing_at_a_licence_file_is_identified_by_its_text() -> None:
    facts = license_facts("Complete terms in LICENSE.txt", {"LICENSE.txt": _apache()})
    assert (facts["kind"], facts["ids"], facts["file"]) == ("file", ["Apache-2.0"], "LICENSE.txt")
    proprietary = license_facts(
        "Proprietary. LICENSE.txt has complete terms", {"LICENSE.txt": "All rights reserved.\n"}
    )
    assert proprietary["kind"] == "unidentified"
    assert "LICENSE.txt" in proprietary["problem"]


def test_no_field() -> None:
    assert license_facts(None, {"LICENSE": _apache()})["ids"] == ["Apache-2.0"]
    assert license_facts(None, {})["kind"] == "none"
    assert license_facts("Proprietary", {})["kind"] == "unidentified"
