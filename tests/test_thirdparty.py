"""fixtures/thirdparty: every file has its provenance, its licence text and its recorded sha256."""

from __future__ import annotations

import csv
import hashlib

from tests.helpers import THIRDPARTY

LICENCES = {
    "Apache-2.0": "Apache-2.0.txt",
    "BSD-3-Clause": "BSD-3-Clause.DefectDojo.txt",
    "CC0-1.0": "CC0-1.0.txt",
}
NOT_DATA = {"README.md", "SHA256SUMS.txt", "PROVENANCE.tsv"}


def _provenance() -> dict[str, dict[str, str]]:
    with (THIRDPARTY / "PROVENANCE.tsv").open(newline="") as handle:
        return {row["path"]: row for row in csv.DictReader(handle, delimiter="\t")}


def test_every_data_file_has_a_provenance_row_and_no_row_names_a_missing_file() -> None:
    files = {
        str(p.relative_to(THIRDPARTY))
        for p in THIRDPARTY.rglob("*")
        if p.is_file() and p.name not in NOT_DATA and p.parent.name != "LICENSES"
    }
    assert files == set(_provenance())


def test_each_file_matches_its_recorded_sha256_and_names_a_repository_commit_and_licence() -> None:
    sums = dict(line.split()[::-1] for line in (THIRDPARTY / "SHA256SUMS.txt").read_text().splitlines())
    for path, row in _provenance().items():
        digest = hashlib.sha256((THIRDPARTY / path).read_bytes()).hexdigest()
        assert digest == row["sha256"] == sums[path], path
        assert "/" in row["repository"] and len(row["commit"]) == 40 and row["upstream_path"], path
        assert (THIRDPARTY / "LICENSES" / LICENCES[row["licence"]]).is_file(), path
