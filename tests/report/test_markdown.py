"""docs/reason-codes.md is exactly what ``gate rules -o markdown`` generates from the policies."""

from __future__ import annotations

import pytest

from tests.helpers import ROOT, run_cli


def test_the_committed_reason_code_reference_is_the_generated_one(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "rules", "-o", "markdown")
    assert run.code == 0, run.err
    committed = (ROOT / "docs" / "reason-codes.md").read_text()
    assert committed == run.out, "docs/reason-codes.md is stale: run `make docs`"


def test_every_reason_code_has_its_own_entry_with_a_solution(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    entries = json.loads(run_cli(capsys, "rules", "-o", "json").out)
    text = (ROOT / "docs" / "reason-codes.md").read_text()
    sections = text.split("\n## ")[1:]
    for entry in entries:
        (section,) = [s for s in sections if s.startswith(f"`{entry['package']}`")]
        assert section.count(f"\n### `{entry['code']}`\n") == 1, entry
    assert text.count("What to do: ") == len(entries)
