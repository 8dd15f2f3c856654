"""DSSE: the pre-authentication encoding against published vectors, and real envelopes."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gate.attest import dsse
from gate.attest.bundle import parse_attestations
from gate.attest.keys import SigningKey, VerifyKey, keyid_of, load_verify_key
from tests.attest.conftest import thirdparty


def test_pae_matches_the_dsse_spec_example() -> None:
    # The worked example in the DSSE v1 protocol description.
    assert (
        dsse.pae("http://example.com/HelloWorld", b"hello world")
        == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_of_empty_type_and_payload() -> None:
    assert dsse.pae("", b"") == b"DSSEv1 0  0 "


def test_pae_lengths_count_bytes_not_characters() -> None:
    # "é" is two bytes in UTF-8; the payload is opaque bytes, spaces included.
    assert dsse.pae("é", b"a b\xff") == b"DSSEv1 2 \xc3\xa9 4 a b\xff"


def _cert_key(pem: bytes, source: str) -> VerifyKey:
    public = x509.load_pem_x509_certificate(pem).public_key()
    return VerifyKey(public, keyid_of(public), source)  # type: ignore[arg-type]


def test_real_google_vsa_envelope_verifies_over_pae() -> None:
    envelope_path = thirdparty("intoto", "vsa.gke-gce-pre.bcid-vsa.dsse.jsonl")
    key = load_verify_key(str(thirdparty("intoto", "vsa.gke-gce-pre.signing-public-key.pem")))
    (signed,) = parse_attestations(envelope_path.read_bytes())

    # A raw 64-byte r||s signature, not DER: both encodings must verify.
    assert len(signed.envelope.signatures[0].sig) == 64
    assert dsse.verify(signed.envelope, key) is not None


def test_real_google_vsa_fails_once_the_payload_changes() -> None:
    envelope_path = thirdparty("intoto", "vsa.gke-gce-pre.bcid-vsa.dsse.jsonl")
    key = load_verify_key(str(thirdparty("intoto", "vsa.gke-gce-pre.signing-public-key.pem")))
    (signed,) = parse_attestations(envelope_path.read_bytes())
    payload = signed.envelope.payload.replace(b"PASSED", b"FAILED")
    tampered = dsse.Envelope(signed.envelope.payload_type, payload, signed.envelope.signatures)

    assert dsse.verify(tampered, key) is None


def test_real_github_slsa_envelope_verifies_with_its_certificate_key() -> None:
    bundle = json.loads(
        thirdparty("sigstore", "bcr-slsa-provenance", "MODULE.bazel.intoto.jsonl").read_text()
    )
    der = base64.b64decode(bundle["verificationMaterial"]["certificate"]["rawBytes"])
    pem = x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
    envelope = dsse.Envelope.from_json(
        json.loads(thirdparty("intoto", "slsa-v1.github-actions.MODULE.bazel.dsse-envelope.json").read_text())
    )

    assert dsse.verify(envelope, _cert_key(pem, "bundle certificate")) is not None
    assert (
        envelope.payload
        == thirdparty("intoto", "slsa-v1.github-actions.MODULE.bazel.statement.json").read_bytes()
    )


def test_real_cosign_envelope_verifies_with_the_certificate_annotation() -> None:
    manifest = json.loads(
        next(
            thirdparty("oci", "ghcr-slsa-example-package").glob("cosign-attestations-manifest.*.json")
        ).read_text()
    )
    annotations = manifest["layers"][0]["annotations"]
    pem = annotations["dev.sigstore.cosign/certificate"].encode()
    envelope = dsse.Envelope.from_json(
        json.loads(
            thirdparty("intoto", "slsa-v0.2.container-generator.cosign-dsse-envelope.json").read_text()
        )
    )

    assert dsse.verify(envelope, _cert_key(pem, "cosign certificate")) is not None


def test_sign_then_verify_round_trip(keypair: tuple[SigningKey, Path, Path]) -> None:
    key, _, public = keypair
    envelope = dsse.sign(dsse.INTOTO_PAYLOAD_TYPE, b'{"a":1}', key)
    again = dsse.Envelope.from_json(json.loads(json.dumps(envelope.to_json())))

    assert again == envelope
    assert envelope.signatures[0].keyid == key.keyid
    assert dsse.verify(again, load_verify_key(str(public))) is not None


def test_the_payload_type_is_signed(keypair: tuple[SigningKey, Path, Path]) -> None:
    key, _, public = keypair
    envelope = dsse.sign(dsse.INTOTO_PAYLOAD_TYPE, b"{}", key)
    retyped = dsse.Envelope("application/json", envelope.payload, envelope.signatures)

    assert dsse.verify(retyped, load_verify_key(str(public))) is None


def test_url_safe_unpadded_base64_is_accepted(keypair: tuple[SigningKey, Path, Path]) -> None:
    key = keypair[0]
    envelope = dsse.sign(dsse.INTOTO_PAYLOAD_TYPE, b"\xfb\xff" * 7, key)
    value = envelope.to_json()
    value["payload"] = base64.urlsafe_b64encode(envelope.payload).decode().rstrip("=")

    assert dsse.Envelope.from_json(value).payload == envelope.payload


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "must be a JSON object"),
        ({"payload": "e30=", "signatures": [{"sig": "AA=="}]}, "payloadType"),
        (
            {"payloadType": "t", "payload": "%%%", "signatures": [{"sig": "AA=="}]},
            "payload is not valid base64",
        ),
        ({"payloadType": "t", "payload": "e30=", "signatures": []}, "signatures is missing or empty"),
        ({"payloadType": "t", "payload": "e30=", "signatures": [{"sig": 5}]}, "signatures[0].sig"),
    ],
)
def test_malformed_envelopes_are_refused_with_a_reason(value: object, message: str) -> None:
    with pytest.raises(dsse.EnvelopeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        dsse.Envelope.from_json(value)
