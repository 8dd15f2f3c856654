"""Signatures: real Sigstore bundles offline, a real cosign keyless layer, key-based cosign."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gate.decide import Decider
from gate.evidence.interface import Collection
from gate.evidence.signatures import (
    BUNDLE_MEDIA_PREFIX,
    DSSE_ENVELOPE,
    Rejected,
    SignatureOptions,
    collect_signatures,
    embedded_trusted_root,
    identity_problem,
    statement_subject_digests,
    verify_bundle,
    verify_cosign_layer,
    verify_dsse_with_keys,
)
from gate.evidence.signed_identity import signed_identity
from tests.evidence.helpers import (
    THIRDPARTY,
    Store,
    cosign_sig_layer,
    decide_with,
    digest_of,
    new_key,
    public_pem,
    simple_signing,
)
from tests.helpers import IMAGE

SIGSTORE = THIRDPARTY / "sigstore"
WHL = SIGSTORE / "bundle_v3_github.whl"
WHL_BUNDLE = SIGSTORE / "bundle_v3_github.whl.sigstore"
WHL_SAN = "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2"
GHA = "https://token.actions.githubusercontent.com"
BCR = SIGSTORE / "bcr-slsa-provenance"
BCR_SAN = "https://github.com/bazel-contrib/publish-to-bcr/.github/workflows/publish.yaml@refs/tags/v0.0.1"
EVIL_SAN = (
    "https://github.com/loosebazooka/aa-test/.github/workflows/malicious_attestation.yaml@refs/heads/main"
)
OCI = THIRDPARTY / "oci" / "ghcr-slsa-example-package"
CONTAINER_SAN = (
    "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/"
    "generator_container_slsa3.yml@refs/tags/v2.1.0"
)
BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
IMAGE_REPO = IMAGE.rsplit(":", 1)[0]


PRODUCTION = SignatureOptions(identity=WHL_SAN, issuer=GHA)


COSIGN_ENVELOPE = "slsa-v0.2.container-generator.cosign-dsse-envelope.json"


def _staging(**kwargs: Any) -> SignatureOptions:
    return SignatureOptions(trusted_root=embedded_trusted_root("staging"), **kwargs)


# ------------------------------------------------------------ Sigstore bundles, offline


def test_production_bundle_verifies_offline_with_its_identity() -> None:
    found = verify_bundle(WHL_BUNDLE.read_bytes(), PRODUCTION, artifact=WHL.read_bytes())

    assert (found.method, found.identity, found.issuer) == ("bundle", WHL_SAN, GHA)
    assert identity_problem(found, PRODUCTION) == ""
    # A 10-minute Fulcio certificate, long expired, anchored by the log's integrated time.
    assert found.cert_not_before == "2024-03-19T22:41:15Z"
    assert found.cert_not_after == "2024-03-19T22:51:15Z"
    assert found.tlog == {
        "reachable": True,
        "consulted": False,
        "log_index": 79605083,
        "integrated_time": "2024-03-19T22:41:16Z",
    }


def test_wrong_identity_and_issuer_verify_cryptographically_but_are_named() -> None:
    found = verify_bundle(WHL_BUNDLE.read_bytes(), PRODUCTION, artifact=WHL.read_bytes())

    wrong_san = SignatureOptions(identity="https://github.com/evil/repo/x.yml@refs/tags/v0.1.2", issuer=GHA)
    wrong_issuer = SignatureOptions(identity=WHL_SAN, issuer="https://github.com/login/oauth")

    assert "is not the expected 'https://github.com/evil/repo" in identity_problem(found, wrong_san)
    assert (
        "OIDC issuer 'https://token.actions.githubusercontent.com' is not the expected"
        in identity_problem(found, wrong_issuer)
    )


def test_regexp_matching_is_explicit_and_anchored() -> None:
    found = verify_bundle(WHL_BUNDLE.read_bytes(), PRODUCTION, artifact=WHL.read_bytes())

    full = SignatureOptions(
        identity_regexp=r"https://github\.com/trailofbits/rfc8785\.py/.*@refs/tags/v.*",
        issuer_regexp=r"https://token\.actions\.githubusercontent\.com",
    )
    prefix_only = SignatureOptions(identity_regexp=r"https://github\.com/trailofbits", issuer=GHA)
    # An exact identity is never treated as a pattern: "." does not match "x".
    dotted = SignatureOptions(identity=WHL_SAN.replace(".py", "xpy"), issuer=GHA)

    assert identity_problem(found, full) == ""
    assert "does not fully match" in identity_problem(found, prefix_only)
    assert identity_problem(found, dotted) != ""


@pytest.mark.parametrize(
    ("bundle", "artifact", "options", "expected"),
    [
        (WHL_BUNDLE, SIGSTORE / "bundle_v3.txt", PRODUCTION, "Bundle message digest mismatch"),
        (WHL_BUNDLE, WHL, _staging(), "certificate chain"),
        (SIGSTORE / "bundle_v3.txt.sigstore", SIGSTORE / "bundle_v3.txt", PRODUCTION, "certificate chain"),
        (
            SIGSTORE / "bundle_cve_2022_36056.txt.sigstore",
            SIGSTORE / "bundle_cve_2022_36056.txt",
            _staging(),
            "inconsistent",
        ),
        (
            SIGSTORE / "bundle_invalid_version.txt.sigstore",
            SIGSTORE / "bundle_invalid_version.txt",
            PRODUCTION,
            "the bundle does not load",
        ),
        (
            SIGSTORE / "bundle_no_cert_v1.txt.sigstore",
            SIGSTORE / "bundle_no_cert_v1.txt",
            PRODUCTION,
            "expected non-empty certificate chain",
        ),
    ],
    ids=[
        "other-artifact",
        "staging-root",
        "staging-bundle-vs-production",
        "cve-2022-36056",
        "bad-version",
        "no-cert",
    ],
)
def test_bundles_that_must_not_verify(
    bundle: Path, artifact: Path, options: SignatureOptions, expected: str
) -> None:
    with pytest.raises(Rejected, match=expected):
        verify_bundle(bundle.read_bytes(), options, artifact=artifact.read_bytes())


def test_tampered_artifact_bytes_are_rejected() -> None:
    data = bytearray(WHL.read_bytes())
    data[100] ^= 1

    with pytest.raises(Rejected, match="digest mismatch"):
        verify_bundle(WHL_BUNDLE.read_bytes(), PRODUCTION, artifact=bytes(data))


@pytest.mark.parametrize(
    ("name", "identity"),
    [
        ("bundle_v3.txt", "william@yossarian.net"),
        ("bundle_v3_alt.txt", "william@yossarian.net"),
        ("bundle.txt", "a@tny.town"),
    ],
)
def test_staging_bundles_verify_with_a_private_trusted_root(name: str, identity: str) -> None:
    options = _staging(identity=identity, issuer="https://github.com/login/oauth")

    found = verify_bundle(
        (SIGSTORE / f"{name}.sigstore").read_bytes(), options, artifact=(SIGSTORE / name).read_bytes()
    )

    assert identity_problem(found, options) == ""
    assert found.tlog["reachable"] is True and "integrated_time" in found.tlog


def test_dsse_bundles_return_the_verified_statement() -> None:
    good = verify_bundle((BCR / "MODULE.bazel.intoto.jsonl").read_bytes(), PRODUCTION)
    evil = verify_bundle((BCR / "MODULE-wrong-signer.bazel.intoto.jsonl").read_bytes(), PRODUCTION)
    model = verify_bundle((SIGSTORE / "model-signing-v1.1.0-sigstore" / "model.sig").read_bytes(), PRODUCTION)

    module = digest_of((BCR / "MODULE.bazel").read_bytes())
    assert statement_subject_digests(good.payload) == ("https://slsa.dev/provenance/v1", [module])
    assert statement_subject_digests(evil.payload) == ("https://slsa.dev/provenance/v1", [module])
    # Same subject, both cryptographically valid: only the pinned identity tells them apart.
    pinned = SignatureOptions(identity=BCR_SAN, issuer=GHA)
    assert identity_problem(good, pinned) == ""
    assert identity_problem(evil, pinned) == f"signer identity {EVIL_SAN!r} is not the expected {BCR_SAN!r}"
    assert (model.identity, model.issuer) == ("stefanb@us.ibm.com", "https://sigstore.verify.ibm.com/oauth2")
    assert statement_subject_digests(model.payload)[0] == "https://model_signing/signature/v1.0"
    assert model.tlog["log_index"] == 598151086


# ------------------------------------------------------------ the section, from OCI bytes


def _bundle_referrer(store: Store, bundle: bytes, subject: str) -> dict[str, Any]:
    manifest = store.manifest([(BUNDLE_TYPE, bundle, {})], artifact_type=BUNDLE_TYPE, subject=subject)
    return store.descriptor(manifest, BUNDLE_TYPE)


def test_bundle_referrer_over_the_image_digest_is_the_recorded_signature(
    deciders: dict[str, Decider],
) -> None:
    # The wheel stands in for the image manifest: the bundle signs sha256(bytes).
    subject = digest_of(WHL.read_bytes())
    store = Store()
    referrer = _bundle_referrer(store, WHL_BUNDLE.read_bytes(), subject)
    collection = Collection()

    section = collect_signatures(subject, store.blobs, PRODUCTION, collection, referrers=[referrer])

    assert collection.errors == []
    assert section["verified"] is True and section["digest"] == subject
    assert section["method"] == "bundle" and section["source"] == f"referrer {referrer['digest']}"
    assert (section["identity"], section["issuer"]) == (WHL_SAN, GHA)
    assert section["identity_match"] == "exact" and section["rejected"] == []
    reasons = decide_with(
        deciders,
        subject,
        operator={"expected_signer_identity": WHL_SAN, "expected_oidc_issuer": GHA},
        signature=section,
    )
    assert reasons == {"all_gates_passed"}


@pytest.mark.parametrize(
    ("operator", "reason"),
    [
        (
            {"expected_signer_identity": "https://github.com/nvidia/nim-builder/x.yml@refs/tags/v1"},
            "wrong_identity",
        ),
        ({"expected_oidc_issuer": "https://github.com/login/oauth"}, "wrong_issuer"),
    ],
)
def test_a_valid_signature_by_someone_else_is_wrong_identity_or_issuer(
    deciders: dict[str, Decider], operator: dict[str, str], reason: str
) -> None:
    subject = digest_of(WHL.read_bytes())
    store = Store()
    expected = {"expected_signer_identity": WHL_SAN, "expected_oidc_issuer": GHA, **operator}
    options = SignatureOptions(
        identity=expected["expected_signer_identity"], issuer=expected["expected_oidc_issuer"]
    )

    section = collect_signatures(
        subject,
        store.blobs,
        options,
        Collection(),
        referrers=[_bundle_referrer(store, WHL_BUNDLE.read_bytes(), subject)],
    )

    assert section["verified"] is True
    assert decide_with(deciders, subject, operator=expected, signature=section) == {reason}


def test_bundle_for_another_image_leaves_the_digest_unsigned(deciders: dict[str, Decider]) -> None:
    subject = "sha256:" + "c" * 64
    store = Store()
    referrer = _bundle_referrer(store, WHL_BUNDLE.read_bytes(), subject)
    collection = Collection()

    section = collect_signatures(subject, store.blobs, PRODUCTION, collection, referrers=[referrer])

    assert section["verified"] is False
    assert section["rejected"][0]["source"] == f"referrer {referrer['digest']}"
    assert "digest mismatch" in section["rejected"][0]["reason"]
    assert collection.errors[0]["collector"] == "signature"
    reasons = decide_with(
        deciders,
        subject,
        operator={"expected_signer_identity": WHL_SAN, "expected_oidc_issuer": GHA},
        signature=section,
    )
    assert reasons == {"unsigned", "rekor_unreachable"}


def test_no_signature_at_all_is_unsigned_without_a_collection_error(deciders: dict[str, Decider]) -> None:
    subject = "sha256:" + "d" * 64
    collection = Collection()

    section = collect_signatures(subject, {}, PRODUCTION, collection)

    assert section["verified"] is False and section["rejected"] == []
    assert collection.errors == []
    assert decide_with(deciders, subject, signature=section) == {"unsigned", "rekor_unreachable"}


def test_real_cosign_keyless_attestation_layer_verifies_through_the_rekor_set() -> None:
    manifest = json.loads(next(OCI.glob("cosign-attestations-manifest.*.json")).read_text())
    layer = manifest["layers"][0]
    envelope = (
        THIRDPARTY / "intoto" / "slsa-v0.2.container-generator.cosign-dsse-envelope.json"
    ).read_bytes()
    assert digest_of(envelope) == layer["digest"]

    found = verify_cosign_layer(envelope, layer["annotations"], PRODUCTION, media_type=DSSE_ENVELOPE)

    assert (found.method, found.identity, found.issuer) == ("keyless", CONTAINER_SAN, GHA)
    assert found.cert_not_after == "2025-02-25T22:08:07Z"
    assert found.tlog == {
        "reachable": True,
        "consulted": False,
        "log_index": 174304112,
        "integrated_time": "2025-02-25T21:58:07Z",
    }
    index = next(OCI.glob("image-index.*.json")).read_bytes()
    assert statement_subject_digests(found.payload)[1] == [digest_of(index)]


def _annotations() -> tuple[bytes, dict[str, str]]:
    manifest = json.loads(next(OCI.glob("cosign-attestations-manifest.*.json")).read_text())
    envelope = (
        THIRDPARTY / "intoto" / "slsa-v0.2.container-generator.cosign-dsse-envelope.json"
    ).read_bytes()
    return envelope, dict(manifest["layers"][0]["annotations"])


def test_keyless_layer_with_a_tampered_set_is_rejected() -> None:
    envelope, annotations = _annotations()
    bundle = json.loads(annotations["dev.sigstore.cosign/bundle"])
    bundle["Payload"]["integratedTime"] += 1
    annotations["dev.sigstore.cosign/bundle"] = json.dumps(bundle)

    with pytest.raises(Rejected, match="signed entry timestamp does not verify"):
        verify_cosign_layer(envelope, annotations, PRODUCTION, media_type=DSSE_ENVELOPE)


def test_keyless_layer_with_a_tampered_payload_is_rejected() -> None:
    envelope, annotations = _annotations()
    doc = json.loads(envelope)
    statement = json.loads(base64.b64decode(doc["payload"]))
    statement["subject"][0]["digest"]["sha256"] = "e" * 64
    doc["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()

    with pytest.raises(Rejected, match="does not verify with the certificate"):
        verify_cosign_layer(json.dumps(doc).encode(), annotations, PRODUCTION, media_type=DSSE_ENVELOPE)


def test_keyless_layer_without_a_tlog_entry_records_the_expired_certificate(
    deciders: dict[str, Decider],
) -> None:
    envelope, annotations = _annotations()
    del annotations["dev.sigstore.cosign/bundle"]

    found = verify_cosign_layer(envelope, annotations, PRODUCTION, media_type=DSSE_ENVELOPE)

    assert found.method == "keyless" and found.cert_not_after == "2025-02-25T22:08:07Z"
    assert found.tlog["reachable"] is False and "no transparency-log entry" in found.tlog["error"]
    assert "integrated_time" not in found.tlog and "log_index" not in found.tlog
    section = {
        "verified": True,
        "digest": "sha256:" + "1" * 64,
        "method": "keyless",
        "identity": found.identity,
        "issuer": found.issuer,
        "cert_not_before": found.cert_not_before,
        "cert_not_after": found.cert_not_after,
        "tlog": found.tlog,
        # The attestation stands in for a .sig layer: record the identity such a payload claims.
        "signed_identity": signed_identity(simple_signing("sha256:" + "1" * 64, IMAGE_REPO), IMAGE),
    }
    reasons = decide_with(
        deciders,
        "sha256:" + "1" * 64,
        operator={"expected_signer_identity": CONTAINER_SAN, "expected_oidc_issuer": GHA},
        signature=section,
    )
    assert reasons == {"expired_cert", "rekor_unreachable"}


def test_keyless_certificate_not_from_the_trusted_fulcio_is_rejected() -> None:
    envelope, annotations = _annotations()
    options = _staging(identity=CONTAINER_SAN, issuer=GHA)

    with pytest.raises(Rejected, match=r"does not verify with the trusted log keys|chain"):
        verify_cosign_layer(envelope, annotations, options, media_type=DSSE_ENVELOPE)


# ------------------------------------------------------------ key-based cosign (.sig tag)


def _sig_tag(store: Store, layers: list[tuple[str, bytes, dict[str, str]]]) -> str:
    return store.manifest(layers)


def test_key_based_sig_tag_verifies_and_names_the_key() -> None:
    key = new_key()
    subject = "sha256:" + "1" * 64
    store = Store()
    sig = _sig_tag(store, [cosign_sig_layer(key, simple_signing(subject))])
    collection = Collection()

    section = collect_signatures(
        subject, store.blobs, SignatureOptions(keys=(public_pem(key),)), collection, sig_manifests=[sig]
    )

    assert section["verified"] is True and section["method"] == "key"
    der = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    assert section["key_sha256"] == "sha256:" + hashlib.sha256(der).hexdigest()
    assert section["source"].startswith(f"sig-tag {sig} layer sha256:")
    assert section["tlog"]["reachable"] is False
    assert collection.errors == []


def test_key_based_signature_needs_no_identity_but_a_log_entry(deciders: dict[str, Decider]) -> None:
    key = new_key()
    subject = "sha256:" + "1" * 64
    store = Store()
    sig = _sig_tag(store, [cosign_sig_layer(key, simple_signing(subject, IMAGE_REPO))])
    options = SignatureOptions(keys=(public_pem(key),), reference=IMAGE)
    section = collect_signatures(subject, store.blobs, options, Collection(), sig_manifests=[sig])

    # Signed with the operator's key: no identity to compare, no certificate to expire;
    # uploaded to no transparency log, so a person decides.
    assert decide_with(deciders, subject, signature=section) == {"rekor_unreachable"}


@pytest.mark.parametrize("case", ["other-image", "bad-signature", "other-key", "no-key"])
def test_key_based_signatures_that_must_be_rejected(case: str) -> None:
    key, other = new_key(), new_key()
    subject = "sha256:" + "1" * 64
    payload = simple_signing("sha256:" + "9" * 64 if case == "other-image" else subject)
    layer = cosign_sig_layer(other if case == "other-key" else key, payload)
    if case == "bad-signature":
        mt, blob, ann = layer
        raw = bytearray(base64.b64decode(ann["dev.cosignproject.cosign/signature"]))
        raw[-1] ^= 1
        layer = (mt, blob, {"dev.cosignproject.cosign/signature": base64.b64encode(bytes(raw)).decode()})
    store = Store()
    sig = _sig_tag(store, [layer])
    keys = () if case == "no-key" else (public_pem(key),)
    collection = Collection()

    section = collect_signatures(
        subject, store.blobs, SignatureOptions(keys=keys), collection, sig_manifests=[sig]
    )

    assert section["verified"] is False
    [rejected] = section["rejected"]
    expected = {
        "other-image": f"the payload signs sha256:{'9' * 64}, not {subject}",
        "bad-signature": "does not verify with any of the given public keys",
        "other-key": "does not verify with any of the given public keys",
        "no-key": "no certificate and no --key public key was given",
    }[case]
    assert expected in rejected["reason"]
    assert collection.errors and collection.errors[0]["collector"] == "signature"


def test_ed25519_and_rsa_keys_verify() -> None:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

    subject = "sha256:" + "1" * 64
    payload = simple_signing(subject)
    ed = ed25519.Ed25519PrivateKey.generate()
    rs = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pems = tuple(
        k.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        for k in (ed, rs)
    )
    for signature in (ed.sign(payload), rs.sign(payload, padding.PKCS1v15(), hashes.SHA256())):
        annotations = {"dev.cosignproject.cosign/signature": base64.b64encode(signature).decode()}
        found = verify_cosign_layer(payload, annotations, SignatureOptions(keys=pems))
        assert found.method == "key"


def test_the_expected_signer_is_recorded_when_several_verify() -> None:
    subject = digest_of(WHL.read_bytes())
    key = new_key()
    store = Store()
    sig = _sig_tag(store, [cosign_sig_layer(key, simple_signing(subject))])
    referrer = _bundle_referrer(store, WHL_BUNDLE.read_bytes(), subject)
    options = SignatureOptions(identity=WHL_SAN, issuer=GHA, keys=(public_pem(key),))

    section = collect_signatures(
        subject, store.blobs, options, Collection(), sig_manifests=[sig], referrers=[referrer]
    )

    # The key-based one comes first and matches trivially; both verified, one is recorded.
    assert section["verified"] is True
    assert len(section["rejected"]) == 1
    assert "is the one recorded" in section["rejected"][0]["reason"]


def test_invalid_regexp_is_an_error_not_a_crash() -> None:
    subject = digest_of(WHL.read_bytes())
    store = Store()
    referrer = _bundle_referrer(store, WHL_BUNDLE.read_bytes(), subject)
    collection = Collection()

    section = collect_signatures(
        subject,
        store.blobs,
        SignatureOptions(identity_regexp="(", issuer=GHA),
        collection,
        referrers=[referrer],
    )

    assert section["verified"] is False
    assert "regular expression '(' is invalid" in section["error"]


def test_bare_dsse_with_a_raw_r_s_signature_verifies_with_its_key() -> None:
    intoto = THIRDPARTY / "intoto"
    envelope = (intoto / "vsa.gke-gce-pre.bcid-vsa.dsse.jsonl").read_bytes().strip()
    options = SignatureOptions(keys=((intoto / "vsa.gke-gce-pre.signing-public-key.pem").read_bytes(),))

    found = verify_dsse_with_keys(envelope, options)

    assert statement_subject_digests(found.payload)[0] == "https://slsa.dev/verification_summary/v1"
    tampered = json.loads(envelope)
    statement = json.loads(base64.b64decode(tampered["payload"]))
    statement["predicate"]["verificationResult"] = "FAILED"
    tampered["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    with pytest.raises(Rejected):
        verify_dsse_with_keys(json.dumps(tampered).encode(), options)


def test_sections_always_fit_the_input_schema() -> None:
    from gate import schemas

    subject = digest_of(WHL.read_bytes())
    store = Store()
    referrer = _bundle_referrer(store, WHL_BUNDLE.read_bytes(), subject)
    section = collect_signatures(subject, store.blobs, PRODUCTION, Collection(), referrers=[referrer])
    document = {
        "gate": {"version": "1", "now": "2026-11-22T12:00:00Z"},
        "subject": {"kind": "oci-image"},
        "evidence": {"signature": copy.deepcopy(section)},
    }

    assert schemas.problems("input", document) == []
    assert BUNDLE_MEDIA_PREFIX in BUNDLE_TYPE


def test_rekor_v2_bundle_is_anchored_by_its_timestamp_authority(deciders: dict[str, Decider]) -> None:
    # Rekor v2 entries carry no integrated time; the verified RFC 3161 time anchors the certificate.
    artifact = (SIGSTORE / "staging-rekor-v2.txt").read_bytes()
    subject = digest_of(artifact)
    store = Store()
    referrer = _bundle_referrer(
        store, (SIGSTORE / "staging-rekor-v2.txt.sigstore.json").read_bytes(), subject
    )
    options = _staging(identity="jku@goto.fi", issuer="https://github.com/login/oauth")

    section = collect_signatures(subject, store.blobs, options, Collection(), referrers=[referrer])

    assert section["verified"] is True and section["identity"] == "jku@goto.fi"
    assert section["tlog"] == {"reachable": True, "consulted": False, "log_index": 645}
    assert section["signed_timestamp"] == "2025-06-09T11:57:38Z"
    assert section["cert_not_after"] == "2025-06-09T12:07:35Z"
    operator = {
        "expected_signer_identity": "jku@goto.fi",
        "expected_oidc_issuer": "https://github.com/login/oauth",
    }
    assert decide_with(deciders, subject, operator=operator, signature=section) == {"all_gates_passed"}
    unanchored = {k: v for k, v in section.items() if k != "signed_timestamp"}
    assert decide_with(deciders, subject, operator=operator, signature=unanchored) == {"expired_cert"}
