"""Real registries on loopback for the tests (and ``make demo``).

- ``RegistryServer``: Debian's ``docker-registry`` (distribution 2.8) on
  127.0.0.1 on a free port, with a temporary storage directory; plain,
  with htpasswd basic auth, or with Docker token auth.
- ``TokenServer``: a small Docker token service (``GET /token?service=&scope=``
  with basic credentials, answering a JWT signed ES256 by a key whose
  self-signed certificate the registry trusts through ``rootcertbundle``).
- ``FakeRegistry``: an ``http.server`` that answers the distribution API the
  way a broken or hostile registry would (lying bodies, 5xx, silence, huge
  manifests), and counts connections.
- ``seed``: pushes real OCI content with gate's own ``PushingClient``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

REGISTRY_BINARY = "/usr/bin/docker-registry"
SERVICE = "gate-test-registry"
ISSUER = "gate-test-token-issuer"
USER = "gate-user"
PASSWORD = "s3cret-Pa55-registry"


def registry_available() -> bool:
    """True when Debian's docker-registry is installed."""
    return Path(REGISTRY_BINARY).is_file() or shutil.which("docker-registry") is not None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bcrypt_line(user: str, password: str) -> str:
    import bcrypt

    return f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()}\n"


class TokenServer:
    """Docker token auth: basic credentials in, a JWT the registry trusts out."""

    def __init__(self, workdir: Path, user: str = USER, password: str = PASSWORD) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.user, self.password = user, password
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gate test token signer")])
        now = dt.datetime.now(dt.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.cert_der = cert.public_bytes(serialization.Encoding.DER)
        self.bundle = workdir / "token-root.pem"
        self.bundle.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.requests: list[str] = []
        self.port = free_port()
        self.realm = f"http://127.0.0.1:{self.port}/token"
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(self.path)
                status, body = server.answer(self.path, self.headers.get("Authorization", ""))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def answer(self, path: str, authorization: str) -> tuple[int, dict[str, Any]]:
        """(status, JSON body) for one token request."""
        import jwt

        expected = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        if authorization != expected:
            return 401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]}
        query = parse_qs(urlsplit(path).query)
        access = []
        for scope in query.get("scope", []):
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": self.user,
            "aud": query.get("service", [""])[0],
            "exp": now + 300,
            "nbf": now - 60,
            "iat": now,
            "jti": os.urandom(8).hex(),
            "access": access,
        }
        token = jwt.encode(
            claims, self.key, algorithm="ES256", headers={"x5c": [base64.b64encode(self.cert_der).decode()]}
        )
        return 200, {"token": token, "expires_in": 300}

    def start(self) -> TokenServer:
        """Serve in a daemon thread."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class RegistryServer:
    """One docker-registry process on 127.0.0.1."""

    auth: str = "none"
    """none, htpasswd or token."""
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="gate-registry-")))
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    token_server: TokenServer | None = None

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    def _config(self) -> str:
        lines = [
            "version: 0.1",
            "log:",
            "  level: error",
            "  accesslog:",
            "    disabled: true",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {self.workdir / 'data'}",
            "  delete:",
            "    enabled: true",
            "http:",
            f"  addr: 127.0.0.1:{self.port}",
            "  secret: gate-test-only-secret",
        ]
        if self.auth == "htpasswd":
            users = self.workdir / "htpasswd"
            users.write_text(_bcrypt_line(USER, PASSWORD))
            lines += ["auth:", "  htpasswd:", "    realm: gate-test", f"    path: {users}"]
        elif self.auth == "token":
            self.token_server = TokenServer(self.workdir).start()
            lines += [
                "auth:",
                "  token:",
                f"    realm: {self.token_server.realm}",
                f"    service: {SERVICE}",
                f"    issuer: {ISSUER}",
                f"    rootcertbundle: {self.token_server.bundle}",
            ]
        return "\n".join(lines) + "\n"

    def start(self) -> RegistryServer:
        """Start the registry and wait until ``/v2/`` answers."""
        binary = REGISTRY_BINARY if Path(REGISTRY_BINARY).is_file() else shutil.which("docker-registry")
        assert binary, "docker-registry is not installed"
        self.port = free_port()
        config = self.workdir / "config.yml"
        config.write_text(self._config())
        log = (self.workdir / "registry.log").open("wb")
        self.process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"docker-registry exited: {(self.workdir / 'registry.log').read_text()[-500:]}"
                )
            try:
                status = httpx.get(f"http://{self.host}/v2/", timeout=0.5).status_code
                if status in (200, 401):
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("docker-registry did not start within 15 s")

    def stop(self) -> None:
        """Stop the registry (and its token server) and remove its storage."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.token_server is not None:
            self.token_server.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


# -- a registry that misbehaves on purpose ------------------------------------

Handler = Callable[[str, str], tuple[int, dict[str, str], bytes] | None]


class FakeRegistry:
    """Answers ``/v2/...`` through a function: ``(method, path) -> (status, headers, body)``.

    Returning None means "never answer" (the connection stays open and
    silent until the server stops), which is how a hung registry looks.
    """

    def __init__(self, respond: Handler) -> None:
        self.respond = respond
        self.requests: list[tuple[str, str]] = []
        self.headers: list[dict[str, str]] = []
        self.connections = 0
        self.port = free_port()
        self.release = threading.Event()
        fake = self

        class Handler_(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def setup(self) -> None:
                fake.connections += 1
                super().setup()

            def _serve(self) -> None:
                fake.requests.append((self.command, self.path))
                fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                answer = fake.respond(self.command, self.path)
                if answer is None:
                    fake.release.wait(30)
                    return
                status, headers, body = answer
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = _serve
            do_HEAD = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler_)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> FakeRegistry:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


# -- real OCI content ----------------------------------------------------------

COSIGN_SIG_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE_TYPE = "application/vnd.dsse.envelope.v1+json"
SIGSTORE_BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
MODEL_CARD_TYPE = "application/vnd.nvidia.model-card.v1+json"
SBOM_SPDX_TYPE = "application/spdx+json"
IMAGE_CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "thirdparty"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _config(labels: dict[str, str] | None = None, arch: str = "amd64") -> bytes:
    value: dict[str, Any] = {
        "architecture": arch,
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": []},
        "config": {"Labels": labels or {}},
    }
    return json.dumps(value, sort_keys=True).encode()


def simple_signing_payload(reference: str, digest: str) -> bytes:
    """cosign's simple-signing payload for *digest*."""
    return json.dumps(
        {
            "critical": {
                "identity": {"docker-reference": reference},
                "image": {"docker-manifest-digest": digest},
                "type": "cosign container image signature",
            },
            "optional": None,
        },
        separators=(",", ":"),
    ).encode()


def in_toto_statement(digest: str, predicate_type: str, predicate: Any) -> bytes:
    """An in-toto Statement v1 about *digest*."""
    return json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "image", "digest": {"sha256": digest.split(":", 1)[1]}}],
            "predicateType": predicate_type,
            "predicate": predicate,
        },
        separators=(",", ":"),
    ).encode()


def dsse_envelope(payload: bytes, payload_type: str, sign: Callable[[bytes], bytes] | None) -> bytes:
    """A DSSE envelope over *payload* (signed with *sign* over PAE, or with an empty signature list)."""
    pae = b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type.encode(), len(payload), payload)
    signatures = [{"keyid": "", "sig": base64.b64encode(sign(pae)).decode()}] if sign else []
    return json.dumps(
        {"payloadType": payload_type, "payload": base64.b64encode(payload).decode(), "signatures": signatures}
    ).encode()


@dataclass
class Seeded:
    """Digests of what ``seed`` pushed."""

    repository: str
    image: str
    """Single-platform image manifest (tag ``1.0``)."""
    index: str
    """Two-platform image index (tag ``multi``)."""
    platforms: list[str]
    label_only: str
    """An image whose only model card is a label pointing at a URL (tag ``label-only``)."""
    sig: str
    """The ``sha256-<hex>.sig`` manifest for ``image``."""
    att: str
    """The ``sha256-<hex>.att`` manifest for ``image``."""
    referrers: dict[str, str]
    """artifactType -> referrer manifest digest, for ``image``."""
    referrers_index: str
    """The ``sha256-<hex>`` referrers tag-schema index for ``image``."""
    blobs: dict[str, bytes] = field(default_factory=dict)
    """Interesting payloads by name (simple-signing payload, SBOM, card)."""


def seed(client: Any, repository: str, sign: Callable[[bytes], bytes] | None = None) -> Seeded:
    """Push an image, an index, cosign .sig/.att, referrers and a label-only card."""
    layer = b"\x1f\x8b" + os.urandom(64)
    image, _ = client.push_image(
        repository,
        "1.0",
        config=_config({"org.opencontainers.image.title": "demo"}),
        layers=[(layer, LAYER_TYPE)],
    )
    manifests = []
    platforms = []
    for arch in ("amd64", "arm64"):
        digest, body = client.push_image(
            repository, None, config=_config(arch=arch), layers=[(layer, LAYER_TYPE)]
        )
        platforms.append(digest)
        manifests.append(
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": digest,
                "size": len(body),
                "platform": {"os": "linux", "architecture": arch},
            }
        )
    index, _ = client.push_index(repository, "multi", manifests)
    label_only, _ = client.push_image(
        repository,
        "label-only",
        config=_config({"com.nvidia.model-card": "https://example.invalid/model-card.md"}),
        layers=[(layer, LAYER_TYPE)],
    )
    hexpart = image.split(":", 1)[1]
    subject = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": image, "size": 0}
    subject["size"] = len(client.manifest(repository, image).body)
    blobs: dict[str, bytes] = {}

    payload = simple_signing_payload(f"{client.registry}/{repository}", image)
    signature = base64.b64encode(sign(payload)).decode() if sign else ""
    sig, _ = client.push_image(
        repository,
        f"sha256-{hexpart}.sig",
        config=_config(),
        layers=[(payload, COSIGN_SIG_TYPE)],
        layer_annotations=[{"dev.cosignproject.cosign/signature": signature}],
    )
    blobs["simple-signing"] = payload

    sbom_path = FIXTURES / "sbom" / "spdx-2.3.k8s-bom.rust-hello-server.spdx.json"
    sbom = json.loads(sbom_path.read_text()) if sbom_path.is_file() else {"spdxVersion": "SPDX-2.3"}
    statement = in_toto_statement(image, "https://spdx.dev/Document", sbom)
    envelope = dsse_envelope(statement, "application/vnd.in-toto+json", sign)
    att, _ = client.push_image(
        repository,
        f"sha256-{hexpart}.att",
        config=_config(),
        layers=[(envelope, DSSE_TYPE)],
        layer_annotations=[{"predicateType": "https://spdx.dev/Document"}],
    )
    blobs["sbom-envelope"] = envelope

    empty = b"{}"
    referrers: dict[str, str] = {}
    bundle_path = FIXTURES / "sigstore" / "bundle_v3_github.whl.sigstore"
    bundle = bundle_path.read_bytes() if bundle_path.is_file() else b'{"mediaType":"bundle"}'
    card = b"# Model card\n\nIntended use: demo.\n"
    blobs["model-card"] = card
    for artifact_type, content, media in (
        (SIGSTORE_BUNDLE_TYPE, bundle, SIGSTORE_BUNDLE_TYPE),
        ("application/vnd.in-toto+json", envelope, DSSE_TYPE),
        (MODEL_CARD_TYPE, card, "text/markdown"),
    ):
        digest, _ = client.push_image(
            repository,
            None,
            config=empty,
            config_type=EMPTY_TYPE,
            layers=[(content, media)],
            artifact_type=artifact_type,
            subject=subject,
        )
        referrers[artifact_type] = digest
    entries = []
    for artifact_type, digest in referrers.items():
        size = len(client.manifest(repository, digest).body)
        entries.append(
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": digest,
                "size": size,
                "artifactType": artifact_type,
            }
        )
    referrers_index, _ = client.push_index(repository, f"sha256-{hexpart}", entries)
    return Seeded(
        repository, image, index, platforms, label_only, sig, att, referrers, referrers_index, blobs
    )


# -- pytest fixtures (imported into tests/conftest.py) -------------------------


def _require_registry() -> None:
    if not registry_available():
        pytest.skip(
            "Debian's docker-registry is not installed (apt-get install docker-registry; .ci/run does it)"
        )


def signing_key() -> Any:
    """A fresh ECDSA P-256 key (cosign's default key type)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def signer(key: Any) -> Callable[[bytes], bytes]:
    """sign(data) -> DER ECDSA-SHA256 signature, as cosign makes them."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    return lambda data: bytes(key.sign(data, ec.ECDSA(hashes.SHA256())))


@pytest.fixture(scope="session")
def plain_registry() -> Iterator[RegistryServer]:
    """docker-registry without auth on 127.0.0.1."""
    _require_registry()
    server = RegistryServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def basic_registry() -> Iterator[RegistryServer]:
    """docker-registry with htpasswd basic auth (user USER, password PASSWORD)."""
    _require_registry()
    server = RegistryServer(auth="htpasswd").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def token_registry() -> Iterator[RegistryServer]:
    """docker-registry with Docker token auth served by a TokenServer."""
    _require_registry()
    server = RegistryServer(auth="token").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def cosign_key() -> Any:
    """The ECDSA key the seeded signatures and attestations are made with."""
    return signing_key()


@pytest.fixture(scope="session")
def seeded(plain_registry: RegistryServer, cosign_key: Any) -> Seeded:
    """The plain registry with ``seed`` content in repository ``nim/demo``."""
    from gate.evidence.interface import Collection
    from gate.evidence.oci.push import PushingClient

    with PushingClient(plain_registry.host, Collection(runtime=True)) as client:
        return seed(client, "nim/demo", signer(cosign_key))
