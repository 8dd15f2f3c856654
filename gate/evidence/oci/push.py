"""Writing to a registry: blob upload and manifest PUT.

gate's collectors never write to a registry. This exists for the test suite
and ``make demo``, which push real OCI content (images, indexes, signatures,
attestations, referrers) into a registry they start on loopback, through the
same auth, host and size rules as the read path.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode, urljoin

from gate.evidence.oci.client import OCI_INDEX, OCI_MANIFEST, RegistryClient, RegistryError, digest_of

EMPTY_CONFIG = b"{}"
EMPTY_CONFIG_TYPE = "application/vnd.oci.empty.v1+json"


def canonical(value: Any) -> bytes:
    """Compact, key-sorted JSON bytes (what gets hashed and pushed)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


class PushingClient(RegistryClient):
    """A RegistryClient that can also upload (tests and demos only)."""

    def push_blob(self, repository: str, data: bytes) -> str:
        """Upload *data* (POST then monolithic PUT); returns its digest."""
        digest = digest_of(data)
        scope = f"repository:{repository}:pull,push"
        start = self._request("POST", f"{self.base}/v2/{repository}/blobs/uploads/", scope=scope, limit=65536)
        if start.status != 202 or "location" not in start.headers:
            raise RegistryError(f"blob upload to {repository} was not accepted (HTTP {start.status})", "push")
        location = urljoin(start.url, start.headers["location"])
        joiner = "&" if "?" in location else "?"
        done = self._request(
            "PUT",
            f"{location}{joiner}{urlencode({'digest': digest})}",
            scope=scope,
            limit=65536,
            content=data,
            content_type="application/octet-stream",
        )
        if done.status != 201:
            raise RegistryError(
                f"blob upload of {digest} to {repository} failed (HTTP {done.status})", "push"
            )
        return digest

    def push_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        """PUT a manifest under *reference* (tag or digest); returns its digest."""
        scope = f"repository:{repository}:pull,push"
        done = self._request(
            "PUT",
            f"{self.base}/v2/{repository}/manifests/{reference}",
            scope=scope,
            limit=65536,
            content=body,
            content_type=media_type,
        )
        if done.status != 201:
            raise RegistryError(
                f"manifest PUT {repository}:{reference} failed (HTTP {done.status}): {done.body[:200]!r}",
                "push",
            )
        return digest_of(body)

    def push_image(
        self,
        repository: str,
        tag: str | None,
        *,
        config: bytes,
        layers: list[tuple[bytes, str]],
        config_type: str = "application/vnd.oci.image.config.v1+json",
        artifact_type: str | None = None,
        subject: dict[str, Any] | None = None,
        annotations: dict[str, str] | None = None,
        layer_annotations: list[dict[str, str]] | None = None,
    ) -> tuple[str, bytes]:
        """Push config, layers and an OCI image manifest; returns (digest, manifest bytes)."""
        self.push_blob(repository, config)
        descriptors = []
        for i, (data, media_type) in enumerate(layers):
            self.push_blob(repository, data)
            descriptor: dict[str, Any] = {
                "mediaType": media_type,
                "digest": digest_of(data),
                "size": len(data),
            }
            if layer_annotations and i < len(layer_annotations) and layer_annotations[i]:
                descriptor["annotations"] = layer_annotations[i]
            descriptors.append(descriptor)
        manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": config_type, "digest": digest_of(config), "size": len(config)},
            "layers": descriptors,
        }
        if artifact_type:
            manifest["artifactType"] = artifact_type
        if subject:
            manifest["subject"] = subject
        if annotations:
            manifest["annotations"] = annotations
        body = canonical(manifest)
        digest = self.push_manifest(repository, tag or digest_of(body), body, OCI_MANIFEST)
        return digest, body

    def push_index(
        self,
        repository: str,
        tag: str | None,
        manifests: list[dict[str, Any]],
        annotations: dict[str, str] | None = None,
    ) -> tuple[str, bytes]:
        """Push an OCI image index over already pushed manifests; returns (digest, bytes)."""
        index: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        if annotations:
            index["annotations"] = annotations
        body = canonical(index)
        digest = self.push_manifest(repository, tag or digest_of(body), body, OCI_INDEX)
        return digest, body
