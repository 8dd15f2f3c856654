"""Signed images in a real registry, collected and decided on both engines.

- a cosign signature made for one repository, copied with its image into
  another, is refused there (signedIdentity, item 12);
- an image signed with a cosign key, verified with only ``--cosign-key``, needs
  no expected identity or issuer (item 14);
- static mode with report files is a documentation-only manual review, not a
  block on evidence it never collected (item 17).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from gate import schemas
from gate.decide import Decider
from gate.engine.interface import JsonDocument
from gate.evidence.container import ContainerRequest, collect
from gate.evidence.interface import Collection
from gate.evidence.oci.push import PushingClient
from gate.profile import Profile, load_profile
from tests.evidence.helpers import ENGINES, THIRDPARTY, public_pem
from tests.registry import COSIGN_SIG_TYPE, LAYER_TYPE, RegistryServer, Seeded, signer, simple_signing_payload

PROD = "sha256:" + "2" * 64
GHA_SAN = "https://github.com/nvidia/nim-builder/.github/workflows/release.yml@refs/tags/v1.5.0"
GHA = "https://token.actions.githubusercontent.com"


def _profile(tmp_path: Path, host: str, extra: str = "") -> Profile:
    text = (Path(__file__).resolve().parents[2] / "policy-profiles" / "nim-promotion.yaml").read_text()
    text = text.replace('registries: ["nvcr.io/"]', f'registries: ["{host}/"]')
    if extra.startswith("  signed_identity:"):
        text, extra = text.replace("  signed_identity: matchRepository\n", extra), ""
    path = tmp_path / "local.yaml"
    path.write_text(text.replace("name: nim-promotion", "name: local-registry") + extra)
    return load_profile(str(path))


def _decide(profile: Profile, document: dict[str, Any]) -> dict[str, Any]:
    assert schemas.problems("input", document) == []
    results = {name: Decider(profile, name).decide(JsonDocument.of(document)) for name in ENGINES}
    assert results["regorus"] == results["opa"]
    return results["regorus"]


def _key_file(tmp_path: Path, key: Any) -> Path:
    path = tmp_path / "cosign.pub"
    path.write_bytes(public_pem(key))
    return path


def _push_signed(host: str, repository: str, signed_for: str, key: Any) -> str:
    """An image in *repository* with a ``.sig`` layer whose payload claims *signed_for*."""
    with PushingClient(host, Collection(runtime=True)) as client:
        image, _ = client.push_image(
            repository,
            "1.0",
            config=b'{"architecture":"amd64","os":"linux"}',
            layers=[(b"\x1f\x8b" + b"x" * 32, LAYER_TYPE)],
        )
        payload = simple_signing_payload(signed_for, image)
        client.push_image(
            repository,
            f"sha256-{image.split(':', 1)[1]}.sig",
            config=b"{}",
            layers=[(payload, COSIGN_SIG_TYPE)],
            layer_annotations=[
                {"dev.cosignproject.cosign/signature": base64.b64encode(signer(key)(payload)).decode()}
            ],
        )
    return image


def _collect(profile: Profile, ref: str, pin: str, **values: Any) -> dict[str, Any]:
    request = ContainerRequest(ref=ref, pin=pin, prod_digest=PROD, mode="runtime", **values)
    return collect(request, profile.name, profile.sha256, profile.settings, env={}).document


# ------------------------------------------------------------ item 12: signedIdentity


def test_a_signature_copied_to_another_repository_is_refused(
    tmp_path: Path, plain_registry: RegistryServer, cosign_key: Any
) -> None:
    host = plain_registry.host
    profile = _profile(tmp_path, host)
    keys = (_key_file(tmp_path, cosign_key),)
    # The legitimate image, signed for host/nim/sig-a; the attacker pushes the same
    # bytes, signature included, to host/nim/sig-b.
    image = _push_signed(host, "nim/sig-a", f"{host}/nim/sig-a", cosign_key)
    assert _push_signed(host, "nim/sig-b", f"{host}/nim/sig-a", cosign_key) == image

    genuine = _collect(profile, f"{host}/nim/sig-a:1.0", image, keys=keys)
    copied = _collect(profile, f"{host}/nim/sig-b:1.0", image, keys=keys)

    assert genuine["evidence"]["signature"]["signed_identity"] == {
        "requested": {"name": f"{host}/nim/sig-a", "tag": "1.0"},
        "docker_reference": f"{host}/nim/sig-a",
        "signed": {"name": f"{host}/nim/sig-a"},
    }
    assert copied["evidence"]["signature"]["verified"] is True
    assert "signed_identity_mismatch" not in _decide(profile, genuine)["reasons"]
    decision = _decide(profile, copied)
    assert decision["verdict"] == "block"
    assert "signed_identity_mismatch" in decision["reasons"]
    [result] = [r for r in decision["results"] if r["code"] == "signed_identity_mismatch"]
    assert result["message"] == (
        f'The signature was made for "{host}/nim/sig-a", which does not satisfy matchRepository '
        f'for "{host}/nim/sig-b:1.0"'
    )


@pytest.mark.parametrize(
    ("kind", "signed_for", "ref_tail", "refused"),
    [
        ("matchRepository", "{host}/nim/sig-t:1.0", ":2.0", False),
        ("matchExact", "{host}/nim/sig-t:1.0", ":1.0", False),
        ("matchExact", "{host}/nim/sig-t:1.0", ":2.0", True),
        ("matchExact", "{host}/nim/sig-t", ":1.0", True),
        ("matchRepoDigestOrExact", "{host}/nim/sig-t:1.0", "@{image}", False),
        ("matchRepoDigestOrExact", "{host}/nim/sig-t:1.0", ":2.0", True),
    ],
)
def test_the_profile_selects_the_signed_identity_requirement(
    tmp_path: Path,
    plain_registry: RegistryServer,
    cosign_key: Any,
    kind: str,
    signed_for: str,
    ref_tail: str,
    refused: bool,
) -> None:
    host = plain_registry.host
    profile = _profile(tmp_path, host, f"  signed_identity: {kind}\n")
    image = _push_signed(host, "nim/sig-t", signed_for.format(host=host), cosign_key)
    with PushingClient(host, Collection(runtime=True)) as client:  # the same image under a second tag
        manifest = client.manifest("nim/sig-t", image)
        client.push_manifest("nim/sig-t", "2.0", manifest.body, manifest.media_type)

    document = _collect(
        profile,
        f"{host}/nim/sig-t{ref_tail.format(image=image)}",
        image,
        keys=(_key_file(tmp_path, cosign_key),),
    )

    assert ("signed_identity_mismatch" in _decide(profile, document)["reasons"]) is refused


# ------------------------------------------------------------ item 14: key only


def test_a_key_signed_image_needs_only_the_cosign_key(
    tmp_path: Path, plain_registry: RegistryServer, seeded: Seeded, cosign_key: Any
) -> None:
    host = plain_registry.host
    profile = _profile(tmp_path, host)

    document = _collect(
        profile, f"{host}/nim/demo:1.0", seeded.image, keys=(_key_file(tmp_path, cosign_key),)
    )

    assert document["operator"]["expected_signer_identity"] == ""
    assert document["operator"]["cosign_key_sha256"] == [document["evidence"]["signature"]["key_sha256"]]
    reasons = set(_decide(profile, document)["reasons"])
    assert "inputs_incomplete" not in reasons
    assert reasons.isdisjoint({"unsigned", "wrong_identity", "wrong_issuer", "signed_identity_mismatch"})
    # What remains is real: no transparency-log entry, and nothing scanned the image.
    assert reasons == {"rekor_unreachable", "cve_regression"}


def test_keyless_verification_still_needs_identity_and_issuer(
    tmp_path: Path, plain_registry: RegistryServer, seeded: Seeded
) -> None:
    host = plain_registry.host
    profile = _profile(tmp_path, host)

    decision = _decide(profile, _collect(profile, f"{host}/nim/demo:1.0", seeded.image))

    assert (decision["verdict"], decision["reasons"]) == ("manual-review", ["inputs_incomplete"])


# ------------------------------------------------------------ item 17: static mode


VULNS = THIRDPARTY / "vulns"
KEYCLOAK = (
    "grype-keycloak-21.0.2.grype-0.66.0.filtered.json",
    "sha256:347a0d74" + "8d05a050dc64b92de2246d2240db6eb38afbc17c3c08d0acb0db1b50",
)
BUSYBOX_NEW = (
    "grype-busybox-1.32.1.grype-0.94.0.json",
    "sha256:ae39a6f5" + "c07297d7ab64dbd4f82c77c874cc6a94cea29fdec309d0992574b4f7",
)
BUSYBOX_OLD = (
    "grype-busybox-1.32.1.grype-0.7.0.no-matches.json",
    "sha256:6bea45f4" + "e050ffdbb3a0f57a6c6f16318314a482f31442c4461a72a3ee2f3ee6",
)


@pytest.mark.parametrize(
    ("candidate", "baseline", "verdict", "reasons"),
    [
        (KEYCLOAK, BUSYBOX_NEW, "manual-review", ["static_mode_no_runtime_evidence"]),
        (None, None, "manual-review", ["static_mode_no_runtime_evidence"]),
        (BUSYBOX_NEW, BUSYBOX_OLD, "block", ["cve_regression"]),
    ],
    ids=["clean-reports", "no-reports", "regressing-reports"],
)
def test_static_mode_with_report_files_is_documentation_only(
    candidate: tuple[str, str] | None, baseline: tuple[str, str] | None, verdict: str, reasons: list[str]
) -> None:
    # Real grype reports; the operator pins the digests they were made for.
    profile = load_profile("nim-promotion")
    request = ContainerRequest(
        ref="nvcr.io/nim/meta/llama-3.3-70b:1.5.0",
        pin=candidate[1] if candidate else "sha256:" + "7" * 64,
        prod_digest=baseline[1] if baseline else PROD,
        identity=GHA_SAN,
        issuer=GHA,
        grype_report=VULNS / candidate[0] if candidate else None,
        baseline_report=VULNS / baseline[0] if baseline else None,
    )
    result = collect(request, profile.name, profile.sha256, profile.settings, env={})

    decision = _decide(profile, result.document)

    assert result.requests == []
    assert (decision["verdict"], decision["evidence_level"]) == (verdict, "documentation-only")
    assert decision["reasons"] == reasons
