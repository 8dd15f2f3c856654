"""Companion signatures beside the drop (OpenSSF model signing), and watchers without a signing key."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import BIN, ROOT
from tests.watch.conftest import Site, safetensors_bytes

REAL = ROOT / "fixtures" / "thirdparty" / "sigstore" / "model-signing-v1.1.0-sigstore"
SIGNER = "stefanb@us.ibm.com"
ISSUER = "https://sigstore.verify.ibm.com/oauth2"


def _appliance(site: Site) -> Path:
    """The appliance profile (signature required, signed manifests required) without external
    scanners or the smoke test, which this machine cannot run, and with the real signer accepted."""
    settings = yaml.safe_load((ROOT / "policy-profiles" / "appliance.yaml").read_text())
    settings["name"] = "appliance-watch"
    settings["artifact"]["scanners"]["run"] = []
    settings["artifact"]["behaviour"].update(required=False, run=False)
    settings["artifact"]["provenance"].update(identities=[SIGNER], issuers=[ISSUER])
    path = site.root / "appliance-watch.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def _run(site: Site, profile: Path, *extra: str) -> subprocess.CompletedProcess[bytes]:
    argv = [
        str(BIN / "gate"),
        "watch",
        str(site.quarantine),
        "--registry-dir",
        str(site.registry),
        "--profile",
        str(profile),
        "--audit-log",
        str(site.root / "audit.jsonl"),
        "--state-dir",
        str(site.root / "state"),
        "--settle",
        "0",
        "--once",
        *extra,
    ]
    return subprocess.run(argv, capture_output=True, timeout=300)


def _decisions(site: Site) -> dict[str, dict[str, Any]]:
    lines = (site.root / "audit.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    return {e["data"]["name"]: e["data"] for e in events if e["event"] == "decision"}


def test_a_real_model_signing_companion_is_verified_under_appliance(site: Site) -> None:
    assert (REAL / "model.sig").is_file(), f"{REAL}: the third-party fixture is missing"
    profile = _appliance(site)
    good = site.quarantine / "signed-model"
    shutil.copytree(REAL, good, ignore=shutil.ignore_patterns("model.sig"))
    shutil.copy(REAL / "model.sig", site.quarantine / "signed-model.sig")
    tampered = site.quarantine / "tampered-model"
    shutil.copytree(REAL, tampered, ignore=shutil.ignore_patterns("model.sig"))
    (tampered / "signme-1").write_bytes(b"changed\n")
    shutil.copy(REAL / "model.sig", site.quarantine / "tampered-model.sig")
    unsigned = site.quarantine / "unsigned-model"
    shutil.copytree(REAL, unsigned, ignore=shutil.ignore_patterns("model.sig"))

    result = _run(site, profile, "--key", str(site.key))

    assert result.returncode == 0, result.stderr.decode()
    decisions = _decisions(site)
    assert decisions["signed-model"]["stages"]["provenance"] == "PASS", decisions["signed-model"]
    assert not {"unsigned", "signature_invalid", "wrong_identity", "wrong_issuer"} & set(
        decisions["signed-model"]["reasons"]
    )
    assert "signature_invalid" in decisions["tampered-model"]["reasons"]
    assert "unsigned" in decisions["unsigned-model"]["reasons"]
    # The companions left the drop folder with their artifacts.
    assert sorted(p.name for p in site.quarantine.iterdir()) == []


def test_appliance_without_a_signing_key_refuses_to_start(site: Site) -> None:
    (site.quarantine / "model.safetensors").write_bytes(safetensors_bytes())
    result = _run(site, _appliance(site))
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr.decode()
    assert "requires signed provenance manifests" in lines[0]
    assert (site.quarantine / "model.safetensors").exists()


def test_standalone_without_a_signing_key_promotes_with_an_unsigned_manifest(site: Site) -> None:
    (site.quarantine / "model.safetensors").write_bytes(safetensors_bytes())
    result = _run(site, site.profile)
    assert result.returncode == 0, result.stderr.decode()
    manifest = json.loads((site.registry / "model.safetensors.provenance.json").read_text())
    assert manifest["integrity"]["manifest_signed"] is False
    assert not (site.registry / "model.safetensors.provenance.dsse.json").exists()
    assert (site.registry / "model.safetensors").read_bytes() == safetensors_bytes()


def test_a_key_signed_model_is_promoted_under_appliance_and_a_swapped_one_deleted(site: Site) -> None:
    import hashlib

    from model_signing import signing

    staging = site.root / "staging"
    staging.mkdir()
    data = safetensors_bytes(256)
    (staging / "model.safetensors").write_bytes(data)
    signing.Config().use_elliptic_key_signer(private_key=str(site.key)).sign(  # type: ignore[no-untyped-call]
        staging / "model.safetensors", staging / "model.safetensors.sig"
    )
    profile = _appliance(site)
    settings = yaml.safe_load(profile.read_text())
    settings["artifact"]["provenance"]["keys"] = [hashlib.sha256(site.pub.read_bytes()).hexdigest()]
    profile.write_text(yaml.safe_dump(settings))
    # The signature first, then the model (as the README says), then a second drop whose bytes
    # differ from what its signature states.
    shutil.copy(staging / "model.safetensors.sig", site.quarantine / "model.safetensors.sig")
    shutil.copy(staging / "model.safetensors", site.quarantine / "model.safetensors")
    shutil.copy(staging / "model.safetensors.sig", site.quarantine / "other.safetensors.sig")
    (site.quarantine / "other.safetensors").write_bytes(safetensors_bytes(257))

    result = _run(site, profile, "--key", str(site.key), "--public-key", str(site.pub))

    assert result.returncode == 0, result.stderr.decode()
    decisions = _decisions(site)
    assert decisions["model.safetensors"]["verdict"] == "promote", decisions["model.safetensors"]
    assert (site.registry / "model.safetensors").read_bytes() == data
    assert (site.registry / "model.safetensors.provenance.dsse.json").exists()
    assert "signature_invalid" in decisions["other.safetensors"]["reasons"]
    assert not (site.registry / "other.safetensors").exists()
    assert sorted(p.name for p in site.quarantine.iterdir()) == []
