"""Managed-key Sigstore bundles: the sigstore-conformance ``managed-key-*`` cases, verified offline."""

from __future__ import annotations

import hashlib
import json

import pytest

from gate.decide import Decider
from gate.evidence.interface import Collection
from gate.evidence.signatures import Rejected, SignatureOptions, collect_signatures, verify_bundle
from tests.evidence.helpers import THIRDPARTY, Store, decide_with, digest_of, new_key, public_pem

CASES = THIRDPARTY / "sigstore" / "conformance-managed-key"
BUNDLE = CASES / "managed-key-happy-path.bundle.sigstore.json"
KEY = (CASES / "managed-key-happy-path.key.pub").read_bytes()
ARTIFACT = (CASES / "a.txt").read_bytes()
BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
KEY_SHA256 = "sha256:4cb32c4837c6dda8cfb1681efb3fef5f94ffce5b979e6bdb9139302c857af139"


def test_happy_path_verifies_with_the_listed_key_and_its_log_promise() -> None:
    found = verify_bundle(BUNDLE.read_bytes(), SignatureOptions(keys=(KEY,)), artifact=ARTIFACT)

    assert (found.method, found.key_sha256) == ("key", KEY_SHA256)
    assert found.tlog == {
        "reachable": True,
        "consulted": False,
        "log_index": 771488337,
        "integrated_time": "2025-12-18T17:04:39Z",
    }


def test_the_bundle_over_an_image_digest_is_the_recorded_signature(deciders: dict[str, Decider]) -> None:
    # a.txt stands in for the image manifest: the bundle signs sha256(a.txt), as cosign signs a digest.
    subject = digest_of(ARTIFACT)
    store = Store()
    manifest = store.manifest(
        [(BUNDLE_TYPE, BUNDLE.read_bytes(), {})], artifact_type=BUNDLE_TYPE, subject=subject
    )
    collection = Collection()

    section = collect_signatures(
        subject,
        store.blobs,
        SignatureOptions(keys=(KEY,)),
        collection,
        referrers=[store.descriptor(manifest, BUNDLE_TYPE)],
    )

    assert collection.errors == []
    assert (section["verified"], section["method"], section["key_sha256"]) == (True, "key", KEY_SHA256)
    operator = {"expected_signer_identity": "", "expected_oidc_issuer": "", "cosign_key_sha256": [KEY_SHA256]}
    assert decide_with(deciders, subject, operator=operator, signature=section) == {"all_gates_passed"}


def test_trusted_root_case_verifies_only_with_its_own_trusted_root() -> None:
    bundle = (CASES / "managed-key-and-trusted-root.bundle.sigstore.json").read_bytes()
    root = CASES / "managed-key-and-trusted-root.trusted_root.json"

    found = verify_bundle(bundle, SignatureOptions(keys=(KEY,), trusted_root=root), artifact=ARTIFACT)

    assert found.tlog["log_index"] == 51753644
    with pytest.raises(Rejected, match="signed entry timestamp does not verify"):
        verify_bundle(bundle, SignatureOptions(keys=(KEY,)), artifact=ARTIFACT)


def _tampered_set() -> bytes:
    doc = json.loads(BUNDLE.read_bytes())
    doc["verificationMaterial"]["tlogEntries"][0]["integratedTime"] = "1766077480"
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("case", "bundle", "keys", "artifact", "expected"),
    [
        ("no-key", BUNDLE.read_bytes(), (), ARTIFACT, "no --cosign-key public key was given"),
        (
            "wrong-key-conformance",
            BUNDLE.read_bytes(),
            ((CASES / "managed-key-wrong-key_fail.key.pub").read_bytes(),),
            ARTIFACT,
            "public key does not load",
        ),
        ("other-key", BUNDLE.read_bytes(), (public_pem(new_key()),), ARTIFACT, "does not verify with any"),
        ("other-bytes", BUNDLE.read_bytes(), (KEY,), ARTIFACT + b"!", "message digest is not the expected"),
        ("tampered-log-entry", _tampered_set(), (KEY,), ARTIFACT, "signed entry timestamp does not verify"),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 40 else "",
)
def test_managed_key_bundles_that_must_not_verify(
    case: str, bundle: bytes, keys: tuple[bytes, ...], artifact: bytes, expected: str
) -> None:
    with pytest.raises(Rejected, match=expected):
        verify_bundle(bundle, SignatureOptions(keys=keys), artifact=artifact)


def test_a_digest_the_bundle_does_not_sign_is_rejected() -> None:
    other = "sha256:" + hashlib.sha256(b"another manifest").hexdigest()
    with pytest.raises(Rejected, match="message digest is not the expected"):
        verify_bundle(BUNDLE.read_bytes(), SignatureOptions(keys=(KEY,)), digest=other)
