"""gate/document.py: untrusted input documents are bounded, strict and schema-checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import gate.document
from gate.document import MAX_DEPTH, MAX_INPUT_BYTES, InvalidDocument, load_input
from gate.errors import EXIT_BLOCK, EXIT_USAGE, InputError
from tests.helpers import Run, good_input, run_cli, write_json


def _eval(capsys: pytest.CaptureFixture[str], path: Path, *extra: str) -> Run:
    return run_cli(capsys, "eval", "--input", str(path), "--profile", "nim-promotion", *extra)


def _assert_rejected(run: Run, path: Path, count: int = 1) -> list[str]:
    """Exit 2, nothing on stdout, *count* stderr lines each naming the file."""
    assert run.code == EXIT_USAGE
    assert run.out == ""
    assert len(run.err_lines) == count, run.err
    prefix = f"gate: error: {path}: "
    for line in run.err_lines:
        assert line.startswith(prefix), line
    return [line[len(prefix) :] for line in run.err_lines]


def _write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --- schema problems: one line per problem, each with its JSON pointer ---


def test_bad_date_time_names_its_pointer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = good_input()
    doc["gate"]["now"] = "yesterday"
    path = write_json(tmp_path / "bad.json", doc)

    problems = _assert_rejected(_eval(capsys, path), path)

    assert problems == ["/gate/now: 'yesterday' is not a 'date-time'"]


def test_bad_enum_names_its_pointer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = good_input()
    doc["subject"]["kind"] = "docker"
    path = write_json(tmp_path / "bad.json", doc)

    problems = _assert_rejected(_eval(capsys, path), path)

    kinds = "['oci-image', 'model-file', 'model-dir', 'skill', 'model-version', 'skill-startup']"
    assert problems == [f"/subject/kind: 'docker' is not one of {kinds}"]


def test_every_problem_gets_its_own_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = good_input()
    doc["gate"]["now"] = "yesterday"
    doc["subject"]["kind"] = "docker"
    doc["surprise"] = True
    del doc["evidence"]["sbom"]["format"]
    doc["evidence"]["sbom"]["verified"] = "yes"
    path = write_json(tmp_path / "bad.json", doc)

    problems = _assert_rejected(_eval(capsys, path), path, count=4)

    pointers = [p.split(":", 1)[0] for p in problems]
    assert pointers == ["/", "/evidence/sbom/verified", "/gate/now", "/subject/kind"]
    assert "'surprise' was unexpected" in problems[0]


def test_unknown_top_level_key_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = good_input()
    doc["evidnce"] = {}
    path = write_json(tmp_path / "typo.json", doc)

    problems = _assert_rejected(_eval(capsys, path), path)

    assert problems == ["/: Additional properties are not allowed ('evidnce' was unexpected)"]


def test_missing_gate_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = good_input()
    del doc["gate"]
    path = write_json(tmp_path / "nogate.json", doc)

    problems = _assert_rejected(_eval(capsys, path), path)

    assert problems == ["/: 'gate' is a required property"]


def test_array_items_are_named_by_index(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = good_input()
    doc["collection"] = {"errors": [{"collector": "sbom", "message": "x"}, {"collector": "sbom"}]}
    path = write_json(tmp_path / "bad.json", doc)

    problems = _assert_rejected(_eval(capsys, path), path)

    assert problems == ["/collection/errors/1: 'message' is a required property"]


def test_invalid_document_error_carries_the_problems(tmp_path: Path) -> None:
    path = write_json(tmp_path / "bad.json", {"gate": {"version": "2", "now": "2026-01-01T00:00:00Z"}})

    with pytest.raises(InvalidDocument) as caught:
        load_input(str(path))

    assert caught.value.exit_code == EXIT_USAGE
    assert caught.value.lines() == [
        f"{path}: /: 'subject' is a required property",
        f"{path}: /gate/version: '1' was expected",
    ]


def test_valid_document_loads_with_its_text(tmp_path: Path) -> None:
    path = write_json(tmp_path / "good.json", good_input())

    document = load_input(str(path))

    assert document.value == good_input()
    assert document.text == path.read_text(encoding="utf-8")


# --- parsing: strict JSON ---


def test_not_json_names_line_and_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write_bytes(tmp_path / "broken.json", b'{"gate": {\n  "version": "1",,\n}')

    problems = _assert_rejected(_eval(capsys, path), path)

    assert problems == [
        "not valid JSON: Expecting property name enclosed in double quotes at line 2 column 18"
    ]


def test_empty_file_is_not_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write_bytes(tmp_path / "empty.json", b"")

    problems = _assert_rejected(_eval(capsys, path), path)

    assert problems[0].startswith("not valid JSON: Expecting value at line 1 column 1")


def test_duplicate_keys_are_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = json.dumps(good_input())
    # A second "mode" after the first: parsers disagree on which one wins.
    text = text.replace('"mode": "runtime"', '"mode": "static", "mode": "runtime"')
    path = _write_bytes(tmp_path / "dup.json", text.encode())

    problems = _assert_rejected(_eval(capsys, path), path)

    assert problems == ["not valid JSON: duplicate key 'mode'"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_rejected(
    constant: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = json.dumps(good_input()).replace('"age_hours": 2', f'"age_hours": {constant}')
    path = _write_bytes(tmp_path / "nan.json", text.encode())

    problems = _assert_rejected(_eval(capsys, path), path)

    assert problems == [f"not valid JSON: {constant} is not valid JSON"]


def _nest(levels: int) -> Any:
    value: Any = []
    for _ in range(levels - 1):
        value = [value]
    return value


def test_nesting_deeper_than_the_limit_is_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = good_input()
    # evidence.attestation.age_hours takes any JSON value: root, evidence, attestation = 3 levels.
    doc["evidence"]["attestation"]["age_hours"] = _nest(MAX_DEPTH - 3 + 1)
    path = write_json(tmp_path / "deep.json", doc)

    problems = _assert_rejected(_eval(capsys, path), path)

    assert problems == [f"nested deeper than {MAX_DEPTH} levels"]


def test_nesting_at_the_limit_is_evaluated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = good_input()
    doc["evidence"]["attestation"]["age_hours"] = _nest(MAX_DEPTH - 3)
    path = write_json(tmp_path / "deep.json", doc)

    run = _eval(capsys, path, "-o", "json")

    assert run.code == EXIT_BLOCK
    assert json.loads(run.out)["reasons"] == ["malformed_attestation_age"]


def test_nesting_that_exhausts_the_parser_is_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write_bytes(tmp_path / "bomb.json", b"[" * 200_000 + b"]" * 200_000)

    problems = _assert_rejected(_eval(capsys, path), path)

    assert problems == [f"nested deeper than {MAX_DEPTH} levels"]


def test_non_utf8_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = json.dumps(good_input()).encode("latin-1")
    data = text.replace(b'"operator": {', b'"operator": {"name": "J\xf6rg", ', 1)
    path = _write_bytes(tmp_path / "latin1.json", data)

    problems = _assert_rejected(_eval(capsys, path), path)

    assert problems == [f"not UTF-8 (byte {data.index(0xF6)})"]


def test_utf8_text_is_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = good_input()
    doc["operator"]["name"] = "Jörg 🚀"
    path = _write_bytes(tmp_path / "utf8.json", json.dumps(doc, ensure_ascii=False).encode("utf-8"))

    assert _eval(capsys, path).code == 0


# --- size limit and unreadable files ---


def test_file_over_the_size_limit_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A sparse file: one byte over the real limit without writing 64 MB.
    path = tmp_path / "huge.json"
    with path.open("wb") as handle:
        handle.truncate(MAX_INPUT_BYTES + 1)

    problems = _assert_rejected(_eval(capsys, path), path)

    assert problems == [f"larger than the limit of {MAX_INPUT_BYTES} bytes"]


def test_read_bytes_accepts_exactly_the_limit(tmp_path: Path) -> None:
    path = _write_bytes(tmp_path / "ten.json", b"0123456789")

    assert gate.document.read_bytes(str(path), limit=10) == b"0123456789"
    with pytest.raises(InputError, match=r"ten\.json: larger than the limit of 9 bytes"):
        gate.document.read_bytes(str(path), limit=9)


def test_size_limit_follows_the_module_constant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(gate.document, "MAX_INPUT_BYTES", 100)
    path = write_json(tmp_path / "good.json", good_input())

    problems = _assert_rejected(_eval(capsys, path), path)

    assert problems == ["larger than the limit of 100 bytes"]


def test_missing_file_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nowhere.json"

    problems = _assert_rejected(_eval(capsys, path), path)

    assert problems == ["cannot read: No such file or directory"]


def test_directory_is_unreadable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    problems = _assert_rejected(_eval(capsys, tmp_path), tmp_path)

    assert problems[0].startswith("cannot read:")


# --- values the engines cannot represent ---


@pytest.mark.parametrize(
    "number",
    ["1e400", "-1e400", "1" + "0" * 400, "1" + "0" * 5000],
    ids=["1e400", "-1e400", "401-digit-int", "5001-digit-int"],
)
@pytest.mark.parametrize("engine", ["regorus", "opa"])
def test_numbers_out_of_range_are_rejected_as_input_errors(
    number: str, engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = json.dumps(good_input()).replace('"age_hours": 2', f'"age_hours": {number}')
    path = _write_bytes(tmp_path / "range.json", text.encode())

    problems = _assert_rejected(_eval(capsys, path, "--engine", engine), path)

    assert problems[0].startswith("not valid JSON")


@pytest.mark.parametrize("engine", ["regorus", "opa"])
def test_lone_surrogate_escape_is_rejected_as_input_error(
    engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = json.dumps(good_input()).replace('"0123456789abcdef"', '"\\ud800 0123456789abcdef"')
    path = _write_bytes(tmp_path / "surrogate.json", text.encode())

    problems = _assert_rejected(_eval(capsys, path, "--engine", engine), path)

    assert len(problems) == 1
