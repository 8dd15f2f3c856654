"""The container collection pipeline against a real registry: the whole input document."""

from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from gate import schemas
from gate.decide import Decider
from gate.engine.interface import JsonDocument
from gate.evidence.container import ContainerRequest, Result, collect, fetch
from gate.evidence.interface import Collection
from gate.evidence.oci.auth import Credentials
from gate.evidence.oci.client import RegistryClient
from gate.evidence.oci.push import PushingClient
from gate.evidence.oci.reference import parse_reference
from gate.profile import Profile, load_profile
from tests.registry import PASSWORD, USER, FakeRegistry, RegistryServer, Seeded

PROD = "sha256:" + "2" * 64
IDENTITY = "https://github.com/nvidia/nim-builder/.github/workflows/release.yml@refs/tags/v1.5.0"
ISSUER = "https://token.actions.githubusercontent.com"


def local_profile(tmp_path: Path, *hosts: str) -> Profile:
    """The bundled nim-promotion profile, allowing registries on these loopback hosts."""
    text = (Path(__file__).resolve().parents[2] / "policy-profiles" / "nim-promotion.yaml").read_text()
    allowed = ", ".join(f'"{h}/"' for h in hosts)
    text = text.replace('registries: ["nvcr.io/"]', f"registries: [{allowed}]")
    path = tmp_path / "local.yaml"
    path.write_text(text.replace("name: nim-promotion", "name: local-registry"))
    return load_profile(str(path))


def run(request: ContainerRequest, profile: Profile, env: dict[str, str] | None = None) -> Result:
    return collect(request, profile.name, profile.sha256, profile.settings, env=env or {})


def runtime(ref: str, pin: str = "", **extra: Any) -> ContainerRequest:
    return ContainerRequest(
        ref=ref, pin=pin, prod_digest=PROD, identity=IDENTITY, issuer=ISSUER, mode=" Runtime ", **extra
    )


def decide(profile: Profile, document: dict[str, Any]) -> dict[str, Any]:
    return Decider(profile, "regorus").decide(JsonDocument.of(document))


def test_runtime_collection_records_the_image_and_what_was_contacted(
    tmp_path: Path, plain_registry: RegistryServer, seeded: Seeded
) -> None:
    profile = local_profile(tmp_path, plain_registry.host)
    result = run(runtime(f"{plain_registry.host}/nim/demo:1.0", seeded.image), profile)
    doc = result.document

    assert schemas.problems("input", doc) == []
    assert doc["gate"]["mode"] == "runtime"
    assert doc["gate"]["profile"] == {"name": "local-registry", "sha256": profile.sha256}
    assert len(doc["gate"]["nonce"]) >= 32
    assert doc["subject"] == {
        "kind": "oci-image",
        "ref": f"{plain_registry.host}/nim/demo:1.0",
        "digest": seeded.image,
    }
    registry = doc["evidence"]["registry"]
    assert registry["resolved_digest"] == seeded.image
    assert registry["referrers_source"] == "tag-schema"
    assert {r["artifactType"] for r in registry["referrers"]} == set(seeded.referrers)
    assert registry["cosign_tags"] == {"sig": [seeded.sig], "att": [seeded.att]}
    assert doc["evidence"]["attestation"] == {"age_hours": 0}
    assert doc["collection"]["runtime_mode"] == "runtime"
    assert doc["collection"]["egress_hosts_contacted"] == [plain_registry.host]
    assert doc["operator"]["image_ref_pin"] == seeded.image


def test_no_request_is_sent_twice(tmp_path: Path, plain_registry: RegistryServer, seeded: Seeded) -> None:
    profile = local_profile(tmp_path, plain_registry.host)
    result = run(runtime(f"{plain_registry.host}/nim/demo:1.0", seeded.image), profile)

    repeated = [request for request, n in Counter(result.requests).items() if n > 1]
    assert repeated == []
    # HEAD tag, GET manifest, config, referrers API (404), referrers tag, 3 referrers + 3 layers,
    # .sig manifest + layer, .att manifest (its DSSE layer is the in-toto referrer's: already
    # fetched), .sbom (404).
    assert len(result.requests) == 15


def test_the_hand_off_holds_every_artifact_the_evidence_modules_need(
    plain_registry: RegistryServer, seeded: Seeded
) -> None:
    collection = Collection(runtime=True)
    with RegistryClient(plain_registry.host, collection) as client:
        found = fetch(client, parse_reference(f"{plain_registry.host}/nim/demo:1.0"), collection)

    assert found.digest == seeded.image
    assert found.cosign == {"sig": [seeded.sig], "att": [seeded.att], "sbom": []}
    assert seeded.blobs["simple-signing"] in found.fetched.values()
    assert seeded.blobs["sbom-envelope"] in found.fetched.values()
    assert seeded.blobs["model-card"] in found.fetched.values()
    for digest in [seeded.sig, seeded.att, *seeded.referrers.values()]:
        assert digest in found.fetched
    assert found.labels == {"org.opencontainers.image.title": "demo"}
    assert collection.errors == []


def test_label_only_card_is_handed_over_as_a_label(plain_registry: RegistryServer, seeded: Seeded) -> None:
    collection = Collection(runtime=True)
    with RegistryClient(plain_registry.host, collection) as client:
        found = fetch(client, parse_reference(f"{plain_registry.host}/nim/demo:label-only"), collection)

    assert found.referrers == []
    assert found.labels == {"com.nvidia.model-card": "https://example.invalid/model-card.md"}


def test_an_index_subject_records_its_platforms(
    tmp_path: Path, plain_registry: RegistryServer, seeded: Seeded
) -> None:
    profile = local_profile(tmp_path, plain_registry.host)
    doc = run(runtime(f"{plain_registry.host}/nim/demo:multi", seeded.index), profile).document

    registry = doc["evidence"]["registry"]
    assert registry["resolved_digest"] == seeded.index
    assert registry["media_type"] == "application/vnd.oci.image.index.v1+json"
    assert registry["platforms"] == [
        {
            "digest": seeded.platforms[0],
            "media_type": "application/vnd.oci.image.manifest.v1+json",
            "platform": "linux/amd64",
        },
        {
            "digest": seeded.platforms[1],
            "media_type": "application/vnd.oci.image.manifest.v1+json",
            "platform": "linux/arm64",
        },
    ]


def test_static_mode_contacts_nothing_and_never_promotes(tmp_path: Path) -> None:
    with FakeRegistry(lambda method, path: (500, {}, b"")) as fake:
        profile = local_profile(tmp_path, fake.host)
        request = ContainerRequest(
            ref=f"{fake.host}/nim/demo:1.0", pin=PROD, prod_digest=PROD, identity=IDENTITY, issuer=ISSUER
        )
        result = run(request, profile)

    doc = result.document
    assert fake.connections == 0
    assert result.requests == []
    assert doc["collection"]["egress_hosts_contacted"] == []
    assert doc["collection"]["runtime_mode"] == "static"
    assert doc["gate"]["mode"] == "static"
    assert doc["evidence"]["registry"]["not_collected"].startswith(
        "static mode: the registry was not contacted"
    )
    assert schemas.problems("input", doc) == []
    assert decide(profile, doc)["verdict"] != "promote"


def test_a_registry_the_profile_does_not_allow_is_not_contacted(tmp_path: Path) -> None:
    with FakeRegistry(lambda method, path: (500, {}, b"")) as fake:
        profile = local_profile(tmp_path, "127.0.0.2:1")
        result = run(runtime(f"{fake.host}/nim/demo:1.0", PROD), profile)

    assert fake.connections == 0
    assert "is not under an allowed registry prefix" in result.document["evidence"]["registry"]["error"]
    assert "unknown_registry" in [r["code"] for r in decide(profile, result.document)["results"]]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ((404, {}, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}'), "not found on"),
        ((401, {}, b""), "answered 401 without a usable WWW-Authenticate challenge"),
        ((403, {}, b'{"errors":[{"code":"DENIED"}]}'), "denied access"),
        ((500, {}, b""), "HTTP 500 after"),
    ],
)
def test_registry_failures_are_evidence_and_block(
    tmp_path: Path, answer: tuple[int, dict[str, str], bytes], expected: str
) -> None:
    with FakeRegistry(lambda method, path: answer) as fake:
        profile = local_profile(tmp_path, fake.host)
        from gate.evidence.oci.client import ClientOptions

        request = runtime(f"{fake.host}/nim/demo:1.0", PROD)
        doc = collect(
            request, profile.name, profile.sha256, profile.settings, env={}, options=ClientOptions(retries=0)
        ).document

    error = doc["evidence"]["registry"]["error"]
    assert expected in error and "\n" not in error
    assert {"collector": "oci-registry", "message": error} in doc["collection"]["errors"]
    for section in ("signature", "sbom", "model_card"):
        assert doc["evidence"][section]["error"].startswith("registry unavailable: ")
    assert schemas.problems("input", doc) == []
    decision = decide(profile, doc)
    assert decision["verdict"] == "block"
    assert "digest_drift" in [r["code"] for r in decision["results"]]


def test_secrets_never_reach_the_document(tmp_path: Path, token_registry: RegistryServer) -> None:
    with PushingClient(
        token_registry.host, Collection(runtime=True), credentials=Credentials(USER, PASSWORD)
    ) as c:
        digest, _ = c.push_image(
            "nim/secret", "1.0", config=b"{}", layers=[(b"x", "application/octet-stream")]
        )
    profile = local_profile(tmp_path, token_registry.host)
    ref = f"{token_registry.host}/nim/secret:1.0"
    good = run(
        runtime(ref, digest), profile, {"GATE_REGISTRY_USERNAME": USER, "GATE_REGISTRY_PASSWORD": PASSWORD}
    )
    bad = run(
        runtime(ref, digest),
        profile,
        {"GATE_REGISTRY_USERNAME": USER, "GATE_REGISTRY_PASSWORD": PASSWORD + "x"},
    )

    assert good.document["evidence"]["registry"]["resolved_digest"] == digest
    assert "refused the credentials" in bad.document["evidence"]["registry"]["error"]
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    for result in (good, bad):
        text = json.dumps(result.document)
        assert PASSWORD not in text and basic not in text
        assert "Bearer" not in text
        assert not any(PASSWORD in url for _, url in result.requests)
