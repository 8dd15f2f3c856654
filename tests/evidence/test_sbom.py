"""SBOM attestations: every real SBOM fixture, signed as cosign attests it, found and parsed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gate import schemas
from gate.decide import Decider
from gate.evidence.interface import Collection
from gate.evidence.sbom import collect_sbom, parse_sbom, sbom_format
from gate.evidence.signatures import DSSE_ENVELOPE, Rejected, SignatureOptions
from tests.evidence.helpers import (
    THIRDPARTY,
    Store,
    att_layer,
    decide_with,
    dsse_envelope,
    new_key,
    public_pem,
    statement,
)

SBOMS = THIRDPARTY / "sbom"
SUBJECT = "sha256:" + "1" * 64
SPDX = "https://spdx.dev/Document"
CDX = "https://cyclonedx.org/bom"


# (file, format, spec version, packages, validated by the format's own library)
EXPECTED = [
    ("spdx-2.3.syft-0.76.0.alpine-image.spdx.json", "spdx", "2.3", 16, False),
    ("spdx-2.3.k8s-bom.rust-hello-server.spdx.json", "spdx", "2.3", 4, True),
    ("spdx-2.2.ms-sbom-tool-0.2.7.hello-src.spdx.json", "spdx", "2.2", 1, True),
    ("spdx-2.2.trivy-dev.centos-7.spdx.json", "spdx", "2.2", 4, False),
    ("cdx-1.4.cyclonedx-php-composer.laravel-7.12.0.cdx.json", "cyclonedx", "1.4", 62, True),
    ("cdx-1.5.trivy-dev.centos-7.cdx.json", "cyclonedx", "1.5", 3, True),
    ("cdx-1.6.cyclonedx-py.python-env-with-extras.cdx.json", "cyclonedx", "1.6", 31, True),
]


COSIGN_ENVELOPE = "slsa-v0.2.container-generator.cosign-dsse-envelope.json"


def _attest(
    path: Path, subject: str = SUBJECT, predicate_type: str = "", key: Any = None
) -> tuple[Store, str, Any]:
    """Store a cosign ``.att`` manifest holding the SBOM in a signed in-toto statement."""
    key = key or new_key()
    fmt_type = predicate_type or (SPDX if path.name.startswith("spdx") else CDX)
    text = path.read_text()
    try:
        predicate: Any = json.loads(text)
    except ValueError:
        predicate = text  # a broken document travels as a string
    envelope = dsse_envelope(key, statement(subject, fmt_type, predicate))
    store = Store()
    return store, store.manifest([att_layer(envelope, fmt_type)]), key


@pytest.mark.parametrize(
    ("name", "fmt", "version", "packages", "validated"), EXPECTED, ids=[e[0] for e in EXPECTED]
)
def test_every_real_sbom_attestation_is_found_parsed_and_counted(
    name: str, fmt: str, version: str, packages: int, validated: bool
) -> None:
    store, att, key = _attest(SBOMS / name)
    collection = Collection()

    section = collect_sbom(
        SUBJECT, store.blobs, SignatureOptions(keys=(public_pem(key),)), collection, att_manifests=[att]
    )

    assert collection.errors == []
    assert section["verified"] is True
    assert (section["format"], section["spec_version"], section["package_count"]) == (fmt, version, packages)
    assert section["validated"] is validated
    assert ("validation_error" in section) is not validated
    assert section["subject_digest"] == SUBJECT
    assert section["sha256"].startswith("sha256:") and len(section["sha256"]) == 71
    assert section["method"] == "key" and section["source"].startswith(f"att-tag {att} layer")
    document = {
        "gate": {"version": "1", "now": "2026-11-22T12:00:00Z"},
        "subject": {"kind": "oci-image"},
        "evidence": {"sbom": section},
    }
    assert schemas.problems("input", document) == []


def test_validation_problems_are_named() -> None:
    syft = parse_sbom(json.loads((SBOMS / EXPECTED[0][0]).read_text()), "spdx")
    trivy = parse_sbom(json.loads((SBOMS / EXPECTED[3][0]).read_text()), "spdx")

    assert syft.validation_error.startswith("spdx-tools reports 77 validation problem(s): file name must not")
    assert trivy.validation_error.startswith("spdx-tools cannot parse it")


def test_truncated_sbom_is_not_an_sbom(deciders: dict[str, Decider]) -> None:
    store, att, key = _attest(
        SBOMS / "INVALID-truncated.cdx-1.6.cyclonedx-py.python-env-with-extras.cdx.json"
    )
    collection = Collection()

    section = collect_sbom(
        SUBJECT, store.blobs, SignatureOptions(keys=(public_pem(key),)), collection, att_manifests=[att]
    )

    assert section["verified"] is False
    assert section["rejected"][0]["reason"] == "the cyclonedx predicate is a string that is not JSON"
    assert collection.errors[0]["collector"] == "sbom"
    assert decide_with(deciders, SUBJECT, sbom=section) == {"missing_sbom"}


def test_sbom_about_another_image_is_rejected(deciders: dict[str, Decider]) -> None:
    store, att, key = _attest(SBOMS / EXPECTED[1][0], subject="sha256:" + "2" * 64)

    section = collect_sbom(
        SUBJECT, store.blobs, SignatureOptions(keys=(public_pem(key),)), Collection(), att_manifests=[att]
    )

    assert section["verified"] is False
    assert section["rejected"][0]["reason"] == f"the statement is about sha256:{'2' * 64}, not {SUBJECT}"
    assert decide_with(deciders, SUBJECT, sbom=section) == {"missing_sbom"}


def test_verified_sbom_passes_the_policy(deciders: dict[str, Decider]) -> None:
    store, att, key = _attest(SBOMS / EXPECTED[1][0])

    section = collect_sbom(
        SUBJECT, store.blobs, SignatureOptions(keys=(public_pem(key),)), Collection(), att_manifests=[att]
    )

    assert decide_with(deciders, SUBJECT, sbom=section) == {"all_gates_passed"}


def test_sbom_signed_by_another_key_is_rejected() -> None:
    store, att, _ = _attest(SBOMS / EXPECTED[1][0])

    section = collect_sbom(
        SUBJECT,
        store.blobs,
        SignatureOptions(keys=(public_pem(new_key()),)),
        Collection(),
        att_manifests=[att],
    )

    assert section["verified"] is False
    assert "does not verify with any of the given public keys" in section["rejected"][0]["reason"]


def test_non_sbom_predicate_is_not_an_sbom() -> None:
    store, att, key = _attest(SBOMS / EXPECTED[1][0], predicate_type="https://slsa.dev/provenance/v1")

    section = collect_sbom(
        SUBJECT, store.blobs, SignatureOptions(keys=(public_pem(key),)), Collection(), att_manifests=[att]
    )

    assert "is not an SPDX or CycloneDX SBOM" in section["rejected"][0]["reason"]


def test_sbom_declared_as_the_wrong_format_does_not_parse() -> None:
    store, att, key = _attest(SBOMS / EXPECTED[1][0], predicate_type=CDX)

    section = collect_sbom(
        SUBJECT, store.blobs, SignatureOptions(keys=(public_pem(key),)), Collection(), att_manifests=[att]
    )

    assert "bomFormat is not CycloneDX" in section["rejected"][0]["reason"]


def test_real_keyless_attestation_layer_is_verified_then_refused_as_provenance() -> None:
    oci = THIRDPARTY / "oci" / "ghcr-slsa-example-package"
    manifest = json.loads(next(oci.glob("cosign-attestations-manifest.*.json")).read_text())
    envelope = (
        THIRDPARTY / "intoto" / "slsa-v0.2.container-generator.cosign-dsse-envelope.json"
    ).read_bytes()
    subject = "sha256:" + next(oci.glob("image-index.*.json")).name.split("sha256-")[1][:64]
    store = Store()
    store.put(envelope)
    att = store.put(json.dumps(manifest).encode())
    identity = (
        "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/"
        "generator_container_slsa3.yml@refs/tags/v2.1.0"
    )

    right = collect_sbom(
        subject,
        store.blobs,
        SignatureOptions(identity=identity, issuer="https://token.actions.githubusercontent.com"),
        Collection(),
        att_manifests=[att],
    )
    wrong = collect_sbom(
        subject,
        store.blobs,
        SignatureOptions(
            identity="https://github.com/nvidia/x.yml@refs/tags/v1",
            issuer="https://token.actions.githubusercontent.com",
        ),
        Collection(),
        att_manifests=[att],
    )

    # Keyless verification through the real Rekor SET succeeds; it is provenance, not an SBOM.
    assert (
        "'https://slsa.dev/provenance/v0.2' is not an SPDX or CycloneDX SBOM"
        in right["rejected"][0]["reason"]
    )
    assert right["rejected"][0]["reason"].startswith("predicate type")
    assert wrong["rejected"][0]["reason"].startswith("signed, but signer identity")


def test_sbom_in_a_dsse_referrer_is_found() -> None:
    key = new_key()
    predicate = json.loads((SBOMS / EXPECTED[5][0]).read_text())
    envelope = dsse_envelope(key, statement(SUBJECT, CDX + "/v1.5", predicate, version="v0.1"))
    store = Store()
    manifest = store.manifest([(DSSE_ENVELOPE, envelope, {})], artifact_type=DSSE_ENVELOPE, subject=SUBJECT)

    section = collect_sbom(
        SUBJECT,
        store.blobs,
        SignatureOptions(keys=(public_pem(key),)),
        Collection(),
        referrers=[store.descriptor(manifest, DSSE_ENVELOPE)],
    )

    assert section["verified"] is True and section["format"] == "cyclonedx"
    assert section["source"] == f"referrer {manifest}"


def test_nothing_found_is_missing_without_a_collection_error(deciders: dict[str, Decider]) -> None:
    collection = Collection()

    section = collect_sbom(SUBJECT, {}, SignatureOptions(), collection)

    assert section == {"verified": False, "rejected": []}
    assert collection.errors == []
    assert decide_with(deciders, SUBJECT, sbom=section) == {"missing_sbom"}


@pytest.mark.parametrize(
    ("predicate_type", "fmt"),
    [
        ("https://spdx.dev/Document", "spdx"),
        ("https://spdx.dev/Document/v2.3", "spdx"),
        ("https://cyclonedx.org/bom", "cyclonedx"),
        ("https://cyclonedx.org/bom/v1.6", "cyclonedx"),
        ("https://spdx.dev/Document/evil", ""),
        ("https://slsa.dev/provenance/v1", ""),
    ],
)
def test_predicate_types(predicate_type: str, fmt: str) -> None:
    assert sbom_format(predicate_type) == fmt


def test_parse_rejects_non_documents() -> None:
    with pytest.raises(Rejected, match="not a JSON object"):
        parse_sbom([1, 2], "spdx")
    with pytest.raises(Rejected, match=r"no SPDX-2\.x spdxVersion"):
        parse_sbom({"spdxVersion": "SPDX-3.0"}, "spdx")


def test_unsigned_sbom_attached_with_cosign_attach_is_rejected() -> None:
    store = Store()
    document = (SBOMS / EXPECTED[1][0]).read_bytes()
    manifest = store.manifest([("text/spdx+json", document, {})])

    section = collect_sbom(SUBJECT, store.blobs, SignatureOptions(), Collection(), att_manifests=[manifest])

    assert section["verified"] is False
    assert (
        section["rejected"][0]["reason"]
        == "an unsigned SBOM (text/spdx+json); only signed attestations count"
    )
