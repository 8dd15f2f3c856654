"""grype and Trivy reports: replayed real output, a stand-in grype on PATH, failures that block."""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from gate.decide import Decider
from gate.evidence.interface import Collection
from gate.evidence.vulnerabilities import GrypeOptions, grype_argv, read_report, run_grype
from tests.evidence.helpers import THIRDPARTY, decide_with

VULNS = THIRDPARTY / "vulns"
BUSYBOX_NEW = VULNS / "grype-busybox-1.32.1.grype-0.94.0.json"
BUSYBOX_OLD = VULNS / "grype-busybox-1.32.1.grype-0.7.0.no-matches.json"
KEYCLOAK = VULNS / "grype-keycloak-21.0.2.grype-0.66.0.filtered.json"
RUBY = VULNS / "grype-chainguard-ruby-3.0.grype-0.61.1.filtered.json"
TRIVY_39 = VULNS / "trivy-alpine-3.9.4.json"
TRIVY_310 = VULNS / "trivy-alpine-3.10.2.json"

REPO = "registry.local:5000/nim/model"
CAND = "sha256:" + "a" * 64
PROD = "sha256:" + "b" * 64


def _severities(report: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for match in report["matches"]:
        counts[match["severity"]] = counts.get(match["severity"], 0) + 1
    return counts


def test_grype_0_94_report_normalises_with_scanner_and_db_build_time() -> None:
    collection = Collection()

    report = read_report(BUSYBOX_NEW, collection)

    assert collection.errors == []
    assert report["scanner"] == {"name": "grype", "version": "0.94.0", "db_built": "2025-06-19T04:12:38Z"}
    assert len(report["matches"]) == 15
    assert _severities(report) == {"Critical": 1, "High": 10, "Medium": 2, "Low": 2}
    fixed = [m for m in report["matches"] if m["id"] == "CVE-2021-42376"]
    assert fixed[0]["fix_state"] == "fixed" and fixed[0]["fixed_in"] == "1.34.0"
    assert {m["package"] for m in report["matches"]} == {"busybox"}
    # The registry digest grype recorded (repoDigests) is the report's digest.
    assert report["digest"] == "sha256:ae39a6f5c07297d7ab64dbd4f82c77c874cc6a94cea29fdec309d0992574b4f7"


def test_report_digest_prefers_the_expected_one_when_the_report_names_it() -> None:
    manifest = "sha256:123b1fd3a44eaaf7322e08e9175d9ca57d49ebf2955d4fa1f5607e99dc31bcbb"

    report = read_report(BUSYBOX_NEW, Collection(), expected_digest=manifest)

    assert report["digest"] == manifest


def test_older_grype_reports_db_build_time_and_fix_states() -> None:
    keycloak = read_report(KEYCLOAK, Collection())
    ruby = read_report(RUBY, Collection())
    old = read_report(BUSYBOX_OLD, Collection())

    assert keycloak["scanner"] == {"name": "grype", "version": "0.66.0", "db_built": "2023-09-01T01:26:55Z"}
    assert {m["fix_state"] for m in keycloak["matches"]} == {"wont-fix"}
    assert _severities(keycloak) == {"Low": 6}
    assert _severities(ruby) == {"High": 3}
    assert {(m["id"], m.get("fixed_in", "")) for m in ruby["matches"]} >= {("CVE-2023-28755", "3.0.6-r0")}
    assert old["matches"] == [] and old["scanner"]["version"] == "0.7.0"
    assert "db_built" not in old["scanner"]


def test_trivy_report_is_recognised_by_content() -> None:
    report = read_report(TRIVY_39, Collection())

    assert report["scanner"] == {"name": "trivy", "version": "dev"}
    assert _severities(report) == {"CRITICAL": 2, "MEDIUM": 4}
    assert {m["package"] for m in report["matches"] if m["severity"] == "CRITICAL"} == {"musl", "musl-utils"}
    # The fixture scanned a tarball: it names no registry digest, so none is recorded.
    assert "digest" not in report


def _with_repo_digest(source: Path, digest: str, tmp_path: Path) -> Path:
    """The real Trivy report as Trivy writes it for an image pulled by digest."""
    document = json.loads(source.read_text())
    document["ArtifactName"] = f"{REPO}@{digest}"
    document["Metadata"]["RepoDigests"] = [f"{REPO}@{digest}"]
    out = tmp_path / f"{source.stem}.{digest[7:15]}.json"
    out.write_text(json.dumps(document))
    return out


def test_trivy_version_pair_promotes_through_the_policy(tmp_path: Path, deciders: dict[str, Decider]) -> None:
    candidate = read_report(_with_repo_digest(TRIVY_310, CAND, tmp_path), Collection(), CAND)
    baseline = read_report(_with_repo_digest(TRIVY_39, PROD, tmp_path), Collection(), PROD)
    assert candidate["digest"] == CAND and baseline["digest"] == PROD

    reasons = decide_with(
        deciders,
        CAND,
        operator={"current_prod_digest": PROD},
        vulnerabilities={"candidate": candidate, "baseline": baseline},
    )

    assert reasons == {"all_gates_passed"}


def test_trivy_pair_reversed_is_a_cve_regression(tmp_path: Path, deciders: dict[str, Decider]) -> None:
    candidate = read_report(_with_repo_digest(TRIVY_39, CAND, tmp_path), Collection(), CAND)
    baseline = read_report(_with_repo_digest(TRIVY_310, PROD, tmp_path), Collection(), PROD)

    reasons = decide_with(
        deciders,
        CAND,
        operator={"current_prod_digest": PROD},
        vulnerabilities={"candidate": candidate, "baseline": baseline},
    )

    assert reasons == {"cve_regression"}


# ------------------------------------------------------------ grype on PATH


def _stand_in(tmp_path: Path, body: str) -> Path:
    """Write an executable ``grype`` into tmp_path/bin; returns the bin folder."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    script = folder / "grype"
    script.write_text(f"#!{sys.executable}\n{body}")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return folder


def _replaying(tmp_path: Path, reports: dict[str, Path]) -> Path:
    """A grype that checks its argv and prints the real report recorded for that image."""
    table = {f"{REPO}@{digest}": str(path) for digest, path in reports.items()}
    log = tmp_path / "argv.log"
    body = f"""
import json, sys
table = {table!r}
import os
with open({str(log)!r}, "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
with open({str(log)!r} + ".env", "w") as env:
    keys = ("GRYPE_CHECK_FOR_APP_UPDATE", "GRYPE_DB_AUTO_UPDATE")
    env.write(" ".join(os.environ.get(k, "unset") for k in keys))
args = sys.argv[1:]
if len(args) != 3 or args[1:] != ["--output", "json"] or args[0] not in table:
    sys.stderr.write("unexpected argv: %r\\n" % (args,))
    sys.exit(2)
sys.stdout.write(open(table[args[0]]).read())
"""
    return _stand_in(tmp_path, body)


@pytest.fixture
def on_path(monkeypatch: pytest.MonkeyPatch) -> Any:
    def install(folder: Path) -> None:
        monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")

    return install


def test_stand_in_grype_replays_real_reports_and_gate_records_the_argv(
    tmp_path: Path, on_path: Any, deciders: dict[str, Decider]
) -> None:
    on_path(_replaying(tmp_path, {CAND: BUSYBOX_NEW, PROD: BUSYBOX_OLD}))
    collection = Collection()

    candidate = run_grype(REPO, CAND, collection)
    baseline = run_grype(REPO, PROD, collection)

    assert collection.errors == []
    assert collection.executed_commands == [
        ["grype", f"{REPO}@{CAND}", "--output", "json"],
        ["grype", f"{REPO}@{PROD}", "--output", "json"],
    ]
    logged = [json.loads(line) for line in (tmp_path / "argv.log").read_text().splitlines()]
    assert logged == [c[1:] for c in collection.executed_commands]
    # grype contacts no update host during a gate run: neither its own release check nor its database
    assert (tmp_path / "argv.log.env").read_text() == "false false"
    # A scan gate ran is about the digest gate asked for.
    assert candidate["digest"] == CAND and baseline["digest"] == PROD
    assert len(candidate["matches"]) == 15 and baseline["matches"] == []
    reasons = decide_with(
        deciders,
        CAND,
        operator={"current_prod_digest": PROD},
        vulnerabilities={"candidate": candidate, "baseline": baseline},
    )
    assert reasons == {"cve_regression"}


def test_grype_that_hangs_is_killed_and_blocks(
    tmp_path: Path, on_path: Any, deciders: dict[str, Decider]
) -> None:
    pid_file = tmp_path / "child.pid"
    # The hanging grype also starts a child: killing the process group must end both.
    on_path(
        _stand_in(
            tmp_path,
            f"""
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
open({str(pid_file)!r}, "w").write(str(child.pid))
sys.stdout.write('{{"matches": [')
sys.stdout.flush()
time.sleep(600)
""",
        )
    )
    collection = Collection()

    report = run_grype(REPO, CAND, collection, GrypeOptions(timeout_s=1.5))

    assert "timed out after 1.5 s and was killed" in report["error"]
    assert "matches" not in report
    assert collection.errors[0]["collector"] == "vulnerabilities"
    child = int(pid_file.read_text())
    for _ in range(50):
        if not _alive(child):
            break
        time.sleep(0.05)
    assert not _alive(child)
    reasons = decide_with(
        deciders, CAND, operator={"current_prod_digest": PROD}, vulnerabilities={"candidate": report}
    )
    assert reasons == {"cve_regression"}


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("print('Vulnerability DB update failed: 403 Forbidden')", "not JSON"),
        ("print('{\"a\": [1, 2, 3]}')", "neither a grype nor a Trivy JSON report"),
        (
            "import json; print(json.dumps({'matches': [{'vulnerability': {}}], 'descriptor': {}}))",
            "match 0 has no vulnerability or artifact object",
        ),
        (
            "import sys; sys.stderr.write('failed to load image: manifest unknown\\n'); sys.exit(1)",
            "status 1",
        ),
    ],
    ids=["garbage", "wrong-shape", "match-without-id", "non-zero-exit"],
)
def test_grype_failures_are_errors_never_clean_scans(
    tmp_path: Path, on_path: Any, deciders: dict[str, Decider], body: str, expected: str
) -> None:
    on_path(_stand_in(tmp_path, body))
    collection = Collection()

    report = run_grype(REPO, CAND, collection)

    assert expected in report["error"]
    assert "matches" not in report
    assert [e["collector"] for e in collection.errors] == ["vulnerabilities"]
    reasons = decide_with(
        deciders,
        CAND,
        operator={"current_prod_digest": PROD},
        vulnerabilities={"candidate": report, "baseline": {"digest": PROD, "matches": []}},
    )
    assert reasons == {"cve_regression"}


def test_grype_failure_keeps_the_tail_of_stderr(tmp_path: Path, on_path: Any) -> None:
    on_path(
        _stand_in(tmp_path, "import sys; sys.stderr.write('x\\nunable to reach registry\\n'); sys.exit(3)")
    )

    report = run_grype(REPO, CAND, Collection())

    assert report["error"].endswith("exited with status 3 (unable to reach registry)")


def test_oversized_grype_output_is_cut_off(tmp_path: Path, on_path: Any) -> None:
    on_path(_stand_in(tmp_path, "import sys\nfor _ in range(64): sys.stdout.write('x' * 65536)\n"))

    report = run_grype(REPO, CAND, Collection(), GrypeOptions(stdout_cap=1024 * 1024))

    assert "printed more than 1048576 bytes on stdout and was killed" in report["error"]


def test_missing_grype_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    collection = Collection()

    report = run_grype(REPO, CAND, collection)

    assert report == {"digest": CAND, "error": "grype is not on PATH; no scan was made"}
    assert collection.executed_commands == []


@pytest.mark.parametrize(
    ("repository", "digest"),
    [
        ("--config=/tmp/evil", CAND),
        ("registry.local/nim model", CAND),
        (REPO, "latest"),
        (REPO, "sha256:" + "A" * 64),
    ],
)
def test_argv_is_built_only_from_a_validated_reference(repository: str, digest: str) -> None:
    collection = Collection()

    report = run_grype(repository, digest, collection)

    assert report["error"].startswith("refusing to scan")
    assert collection.executed_commands == []


def test_argv_allowlist_shape() -> None:
    assert grype_argv(REPO, CAND) == ["grype", f"{REPO}@{CAND}", "--output", "json"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "is not JSON"),
        (b"\xff\xfe garbage", "is not JSON"),
        (b'{"SchemaVersion": 2, "Results": {"a": 1}}', "Results is not a list"),
        (b"[" * 100000 + b"]" * 100000, "is not JSON"),
    ],
    ids=["empty", "binary", "trivy-wrong-shape", "deep-nesting"],
)
def test_unusable_report_files_are_errors(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "report.json"
    path.write_bytes(content)
    collection = Collection()

    report = read_report(path, collection)

    assert expected in report["error"]
    assert collection.errors and collection.errors[0]["collector"] == "vulnerabilities"


def test_missing_and_oversized_report_files(tmp_path: Path) -> None:
    missing = read_report(tmp_path / "nope.json", Collection())
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 2048)
    oversized = read_report(big, Collection(), max_bytes=1024)

    assert "cannot read scan report" in missing["error"]
    assert "is larger than 1024 bytes" in oversized["error"]


def test_long_fields_are_capped_to_the_schema(tmp_path: Path) -> None:
    document = json.loads(TRIVY_310.read_text())
    document["Results"][0]["Vulnerabilities"][0]["PkgName"] = "p" * 5000
    path = tmp_path / "long.json"
    path.write_text(json.dumps(document))

    report = read_report(path, Collection())

    assert len(report["matches"][0]["package"]) == 512
