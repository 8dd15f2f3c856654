"""The OCI client against a real docker-registry on loopback, and against registries that misbehave."""

from __future__ import annotations

import hashlib
import json
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gate.evidence.interface import Collection, NetworkRefused
from gate.evidence.oci.auth import Credentials
from gate.evidence.oci.client import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    ClientOptions,
    Limits,
    RegistryClient,
    RegistryError,
)
from gate.evidence.oci.push import PushingClient
from tests.registry import PASSWORD, USER, FakeRegistry, RegistryServer, Seeded, free_port

REPO = "nim/demo"
NOT_FOUND = (404, {"Content-Type": "application/json"}, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')


def client_for(host: str, *, runtime: bool = True, **options: Any) -> RegistryClient:
    slept: list[float] = []
    client = RegistryClient(
        host,
        Collection(runtime=runtime),
        credentials=options.pop("credentials", None),
        options=ClientOptions(**options),
        sleep=slept.append,
    )
    client.slept = slept  # type: ignore[attr-defined]
    return client


def failure(call: Callable[[], object]) -> RegistryError:
    """The RegistryError *call* raises."""
    with pytest.raises(RegistryError) as caught:
        call()
    return caught.value


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# -- the real registry -------------------------------------------------------------------------


def test_tag_resolves_to_the_pushed_digest(seeded: Seeded, plain_registry: RegistryServer) -> None:
    with client_for(plain_registry.host) as client:
        digest = client.resolve(REPO, "1.0")
        manifest = client.manifest(REPO, digest)

    assert digest == seeded.image
    assert manifest.media_type == OCI_MANIFEST
    assert sha(manifest.body) == digest
    assert [m for m, _ in client.requests] == ["HEAD", "GET"]


def test_an_index_is_the_subject_and_lists_its_platforms(
    seeded: Seeded, plain_registry: RegistryServer
) -> None:
    with client_for(plain_registry.host) as client:
        index = client.manifest(REPO, client.resolve(REPO, "multi"))

    assert index.is_index
    assert index.digest == seeded.index
    assert [m["digest"] for m in index.value["manifests"]] == seeded.platforms
    assert [m["platform"]["architecture"] for m in index.value["manifests"]] == ["amd64", "arm64"]


def test_referrers_fall_back_to_the_tag_schema(seeded: Seeded, plain_registry: RegistryServer) -> None:
    with client_for(plain_registry.host) as client:
        found = client.referrers(REPO, seeded.image)
        cards = client.referrers(REPO, seeded.image, "application/vnd.nvidia.model-card.v1+json")

    assert found.source == "tag-schema"  # Debian's registry answers 404 to the referrers API
    assert {d["artifactType"]: d["digest"] for d in found.descriptors} == seeded.referrers
    assert [d["digest"] for d in cards.descriptors] == [
        seeded.referrers["application/vnd.nvidia.model-card.v1+json"]
    ]
    paths = [url.split("/v2/", 1)[1] for _, url in client.requests]
    assert paths[0] == f"{REPO}/referrers/{seeded.image}"
    assert paths[1] == f"{REPO}/manifests/{seeded.image.replace(':', '-')}"


def test_cosign_tags_and_blobs_are_fetched_once_and_verified(
    seeded: Seeded, plain_registry: RegistryServer
) -> None:
    hexpart = seeded.image.split(":", 1)[1]
    with client_for(plain_registry.host) as client:
        sig = client.tag_manifest(REPO, f"sha256-{hexpart}.sig")
        again = client.tag_manifest(REPO, f"sha256-{hexpart}.sig")
        missing = client.tag_manifest(REPO, f"sha256-{hexpart}.sbom")
        assert sig is not None and again is sig
        layer = sig.value["layers"][0]
        payload = client.blob(REPO, layer["digest"])
        client.blob(REPO, layer["digest"])

    assert sig.digest == seeded.sig
    assert missing is None
    assert payload == seeded.blobs["simple-signing"]
    assert json.loads(payload)["critical"]["image"]["docker-manifest-digest"] == seeded.image
    gets = [url for method, url in client.requests if method == "GET"]
    assert len(gets) == len(set(gets)) == 3


def test_a_manifest_over_the_cap_is_refused(seeded: Seeded, plain_registry: RegistryServer) -> None:
    with (
        client_for(plain_registry.host, limits=Limits(manifest=200)) as client,
        pytest.raises(RegistryError) as caught,
    ):
        client.manifest(REPO, seeded.index)

    assert caught.value.kind == "too-large"
    assert "exceeds the cap of 200" in str(caught.value)


def test_unknown_tag_is_a_404_error(plain_registry: RegistryServer, seeded: Seeded) -> None:
    with client_for(plain_registry.host) as client, pytest.raises(RegistryError) as caught:
        client.resolve(REPO, "no-such-tag")

    assert caught.value.kind == "http-404"
    assert str(caught.value) == f"{REPO}:no-such-tag not found on {plain_registry.host} (HTTP 404)"


# -- authentication ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def basic_image(basic_registry: RegistryServer) -> str:
    with PushingClient(
        basic_registry.host, Collection(runtime=True), credentials=Credentials(USER, PASSWORD)
    ) as c:
        digest, _ = c.push_image(REPO, "1.0", config=b"{}", layers=[(b"layer", "application/octet-stream")])
    return digest


@pytest.fixture(scope="module")
def token_image(token_registry: RegistryServer) -> str:
    with PushingClient(
        token_registry.host, Collection(runtime=True), credentials=Credentials(USER, PASSWORD)
    ) as c:
        digest, _ = c.push_image(REPO, "1.0", config=b"{}", layers=[(b"layer", "application/octet-stream")])
    return digest


def test_basic_auth_without_credentials_is_a_401(basic_registry: RegistryServer, basic_image: str) -> None:
    with client_for(basic_registry.host) as client, pytest.raises(RegistryError) as caught:
        client.resolve(REPO, "1.0")

    assert caught.value.kind == "http-401"
    assert "requires credentials" in str(caught.value)


def test_basic_auth_with_credentials(basic_registry: RegistryServer, basic_image: str) -> None:
    with client_for(basic_registry.host, credentials=Credentials(USER, PASSWORD)) as client:
        digest = client.resolve(REPO, "1.0")
        client.manifest(REPO, digest)

    assert digest == basic_image


def test_basic_auth_with_a_wrong_password(basic_registry: RegistryServer, basic_image: str) -> None:
    with (
        client_for(basic_registry.host, credentials=Credentials(USER, "wrong-password-123")) as client,
        pytest.raises(RegistryError) as caught,
    ):
        client.resolve(REPO, "1.0")

    assert caught.value.kind == "http-401"
    assert "denied access" in str(caught.value)
    assert "wrong-password-123" not in str(caught.value)


def test_bearer_token_flow(token_registry: RegistryServer, token_image: str) -> None:
    assert token_registry.token_server is not None
    before = len(token_registry.token_server.requests)
    with client_for(token_registry.host, credentials=Credentials(USER, PASSWORD)) as client:
        digest = client.resolve(REPO, "1.0")
        manifest = client.manifest(REPO, digest)
        client.blob(REPO, manifest.value["config"]["digest"])

    assert digest == token_image
    token_requests = token_registry.token_server.requests[before:]
    assert len(token_requests) == 1  # cached per scope
    assert "scope=repository%3Anim%2Fdemo%3Apull" in token_requests[0]
    assert "service=gate-test-registry" in token_requests[0]
    realm_host = token_registry.token_server.realm.split("/")[2]
    assert client.collection.egress_hosts_contacted == [token_registry.host, realm_host]


def test_bearer_token_flow_with_a_wrong_password(token_registry: RegistryServer, token_image: str) -> None:
    with (
        client_for(token_registry.host, credentials=Credentials(USER, "not-the-password")) as client,
        pytest.raises(RegistryError) as caught,
    ):
        client.resolve(REPO, "1.0")

    assert caught.value.kind == "http-401"
    assert "refused the credentials" in str(caught.value)
    assert "not-the-password" not in str(caught.value)


def test_bearer_token_flow_without_credentials(token_registry: RegistryServer, token_image: str) -> None:
    with client_for(token_registry.host) as client, pytest.raises(RegistryError) as caught:
        client.resolve(REPO, "1.0")

    assert caught.value.kind == "http-401"
    assert "requires credentials" in str(caught.value)


# -- registries that misbehave -----------------------------------------------------------------


def test_accept_names_oci_and_docker_manifest_types() -> None:
    digest = "sha256:" + "a" * 64

    def respond(method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Docker-Content-Digest": digest, "Content-Type": OCI_MANIFEST}, b""

    with FakeRegistry(respond) as fake, client_for(fake.host) as client:
        assert client.resolve(REPO, "1.0") == digest

    accept = fake.headers[0]["accept"]
    for media_type in (OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST):
        assert media_type in accept


def test_a_body_that_does_not_match_its_digest_is_refused() -> None:
    honest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {}, "layers": []}).encode()
    lying = honest.replace(b'"layers": []', b'"layers": [{"digest": "sha256:evil"}]')
    asked = sha(honest)

    def respond(method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": asked}, lying

    with FakeRegistry(respond) as fake, client_for(fake.host) as client:
        by_digest = failure(lambda: client.manifest(REPO, asked))
        by_tag = failure(lambda: client.tag_manifest(REPO, "1.0"))
        blob = failure(lambda: client.blob(REPO, asked))

    for caught in (by_digest, by_tag, blob):
        assert caught.kind == "digest-mismatch"
        assert f"hashes to {sha(lying)}" in str(caught)
    assert client.fetched == {}


def test_5xx_is_retried_with_backoff_then_reported() -> None:
    def respond(method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        return 503, {"Content-Type": "application/json"}, b'{"errors":[{"code":"UNAVAILABLE"}]}'

    with (
        FakeRegistry(respond) as fake,
        client_for(fake.host, retries=3, backoff=0.1) as client,
        pytest.raises(RegistryError) as caught,
    ):
        client.resolve(REPO, "1.0")

    assert caught.value.kind == "http-503"
    assert "after 4 attempt(s)" in str(caught.value)
    assert len(fake.requests) == 4
    assert client.slept == [0.1, 0.2, 0.4]  # type: ignore[attr-defined]


def test_retry_after_is_honoured_up_to_its_cap() -> None:
    answers = iter(
        [
            (429, {"Retry-After": "2"}, b""),
            (429, {"Retry-After": "3600"}, b""),
            (200, {"Docker-Content-Digest": "sha256:" + "b" * 64}, b""),
        ]
    )
    with (
        FakeRegistry(lambda method, path: next(answers)) as fake,
        client_for(fake.host, retry_after_cap=5.0) as client,
    ):
        assert client.resolve(REPO, "1.0") == "sha256:" + "b" * 64

    assert client.slept == [2.0, 5.0]  # type: ignore[attr-defined]


def test_a_registry_that_never_answers_times_out() -> None:
    with (
        FakeRegistry(lambda method, path: None) as fake,
        client_for(fake.host, timeout=0.3, retries=1) as client,
        pytest.raises(RegistryError) as caught,
    ):
        client.resolve(REPO, "1.0")

    assert caught.value.kind == "timeout"
    assert "no answer within 0.3 s (2 attempt(s))" in str(caught.value)


def test_an_oversized_manifest_without_content_length_is_cut_off() -> None:
    big = b"{" + b" " * (5 * 1024 * 1024) + b"}"

    def respond(method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": OCI_MANIFEST, "Content-Length": str(len(big))}, big

    with (
        FakeRegistry(respond) as fake,
        client_for(fake.host) as client,
        pytest.raises(RegistryError) as caught,
    ):
        client.manifest(REPO, sha(big))

    assert caught.value.kind == "too-large"


def test_a_connection_refused_is_retried_then_reported() -> None:
    port = free_port()  # nothing listens here
    with client_for(f"127.0.0.1:{port}", retries=2) as client, pytest.raises(RegistryError) as caught:
        client.resolve(REPO, "1.0")

    assert caught.value.kind == "connect"
    assert "3 attempt(s)" in str(caught.value)


def test_static_mode_opens_no_connection() -> None:
    with (
        FakeRegistry(lambda method, path: NOT_FOUND) as fake,
        client_for(fake.host, runtime=False) as client,
        pytest.raises(NetworkRefused),
    ):
        client.resolve(REPO, "1.0")

    assert fake.connections == 0
    assert client.requests == []
    assert client.collection.egress_hosts_contacted == []


def test_a_redirect_to_a_host_the_profile_does_not_allow_is_refused() -> None:
    with FakeRegistry(lambda method, path: NOT_FOUND) as elsewhere:

        def respond(method: str, path: str) -> tuple[int, dict[str, str], bytes]:
            return 307, {"Location": f"http://{elsewhere.host}/blob"}, b""

        with (
            FakeRegistry(respond) as fake,
            client_for(fake.host) as client,
            pytest.raises(RegistryError) as caught,
        ):
            client.blob(REPO, "sha256:" + "c" * 64)
        assert elsewhere.connections == 0

    assert caught.value.kind == "not-allowed"
    assert elsewhere.host in str(caught.value)
    assert client.collection.egress_hosts_contacted == [fake.host]


def test_a_redirect_to_an_allowed_host_is_followed_without_credentials() -> None:
    blob = b"config-bytes"
    with FakeRegistry(lambda method, path: (200, {}, blob)) as cdn:

        def respond(method: str, path: str) -> tuple[int, dict[str, str], bytes]:
            return 307, {"Location": f"http://{cdn.host}/blob"}, b""

        with (
            FakeRegistry(respond) as fake,
            client_for(
                fake.host, allowed_hosts=frozenset({cdn.host}), credentials=Credentials("u", "p")
            ) as client,
        ):
            client._basic_hosts.add(fake.host)  # as after a basic-auth challenge
            assert client.blob(REPO, sha(blob)) == blob

    assert "authorization" in fake.headers[0]
    assert "authorization" not in cdn.headers[0]
    assert client.collection.egress_hosts_contacted == [fake.host, cdn.host]


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[str]:
    """An HTTPS server on loopback with a self-signed certificate nobody trusts."""
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem"),
            "-subj", "/CN=127.0.0.1", "-days", "1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            try:
                context.wrap_socket(conn, server_side=True).close()
            except (ssl.SSLError, OSError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"127.0.0.1:{port}"
    stop.set()
    thread.join(2)
    listener.close()


def test_an_untrusted_certificate_is_a_tls_failure(tls_server: str) -> None:
    with (
        client_for(tls_server, loopback_plain_http=False, retries=3) as client,
        pytest.raises(RegistryError) as caught,
    ):
        client.resolve(REPO, "1.0")

    assert caught.value.kind == "tls"
    assert "certificate verify failed" in str(caught.value)
    assert len(client.requests) == 1  # a TLS failure is not retried


def test_plain_http_is_refused_for_a_host_that_is_not_loopback() -> None:
    client = client_for("registry.example")
    assert client.scheme_for("registry.example") == "https"
    assert client.scheme_for("127.0.0.1:5000") == "http"
    assert client.scheme_for("[::1]:5000") == "http"
    insecure = client_for("registry.example", insecure_hosts=frozenset({"registry.example"}))
    assert insecure.scheme_for("registry.example") == "http"


def test_malformed_manifests_are_refused() -> None:
    bodies = {
        "not-json": b"this is not json",
        "not-object": b"[1, 2, 3]",
        "unknown-type": json.dumps(
            {"schemaVersion": 2, "mediaType": "application/x-evil", "config": {}}
        ).encode(),
        "index-without-manifests": json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX}).encode(),
        "manifest-without-config": json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST}).encode(),
    }
    by_digest = {sha(body): body for body in bodies.values()}

    def respond(method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": OCI_MANIFEST}, by_digest[path.rsplit("/", 1)[1]]

    with FakeRegistry(respond) as fake, client_for(fake.host) as client:
        problems = {
            name: failure(lambda b=body: client.manifest(REPO, sha(b))) for name, body in bodies.items()
        }

    assert {name: error.kind for name, error in problems.items()} == dict.fromkeys(bodies, "malformed")
    assert "not valid JSON" in str(problems["not-json"])
    assert "unsupported manifest media type 'application/x-evil'" in str(problems["unknown-type"])


def test_the_referrers_api_is_used_when_the_registry_has_it_and_pages_are_followed() -> None:
    subject = "sha256:" + "d" * 64
    first = [
        {"mediaType": OCI_MANIFEST, "digest": "sha256:" + "e" * 64, "size": 10, "artifactType": "a/card"}
    ]
    second = [
        {"mediaType": OCI_MANIFEST, "digest": "sha256:" + "f" * 64, "size": 11, "artifactType": "a/sig"}
    ]

    def respond(method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX}
        if path.endswith("page=2"):
            return 200, {"Content-Type": OCI_INDEX}, json.dumps({**index, "manifests": second}).encode()
        link = f'</v2/{REPO}/referrers/{subject}?page=2>; rel="next"'
        return (
            200,
            {"Content-Type": OCI_INDEX, "Link": link},
            json.dumps({**index, "manifests": first}).encode(),
        )

    with FakeRegistry(respond) as fake, client_for(fake.host) as client:
        found = client.referrers(REPO, subject)
        cards = client.referrers(REPO, subject, "a/card")

    assert found.source == "referrers-api"
    assert found.descriptors == first + second
    assert cards.descriptors == first
    assert fake.requests[0] == ("GET", f"/v2/{REPO}/referrers/{subject}")
    assert fake.requests[2] == ("GET", f"/v2/{REPO}/referrers/{subject}?artifactType=a%2Fcard")
