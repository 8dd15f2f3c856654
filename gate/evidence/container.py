"""Collect the input document for a container image (``gate collect container``).

The pipeline, in order:

1. parse the reference; in static mode stop here: nothing on the network is
   contacted, and the registry-backed sections say so (``error``);
2. refuse to contact a registry the profile does not allow
   (``container.registries``): the policy blocks such an image anyway, and
   gate does not send credentials to a registry nobody vouched for;
3. resolve the tag to a digest (HEAD), fetch the manifest or index by that
   digest (verified); an index is the subject and its platform manifests are
   recorded; a single manifest's config is fetched for its labels;
4. discover, once, everything attached to the digest: referrers (OCI 1.1 API,
   else the ``sha256-<hex>`` tag schema) and cosign's ``sha256-<hex>.sig`` /
   ``.att`` / ``.sbom`` tags; fetch those manifests and their (small) layer
   blobs, each verified against its digest;
5. hand the fetched artifacts to the evidence modules and assemble the
   document.

The hand-off to the evidence modules (``signatures``, ``sbom``,
``vulnerabilities``, model card), agreed between the registry side and the
evidence side:

- ``fetched: dict[digest, bytes]``: every manifest and blob fetched in this
  run, each digest-verified by the client;
- ``referrers``: the OCI descriptors (mediaType, artifactType, digest, size,
  annotations) naming the subject digest as their ``subject``;
- the digests of the manifests behind the cosign ``.sig``, ``.att`` and
  ``.sbom`` tags;
- the subject's config labels and manifest/index annotations (for label-only
  model cards).

The evidence modules return their sections; a module that is not part of this
build leaves its section with an ``error`` (the policy then blocks). Nothing
here decides a verdict.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from gate.evidence.interface import Collection, NetworkRefused
from gate.evidence.oci.auth import CredentialError, find_credentials
from gate.evidence.oci.client import ClientOptions, Manifest, RegistryClient, RegistryError
from gate.evidence.oci.reference import Reference, ReferenceError, is_digest, parse_reference

COLLECTOR = "oci-registry"
MAX_REFERRERS = 64
"""Referrer manifests fetched per run."""
MAX_LAYERS_PER_ARTIFACT = 8
"""Layers fetched per signature / attestation / referrer manifest."""
MAX_ARTIFACT_BYTES = 64 * 1024 * 1024
"""Total bytes of artifact blobs fetched per run."""
MAX_CONFIG_BYTES = 1024 * 1024
"""Largest image config fetched for its labels."""
MAX_PLATFORMS = 256
COSIGN_SUFFIXES = ("sig", "att", "sbom")
MAX_KEY_BYTES = 64 * 1024

if TYPE_CHECKING:
    from gate.evidence.signatures import SignatureOptions


class KeyFileError(Exception):
    """A --key file that cannot be read (the CLI checks first; this guards library use)."""


@dataclass(frozen=True)
class ContainerRequest:
    """What the operator asked for (the command-line options)."""

    ref: str
    """Image reference as given."""
    pin: str = ""
    """Expected digest (``sha256:...`` or ``ref@sha256:...``)."""
    prod_digest: str = ""
    """Digest now in production (the CVE baseline)."""
    identity: str = ""
    """Expected signer identity (exact)."""
    issuer: str = ""
    """Expected OIDC issuer (exact)."""
    identity_regexp: str = ""
    """Identity as a regular expression (only when given explicitly)."""
    issuer_regexp: str = ""
    """Issuer as a regular expression (only when given explicitly)."""
    mode: str = "static"
    """static (default) or runtime."""
    grype_report: Path | None = None
    """A grype or Trivy JSON report for the candidate."""
    baseline_report: Path | None = None
    """A grype or Trivy JSON report for current production."""
    trusted_root: Path | None = None
    """A Sigstore trusted_root.json (private or air-gapped Sigstore)."""
    keys: tuple[Path, ...] = ()
    """cosign public keys for key-based signatures."""
    insecure_registries: tuple[str, ...] = ()
    """Hosts reached over plain HTTP (besides loopback)."""
    operator_name: str = ""
    """Who asked."""
    ttl_hours: float | None = None
    """Evidence TTL for this decision (profile default otherwise)."""

    @property
    def runtime(self) -> bool:
        """Runtime mode: compared case-insensitively after trimming, as the policy does."""
        return self.mode.strip().lower() == "runtime"


@dataclass
class Fetched:
    """What the registry side hands to the evidence modules."""

    reference: Reference
    digest: str
    """The subject digest (the tag's resolution, or the digest in the reference)."""
    subject: Manifest
    fetched: dict[str, bytes]
    """Every verified manifest and blob body, by digest."""
    referrers: list[dict[str, Any]] = field(default_factory=list)
    referrers_source: str = ""
    discovery_error: str = ""
    """Why referrer / cosign-tag discovery failed (empty when it worked)."""
    cosign: dict[str, list[str]] = field(default_factory=dict)
    """``sig`` / ``att`` / ``sbom`` -> digests of the manifests behind those cosign tags."""
    labels: dict[str, str] = field(default_factory=dict)
    """The subject's image-config labels (single-manifest subjects)."""
    annotations: dict[str, str] = field(default_factory=dict)
    """The subject manifest's or index's annotations."""


@dataclass
class Result:
    """A collected input document and what it took."""

    document: dict[str, Any]
    requests: list[tuple[str, str]]
    """Every HTTP request sent (method, URL)."""


def now_rfc3339(moment: dt.datetime | None = None) -> str:
    """UTC, seconds precision, ``Z``."""
    moment = moment or dt.datetime.now(dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _strings(value: object, limit: int = 256) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    out: dict[str, str] = {}
    for key, item in list(value.items())[:limit]:
        if isinstance(key, str) and isinstance(item, str):
            out[key[:256]] = item[:2048]
    return out


def _platform(entry: Mapping[str, Any]) -> str:
    platform = entry.get("platform")
    if not isinstance(platform, dict):
        return ""
    parts = [str(platform.get("os", "")), str(platform.get("architecture", ""))]
    if platform.get("variant"):
        parts.append(str(platform["variant"]))
    return "/".join(parts)[:128]


def fetch(client: RegistryClient, reference: Reference, collection: Collection) -> Fetched:
    """Steps 3 and 4: resolve, fetch and discover. Raises RegistryError for the subject itself."""
    repo = reference.repository
    digest = reference.digest or client.resolve(repo, reference.tag or "latest")
    subject = client.manifest(repo, digest)
    found = Fetched(reference, digest, subject, client.fetched)
    found.annotations = _strings(subject.value.get("annotations"))
    if not subject.is_index:
        config = subject.value.get("config", {})
        size = config.get("size") if isinstance(config, dict) else None
        if isinstance(size, int) and 0 <= size <= MAX_CONFIG_BYTES and is_digest(str(config.get("digest"))):
            try:
                body = client.blob(repo, str(config["digest"]), limit=MAX_CONFIG_BYTES)
                labels = json.loads(body).get("config", {}).get("Labels")
                found.labels = _strings(labels)
            except RegistryError as exc:
                collection.error(COLLECTOR, f"image config: {exc}")
            except (ValueError, AttributeError):
                collection.error(COLLECTOR, f"image config of {digest} is not a JSON image config")
    try:
        _discover(client, found, collection)
    except RegistryError as exc:
        found.discovery_error = collection.error(COLLECTOR, f"discovering artifacts for {digest}: {exc}")
    return found


def _discover(client: RegistryClient, found: Fetched, collection: Collection) -> None:
    repo, digest = found.reference.repository, found.digest
    referrers = client.referrers(repo, digest)
    found.referrers = [d for d in referrers.descriptors if isinstance(d, dict)][:MAX_REFERRERS]
    found.referrers_source = referrers.source
    budget = [MAX_ARTIFACT_BYTES]
    for descriptor in found.referrers:
        _fetch_artifact(client, repo, str(descriptor.get("digest", "")), budget, collection)
    hexpart = digest.split(":", 1)[1]
    for suffix in COSIGN_SUFFIXES:
        manifest = client.tag_manifest(repo, f"{digest.split(':', 1)[0]}-{hexpart}.{suffix}")
        if manifest is None:
            found.cosign[suffix] = []
            continue
        found.cosign[suffix] = [manifest.digest]
        _fetch_artifact(client, repo, manifest.digest, budget, collection)


def _fetch_artifact(
    client: RegistryClient, repo: str, digest: str, budget: list[int], collection: Collection
) -> None:
    """Fetch an artifact manifest and its small layers; a failure is recorded, not raised."""
    try:
        manifest = client.manifest(repo, digest)
    except RegistryError as exc:
        collection.error(COLLECTOR, f"artifact {digest[:80]}: {exc}")
        return
    layers = manifest.value.get("layers")
    if manifest.is_index or not isinstance(layers, list):
        return
    for layer in layers[:MAX_LAYERS_PER_ARTIFACT]:
        if not isinstance(layer, dict) or not is_digest(str(layer.get("digest", ""))):
            continue
        size = layer.get("size")
        if not isinstance(size, int) or size < 0 or size > min(budget[0], client.options.limits.blob):
            collection.error(
                COLLECTOR, f"artifact {digest} layer {layer.get('digest')} skipped: size {size!r}"
            )
            continue
        try:
            client.blob(repo, str(layer["digest"]), limit=size)
            budget[0] -= size
        except RegistryError as exc:
            collection.error(COLLECTOR, f"artifact {digest} layer: {exc}")


# -- the evidence side -----------------------------------------------------------------------------


def _guard(collection: Collection, section: str, produce: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run an evidence module; an unexpected exception becomes that section's error."""
    try:
        return produce()
    except Exception as exc:  # a bug in one module must not lose the whole document
        detail = " ".join(str(exc).split())[:300] or type(exc).__name__
        return {
            "error": collection.error(section, f"{section} collection failed: {type(exc).__name__}: {detail}")
        }


def _key_files(request: ContainerRequest) -> list[bytes]:
    keys: list[bytes] = []
    for path in request.keys:
        try:
            keys.append(path.read_bytes()[:MAX_KEY_BYTES])
        except OSError as exc:
            raise KeyFileError(f"{path}: cannot read the public key: {exc.strerror}") from None
    return keys


def _pems(value: object) -> tuple[bytes, ...]:
    return tuple(p.encode() for p in value if isinstance(p, str)) if isinstance(value, list) else ()


def signature_options(
    request: ContainerRequest, profile_settings: Mapping[str, Any] | None = None
) -> SignatureOptions:
    """What the operator expects of a signature (identity, issuer, trust root, keys, private PKI)."""
    from gate.evidence.signatures import SignatureOptions

    pki = (profile_settings or {}).get("container", {}).get("private_pki", {})
    pki = pki if isinstance(pki, dict) else {}
    return SignatureOptions(
        identity=request.identity,
        issuer=request.issuer,
        identity_regexp=request.identity_regexp,
        issuer_regexp=request.issuer_regexp,
        trusted_root=request.trusted_root,
        keys=tuple(_key_files(request)),
        reference=request.ref,
        pki_roots=_pems(pki.get("roots")),
        pki_intermediates=_pems(pki.get("intermediates")),
    )


def cosign_key_digests(request: ContainerRequest) -> list[str]:
    """sha256 of each cosign public key the operator gave (recorded as an operator input)."""
    from gate.evidence.signatures import key_digests

    try:
        return key_digests(_key_files(request))
    except KeyFileError:
        return []


def signature_section(
    request: ContainerRequest,
    found: Fetched,
    collection: Collection,
    profile_settings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``evidence.signature`` from the fetched ``.sig`` manifests and Sigstore bundle referrers."""
    from gate.evidence.signatures import collect_signatures

    return collect_signatures(
        found.digest,
        found.fetched,
        signature_options(request, profile_settings),
        collection,
        sig_manifests=found.cosign.get("sig", []),
        referrers=found.referrers,
    )


def sbom_section(request: ContainerRequest, found: Fetched, collection: Collection) -> dict[str, Any]:
    """``evidence.sbom`` from the fetched ``.att`` / ``.sbom`` manifests and attestation referrers."""
    from gate.evidence.sbom import collect_sbom

    return collect_sbom(
        found.digest,
        found.fetched,
        signature_options(request),
        collection,
        att_manifests=found.cosign.get("att", []) + found.cosign.get("sbom", []),
        referrers=found.referrers,
    )


def model_card_section(found: Fetched, collection: Collection) -> dict[str, Any]:
    """``evidence.model_card`` from the referrers, labels and annotations."""
    from gate.evidence.model_card import collect_model_card

    return collect_model_card(
        found.digest,
        found.fetched,
        collection,
        referrers=found.referrers,
        labels=found.labels,
        annotations=found.annotations,
    )


def vulnerability_section(
    request: ContainerRequest, found: Fetched | None, registry_name: str, collection: Collection
) -> dict[str, Any]:
    """``evidence.vulnerabilities``: report files, else grype (runtime mode, when installed)."""
    from gate.evidence.vulnerabilities import read_report, run_grype

    # Static mode resolves nothing: a candidate report is read against the pinned digest.
    candidate_digest = found.digest if found else ("" if request.runtime else pinned_digest(request.pin))
    out: dict[str, Any] = {}
    for key, report, digest in (
        ("candidate", request.grype_report, candidate_digest),
        ("baseline", request.baseline_report, request.prod_digest),
    ):
        if report is not None:
            out[key] = read_report(report, collection, expected_digest=digest)
        elif request.runtime and found is not None and is_digest(digest):
            out[key] = run_grype(registry_name, digest, collection)
        elif not request.runtime:
            out[key] = {"not_collected": f"{key}: no scan report was given (static mode runs no scanner)"}
        else:
            why = "no scan report was given"
            if found is None:
                why = "the registry was unavailable, so nothing was scanned"
            out[key] = {"error": collection.error("vulnerabilities", f"{key}: {why}")}
    return out


def pinned_digest(pin: str) -> str:
    """The digest in an operator pin (``sha256:...`` or ``ref@sha256:...``), or ""."""
    digest = pin.rsplit("@", 1)[-1].strip()
    return digest if is_digest(digest) else ""


# -- the document ----------------------------------------------------------------------------------


def _operator(request: ContainerRequest) -> dict[str, Any]:
    operator: dict[str, Any] = {
        "image_ref_pin": request.pin,
        "current_prod_digest": request.prod_digest,
        "expected_signer_identity": request.identity,
        "expected_oidc_issuer": request.issuer,
    }
    if request.keys:
        operator["cosign_key_sha256"] = cosign_key_digests(request)
    if request.identity_regexp:
        operator["expected_signer_identity_regexp"] = request.identity_regexp
    if request.issuer_regexp:
        operator["expected_oidc_issuer_regexp"] = request.issuer_regexp
    if request.ttl_hours is not None:
        operator["attestation_ttl_hours"] = request.ttl_hours
    if request.operator_name:
        operator["name"] = request.operator_name
    return operator


def _registry_allowed(ref: str, profile_settings: Mapping[str, Any]) -> bool:
    prefixes = profile_settings.get("container", {}).get("registries", [])
    return any(isinstance(p, str) and ref.startswith(p) for p in prefixes)


def _registry_record(found: Fetched) -> dict[str, Any]:
    record: dict[str, Any] = {
        "resolved_digest": found.digest,
        "media_type": found.subject.media_type,
        "referrers_source": found.referrers_source or "none",
        "referrers": [
            {
                key: descriptor[key]
                for key in ("mediaType", "artifactType", "digest", "size")
                if isinstance(descriptor.get(key), (str, int))
            }
            for descriptor in found.referrers
        ],
        "cosign_tags": {suffix: digests[:1] for suffix, digests in found.cosign.items() if digests},
    }
    if found.subject.is_index:
        record["platforms"] = [
            {
                "digest": str(entry.get("digest", "")),
                "media_type": str(entry.get("mediaType", ""))[:256],
                "platform": _platform(entry),
            }
            for entry in found.subject.value["manifests"][:MAX_PLATFORMS]
            if isinstance(entry, dict)
        ]
    if found.discovery_error:
        record["discovery_error"] = found.discovery_error
    return record


def collect(
    request: ContainerRequest,
    profile_name: str,
    profile_sha256: str,
    profile_settings: Mapping[str, Any],
    *,
    env: Mapping[str, str] | None = None,
    options: ClientOptions | None = None,
    transport: httpx.BaseTransport | None = None,
    moment: dt.datetime | None = None,
) -> Result:
    """Collect the whole input document for *request* (evidence only, no decision)."""
    collection = Collection(runtime=request.runtime)
    document: dict[str, Any] = {
        "gate": {
            "version": "1",
            "mode": "runtime" if request.runtime else "static",
            "now": now_rfc3339(moment),
            "profile": {"name": profile_name, "sha256": profile_sha256},
            "nonce": secrets.token_hex(16),
        },
        "subject": {"kind": "oci-image", "ref": request.ref},
        "operator": _operator(request),
    }
    evidence: dict[str, Any] = {}
    found: Fetched | None = None
    requests: list[tuple[str, str]] = []
    registry_problem = ""
    try:
        reference = parse_reference(request.ref)
    except ReferenceError as exc:
        reference = None
        registry_problem = collection.error(COLLECTOR, str(exc))
    if reference is not None and reference.digest:
        document["subject"]["digest"] = reference.digest
    static = reference is not None and not request.runtime
    if static:
        registry_problem = "static mode: the registry was not contacted (use --mode runtime)"
    elif reference is not None and not _registry_allowed(request.ref, profile_settings):
        registry_problem = collection.error(
            COLLECTOR,
            f"{reference.registry} was not contacted: {request.ref} is not under an allowed registry prefix",
        )
    elif reference is not None:
        egress = profile_settings.get("container", {}).get("egress", [])
        base = options or ClientOptions()
        client_options = ClientOptions(
            timeout=base.timeout,
            retries=base.retries,
            backoff=base.backoff,
            backoff_cap=base.backoff_cap,
            retry_after_cap=base.retry_after_cap,
            insecure_hosts=base.insecure_hosts | frozenset(request.insecure_registries),
            loopback_plain_http=base.loopback_plain_http,
            allowed_hosts=base.allowed_hosts | frozenset(h for h in egress if isinstance(h, str)),
            limits=base.limits,
            user_agent=base.user_agent,
        )
        try:
            credentials = find_credentials(reference.registry, collection, env)
        except CredentialError as exc:
            credentials = None
            collection.error(COLLECTOR, f"credentials: {exc}; continuing anonymously")
        client = RegistryClient(
            reference.api_host,
            collection,
            credentials=credentials,
            options=client_options,
            transport=transport,
        )
        try:
            found = fetch(client, reference, collection)
            document["subject"]["digest"] = found.digest
        except (RegistryError, NetworkRefused) as exc:
            registry_problem = collection.error(COLLECTOR, str(exc))
        finally:
            client.close()
            requests = list(client.requests)

    if found is not None:
        evidence["registry"] = _registry_record(found)
        evidence["signature"] = _guard(
            collection, "signature", lambda: signature_section(request, found, collection, profile_settings)
        )
        evidence["sbom"] = _guard(collection, "sbom", lambda: sbom_section(request, found, collection))
        evidence["model_card"] = _guard(
            collection, "model_card", lambda: model_card_section(found, collection)
        )
        if found.discovery_error:
            for key in ("signature", "sbom", "model_card"):
                evidence[key].setdefault("error", f"artifact discovery failed: {found.discovery_error}")
    elif static:
        # Not collected is not evidence: the policy skips these sections in static mode.
        evidence["registry"] = {"not_collected": registry_problem}
        evidence["signature"] = {"verified": False, "not_collected": registry_problem}
        evidence["sbom"] = {"verified": False, "not_collected": registry_problem}
        evidence["model_card"] = {"not_collected": registry_problem}
    else:
        evidence["registry"] = {"error": registry_problem}
        dependent = f"registry unavailable: {registry_problem}"
        evidence["signature"] = {"verified": False, "error": dependent}
        evidence["sbom"] = {"verified": False, "error": dependent}
        evidence["model_card"] = {"error": dependent}
    registry_name = f"{reference.registry}/{reference.repository}" if reference else ""
    evidence["vulnerabilities"] = _guard(
        collection,
        "vulnerabilities",
        lambda: vulnerability_section(request, found, registry_name, collection),
    )
    evidence["attestation"] = {"age_hours": 0}
    document["evidence"] = evidence
    record = collection.to_json()
    record["runtime_mode"] = "runtime" if request.runtime else "static"
    document["collection"] = record
    return Result(document, requests)
