"""gate/profile.py: profiles are validated, hashed over their bytes, and change decisions."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from gate.errors import EXIT_BLOCK, EXIT_PROMOTE, EXIT_USAGE, InputError
from gate.policy import load_policies
from gate.profile import check_against_policies, load_profile
from gate.resources import profiles_dir, rego_dir
from tests.helpers import BUNDLED_PROFILE, ENGINES, Run, good_input, run_cli, sha256_file, write_json

BUNDLED_TEXT = BUNDLED_PROFILE.read_text(encoding="utf-8")


def _profile(tmp_path: Path, text: str, name: str = "custom.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _variant(tmp_path: Path, old: str, new: str, name: str = "custom.yaml") -> Path:
    assert old in BUNDLED_TEXT
    return _profile(tmp_path, BUNDLED_TEXT.replace(old, new), name)


def _eval(capsys: pytest.CaptureFixture[str], tmp_path: Path, profile: str, *extra: str) -> Run:
    source = write_json(tmp_path / "input.json", good_input())
    return run_cli(capsys, "eval", "--input", str(source), "--profile", profile, *extra)


def _assert_one_error(run: Run, path: Path) -> str:
    """Exit 2, nothing on stdout, one stderr line naming the profile file."""
    assert run.code == EXIT_USAGE
    assert run.out == ""
    assert len(run.err_lines) == 1, run.err
    prefix = f"gate: error: {path}: "
    assert run.err_lines[0].startswith(prefix), run.err
    return run.err_lines[0][len(prefix) :]


# --- the bundled profile ---


def test_bundled_profile_loads_by_name() -> None:
    profile = load_profile("nim-promotion")

    assert profile.name == "nim-promotion"
    assert Path(profile.path) == profiles_dir() / "nim-promotion.yaml"
    assert profile.sha256 == hashlib.sha256(BUNDLED_PROFILE.read_bytes()).hexdigest()
    assert profile.settings["policy"] == "container"
    assert profile.settings["container"]["registries"] == ["nvcr.io/"]


def test_bundled_profile_passes_the_policy_check() -> None:
    check_against_policies(load_profile("nim-promotion"), load_policies(rego_dir()))


def test_config_is_what_rego_sees() -> None:
    config = load_profile("nim-promotion").config()

    assert config == {
        "policy": "container",
        "collections": ["nim-promotion"],
        "exclude": [],
        "container": {
            "registries": ["nvcr.io/"],
            "attestation_ttl_hours": 24,
            "egress": [],
            "signed_identity": "matchRepository",
        },
        "profile": {"name": "nim-promotion", "sha256": sha256_file(BUNDLED_PROFILE)},
    }


def test_profile_by_path_is_hashed_over_its_own_bytes(tmp_path: Path) -> None:
    path = _profile(tmp_path, BUNDLED_TEXT + "# a comment changes the hash\n")

    profile = load_profile(str(path))

    assert profile.name == "nim-promotion"
    assert profile.sha256 == sha256_file(path)
    assert profile.sha256 != sha256_file(BUNDLED_PROFILE)


# --- invalid profiles: exit 2, one line naming the file ---


def test_registry_prefix_must_end_in_slash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _variant(tmp_path, 'registries: ["nvcr.io/"]', 'registries: ["nvcr.io"]')

    message = _assert_one_error(_eval(capsys, tmp_path, str(path)), path)

    assert message.startswith("invalid profile: /container/registries/0: 'nvcr.io' does not match")


def test_unknown_key_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _variant(tmp_path, "exclude: []", "exclude: []\nexculde: [unsigned]")

    message = _assert_one_error(_eval(capsys, tmp_path, str(path)), path)

    assert message == "invalid profile: /: Additional properties are not allowed ('exculde' was unexpected)"


def test_unknown_container_setting_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _variant(tmp_path, "  attestation_ttl_hours: 24", "  attestation_ttl_hours: 24\n  ttl: 1")

    message = _assert_one_error(_eval(capsys, tmp_path, str(path)), path)

    assert "/container: Additional properties are not allowed ('ttl' was unexpected)" in message


def test_several_problems_stay_on_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _variant(tmp_path, "apiVersion: gate/v1", "apiVersion: gate/v2\nsurprise: 1")

    message = _assert_one_error(_eval(capsys, tmp_path, str(path)), path)

    assert "'surprise' was unexpected" in message
    assert "/apiVersion: 'gate/v1' was expected" in message


def test_bad_yaml_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _variant(tmp_path, "collections: [nim-promotion]", "collections: [nim-promotion\nexclude: {")

    message = _assert_one_error(_eval(capsys, tmp_path, str(path)), path)

    assert message.startswith("not valid YAML:")


def test_yaml_that_is_not_a_mapping_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _profile(tmp_path, "- just\n- a list\n")

    message = _assert_one_error(_eval(capsys, tmp_path, str(path)), path)

    assert message == "a profile must be a YAML mapping"


def test_missing_profile_file_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "absent.yaml"

    message = _assert_one_error(_eval(capsys, tmp_path, str(path)), path)

    assert message.startswith("cannot read:")


def test_unknown_profile_name_lists_the_bundled_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _eval(capsys, tmp_path, "nim-promotoin")

    assert run.code == EXIT_USAGE
    assert run.out == ""
    bundled = ", ".join(sorted(p.stem for p in profiles_dir().glob("*.yaml")))
    assert run.err_lines == [
        f"gate: error: no profile named 'nim-promotoin' (bundled profiles: {bundled}); "
        "give a path to use your own"
    ]
    assert "nim-promotion" in bundled


def test_collection_that_selects_no_rule_is_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _variant(tmp_path, "collections: [nim-promotion]", "collections: [nim-promotion, nim-promoiton]")

    message = _assert_one_error(_eval(capsys, tmp_path, str(path)), path)

    assert message == (
        "collection 'nim-promoiton' selects no rule of policy 'container' (known: nim-promotion)"
    )


def test_exclude_of_unknown_code_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _variant(tmp_path, "exclude: []", "exclude: [missing_modelcard]")

    message = _assert_one_error(_eval(capsys, tmp_path, str(path)), path)

    assert message == "exclude names unknown reason code 'missing_modelcard'"


def test_policy_check_raises_input_error(tmp_path: Path) -> None:
    path = _variant(tmp_path, "exclude: []", "exclude: [nope]")

    with pytest.raises(InputError, match=r"custom\.yaml: exclude names unknown reason code 'nope'"):
        check_against_policies(load_profile(str(path)), load_policies(rego_dir()))


# --- a profile changes the decision and its recorded sha256 ---


@pytest.mark.parametrize("engine", ENGINES)
def test_excluding_a_rule_changes_the_decision(
    engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = good_input()
    del doc["evidence"]["model_card"]
    source = write_json(tmp_path / "no-card.json", doc)
    custom = _variant(tmp_path, "exclude: []", "exclude: [missing_model_card]")

    runs = {
        profile: run_cli(capsys, "eval", "-i", str(source), "-p", profile, "-o", "json", "--engine", engine)
        for profile in ("nim-promotion", str(custom))
    }

    bundled, changed = runs["nim-promotion"], runs[str(custom)]
    assert bundled.code == EXIT_BLOCK
    assert json.loads(bundled.out)["reasons"] == ["missing_model_card"]
    assert json.loads(bundled.out)["profile"]["sha256"] == sha256_file(BUNDLED_PROFILE)
    assert changed.code == EXIT_PROMOTE
    decision = json.loads(changed.out)
    assert decision["verdict"] == "promote"
    assert decision["reasons"] == ["all_gates_passed"]
    assert decision["profile"] == {"name": "nim-promotion", "sha256": sha256_file(custom)}


def test_profile_ttl_setting_reaches_the_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    custom = _variant(tmp_path, "attestation_ttl_hours: 24", "attestation_ttl_hours: 1")

    run = _eval(capsys, tmp_path, str(custom), "-o", "json")

    assert run.code == EXIT_BLOCK
    assert json.loads(run.out)["reasons"] == ["stale_attestation"]


def test_profile_name_is_recorded_from_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    custom = _variant(tmp_path, "name: nim-promotion", "name: nim-staging", name="whatever.yml")

    run = _eval(capsys, tmp_path, str(custom), "-o", "json")

    assert run.code == EXIT_PROMOTE
    assert json.loads(run.out)["profile"] == {"name": "nim-staging", "sha256": sha256_file(custom)}


# --- bugs ---


@pytest.mark.parametrize("engine", ENGINES)
def test_nan_ttl_is_an_invalid_profile(
    engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    custom = _variant(tmp_path, "attestation_ttl_hours: 24", "attestation_ttl_hours: .nan")

    message = _assert_one_error(_eval(capsys, tmp_path, str(custom), "--engine", engine), custom)

    assert message == "nan is not a JSON number"  # the strict loader refuses it before the schema


def test_duplicate_profile_keys_are_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A reviewer reading the top of the file sees exclude: []; the later key wins.
    custom = _profile(tmp_path, BUNDLED_TEXT + "exclude: [missing_model_card]\n")
    doc = good_input()
    del doc["evidence"]["model_card"]
    source = write_json(tmp_path / "no-card.json", doc)

    run = run_cli(capsys, "eval", "-i", str(source), "-p", str(custom))

    _assert_one_error(run, custom)
