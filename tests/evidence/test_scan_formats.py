"""Scanner report shapes seen in the field: a grype match without a severity, Trivy's legacy array."""

from __future__ import annotations

from pathlib import Path

from gate.decide import Decider
from gate.evidence.interface import Collection
from gate.evidence.vulnerabilities import read_report
from tests.evidence.helpers import THIRDPARTY, decide_with

VULNS = THIRDPARTY / "vulns"
NO_SEVERITY = VULNS / "DERIVED-no-severity.grype-busybox-1.32.1.grype-0.94.0.json"
LEGACY_TRIVY = VULNS / "trivy-legacy-array.alpine-3.9.4.json"
BUSYBOX_DIGEST = "sha256:ae39a6f5c07297d7ab64dbd4f82c77c874cc6a94cea29fdec309d0992574b4f7"
PROD = "sha256:" + "b" * 64


def test_a_grype_match_without_severity_is_unknown_and_the_rest_of_the_report_stands(
    deciders: dict[str, Decider],
) -> None:
    collection = Collection()

    report = read_report(NO_SEVERITY, collection, BUSYBOX_DIGEST)

    assert collection.errors == [] and "error" not in report
    assert len(report["matches"]) == 15 and report["digest"] == BUSYBOX_DIGEST
    assert report["matches"][0] == {
        "id": "CVE-2022-28391",
        "severity": "Unknown",
        "package": "busybox",
        "version": "1.32.1",
    }
    # The critical CVE-2022-48174 is still in the report, so the policy still sees the regression.
    reasons = decide_with(
        deciders,
        BUSYBOX_DIGEST,
        operator={"current_prod_digest": PROD},
        vulnerabilities={"candidate": report, "baseline": {"digest": PROD, "matches": []}},
    )
    assert reasons == {"cve_regression"}


def test_trivy_legacy_top_level_array_is_read() -> None:
    collection = Collection()

    report = read_report(LEGACY_TRIVY, collection)

    assert collection.errors == [] and "error" not in report
    assert report["scanner"] == {"name": "trivy"}
    counts: dict[str, int] = {}
    for match in report["matches"]:
        counts[match["severity"]] = counts.get(match["severity"], 0) + 1
    assert counts == {"MEDIUM": 6, "LOW": 2, "CRITICAL": 2}
    musl = [m for m in report["matches"] if m["package"] == "musl"]
    assert musl == [
        {
            "id": "CVE-2019-14697",
            "severity": "CRITICAL",
            "package": "musl",
            "version": "1.1.20-r4",
            "fixed_in": "1.1.20-r5",
        }
    ]


def test_an_array_that_is_not_trivy_results_is_still_refused(tmp_path: Path) -> None:
    for content in (b"[]", b'[{"id": "CVE-1"}]', b"[1, 2]"):
        path = tmp_path / "report.json"
        path.write_bytes(content)
        report = read_report(path, Collection())
        assert (
            "neither a grype nor a Trivy JSON report" in report["error"]
            or "not a JSON object" in report["error"]
        )
