"""gate eval --audit-log, gate audit verify/show/checkpoint/repair, gate replay: as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gate import schemas
from gate.decide import Decider
from gate.document import load_input
from gate.profile import load_profile
from tests.conftest import CONTAINER_FIXTURES, container_examples
from tests.helpers import BUNDLED_PROFILE, Run, run_cli


def _eval(capsys: pytest.CaptureFixture[str], log: Path, example: str, *extra: str) -> Run:
    source = CONTAINER_FIXTURES / f"{example}.input.json"
    return run_cli(
        capsys, "eval", "--input", str(source), "--profile", "nim-promotion", "--audit-log", str(log), *extra
    )


@pytest.fixture
def keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    run_cli(capsys, "keygen", "--out", str(tmp_path / "gate"))
    return tmp_path / "gate.key", tmp_path / "gate.pub"


@pytest.fixture
def recorded(tmp_path: Path, capsys: pytest.CaptureFixture[str], keys: tuple[Path, Path]) -> Path:
    """Every bundled container example decided once under nim-promotion, with attestations."""
    log = tmp_path / "log" / "audit.jsonl"
    for example in container_examples():
        attestation = tmp_path / f"{example}.intoto.jsonl"
        run = _eval(
            capsys, log, example, "--key", str(keys[0]), "--attest", str(attestation), "--actor", "ci-bot"
        )
        assert run.code in (0, 1, 3), run.err
    return log


def test_every_decision_is_recorded_with_its_input(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_cli(capsys, "audit", "show", str(recorded), "-o", "json")
    entries = json.loads(run.out)

    assert run.code == 0
    assert len(entries) == len(container_examples())
    for entry, example in zip(entries, container_examples(), strict=True):
        data = entry["data"]
        expected = json.loads((CONTAINER_FIXTURES / f"{example}.expected.json").read_text())
        assert entry["event"] == "decision"
        assert data["verdict"] == expected["verdict"]
        assert set(data["reasons"]) == set(expected["reasons"])
        assert data["actor"] == "ci-bot"
        assert data["policy_digest"].startswith("sha256:")
        assert data["attestation_digest"].startswith("sha256:")
        stored = recorded.parent / "inputs" / (data["input_digest"].removeprefix("sha256:") + ".json")
        assert stored.read_bytes() == (CONTAINER_FIXTURES / f"{example}.input.json").read_bytes()
        assert entry["subject_digest"].startswith("sha256:")
        assert schemas.problems("audit-entry", entry) == []


def test_attestation_digest_names_the_attestation_file(
    recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import hashlib

    entries = json.loads(
        run_cli(capsys, "audit", "show", str(recorded), "--verdict", "promote", "-o", "json").out
    )

    assert entries
    for entry in entries:
        path = Path(entry["data"]["attestation"])
        assert (
            entry["data"]["attestation_digest"] == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
        )


def test_verify_json_shape(
    recorded: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoint = run_cli(capsys, "audit", "checkpoint", str(recorded), "--key", str(keys[0]))
    run = run_cli(capsys, "audit", "verify", str(recorded), "--key", str(keys[1]), "-o", "json")
    report = json.loads(run.out)

    assert checkpoint.code == 0 and checkpoint.out.startswith("gate-audit/")
    assert run.code == 0
    assert {"valid", "entries", "files", "broken_at", "detail"} <= set(report)
    assert (report["valid"], report["entries"], report["files"], report["broken_at"]) == (
        True, len(container_examples()), 1, None,
    )  # fmt: skip


def test_verify_names_the_broken_entry(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = recorded.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"actor":"ci-bot"', b'"actor":"ci-bod"')
    recorded.write_bytes(b"".join(lines))

    run = run_cli(capsys, "audit", "verify", str(recorded))

    assert run.code == 1
    assert "NOT valid" in run.out
    assert "broken_at: 3" in run.out


def test_show_filters(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def count(*args: str) -> int:
        return len(json.loads(run_cli(capsys, "audit", "show", str(recorded), *args, "-o", "json").out))

    total = len(container_examples())
    blocks = sum(
        json.loads((CONTAINER_FIXTURES / f"{n}.expected.json").read_text())["verdict"] == "block"
        for n in container_examples()
    )
    assert count("--verdict", "block") == blocks
    assert count("--event", "decision") == total
    assert count("--event", "audit.repair") == 0
    assert count("--since", "1h") == total
    assert count("--until", "2000-01-01T00:00:00Z") == 0
    assert count("--subject", "sha256:0000") == 0
    first = json.loads(run_cli(capsys, "audit", "show", str(recorded), "-o", "json").out)[0]
    assert count("--subject", first["subject_digest"][:20]) >= 1
    text = run_cli(capsys, "audit", "show", str(recorded), "--verdict", "promote")
    assert text.out.splitlines()[0].split()[:4] == ["seq", "time", "event", "subject"]


def test_torn_log_refuses_eval_before_deciding_until_repaired(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with recorded.open("ab") as handle:
        handle.write(b'{"data":{"verdict":"prom')

    refused = _eval(capsys, recorded, "clean-runtime-promote")
    verify = run_cli(capsys, "audit", "verify", str(recorded), "-o", "json")
    repair = run_cli(capsys, "audit", "repair", str(recorded), "--actor", "ops")
    after = _eval(capsys, recorded, "clean-runtime-promote")

    assert refused.code == 2 and refused.out == ""
    assert len(refused.err_lines) == 1 and "gate audit repair" in refused.err
    assert json.loads(verify.out)["torn"] is True
    assert repair.code == 0 and "removed an incomplete last line (24 bytes" in repair.out
    assert after.code == 0
    events = [
        e["event"] for e in json.loads(run_cli(capsys, "audit", "show", str(recorded), "-o", "json").out)
    ]
    assert events[-2:] == ["audit.repair", "decision"]
    assert run_cli(capsys, "audit", "verify", str(recorded)).code == 0
    assert "nothing to repair" in run_cli(capsys, "audit", "repair", str(recorded)).out


def test_missing_log_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "audit", "verify", str(tmp_path / "none.jsonl"))

    assert run.code == 2
    assert run.err_lines == [f"gate: error: {tmp_path / 'none.jsonl'}: no audit log here"]


# --- replay ---


def _strict_profile(tmp_path: Path) -> Path:
    text = BUNDLED_PROFILE.read_text()
    assert "attestation_ttl_hours: 24" in text
    path = tmp_path / "nim-promotion-strict.yaml"
    path.write_text(
        text.replace("name: nim-promotion", "name: nim-promotion-strict").replace(
            "attestation_ttl_hours: 24", "attestation_ttl_hours: 1"
        )
    )
    return path


def _expected_changes(profile: Path) -> dict[str, tuple[str, str]]:
    """example -> (old verdict, new verdict) for every example the candidate decides differently."""
    current, candidate = (
        Decider(load_profile("nim-promotion"), "regorus"),
        Decider(load_profile(str(profile)), "regorus"),
    )
    changes = {}
    for example in container_examples():
        document = load_input(str(CONTAINER_FIXTURES / f"{example}.input.json"))
        old, new = current.decide(document), candidate.decide(document)
        if old["verdict"] != new["verdict"] or set(old["reasons"]) != set(new["reasons"]):
            changes[example] = (old["verdict"], new["verdict"])
    return changes


def test_replay_under_a_stricter_profile_reports_exactly_the_decisions_that_change(
    recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    strict = _strict_profile(tmp_path)
    expected = _expected_changes(strict)
    by_seq = dict(enumerate(container_examples(), 1))

    run = run_cli(capsys, "replay", "--audit-log", str(recorded), "--profile", str(strict), "-o", "json")
    report = json.loads(run.out)

    assert run.code == 0, run.err
    assert {by_seq[c["seq"]]: (c["old"], c["new"]) for c in report["changes"]} == expected
    # The evidence in the promoting example is 3.5 h old: a 1 h TTL blocks it as stale.
    assert expected["clean-runtime-promote"] == ("promote", "block")
    change = next(c for c in report["changes"] if by_seq[c["seq"]] == "clean-runtime-promote")
    assert change["reasons_added"] == ["stale_attestation"]
    assert change["reasons_removed"] == ["all_gates_passed"]
    assert report["replayed"] == len(container_examples())
    assert report["changed"] == len(expected)
    assert report["unchanged"] == len(container_examples()) - len(expected)
    assert report["not_replayable"] == 0
    assert 0 < len(expected) < len(container_examples())


def test_replay_text_and_fail_on_change(
    recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    strict = _strict_profile(tmp_path)

    text = run_cli(capsys, "replay", "--audit-log", str(recorded), "--profile", str(strict))
    gated = run_cli(
        capsys, "replay", "--audit-log", str(recorded), "--profile", str(strict), "--fail-on-change"
    )
    same = run_cli(
        capsys, "replay", "--audit-log", str(recorded), "--profile", "nim-promotion", "--fail-on-change"
    )

    assert text.code == 0
    assert "promote → block  +stale_attestation -all_gates_passed" in text.out
    assert text.out.strip().splitlines()[-1].startswith("totals: 17 replayed, ")
    assert gated.code == 1
    assert same.code == 0
    assert "0 changed, 17 unchanged" in same.out


def test_replay_since_and_opa(recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    strict = _strict_profile(tmp_path)

    later = run_cli(capsys, "replay", "--audit-log", str(recorded), "--profile", str(strict), "--since",
                    "2999-01-01T00:00:00Z", "-o", "json")  # fmt: skip
    opa = run_cli(capsys, "replay", "--audit-log", str(recorded), "--profile", str(strict), "--engine", "opa",
                  "-o", "json")  # fmt: skip
    regorus = run_cli(capsys, "replay", "--audit-log", str(recorded), "--profile", str(strict), "-o", "json")

    assert json.loads(later.out)["replayed"] == 0
    assert json.loads(opa.out)["changes"] == json.loads(regorus.out)["changes"]


def test_replay_refuses_a_log_that_does_not_verify(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = recorded.read_bytes().splitlines(keepends=True)
    recorded.write_bytes(b"".join(lines[:3] + lines[4:]))

    run = run_cli(capsys, "replay", "--audit-log", str(recorded), "--profile", "nim-promotion")

    assert run.code == 2
    assert "does not verify, not replayed" in run.err


def test_a_missing_input_is_reported_not_replayable(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = sorted((recorded.parent / "inputs").iterdir())
    inputs[0].unlink()

    run = run_cli(capsys, "replay", "--audit-log", str(recorded), "--profile", "nim-promotion", "-o", "json")
    report = json.loads(run.out)

    assert run.code == 0
    assert report["not_replayable"] >= 1
    assert "cannot read" in report["errors"][0]["detail"]


def test_a_checkpoint_kept_elsewhere_catches_a_cut_of_log_and_checkpoints(
    recorded: Path, keys: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    note = tmp_path / "shipped-checkpoint.txt"
    note.write_text(run_cli(capsys, "audit", "checkpoint", str(recorded), "--key", str(keys[0])).out)
    # Someone with write access cuts the last 3 entries and deletes the local checkpoints.
    lines = recorded.read_bytes().splitlines(keepends=True)
    recorded.write_bytes(b"".join(lines[:-3]))
    recorded.with_name(recorded.name + ".checkpoints").unlink()

    local = run_cli(capsys, "audit", "verify", str(recorded), "--key", str(keys[1]), "-o", "json")
    shipped = run_cli(
        capsys,
        "audit",
        "verify",
        str(recorded),
        "--key",
        str(keys[1]),
        "--checkpoint",
        str(note),
        "-o",
        "json",
    )

    assert json.loads(local.out)["valid"] is True  # nothing local is left to tell
    report = json.loads(shipped.out)
    assert shipped.code == 1
    assert report["broken_at"] == len(lines) - 2
    assert f"{note}: the checkpoint signed at" in report["detail"]
    assert "were cut" in report["detail"]


def test_replay_with_a_candidate_policy_dir(
    recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    from tests.helpers import REGO

    candidate = tmp_path / "rego-candidate"
    shutil.copytree(REGO, candidate)

    run = run_cli(
        capsys, "replay", "--audit-log", str(recorded), "--profile", "nim-promotion",
        "--policy-dir", str(candidate), "-o", "json",
    )  # fmt: skip
    recorded_digest = json.loads(run_cli(capsys, "audit", "show", str(recorded), "-o", "json").out)[0]

    report = json.loads(run.out)
    assert run.code == 0, run.err
    assert report["changed"] == 0 and report["replayed"] == len(container_examples())
    # The same Rego text in another directory is the same policy.
    assert report["policy_digest"] == recorded_digest["data"]["policy_digest"]
