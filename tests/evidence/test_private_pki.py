"""Cosign key-in-certificate signatures from a private PKI, with base64 wrapped the way tools wrap it.

The PKI is made with the openssl command line, as an organisation running its
own CA would; the signature is ``openssl dgst -sign | base64`` (coreutils
wraps at 76 columns) and the leaf certificate is re-wrapped at 76 columns,
the way MIME tools and many BYO-PKI scripts write PEM. The image and its
``.sig`` layer are pushed to a real registry and collected at runtime.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from gate.evidence.container import ContainerRequest, collect
from gate.evidence.interface import Collection
from gate.evidence.oci.push import PushingClient
from gate.evidence.signatures import Rejected, SignatureOptions, verify_cosign_layer
from tests.evidence.test_registry_decisions import PROD, _decide, _profile
from tests.registry import COSIGN_SIG_TYPE, LAYER_TYPE, RegistryServer, simple_signing_payload

SIGNER = "release@example.com"
_LEAF_EXT = (
    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n"
    f"subjectAltName=email:{SIGNER}\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
)
_CA_EXT = (
    "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n"
    "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
)


def _openssl(*args: str, cwd: Path, stdin: bytes | None = None) -> bytes:
    run = subprocess.run(["openssl", *args], cwd=cwd, input=stdin, capture_output=True, check=False)
    assert run.returncode == 0, run.stderr.decode()
    return run.stdout


def _new_key_and_csr(cwd: Path, name: str, subject: str) -> None:
    _openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=cwd,
    )  # fmt: skip


def make_pki(cwd: Path) -> dict[str, bytes]:
    """Root, intermediate and a code-signing leaf for SIGNER, all made by openssl in *cwd*."""
    cwd.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "root.key", "-out", "root.pem", "-days", "30", "-subj", f"/CN=Root {cwd.name}",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=cwd,
    )  # fmt: skip
    (cwd / "ca.ext").write_text(_CA_EXT)
    (cwd / "leaf.ext").write_text(_LEAF_EXT)
    _new_key_and_csr(cwd, "int", f"/CN=Signing CA {cwd.name}")
    _openssl(
        "x509", "-req", "-in", "int.csr", "-CA", "root.pem", "-CAkey", "root.key", "-CAcreateserial",
        "-out", "int.pem", "-days", "30", "-extfile", "ca.ext", cwd=cwd,
    )  # fmt: skip
    _new_key_and_csr(cwd, "leaf", "/CN=release")
    _openssl(
        "x509", "-req", "-in", "leaf.csr", "-CA", "int.pem", "-CAkey", "int.key", "-CAcreateserial",
        "-out", "leaf.pem", "-days", "30", "-extfile", "leaf.ext", cwd=cwd,
    )  # fmt: skip
    return {name: (cwd / f"{name}.pem").read_bytes() for name in ("root", "int", "leaf")}


def _wrap76(pem: bytes) -> str:
    lines = pem.decode().strip().splitlines()
    body = "".join(lines[1:-1])
    return "\n".join([lines[0], *(body[i : i + 76] for i in range(0, len(body), 76)), lines[-1]]) + "\n"


def sign_layer(cwd: Path, pki: dict[str, bytes], payload: bytes, newline: str = "\n") -> dict[str, str]:
    """The ``.sig`` layer annotations ``cosign sign --certificate --certificate-chain`` would write,
    with the signature as ``base64`` prints it (76 columns)."""
    (cwd / "payload").write_bytes(payload)
    signature = _openssl("dgst", "-sha256", "-sign", "leaf.key", "payload", cwd=cwd)
    wrapped = subprocess.run(["base64"], input=signature, capture_output=True, check=True).stdout.decode()
    assert "\n" in wrapped.strip()  # really wrapped
    return {
        "dev.cosignproject.cosign/signature": wrapped.replace("\n", newline),
        "dev.sigstore.cosign/certificate": _wrap76(pki["leaf"]),
        "dev.sigstore.cosign/chain": (pki["int"] + pki["root"]).decode(),
    }


def test_wrapped_base64_decodes_as_cosign_decodes_it(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "corp")
    payload = b'{"critical":{}}'
    options = SignatureOptions(identity=SIGNER, pki_roots=(pki["root"],))

    for newline in ("\n", "\r\n"):
        found = verify_cosign_layer(payload, sign_layer(tmp_path / "corp", pki, payload, newline), options)
        assert (found.method, found.identity, found.issuer) == ("pki", SIGNER, "")

    annotations = sign_layer(tmp_path / "corp", pki, payload)
    annotations["dev.cosignproject.cosign/signature"] += "!"
    with pytest.raises(Rejected, match="not valid base64"):
        verify_cosign_layer(payload, annotations, options)


def test_a_certificate_from_another_ca_or_without_the_profile_pki_is_refused(tmp_path: Path) -> None:
    corp = make_pki(tmp_path / "corp")
    mallory = make_pki(tmp_path / "mallory")  # the same signer name, someone else's CA
    payload = b'{"critical":{}}'
    annotations = sign_layer(tmp_path / "mallory", mallory, payload)

    with pytest.raises(Rejected, match="does not chain to the profile's private PKI roots"):
        verify_cosign_layer(
            payload, annotations, SignatureOptions(identity=SIGNER, pki_roots=(corp["root"],))
        )
    with pytest.raises(Rejected, match="Fulcio roots"):
        verify_cosign_layer(
            payload, sign_layer(tmp_path / "corp", corp, payload), SignatureOptions(identity=SIGNER)
        )


def _pki_profile_extra(pki: dict[str, bytes]) -> str:
    def block(pem: bytes) -> str:
        return "      - |\n" + "".join(f"        {line}\n" for line in pem.decode().strip().splitlines())

    return "  private_pki:\n    roots:\n" + block(pki["root"]) + "    intermediates:\n" + block(pki["int"])


def _push(host: str, repository: str, annotations_for: Any) -> str:
    with PushingClient(host, Collection(runtime=True)) as client:
        image, _ = client.push_image(
            repository,
            "1.0",
            config=b'{"architecture":"amd64","os":"linux"}',
            layers=[(b"\x1f\x8bpki", LAYER_TYPE)],
        )
        payload = simple_signing_payload(f"{host}/{repository}", image)
        client.push_image(
            repository,
            f"sha256-{image.split(':', 1)[1]}.sig",
            config=b"{}",
            layers=[(payload, COSIGN_SIG_TYPE)],
            layer_annotations=[annotations_for(payload)],
        )
    return image


@pytest.mark.parametrize("signed_by", ["corp", "mallory"])
def test_a_private_pki_signed_image_in_a_registry(
    tmp_path: Path, plain_registry: RegistryServer, signed_by: str
) -> None:
    host = plain_registry.host
    corp = make_pki(tmp_path / "corp")
    signer_pki = corp if signed_by == "corp" else make_pki(tmp_path / "mallory")
    profile = _profile(tmp_path, host, _pki_profile_extra(corp))
    repository = f"nim/pki-{signed_by}"
    image = _push(host, repository, lambda payload: sign_layer(tmp_path / signed_by, signer_pki, payload))

    request = ContainerRequest(
        ref=f"{host}/{repository}:1.0", pin=image, prod_digest=PROD, identity=SIGNER, mode="runtime"
    )
    document = collect(request, profile.name, profile.sha256, profile.settings, env={}).document
    reasons = set(_decide(profile, document)["reasons"])

    signature = document["evidence"]["signature"]
    if signed_by == "corp":
        assert (signature["verified"], signature["method"], signature["identity"]) == (True, "pki", SIGNER)
        # No issuer is asked for or compared; no log entry, no scan: a person decides on those.
        assert reasons.isdisjoint(
            {"inputs_incomplete", "unsigned", "wrong_identity", "wrong_issuer", "expired_cert"}
        )
        assert "signed_identity_mismatch" not in reasons
    else:
        assert signature["verified"] is False
        assert "does not chain to the profile's private PKI roots" in signature["rejected"][0]["reason"]
        assert "unsigned" in reasons
