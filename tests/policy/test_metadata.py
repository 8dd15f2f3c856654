"""gate/policy: METADATA is the single source of the reason-code catalogue; broken METADATA is refused."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from gate.errors import EXIT_INTERNAL, PolicyError
from gate.policy import load_policies
from gate.policy.metadata import SEVERITIES
from gate.resources import rego_dir
from tests.helpers import CONTAINER_CODES, REGO, good_input, run_cli, write_json

CONTAINER_REGO = REGO / "gate" / "container" / "container.rego"


def _independent_metadata(path: Path) -> dict[str, dict[str, Any]]:
    """Reason code -> METADATA YAML (+ head line), read without gate's parser."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(lines):
        if line != "# METADATA":
            continue
        body = []
        cursor = number + 1
        while lines[cursor].startswith("#"):
            body.append(re.sub(r"^# ?", "", lines[cursor]))
            cursor += 1
        data = yaml.safe_load("\n".join(body))
        code = (data.get("custom") or {}).get("short_name")
        if code:
            found[code] = {**data, "head_line": cursor + 1}
    return found


# --- the bundled catalogue ---


def test_catalogue_has_every_contract_code_in_gate_order() -> None:
    catalog = load_policies(rego_dir()).catalog

    rules = catalog["gate.container"]
    assert list(rules) == CONTAINER_CODES
    assert [meta.order for meta in rules.values()] == list(range(len(CONTAINER_CODES)))
    assert all(meta.severity in SEVERITIES for meta in rules.values())
    assert "unsupported_subject" in catalog["gate.main"]


def test_rules_json_equals_the_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "rules", "-o", "json")

    assert run.code == 0
    assert run.err == ""
    # Codes are unique per package; docs/decisions.md reuses some across decisions (missing_sbom).
    entries = {entry["code"]: entry for entry in json.loads(run.out) if entry["package"] == "gate.container"}
    expected = _independent_metadata(CONTAINER_REGO)
    assert set(CONTAINER_CODES) == set(expected)
    assert set(CONTAINER_CODES) <= set(entries)
    for code, meta in expected.items():
        entry = entries[code]
        assert entry["title"] == meta["title"].strip()
        assert entry["description"] == meta["description"].strip()
        assert entry["solution"] == meta["custom"]["solution"].strip()
        assert entry["severity"] == meta["custom"]["severity"]
        assert entry["collections"] == meta["custom"]["collections"]
        assert entry["package"] == "gate.container"
        assert entry["location"].endswith(f"container.rego:{meta['head_line']}")


@pytest.mark.parametrize(
    ("code", "title", "solution_start"),
    [
        ("unsigned", "Image is not signed", "Sign the image digest with cosign"),
        ("rekor_unreachable", "Transparency log unreachable", "Retry when Rekor is reachable"),
        ("all_gates_passed", "All gates passed", "Record the signed decision and promote: gate eval"),
    ],
)
def test_rules_json_spot_checks(
    code: str, title: str, solution_start: str, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = {entry["code"]: entry for entry in json.loads(run_cli(capsys, "rules", "-o", "json").out)}

    assert entries[code]["title"] == title
    assert entries[code]["solution"].startswith(solution_start)
    assert entries[code]["rule"] in ("deny", "verdict_note")


def test_rules_text_lists_every_code_with_its_title(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "rules")

    assert run.code == 0
    expected = _independent_metadata(CONTAINER_REGO)
    for code in CONTAINER_CODES:
        pattern = rf"^{code}\s+{expected[code]['custom']['severity']}\s+{re.escape(expected[code]['title'])}$"
        assert re.search(pattern, run.out, re.MULTILINE), code
    count = len(json.loads(run_cli(capsys, "rules", "-o", "json").out))
    assert f"{count} reason codes." in run.out


def test_decision_results_carry_catalogue_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = good_input()
    del doc["evidence"]["sbom"]
    source = write_json(tmp_path / "no-sbom.json", doc)

    decision = json.loads(run_cli(capsys, "eval", "-i", str(source), "-p", "nim-promotion", "-o", "json").out)

    meta = _independent_metadata(CONTAINER_REGO)["missing_sbom"]
    assert decision["results"] == [
        {
            "code": "missing_sbom",
            "title": meta["title"],
            "message": meta["custom"]["failure_msg"].replace(
                "%s", doc["evidence"]["registry"]["resolved_digest"]
            ),
            "solution": meta["custom"]["solution"].strip(),
            "severity": meta["custom"]["severity"],
        }
    ]


# --- broken METADATA ---

# Line 7 is "# METADATA"; line 16 is the rule head (30 for DUPLICATE appended).
VALID = """\
package sample

import rego.v1

_catalog := data.gate.catalog.sample

# METADATA
# title: Sample rule
# description: Fires when asked to.
# custom:
#   short_name: sample_code
#   failure_msg: "Sample %s"
#   solution: Do nothing.
#   severity: high
#   collections: [c]
deny contains result if {
	input.fire
	result := _catalog.sample_code
}
"""

DUPLICATE = """
# METADATA
# title: Same code again
# description: A second rule with the same code.
# custom:
#   short_name: sample_code
#   failure_msg: "Again %s"
#   solution: Do nothing.
#   severity: low
#   collections: [c]
deny contains result if {
	input.again
	result := _catalog.sample_code
}
"""

# kind -> ((old text, new text) applied to VALID, start of the error after the directory)
BROKEN = {
    "invalid-yaml": (
        ("# title: Sample rule", "# title: [unclosed"),
        "p.rego:7: METADATA is not valid YAML",
    ),
    "missing-title": (
        ("# title: Sample rule\n", ""),
        "p.rego:7: METADATA needs a non-empty 'title'",
    ),
    "empty-solution": (
        ("#   solution: Do nothing.", '#   solution: " "'),
        "p.rego:7: METADATA needs a non-empty 'solution'",
    ),
    "bad-severity": (
        ("severity: high", "severity: severe"),
        "p.rego:7: custom.severity must be one of critical, high, medium, low, info, got 'severe'",
    ),
    "code-not-snake-case": (
        ("short_name: sample_code", "short_name: Sample-Code"),
        "p.rego:7: custom.short_name must be snake_case, got 'Sample-Code'",
    ),
    "no-collections": (
        ("collections: [c]", "collections: []"),
        "p.rego:7: custom.collections must be a non-empty list of names",
    ),
    "custom-not-mapping": (
        ("# custom:\n", "# custom: [x]\n# other:\n"),
        "p.rego:7: METADATA 'custom' must be a mapping",
    ),
    "never-refers-to-code": (
        ("_catalog.sample_code", '{"code": "other"}'),
        "p.rego:16: rule annotated as 'sample_code' never refers to its own code",
    ),
    "code-defined-twice": (
        ("", DUPLICATE),
        "p.rego:30: reason code 'sample_code' is already defined at ",
    ),
    "no-package": (
        ("package sample", "# no package"),
        "p.rego:1: no package declaration",
    ),
}


def _module(tmp_path: Path, old: str, new: str) -> Path:
    root = tmp_path / "policies"
    root.mkdir()
    text = VALID + new if old == "" else VALID.replace(old, new, 1)
    assert text != VALID
    (root / "p.rego").write_text(text, encoding="utf-8")
    return root


def test_valid_module_builds_a_catalogue(tmp_path: Path) -> None:
    root = tmp_path / "policies"
    root.mkdir()
    (root / "p.rego").write_text(VALID, encoding="utf-8")

    meta = load_policies(root).catalog["sample"]["sample_code"]

    assert meta.title == "Sample rule"
    assert meta.rule == "deny"
    assert meta.collections == ("c",)
    assert re.fullmatch(r".*p\.rego:16", meta.location)


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_metadata_is_a_policy_error(kind: str, tmp_path: Path) -> None:
    (old, new), message = BROKEN[kind]
    root = _module(tmp_path, old, new)

    with pytest.raises(PolicyError) as caught:
        load_policies(root)

    text = str(caught.value)
    assert "\n" not in text
    assert re.match(r"\S*" + re.escape(message), text), text
    assert caught.value.exit_code == EXIT_INTERNAL


@pytest.mark.parametrize(
    "kind", ["invalid-yaml", "bad-severity", "code-defined-twice", "never-refers-to-code"]
)
@pytest.mark.parametrize("command", ["rules", "eval"])
def test_broken_metadata_exits_4(
    kind: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (old, new), message = BROKEN[kind]
    root = _module(tmp_path, old, new)
    args = ["--policy-dir", str(root)]
    if command == "eval":
        source = write_json(tmp_path / "input.json", good_input())
        args += ["--input", str(source), "--profile", "nim-promotion"]

    run = run_cli(capsys, command, *args)

    assert run.code == EXIT_INTERNAL
    assert run.out == ""
    assert len(run.err_lines) == 1
    assert run.err_lines[0].startswith("gate: error: ")
    assert message in run.err_lines[0]


def test_metadata_without_short_name_is_not_a_reason_code(tmp_path: Path) -> None:
    root = _module(tmp_path, "package sample", "# METADATA\n# title: The package\npackage sample")
    (root / "q.rego").write_text(
        "package sample\n\nimport rego.v1\n\n# METADATA\n# title: Helper\nhelper := true\n", encoding="utf-8"
    )

    assert list(load_policies(root).catalog["sample"]) == ["sample_code"]


def test_non_utf8_policy_file_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "policies"
    root.mkdir()
    (root / "p.rego").write_bytes(b"package p\n# caf\xe9\n")

    with pytest.raises(PolicyError, match=r"p\.rego: not UTF-8 text"):
        load_policies(root)


# --- bugs ---


def test_code_that_is_a_prefix_of_the_used_code_is_refused(tmp_path: Path) -> None:
    root = _module(tmp_path, "short_name: sample_code", "short_name: sample")

    with pytest.raises(
        PolicyError, match=r"p\.rego:16: rule annotated as 'sample' never refers to its own code"
    ):
        load_policies(root)


def test_code_with_trailing_newline_is_not_snake_case(tmp_path: Path) -> None:
    root = _module(tmp_path, "short_name: sample_code", 'short_name: "sample_code\\n"')

    with pytest.raises(PolicyError, match=r"p\.rego:7: custom\.short_name must be snake_case"):
        load_policies(root)
