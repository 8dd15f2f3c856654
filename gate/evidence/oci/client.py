"""A read-only OCI distribution API client for one registry, on httpx.

What it guarantees, so collectors built on it can trust what they get:

- **No network unless allowed.** Outside runtime mode every request is
  refused before a connection is opened (``NetworkRefused``). In runtime
  mode only the image's registry, the token realm its ``WWW-Authenticate``
  challenge names, and the extra hosts the profile allows
  (``container.egress``) are contacted; each is recorded through
  ``Collection.contacted`` before the first byte is sent.
- **Every body is verified.** A manifest or blob fetched by digest must hash
  to that digest; one fetched by tag must hash to the registry's
  ``Docker-Content-Digest``. A mismatch is an error, never a warning.
- **Nothing is fetched twice** in one client's life: manifests and blobs are
  kept in a content-addressed cache (``fetched``), tag resolutions too, and
  every request is counted (``requests``) so benchmarks can show it.
- **Bounded.** Timeouts, a bounded number of retries with exponential
  backoff on 429/5xx and connection failures (``Retry-After`` honoured up to
  a cap), size caps on every body (read as a stream and abandoned at the cap).
- **TLS verified**; plain HTTP only for loopback hosts or hosts the operator
  names with ``--insecure-registry``.
- **Secrets stay out of records.** Credentials and tokens travel only in
  ``Authorization`` headers; error messages name hosts, paths and status
  codes, never header values.

Failures raise ``RegistryError`` with a one-line message and a short
``kind`` (``http-401``, ``timeout``, ``tls``, ``digest-mismatch``,
``too-large``, ``malformed``, ``not-allowed``, ...). Collectors turn it into
evidence.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode, urljoin, urlsplit

import httpx

from gate.evidence.interface import Collection, NetworkRefused
from gate.evidence.oci.auth import Challenge, Credentials, parse_challenge
from gate.evidence.oci.reference import is_digest

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
ACCEPT = ", ".join(MANIFEST_TYPES)

MiB = 1024 * 1024
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_TOKEN_RESPONSE = 64 * 1024
MAX_ERROR_BODY = 16 * 1024


_C = TypeVar("_C", bound="RegistryClient")


class RegistryError(Exception):
    """A registry request failed; ``str()`` is one line without secrets."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind
        """Short machine-readable cause: http-<status>, timeout, tls, connect, digest-mismatch, ..."""


@dataclass(frozen=True)
class Limits:
    """Caps on what one client reads."""

    manifest: int = 4 * MiB
    """Largest manifest, index or referrers response accepted."""
    blob: int = 16 * MiB
    """Largest blob fetched (configs, signatures, attestations, model cards)."""
    referrer_pages: int = 16
    """Pages of a paginated referrers response followed."""
    referrers: int = 1000
    """Referrer descriptors kept."""
    redirects: int = 5
    """Redirects followed for one request."""


@dataclass(frozen=True)
class ClientOptions:
    """How the client talks to the network."""

    timeout: float = 10.0
    """Seconds for connect, read, write and pool waits (each)."""
    retries: int = 3
    """Retries after the first attempt on 429/5xx, timeouts and connection failures."""
    backoff: float = 0.2
    """First backoff in seconds; doubles every retry."""
    backoff_cap: float = 5.0
    """Longest backoff."""
    retry_after_cap: float = 10.0
    """Longest ``Retry-After`` honoured."""
    insecure_hosts: frozenset[str] = frozenset()
    """Hosts (``host`` or ``host:port``) reached over plain HTTP besides loopback."""
    loopback_plain_http: bool = True
    """Reach loopback registries over plain HTTP (False: TLS there too)."""
    allowed_hosts: frozenset[str] = frozenset()
    """Extra hosts allowed (profile ``container.egress``), e.g. a blob CDN."""
    limits: Limits = field(default_factory=Limits)
    """Size and count caps."""
    user_agent: str = "gate-oci/1"
    """Sent with every request."""


@dataclass(frozen=True)
class Manifest:
    """A verified manifest or index."""

    digest: str
    """Its digest (sha256 of ``body`` for a sha256 digest)."""
    media_type: str
    """From the body's ``mediaType``, else the response Content-Type."""
    body: bytes
    """The exact bytes the digest covers."""
    value: dict[str, Any]
    """The parsed JSON object."""

    @property
    def is_index(self) -> bool:
        """True for an OCI image index or a Docker manifest list."""
        return self.media_type in INDEX_TYPES

    def descriptor(self) -> dict[str, Any]:
        """An OCI descriptor for this manifest."""
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": len(self.body)}
        artifact_type = self.value.get("artifactType")
        if isinstance(artifact_type, str):
            out["artifactType"] = artifact_type
        return out


@dataclass(frozen=True)
class Referrers:
    """Artifacts that declare a manifest as their ``subject``."""

    descriptors: list[dict[str, Any]]
    """Descriptors (mediaType, artifactType, digest, size, annotations), as the registry lists them."""
    source: str
    """``referrers-api`` (OCI 1.1) or ``tag-schema`` (the ``sha256-<hex>`` fallback tag)."""


@dataclass
class _Response:
    status: int
    headers: httpx.Headers
    body: bytes
    url: str


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    """``<algorithm>:<hex>`` of *data*."""
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (``host`` without port, IPv6 in brackets or not)."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _split_netloc(netloc: str) -> tuple[str, str]:
    """(hostname, netloc) with IPv6 brackets kept on the hostname."""
    if netloc.startswith("["):
        return netloc[: netloc.index("]") + 1], netloc
    return (netloc.rsplit(":", 1)[0] if ":" in netloc else netloc), netloc


def _error_code(body: bytes) -> str:
    try:
        errors = json.loads(body[:MAX_ERROR_BODY]).get("errors")
        code = errors[0].get("code")
    except (ValueError, AttributeError, IndexError, TypeError, KeyError):
        return ""
    return f" ({code})" if isinstance(code, str) and code.isascii() and len(code) < 64 else ""


def _retry_after(value: str | None, cap: float) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # HTTP-date form: fall back to exponential backoff
    return max(0.0, min(seconds, cap))


class RegistryClient:
    """Read-only access to one registry; one instance per collection run."""

    def __init__(
        self,
        registry: str,
        collection: Collection,
        *,
        credentials: Credentials | None = None,
        options: ClientOptions | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.registry = registry
        """``host[:port]`` of the distribution API."""
        self.collection = collection
        self.options = options or ClientOptions()
        self._credentials = credentials
        self._sleep = sleep
        self._transport = transport
        self._http: httpx.Client | None = None
        self._allowed: set[str] = {registry, *self.options.allowed_hosts}
        self._tokens: dict[tuple[str, str, str], str] = {}
        self._basic_hosts: set[str] = set()
        self.fetched: dict[str, bytes] = {}
        """Every manifest and blob fetched, by digest (verified)."""
        self._manifests: dict[str, Manifest] = {}
        self._tags: dict[tuple[str, str], str] = {}
        self.requests: list[tuple[str, str]] = []
        """(method, url) of every request sent, in order, token requests included."""

    # -- lifecycle ---------------------------------------------------------

    def close(self) -> None:
        """Close pooled connections."""
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _client(self) -> httpx.Client:
        if self._http is None:
            timeout = httpx.Timeout(self.options.timeout)
            self._http = httpx.Client(
                timeout=timeout,
                follow_redirects=False,
                verify=True,
                trust_env=False,
                transport=self._transport,
                headers={"User-Agent": self.options.user_agent},
            )
        return self._http

    # -- policy: which hosts, which scheme ---------------------------------

    def scheme_for(self, netloc: str) -> str:
        """``http`` for loopback and explicitly insecure hosts, else ``https``."""
        hostname, _ = _split_netloc(netloc)
        insecure = self.options.insecure_hosts
        if netloc in insecure or hostname in insecure:
            return "http"
        if self.options.loopback_plain_http and is_loopback(hostname):
            return "http"
        return "https"

    def allowed(self, netloc: str) -> bool:
        """Whether *netloc* may be contacted (registry, its token realm, profile egress)."""
        hostname, _ = _split_netloc(netloc)
        return netloc in self._allowed or hostname in self._allowed

    @property
    def base(self) -> str:
        """``scheme://host[:port]`` of the registry."""
        return f"{self.scheme_for(self.registry)}://{self.registry}"

    # -- the wire ----------------------------------------------------------

    def _send_once(
        self, method: str, url: str, headers: dict[str, str], limit: int, content: bytes | None = None
    ) -> _Response:
        parts = urlsplit(url)
        netloc = parts.netloc
        if not self.collection.runtime:
            raise NetworkRefused(f"static mode: refusing to contact {netloc}")
        if not self.allowed(netloc):
            raise NetworkRefused(f"{netloc} is not the image's registry and not allowed by the profile")
        if parts.scheme == "http" and self.scheme_for(netloc) != "http":
            raise RegistryError(
                f"refusing plain HTTP to {netloc} (not loopback, not --insecure-registry)", "tls"
            )
        self.collection.contacted(netloc)
        self.requests.append((method, url))
        with self._client().stream(method, url, headers=headers, content=content) as response:
            declared = response.headers.get("content-length", "")
            too_big = declared.isdigit() and int(declared) > limit
            if too_big and method != "HEAD" and response.status_code < 300:
                raise RegistryError(
                    f"{method} {parts.path} on {netloc}: response of {declared} bytes exceeds the cap "
                    f"of {limit}",
                    "too-large",
                )
            chunks: list[bytes] = []
            total = 0
            cap = limit if response.status_code < 300 else MAX_ERROR_BODY
            if method != "HEAD":
                for chunk in response.iter_bytes():
                    total += len(chunk)
                    if total > cap:
                        if response.status_code < 300:
                            raise RegistryError(
                                f"{method} {parts.path} on {netloc}: response exceeds the cap "
                                f"of {limit} bytes",
                                "too-large",
                            )
                        break
                    chunks.append(chunk)
            return _Response(response.status_code, response.headers, b"".join(chunks), url)

    def _send(
        self, method: str, url: str, headers: dict[str, str], limit: int, content: bytes | None = None
    ) -> _Response:
        """One request with bounded retries on 429/5xx, timeouts and connection failures."""
        netloc = urlsplit(url).netloc
        path = urlsplit(url).path
        attempt = 0
        while True:
            delay = min(self.options.backoff_cap, self.options.backoff * (2**attempt))
            try:
                response = self._send_once(method, url, headers, limit, content)
            except httpx.TimeoutException:
                failure = RegistryError(
                    f"{method} {path} on {netloc}: no answer within {self.options.timeout:g} s "
                    f"({attempt + 1} attempt(s))",
                    "timeout",
                )
            except httpx.ConnectError as exc:
                if _is_tls(exc):
                    raise RegistryError(
                        f"TLS failure talking to {netloc}: {_tls_reason(exc)}", "tls"
                    ) from None
                failure = RegistryError(
                    f"cannot connect to {netloc} ({attempt + 1} attempt(s)): {_short(exc)}", "connect"
                )
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                failure = RegistryError(
                    f"{method} {path} on {netloc}: connection broke: {_short(exc)}", "connect"
                )
            except httpx.HTTPError as exc:
                raise RegistryError(f"{method} {path} on {netloc}: {_short(exc)}", "http") from None
            else:
                if response.status not in RETRY_STATUSES:
                    return response
                failure = RegistryError(
                    f"{method} {path} on {netloc}: HTTP {response.status}{_error_code(response.body)} "
                    f"after {attempt + 1} attempt(s)",
                    f"http-{response.status}",
                )
                hinted = _retry_after(response.headers.get("retry-after"), self.options.retry_after_cap)
                if hinted is not None:
                    delay = hinted
            if attempt >= self.options.retries:
                raise failure
            attempt += 1
            self._sleep(delay)

    def _request(
        self,
        method: str,
        url: str,
        *,
        scope: str,
        limit: int,
        accept: str | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> _Response:
        """A request to the registry with auth (basic or bearer) and redirects handled."""
        headers = {"Accept": accept} if accept else {}
        if content_type:
            headers["Content-Type"] = content_type
        current = url
        authenticated_once = False
        for _ in range(self.options.limits.redirects + 1):
            on_registry = urlsplit(current).netloc == self.registry
            sent = dict(headers)
            if on_registry:
                auth = self._authorization(scope)
                if auth:
                    sent["Authorization"] = auth
            response = self._send(method, current, sent, limit, content)
            if response.status == 401 and on_registry and not authenticated_once:
                authenticated_once = True
                self._answer_challenge(response, scope)
                continue
            if response.status in REDIRECT_STATUSES and method in ("GET", "HEAD"):
                location = response.headers.get("location")
                if not location:
                    raise RegistryError(
                        f"{method} {urlsplit(current).path}: redirect without Location", "malformed"
                    )
                current = urljoin(current, location)
                target = urlsplit(current).netloc
                if not self.allowed(target):
                    raise RegistryError(
                        f"{method} {urlsplit(url).path} redirects to {target}, "
                        "which the profile does not allow "
                        "(add it to container.egress)",
                        "not-allowed",
                    )
                continue
            return response
        raise RegistryError(
            f"{method} {urlsplit(url).path}: more than {self.options.limits.redirects} redirects", "http"
        )

    # -- authentication ----------------------------------------------------

    def _authorization(self, scope: str) -> str | None:
        for (_, _, cached_scope), token in self._tokens.items():
            if cached_scope == scope:
                return f"Bearer {token}"
        if self.registry in self._basic_hosts and self._credentials is not None:
            return self._credentials.basic()
        return None

    def _answer_challenge(self, response: _Response, scope: str) -> None:
        challenge = parse_challenge(response.headers.get("www-authenticate", ""))
        if challenge is None:
            raise RegistryError(
                f"{self.registry} answered 401 without a usable WWW-Authenticate challenge", "http-401"
            )
        if challenge.scheme == "basic":
            if self._credentials is None:
                raise RegistryError(
                    f"{self.registry} requires credentials (HTTP 401, basic auth) and none are configured",
                    "http-401",
                )
            self._basic_hosts.add(self.registry)
            return
        if challenge.scheme != "bearer":
            raise RegistryError(
                f"{self.registry} asks for unsupported auth scheme {challenge.scheme!r}", "http-401"
            )
        self._fetch_token(challenge, scope)

    def _fetch_token(self, challenge: Challenge, scope: str) -> None:
        realm = challenge.params.get("realm", "")
        service = challenge.params.get("service", "")
        wanted = challenge.params.get("scope") or scope
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise RegistryError(f"{self.registry} names a token realm that is not an http(s) URL", "http-401")
        if parts.scheme == "http" and self.scheme_for(parts.netloc) != "http":
            raise RegistryError(
                f"token realm {parts.netloc} is plain HTTP (not loopback, not insecure)", "tls"
            )
        # The registry itself chose the realm: contacting it is part of talking to the registry.
        self._allowed.add(parts.netloc)
        query = {k: v for k, v in (("service", service), ("scope", wanted)) if v}
        url = realm + ("&" if parts.query else "?") + urlencode(query)
        headers = {"Accept": "application/json"}
        if self._credentials is not None:
            headers["Authorization"] = self._credentials.basic()
        response = self._send("GET", url, headers, MAX_TOKEN_RESPONSE)
        if response.status in (401, 403):
            why = "refused the credentials" if self._credentials is not None else "requires credentials"
            raise RegistryError(
                f"token service {parts.netloc} {why} for scope {wanted} (HTTP {response.status})",
                f"http-{response.status}",
            )
        if response.status != 200:
            raise RegistryError(
                f"token service {parts.netloc} answered HTTP {response.status}", f"http-{response.status}"
            )
        try:
            answer = json.loads(response.body)
            token = answer.get("token") or answer.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_RESPONSE:
            raise RegistryError(f"token service {parts.netloc} answered without a token", "malformed")
        self._tokens[(realm, service, scope)] = token

    # -- the distribution API ---------------------------------------------

    def _check(self, response: _Response, what: str) -> None:
        """Raise RegistryError unless *response* is a 200."""
        if response.status == 200:
            return
        detail = _error_code(response.body)
        if response.status in (401, 403):
            raise RegistryError(
                f"{self.registry} denied access to {what} (HTTP {response.status}{detail})",
                f"http-{response.status}",
            )
        if response.status == 404:
            raise RegistryError(f"{what} not found on {self.registry} (HTTP 404{detail})", "http-404")
        raise RegistryError(
            f"{self.registry} answered HTTP {response.status}{detail} for {what}", f"http-{response.status}"
        )

    def resolve(self, repository: str, tag: str) -> str:
        """The digest the registry resolves *tag* to (HEAD, all manifest media types accepted)."""
        key = (repository, tag)
        if key in self._tags:
            return self._tags[key]
        url = f"{self.base}/v2/{repository}/manifests/{tag}"
        response = self._request("HEAD", url, scope=_pull(repository), limit=0, accept=ACCEPT)
        self._check(response, f"{repository}:{tag}")
        digest = str(response.headers.get("docker-content-digest", ""))
        if not is_digest(digest):
            # No usable header: fetch the body once and hash it ourselves.
            return self._manifest_by_tag(repository, tag).digest
        self._tags[key] = digest
        return digest

    def manifest(self, repository: str, digest: str) -> Manifest:
        """The manifest or index with *digest*, verified; fetched at most once."""
        if not is_digest(digest):
            raise RegistryError(f"{digest[:80]!r} is not a digest", "malformed")
        cached = self._manifests.get(digest)
        if cached is not None:
            return cached
        url = f"{self.base}/v2/{repository}/manifests/{digest}"
        response = self._request(
            "GET", url, scope=_pull(repository), limit=self.options.limits.manifest, accept=ACCEPT
        )
        self._check(response, f"manifest {repository}@{digest}")
        return self._keep_manifest(response, digest, f"manifest {repository}@{digest}")

    def tag_manifest(self, repository: str, tag: str) -> Manifest | None:
        """The manifest a tag points at (cosign's ``sha256-<hex>.sig`` style tags), or None on 404."""
        try:
            return self._manifest_by_tag(repository, tag)
        except RegistryError as exc:
            if exc.kind == "http-404":
                return None
            raise

    def _manifest_by_tag(self, repository: str, tag: str) -> Manifest:
        known = self._tags.get((repository, tag))
        if known is not None:
            return self.manifest(repository, known)
        url = f"{self.base}/v2/{repository}/manifests/{tag}"
        response = self._request(
            "GET", url, scope=_pull(repository), limit=self.options.limits.manifest, accept=ACCEPT
        )
        self._check(response, f"{repository}:{tag}")
        header = response.headers.get("docker-content-digest", "")
        algorithm = header.split(":", 1)[0] if is_digest(header) else "sha256"
        expected = header if is_digest(header) else digest_of(response.body, algorithm)
        found = self._keep_manifest(response, expected, f"{repository}:{tag}")
        self._tags[(repository, tag)] = found.digest
        return found

    def _keep_manifest(self, response: _Response, digest: str, what: str) -> Manifest:
        body = response.body
        actual = digest_of(body, digest.split(":", 1)[0])
        if actual != digest:
            raise RegistryError(f"{what}: body hashes to {actual}, not {digest}", "digest-mismatch")
        try:
            value = json.loads(body)
        except (ValueError, RecursionError):
            raise RegistryError(f"{what}: not valid JSON", "malformed") from None
        if not isinstance(value, dict):
            raise RegistryError(f"{what}: not a JSON object", "malformed")
        media_type = value.get("mediaType")
        if not isinstance(media_type, str):
            media_type = response.headers.get("content-type", "").split(";", 1)[0].strip()
        if media_type not in MANIFEST_TYPES:
            raise RegistryError(f"{what}: unsupported manifest media type {media_type[:100]!r}", "malformed")
        if media_type in INDEX_TYPES and not isinstance(value.get("manifests"), list):
            raise RegistryError(f"{what}: an index without a manifests list", "malformed")
        if media_type not in INDEX_TYPES and not isinstance(value.get("config"), dict):
            raise RegistryError(f"{what}: a manifest without a config descriptor", "malformed")
        manifest = Manifest(digest, media_type, body, value)
        self._manifests[digest] = manifest
        self.fetched[digest] = body
        return manifest

    def blob(self, repository: str, digest: str, *, limit: int | None = None) -> bytes:
        """The blob with *digest* (redirects to allowed hosts followed), verified; fetched at most once."""
        if not is_digest(digest):
            raise RegistryError(f"{digest[:80]!r} is not a digest", "malformed")
        if digest in self.fetched:
            return self.fetched[digest]
        cap = self.options.limits.blob if limit is None else min(limit, self.options.limits.blob)
        url = f"{self.base}/v2/{repository}/blobs/{digest}"
        response = self._request("GET", url, scope=_pull(repository), limit=cap)
        self._check(response, f"blob {repository}@{digest}")
        actual = digest_of(response.body, digest.split(":", 1)[0])
        if actual != digest:
            raise RegistryError(f"blob {repository}@{digest}: body hashes to {actual}", "digest-mismatch")
        self.fetched[digest] = response.body
        return response.body

    def referrers(self, repository: str, digest: str, artifact_type: str | None = None) -> Referrers:
        """Artifacts whose ``subject`` is *digest*: OCI 1.1 referrers API, else the tag schema."""
        query = f"?{urlencode({'artifactType': artifact_type})}" if artifact_type else ""
        url: str | None = f"{self.base}/v2/{repository}/referrers/{digest}{query}"
        found: list[dict[str, Any]] = []
        pages = 0
        while url is not None:
            response = self._request(
                "GET", url, scope=_pull(repository), limit=self.options.limits.manifest, accept=OCI_INDEX
            )
            if response.status == 404 and pages == 0:
                return self._referrers_by_tag(repository, digest, artifact_type)
            self._check(response, f"referrers of {repository}@{digest}")
            found.extend(_index_entries(response.body, f"referrers of {digest}"))
            pages += 1
            url = _next_link(response, url) if pages < self.options.limits.referrer_pages else None
        if artifact_type:
            found = [d for d in found if d.get("artifactType") == artifact_type]
        return Referrers(found[: self.options.limits.referrers], "referrers-api")

    def _referrers_by_tag(self, repository: str, digest: str, artifact_type: str | None) -> Referrers:
        tag = digest.replace(":", "-", 1)
        index = self.tag_manifest(repository, tag)
        if index is None:
            return Referrers([], "tag-schema")
        if not index.is_index:
            raise RegistryError(f"referrers tag {repository}:{tag} is not an image index", "malformed")
        found = _index_entries(index.body, f"{repository}:{tag}")
        if artifact_type:
            found = [d for d in found if d.get("artifactType") == artifact_type]
        return Referrers(found[: self.options.limits.referrers], "tag-schema")

    @contextmanager
    def session(self) -> Iterator[RegistryClient]:
        """``with client.session():`` closes the connection pool afterwards."""
        try:
            yield self
        finally:
            self.close()


def _pull(repository: str) -> str:
    return f"repository:{repository}:pull"


def _index_entries(body: bytes, what: str) -> list[dict[str, Any]]:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        raise RegistryError(f"{what}: not valid JSON", "malformed") from None
    entries = value.get("manifests") if isinstance(value, dict) else None
    if not isinstance(entries, list):
        raise RegistryError(f"{what}: not an image index", "malformed")
    out: list[dict[str, Any]] = []
    for entry in entries:
        if not isinstance(entry, dict) or not is_digest(str(entry.get("digest", ""))):
            raise RegistryError(f"{what}: an entry without a valid digest", "malformed")
        out.append(entry)
    return out


def _next_link(response: _Response, current: str) -> str | None:
    link = response.headers.get("link", "")
    if 'rel="next"' not in link or "<" not in link:
        return None
    target = link[link.index("<") + 1 : link.index(">")] if ">" in link else ""
    return urljoin(current, target) if target else None


def _is_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc) or "SSL" in str(exc)


def _tls_reason(exc: BaseException) -> str:
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "certificate verify failed"
    return _short(exc)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]
