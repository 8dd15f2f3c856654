"""``gate collect container`` and ``gate eval --image`` end to end, against a real registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gate import schemas
from tests.helpers import run_cli
from tests.registry import RegistryServer, Seeded

PROD = "sha256:" + "2" * 64
IDENTITY = "https://github.com/nvidia/nim-builder/.github/workflows/release.yml@refs/tags/v1.5.0"
ISSUER = "https://token.actions.githubusercontent.com"
ROOT = Path(__file__).resolve().parent.parent


def profile_for(tmp_path: Path, host: str) -> str:
    text = (ROOT / "policy-profiles" / "nim-promotion.yaml").read_text()
    path = tmp_path / "local.yaml"
    path.write_text(text.replace('registries: ["nvcr.io/"]', f'registries: ["{host}/"]'))
    return str(path)


def options(pin: str) -> list[str]:
    return ["--pin", pin, "--prod-digest", PROD, "--identity", IDENTITY, "--issuer", ISSUER]


def test_collect_writes_the_document_atomically(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], plain_registry: RegistryServer, seeded: Seeded
) -> None:
    out = tmp_path / "input.json"
    ref = f"{plain_registry.host}/nim/demo:1.0"
    profile = profile_for(tmp_path, plain_registry.host)

    run = run_cli(
        capsys,
        "collect",
        "container",
        ref,
        *options(seeded.image),
        "--mode",
        "runtime",
        "--profile",
        profile,
        "-o",
        str(out),
    )

    assert run.code == 0, run.err
    assert run.out == ""
    document = json.loads(out.read_text())
    assert schemas.problems("input", document) == []
    assert document["evidence"]["registry"]["resolved_digest"] == seeded.image
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.json", "local.yaml"]


def test_static_collect_prints_to_stdout_and_contacts_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], plain_registry: RegistryServer
) -> None:
    ref = f"{plain_registry.host}/nim/demo:1.0"
    run = run_cli(
        capsys,
        "collect",
        "container",
        ref,
        *options(PROD),
        "--profile",
        profile_for(tmp_path, plain_registry.host),
    )

    assert run.code == 0, run.err
    document = json.loads(run.out)
    assert document["gate"]["mode"] == "static"
    assert document["collection"]["egress_hosts_contacted"] == []


def test_eval_image_collects_decides_and_saves_a_replayable_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], plain_registry: RegistryServer, seeded: Seeded
) -> None:
    saved = tmp_path / "saved.json"
    ref = f"{plain_registry.host}/nim/demo:1.0"
    profile = profile_for(tmp_path, plain_registry.host)

    live = run_cli(
        capsys,
        "eval",
        "--image",
        ref,
        *options(seeded.image),
        "--mode",
        "runtime",
        "--profile",
        profile,
        "--save-input",
        str(saved),
        "-o",
        "json",
    )
    replay = run_cli(capsys, "eval", "--input", str(saved), "--profile", profile, "-o", "json")

    assert live.code == 1, live.err  # no verified signature or SBOM evidence here: block
    decision = json.loads(live.out)
    assert decision["verdict"] == "block"
    assert "digest_drift" not in [r["code"] for r in decision["results"]]
    assert json.loads(replay.out)["verdict"] == "block"
    assert replay.code == live.code


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give exactly one of --input FILE, --artifact PATH, --image REF and --skill PATH"),
        (["--input", "x.json", "--image", "nvcr.io/a/b:1"], "give exactly one of --input FILE"),
        (["--input", "x.json", "--pin", PROD], "--pin: only with --artifact or --image, not with --input"),
        (["--input", "x.json", "--save-input", "y.json"], "--save-input: only with --artifact or --image"),
        (["--artifact", "x.bin", "--mode", "runtime"], "--mode: only with --image"),
        (["--image", "nvcr.io/a/b:1", "--lock", "l.yaml"], "--lock: only with --artifact"),
        (["--image", "nvcr.io/Bad/ref:1"], "repository component 'Bad'"),
    ],
)
def test_eval_subject_usage_errors(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    run = run_cli(capsys, "eval", *args, "--profile", "nim-promotion")
    assert run.code == 2
    assert message in run.err


def test_collect_help_lists_the_container_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "collect", "--help")
    assert run.code == 0
    assert "container" in run.out
