"""Plain Sigstore bundles over a single file: offline production root, or --trusted-root."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import ROOT, run_cli

SIGSTORE = ROOT / "fixtures" / "thirdparty" / "sigstore"
WHEEL_SAN = "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2"
GH_ACTIONS = "https://token.actions.githubusercontent.com"


@pytest.fixture
def fixtures() -> Path:
    return SIGSTORE


def _provenance(capsys: pytest.CaptureFixture[str], path: Path, *args: str) -> dict:  # type: ignore[type-arg]
    run = run_cli(capsys, "collect", "artifact", str(path), "--profile", "standalone", *args)
    assert run.code == 0, run.err
    return json.loads(run.out)["evidence"]["provenance"]  # type: ignore[no-any-return]


def test_production_bundle_over_one_file(
    fixtures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = Path(shutil.copy(fixtures / "bundle_v3_github.whl", tmp_path))
    provenance = _provenance(capsys, wheel, "--signature", str(fixtures / "bundle_v3_github.whl.sigstore"))
    assert provenance["method"] == "sigstore-bundle"
    assert provenance["verified"] is True, provenance
    assert provenance["identity"] == WHEEL_SAN
    assert provenance["issuer"] == GH_ACTIONS


def test_bundle_for_other_bytes_is_invalid(
    fixtures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = Path(shutil.copy(fixtures / "bundle_v3.txt", tmp_path))
    provenance = _provenance(capsys, other, "--signature", str(fixtures / "bundle_v3_github.whl.sigstore"))
    assert provenance["verified"] is False
    assert "digest" in provenance["error"].lower() or provenance["error"]


def test_staging_bundle_needs_the_staging_root(
    fixtures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sigstore

    text = Path(shutil.copy(fixtures / "bundle_v3.txt", tmp_path))
    bundle = str(fixtures / "bundle_v3.txt.sigstore")
    assert _provenance(capsys, text, "--signature", bundle)["verified"] is False
    staging = next(Path(sigstore.__file__).parent.glob("_store/*sigstage*/trusted_root.json"))
    verified = _provenance(capsys, text, "--signature", bundle, "--trusted-root", str(staging))
    assert verified["verified"] is True, verified
    assert verified["identity"] == "william@yossarian.net"


def test_bundle_that_does_not_load_is_invalid(
    fixtures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = Path(shutil.copy(fixtures / "bundle_invalid_version.txt", tmp_path))
    provenance = _provenance(
        capsys, text, "--signature", str(fixtures / "bundle_invalid_version.txt.sigstore")
    )
    assert provenance["verified"] is False
    assert provenance["error"]


def test_signed_directory_needs_model_signing(
    fixtures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "dir"
    folder.mkdir()
    shutil.copy(fixtures / "bundle_v3_github.whl", folder)
    provenance = _provenance(capsys, folder, "--signature", str(fixtures / "bundle_v3_github.whl.sigstore"))
    assert provenance["verified"] is False
    assert "directory" in provenance["error"]
