"""``make demo``: runtime decisions against a registry this script starts and stops.

1. starts Debian's docker-registry on 127.0.0.1 on a free port;
2. makes, at demo time, a cosign key pair (ECDSA P-256) and a private
   transparency-log key, and writes a Sigstore ``trusted_root.json`` that
   trusts that log (what an air-gapped site with its own Rekor does);
3. pushes two images: ``1.5.0`` signed the way ``cosign sign --key`` does
   (``sha256-<hex>.sig`` with a simple-signing payload and a Rekor SET),
   with a signed SPDX SBOM attestation (``.att``) and a model card attached
   as an OCI referrer; and ``1.6.0-rc1``, unsigned, with only a model-card
   label pointing at a URL;
4. runs ``gate eval --image ... --mode runtime`` on both (a promote and a
   block with reasons) and prints the hosts contacted and the commands run;
5. stops the registry and removes everything it made.

Run from the repository root with the project's virtualenv:
``.venv/bin/python scripts/demo_registry.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from gate.evidence.interface import Collection  # noqa: E402
from gate.evidence.oci.push import PushingClient, canonical  # noqa: E402
from tests.registry import (  # noqa: E402
    COSIGN_SIG_TYPE,
    DSSE_TYPE,
    EMPTY_TYPE,
    LAYER_TYPE,
    RegistryServer,
    dsse_envelope,
    in_toto_statement,
    registry_available,
    simple_signing_payload,
)

FIXTURES = ROOT / "fixtures" / "thirdparty"
REPO = "nim/meta/llama-3.3-70b"
CARD_TYPE = "application/vnd.nvidia.model-card.v1+json"
IDENTITY = "https://github.com/nvidia/nim-builder/.github/workflows/release.yml@refs/tags/v1.5.0"
ISSUER = "https://token.actions.githubusercontent.com"


def _sign(key: Any, data: bytes) -> bytes:
    return bytes(key.sign(data, ec.ECDSA(hashes.SHA256())))


def _der(key: Any) -> bytes:
    return bytes(
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _pem(key: Any) -> bytes:
    return bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def trusted_root(log_key: Any) -> dict[str, Any]:
    """A Sigstore trusted root whose only transparency log is the demo's."""
    der = _der(log_key)
    return {
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [
            {
                "baseUrl": "https://rekor.demo.invalid",
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": base64.b64encode(der).decode(),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": "2020-01-01T00:00:00Z"},
                },
                "logId": {"keyId": base64.b64encode(hashlib.sha256(der).digest()).decode()},
            }
        ],
        "certificateAuthorities": [],
        "ctlogs": [],
        "timestampAuthorities": [],
    }


def rekor_bundle(log_key: Any, signer: Any, payload: bytes, signature: bytes, index: int) -> str:
    """cosign's ``dev.sigstore.cosign/bundle`` annotation: a hashedrekord entry and its SET."""
    import rfc8785

    body = {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()}},
            "signature": {
                "content": base64.b64encode(signature).decode(),
                "publicKey": {"content": base64.b64encode(_pem(signer)).decode()},
            },
        },
    }
    entry: dict[str, str | int] = {
        "body": base64.b64encode(json.dumps(body).encode()).decode(),
        "integratedTime": int(time.time()) - 60,
        "logID": hashlib.sha256(_der(log_key)).hexdigest(),
        "logIndex": index,
    }
    signed = _sign(log_key, rfc8785.dumps(entry))
    return json.dumps({"SignedEntryTimestamp": base64.b64encode(signed).decode(), "Payload": entry})


def _config(labels: dict[str, str]) -> bytes:
    return canonical({"architecture": "amd64", "os": "linux", "config": {"Labels": labels}, "rootfs": {}})


def push_release(client: PushingClient, signer: Any, log_key: Any) -> str:
    """1.5.0: signed, with a signed SBOM attestation and a model-card referrer."""
    layer = b"\x1f\x8b" + os.urandom(256)
    digest, body = client.push_image(
        REPO,
        "1.5.0",
        config=_config({"org.opencontainers.image.version": "1.5.0"}),
        layers=[(layer, LAYER_TYPE)],
    )
    hexpart = digest.split(":", 1)[1]
    payload = simple_signing_payload(f"{client.registry}/{REPO}", digest)
    signature = _sign(signer, payload)
    annotations = {
        "dev.cosignproject.cosign/signature": base64.b64encode(signature).decode(),
        "dev.sigstore.cosign/bundle": rekor_bundle(log_key, signer, payload, signature, 4242),
    }
    client.push_image(
        REPO,
        f"sha256-{hexpart}.sig",
        config=_config({}),
        layers=[(payload, COSIGN_SIG_TYPE)],
        layer_annotations=[annotations],
    )
    sbom = json.loads((FIXTURES / "sbom" / "spdx-2.3.syft-0.76.0.alpine-image.spdx.json").read_text())
    statement = in_toto_statement(digest, "https://spdx.dev/Document", sbom)
    envelope = dsse_envelope(statement, "application/vnd.in-toto+json", lambda data: _sign(signer, data))
    client.push_image(
        REPO,
        f"sha256-{hexpart}.att",
        config=_config({}),
        layers=[(envelope, DSSE_TYPE)],
        layer_annotations=[{"predicateType": "https://spdx.dev/Document"}],
    )
    card = b"# Llama 3.3 70B NIM\n\nIntended use, limitations and evaluation results.\n"
    subject = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": len(body)}
    card_digest, card_body = client.push_image(
        REPO,
        None,
        config=b"{}",
        config_type=EMPTY_TYPE,
        layers=[(card, "text/markdown")],
        artifact_type=CARD_TYPE,
        subject=subject,
    )
    entry = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": card_digest,
        "size": len(card_body),
        "artifactType": CARD_TYPE,
    }
    client.push_index(REPO, f"sha256-{hexpart}", [entry])
    return digest


def push_candidate(client: PushingClient) -> str:
    """1.6.0-rc1: unsigned, no SBOM, a model card only as a label pointing at a URL."""
    layer = b"\x1f\x8b" + os.urandom(256)
    digest, _ = client.push_image(
        REPO,
        "1.6.0-rc1",
        config=_config({"com.nvidia.model-card": "https://example.invalid/llama-3.3-70b/model-card"}),
        layers=[(layer, LAYER_TYPE)],
    )
    return digest


def report(source: str, ref: str, out: Path) -> Path:
    """A real scanner report from the fixtures, pointed at *ref* (its userInput / ArtifactName)."""
    doc = json.loads((FIXTURES / "vulns" / source).read_text())
    if "ArtifactName" in doc:
        doc["ArtifactName"] = ref
        doc.get("Metadata", {}).pop("RepoDigests", None)
    else:
        doc["source"]["target"] = {"userInput": ref}
    out.write_text(json.dumps(doc))
    return out


def gate(*args: str) -> int:
    """Run ``gate ARGS`` as an operator would, printing what it prints."""
    print("$ gate " + " ".join(args), flush=True)
    done = subprocess.run([sys.executable, "-m", "gate", *args], cwd=ROOT, check=False)
    print(f"(exit code {done.returncode})\n", flush=True)
    return done.returncode


def provenance(saved: Path) -> None:
    """What the collection contacted and ran, from the saved input document."""
    record = json.loads(saved.read_text())["collection"]
    print(f"  runtime mode:           {record['runtime_mode']}")
    print(f"  hosts contacted:        {', '.join(record['egress_hosts_contacted']) or '(none)'}")
    commands = [" ".join(argv) for argv in record["executed_commands"]]
    print(f"  commands run:           {'; '.join(commands) or '(none: gate speaks the registry API itself)'}")
    for error in record["errors"]:
        print(f"  recorded failure:       [{error['collector']}] {error['message']}")
    print()


def main() -> int:
    """Run the demo; returns 0 when the promote and the block came out as expected."""
    if not registry_available():
        print("not shown: it needs a local OCI registry. Enable it: sudo apt-get install docker-registry")
        print("(or run `make demo-full`, which installs it and builds llama-server)")
        return 0
    work = Path(tempfile.mkdtemp(prefix="gate-demo-"))
    server = RegistryServer(workdir=work / "registry")
    server.workdir.mkdir()
    server.start()
    try:
        signer = ec.generate_private_key(ec.SECP256R1())
        log_key = ec.generate_private_key(ec.SECP256R1())
        (work / "cosign.pub").write_bytes(_pem(signer))
        (work / "trusted_root.json").write_text(json.dumps(trusted_root(log_key), indent=2))
        with PushingClient(server.host, Collection(runtime=True)) as client:
            release = push_release(client, signer, log_key)
            candidate = push_candidate(client)
        prod = "sha256:" + hashlib.sha256(b"current production image").hexdigest()
        profile = (ROOT / "policy-profiles" / "nim-promotion.yaml").read_text()
        profile = profile.replace('registries: ["nvcr.io/"]', f'registries: ["{server.host}/"]')
        (work / "demo.yaml").write_text(profile.replace("name: nim-promotion", "name: nim-promotion-demo"))
        print(f"== registry {server.host} (docker-registry on loopback), repository {REPO}")
        print(
            f"   1.5.0     {release}  signed (cosign key + Rekor SET), SBOM attestation, model-card referrer"
        )
        print(f"   1.6.0-rc1 {candidate}  unsigned, model card only as a label\n")

        base = ["--prod-digest", prod, "--identity", IDENTITY, "--issuer", ISSUER, "--mode", "runtime"]
        base += ["--profile", str(work / "demo.yaml"), "--cosign-key", str(work / "cosign.pub")]
        base += ["--trusted-root", str(work / "trusted_root.json")]
        baseline = report("trivy-alpine-3.9.4.json", f"{server.host}/{REPO}@{prod}", work / "prod.json")

        ref = f"{server.host}/{REPO}:1.5.0"
        scan = report("trivy-alpine-3.10.2.json", f"{server.host}/{REPO}@{release}", work / "release.json")
        saved = work / "release.input.json"
        promote = gate(
            "eval", "--image", ref, "--pin", release, *base,
            "--grype-report", str(scan), "--baseline-report", str(baseline), "--save-input", str(saved),
        )  # fmt: skip
        provenance(saved)

        ref = f"{server.host}/{REPO}:1.6.0-rc1"
        scan = report("trivy-alpine-3.9.4.json", f"{server.host}/{REPO}@{candidate}", work / "rc.json")
        clean = report("trivy-alpine-3.10.2.json", f"{server.host}/{REPO}@{prod}", work / "prod-clean.json")
        saved = work / "rc.input.json"
        block = gate(
            "eval", "--image", ref, "--pin", release, *base,
            "--grype-report", str(scan), "--baseline-report", str(clean), "--save-input", str(saved),
        )  # fmt: skip
        provenance(saved)
    finally:
        server.stop()
        print(f"== registry on {server.host} stopped")
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    return 0 if (promote, block) == (0, 1) else 1


if __name__ == "__main__":
    sys.exit(main())
