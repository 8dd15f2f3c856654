"""Image references, parsed as docker and the distribution grammar read them."""

from __future__ import annotations

import pytest

from gate.evidence.oci.reference import Reference, ReferenceError, parse_reference

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nvcr.io/nim/meta/llama-3.3-70b:1.5.0", Reference("nvcr.io", "nim/meta/llama-3.3-70b", "1.5.0")),
        (f"nvcr.io/nim/meta/llama@{DIGEST}", Reference("nvcr.io", "nim/meta/llama", None, DIGEST)),
        (f"nvcr.io/nim/llama:1.5@{DIGEST}", Reference("nvcr.io", "nim/llama", "1.5", DIGEST)),
        ("127.0.0.1:5000/nim/demo:1.0", Reference("127.0.0.1:5000", "nim/demo", "1.0")),
        ("localhost/demo", Reference("localhost", "demo", "latest")),
        ("[::1]:5000/demo:x", Reference("[::1]:5000", "demo", "x")),
        ("busybox", Reference("docker.io", "library/busybox", "latest")),
        ("anchore/grype:v0.94.0", Reference("docker.io", "anchore/grype", "v0.94.0")),
        ("docker.io/library/busybox:1.32.1", Reference("docker.io", "library/busybox", "1.32.1")),
    ],
)
def test_parses(text: str, expected: Reference) -> None:
    assert parse_reference(text) == expected


def test_docker_hub_is_reached_through_its_api_host() -> None:
    ref = parse_reference("busybox:1.32.1")
    assert ref.api_host == "registry-1.docker.io"
    assert str(ref) == "docker.io/library/busybox:1.32.1"


def test_ports_and_pins() -> None:
    ref = parse_reference(f"127.0.0.1:5000/nim/demo:1.0@{DIGEST}")
    assert ref.hostname == "127.0.0.1"
    assert ref.reference == DIGEST
    assert str(ref.with_digest(DIGEST)) == f"127.0.0.1:5000/nim/demo@{DIGEST}"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "1..2048 characters"),
        ("https://nvcr.io/nim/x:1", "URL scheme"),
        ("nvcr.io/nim/x @sha256:00", "whitespace"),
        ("nvcr.io/nim/x@sha256:1234", "is not a sha256/sha512 digest"),
        ("nvcr.io/Nim/x:1", "repository component 'Nim'"),
        ("nvcr.io/nim/x:-bad", "not a valid tag"),
        ("nvcr.io:99999/x", "out of range"),
        ("nvcr.io/", "names no repository"),
        ("nvcr.io/nim//x", "repository component ''"),
    ],
)
def test_refuses_with_one_line(text: str, problem: str) -> None:
    with pytest.raises(ReferenceError) as caught:
        parse_reference(text)
    assert problem in str(caught.value)
    assert "\n" not in str(caught.value)
