"""Every YAML/JSON file gate reads from a user goes through one strict loader.

A key given twice, an alias bomb or nesting past the bound is one clear line naming the
file and exit 2, wherever the file is read: lock files, allowlists, profiles, policy
METADATA, gate check inputs. Each case runs gate as a real process on real files.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from tests.helpers import run_process, sha256_file

ALIAS_BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(9)
)


def _gate(*args: str) -> tuple[int, str, str]:
    run = run_process(sys.executable, "-m", "gate", *args)
    return run.code, run.out, run.err


def _model(tmp_path: Path) -> Path:
    path = tmp_path / "model.safetensors"
    save_file({"w": np.random.default_rng(5).standard_normal((8, 8)).astype("float32")}, str(path))
    return path


def _one_error_line(err: str, path: Path) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"gate: error: {path}: "), err
    return lines[0]


def test_a_lock_file_with_a_duplicated_sha256_is_refused(tmp_path: Path) -> None:
    """The reviewer reads the first sha256; plain safe_load kept the second, which matched."""
    model = _model(tmp_path)
    lock = tmp_path / "models.lock.yaml"
    lock.write_text(
        "version: 1\nmodels:\n  - name: tiny\n    filename: model.safetensors\n"
        f'    sha256: "{"0" * 64}"\n    sha256: "{sha256_file(model)}"\n'
    )
    code, out, err = _gate(
        "eval", "--artifact", str(model), "--lock", str(lock), "--profile", "standalone", "-o", "json"
    )
    assert code == 2, out
    assert out == ""
    assert "duplicate key 'sha256'" in _one_error_line(err, lock)
    code, _, err = _gate("check", str(lock))
    assert code == 2
    assert "duplicate key 'sha256'" in err


def test_an_allowlist_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    model = _model(tmp_path)
    allowlist = tmp_path / "sources.allowlist.yaml"
    allowlist.write_text(ALIAS_BOMB)
    started = time.monotonic()
    code, out, err = _gate(
        "eval", "--artifact", str(model), "--allowlist", str(allowlist), "--profile", "standalone"
    )
    assert time.monotonic() - started < 60
    assert code == 2, out
    assert "alias bomb" in _one_error_line(err, allowlist)


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ("name: again\n", "duplicate key 'name'"),
        (ALIAS_BOMB.replace("a:", "x_a:", 1), "alias bomb"),
    ],
)
def test_a_profile_with_a_duplicate_key_or_an_alias_bomb_is_refused(
    extra: str, problem: str, tmp_path: Path
) -> None:
    bundled = Path(__file__).resolve().parent.parent / "policy-profiles" / "standalone.yaml"
    profile = tmp_path / "mine.yaml"
    profile.write_text(bundled.read_text() + extra)
    code, out, err = _gate("eval", "--artifact", str(_model(tmp_path)), "--profile", str(profile))
    assert code == 2, out
    assert problem in _one_error_line(err, profile)


def test_a_policy_metadata_field_given_twice_is_refused(tmp_path: Path) -> None:
    policy = tmp_path / "policy" / "gate" / "artifact"
    policy.mkdir(parents=True)
    source = Path(__file__).resolve().parent.parent / "rego" / "gate"
    for path in source.rglob("*.rego"):
        target = tmp_path / "policy" / "gate" / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    rego = tmp_path / "policy" / "gate" / "artifact" / "artifact.rego"
    text = rego.read_text()
    twice = text.replace(
        "#   short_name: source_not_https\n", "#   short_name: source_not_https\n#   severity: low\n"
    )
    assert twice != text
    rego.write_text(twice)
    code, out, err = _gate(
        "eval", "--artifact", str(_model(tmp_path)), "--profile", "standalone",
        "--policy-dir", str(tmp_path / "policy"),
    )  # fmt: skip
    assert code == 4, out  # a broken policy is a PolicyError (exit 4), as before
    assert "artifact.rego:" in err
    assert "METADATA is not valid YAML" in err
    assert "duplicate key 'severity'" in err


def test_eval_without_a_profile_is_a_usage_error(tmp_path: Path) -> None:
    code, out, err = _gate("eval", "--artifact", str(_model(tmp_path)))
    assert code == 2, out
    assert "Missing option '-p' / '--profile'" in err
    assert "internal error" not in err
