"""OCI image references: ``[registry[:port]/]repository[:tag][@digest]``.

Parsed the way docker and the distribution reference grammar read them:
a first path component that contains a ``.`` or a ``:`` or is ``localhost``
names the registry; otherwise the image lives on Docker Hub
(``docker.io``, API host ``registry-1.docker.io``) and a one-component
name gains the ``library/`` namespace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
MAX_REFERENCE = 2048

_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$")
_HOST = re.compile(
    r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,253}[A-Za-z0-9])?)(?::[0-9]{1,5})?$"
)


class ReferenceError(ValueError):
    """An image reference that does not follow the grammar; the message says where."""


def is_digest(value: str) -> bool:
    """True for ``sha256:<64 hex>`` or ``sha512:<128 hex>`` (lower-case)."""
    return bool(_DIGEST.match(value))


@dataclass(frozen=True)
class Reference:
    """A parsed image reference."""

    registry: str
    """Registry as named in the reference, ``host[:port]`` (``docker.io`` for Docker Hub)."""
    repository: str
    """Repository path inside the registry, e.g. ``nim/meta/llama-3.3-70b``."""
    tag: str | None = None
    """Tag, when given."""
    digest: str | None = None
    """Digest, when given (``sha256:...``)."""

    @property
    def api_host(self) -> str:
        """The ``host[:port]`` the distribution API is served from."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def hostname(self) -> str:
        """The registry host without its port (brackets kept for IPv6)."""
        host = self.api_host
        if host.startswith("["):
            return host[: host.index("]") + 1]
        return host.rsplit(":", 1)[0] if ":" in host else host

    @property
    def reference(self) -> str:
        """What to ask the manifests endpoint for: the digest if given, else the tag."""
        return self.digest or self.tag or "latest"

    def with_digest(self, digest: str) -> Reference:
        """The same repository pinned to *digest* (tag dropped)."""
        return Reference(self.registry, self.repository, None, digest)

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_reference(text: str) -> Reference:
    """Parse *text*; raises ReferenceError with one line naming the problem."""
    if not text or len(text) > MAX_REFERENCE:
        raise ReferenceError(f"image reference must be 1..{MAX_REFERENCE} characters")
    if any(c.isspace() for c in text) or "://" in text:
        raise ReferenceError(f"image reference {text!r} has whitespace or a URL scheme")
    remainder, digest = text, None
    if "@" in text:
        remainder, _, digest = text.partition("@")
        if not is_digest(digest):
            raise ReferenceError(f"image reference {text!r}: {digest!r} is not a sha256/sha512 digest")
    first, slash, rest = remainder.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
        if not _HOST.match(registry):
            raise ReferenceError(f"image reference {text!r}: {registry!r} is not a registry host[:port]")
        port = registry.rsplit(":", 1)[1] if ":" in registry and not registry.endswith("]") else None
        if port is not None and not 0 < int(port) < 65536:
            raise ReferenceError(f"image reference {text!r}: port {port} is out of range")
    else:
        registry, path = DOCKER_HUB, remainder
    tag = None
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, _, tag = path.rpartition(":")
        if not _TAG.match(tag):
            raise ReferenceError(f"image reference {text!r}: {tag!r} is not a valid tag")
    if not path:
        raise ReferenceError(f"image reference {text!r} names no repository")
    for component in path.split("/"):
        if not _COMPONENT.match(component):
            raise ReferenceError(
                f"image reference {text!r}: repository component {component!r} is not lower-case "
                "letters, digits and separators"
            )
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if len(path) > 255:
        raise ReferenceError(f"image reference {text!r}: repository name is longer than 255 characters")
    if tag is None and digest is None:
        tag = "latest"
    return Reference(registry, path, tag, digest)
