"""SBOM attestations for an image digest: signed, about the digest, and parseable.

Where gate looks (bytes come from the OCI pipeline, digest-verified):

- the cosign ``sha256-<hex>.att`` tag: layers of
  ``application/vnd.dsse.envelope.v1+json`` carrying the certificate, chain
  and Rekor bundle in their annotations (keyless) or signed with an
  operator's key (``--key``);
- OCI referrers of the digest holding a Sigstore bundle (DSSE) or a bare
  DSSE envelope (key-based).

A candidate counts only when all of these hold, in this order, and each
failure is recorded in ``rejected`` with one sentence:

1. the signature verifies (exactly as for image signatures, see
   ``signatures.py``) and the signer is the expected identity and issuer;
2. the DSSE payload type is ``application/vnd.in-toto+json`` and the
   payload is an in-toto Statement (v0.1 or v1) whose subject names the
   image digest;
3. the predicate type is SPDX (``https://spdx.dev/Document``, optionally
   ``/v2.x``) or CycloneDX (``https://cyclonedx.org/bom``, optionally
   ``/v1.x``);
4. the predicate parses as that SBOM format: gate checks the document's
   required structure itself (SPDX 2.x: spdxVersion, SPDXID, name, packages;
   CycloneDX 1.x: bomFormat, specVersion, components) and counts packages;
   ``validated`` is true only when the format's own library
   (``spdx-tools`` / ``cyclonedx-python-lib``) also parses and validates it,
   and ``validation_error`` says why not. An SBOM that does not parse is
   not an SBOM.

``sha256`` is the sha256 of the predicate document in RFC 8785 canonical
JSON (the SBOM's own bytes are not preserved inside a JSON statement).
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gate.evidence.interface import Collection
from gate.evidence.signatures import (
    BUNDLE_MEDIA_PREFIX,
    DSSE_ENVELOPE,
    IN_TOTO,
    MAX_CANDIDATES,
    Rejected,
    SignatureOptions,
    Verified,
    artifact_type,
    check_options,
    identity_problem,
    manifest_layers,
    verify_bundle,
    verify_cosign_layer,
    verify_dsse_with_keys,
)

COLLECTOR = "sbom"

SPDX_PREDICATE = "https://spdx.dev/Document"
CYCLONEDX_PREDICATE = "https://cyclonedx.org/bom"
_SPDX_TYPE = re.compile(r"https://spdx\.dev/Document(?:/v?2\.[0-9]+)?")
_CDX_TYPE = re.compile(r"https://cyclonedx\.org/(?:bom|schema)(?:/v?1\.[0-9]+)?")
_STATEMENTS = ("https://in-toto.io/Statement/v0.1", "https://in-toto.io/Statement/v1")
MAX_COMPONENTS = 1_000_000
MAX_DEPTH = 64
_TEXT = 2048


@dataclass
class ParsedSbom:
    """What gate learned from one SBOM document."""

    format: str
    spec_version: str
    package_count: int
    validated: bool
    validation_error: str
    sha256: str


def sbom_format(predicate_type: str) -> str:
    """``spdx``, ``cyclonedx`` or "" for a predicate type."""
    if _SPDX_TYPE.fullmatch(predicate_type):
        return "spdx"
    if _CDX_TYPE.fullmatch(predicate_type):
        return "cyclonedx"
    return ""


def parse_sbom(document: object, fmt: str) -> ParsedSbom:
    """Parse one SBOM document (already JSON-decoded); :class:`Rejected` if it is not one."""
    if isinstance(document, str):
        # Some producers put the SBOM into the predicate as a JSON string.
        try:
            document = json.loads(document)
        except (ValueError, RecursionError):
            raise Rejected(f"the {fmt} predicate is a string that is not JSON") from None
    if not isinstance(document, dict):
        raise Rejected(f"the {fmt} predicate is not a JSON object")
    import rfc8785

    try:
        digest = "sha256:" + hashlib.sha256(rfc8785.dumps(document)).hexdigest()
    except (rfc8785.CanonicalizationError, RecursionError, ValueError):
        raise Rejected(f"the {fmt} predicate cannot be canonicalised (RFC 8785)") from None
    if fmt == "spdx":
        version, count = _spdx_structure(document)
        ok, problem = _spdx_validate(document)
    elif fmt == "cyclonedx":
        version, count = _cdx_structure(document)
        ok, problem = _cdx_validate(document, version)
    else:
        raise Rejected(f"unknown SBOM format {fmt!r}")
    return ParsedSbom(fmt, version, count, ok, problem[:_TEXT], digest)


def _spdx_structure(doc: dict[str, Any]) -> tuple[str, int]:
    version = doc.get("spdxVersion")
    if not isinstance(version, str) or not re.fullmatch(r"SPDX-2\.[0-9]+", version):
        raise Rejected("the SPDX document has no SPDX-2.x spdxVersion")
    for key in ("SPDXID", "name", "dataLicense"):
        if not isinstance(doc.get(key), str):
            raise Rejected(f"the SPDX document has no {key}")
    packages = doc.get("packages", [])
    if not isinstance(packages, list) or len(packages) > MAX_COMPONENTS:
        raise Rejected("the SPDX document's packages is not a bounded list")
    for index, package in enumerate(packages):
        if not isinstance(package, dict) or not isinstance(package.get("SPDXID"), str):
            raise Rejected(f"SPDX package {index} has no SPDXID")
        if not isinstance(package.get("name"), str):
            raise Rejected(f"SPDX package {index} has no name")
    return version.removeprefix("SPDX-"), len(packages)


def _cdx_structure(doc: dict[str, Any]) -> tuple[str, int]:
    if doc.get("bomFormat") != "CycloneDX":
        raise Rejected("the CycloneDX document's bomFormat is not CycloneDX")
    version = doc.get("specVersion")
    if not isinstance(version, str) or not re.fullmatch(r"1\.[0-9]+", version):
        raise Rejected("the CycloneDX document has no 1.x specVersion")
    count = 0
    stack: list[tuple[object, int]] = [(doc.get("components", []), 0)]
    while stack:
        components, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Rejected(f"CycloneDX components nest deeper than {MAX_DEPTH}")
        if not isinstance(components, list):
            raise Rejected("CycloneDX components is not a list")
        for component in components:
            if not isinstance(component, dict) or not isinstance(component.get("name"), str):
                raise Rejected("a CycloneDX component has no name")
            if not isinstance(component.get("type"), str):
                raise Rejected(f"CycloneDX component {component['name'][:100]!r} has no type")
            count += 1
            if count > MAX_COMPONENTS:
                raise Rejected(f"more than {MAX_COMPONENTS} CycloneDX components")
            if "components" in component:
                stack.append((component["components"], depth + 1))
    return version, count


def _spdx_validate(doc: dict[str, Any]) -> tuple[bool, str]:
    """spdx-tools' parse and full validation (imported only when an SPDX SBOM is seen)."""
    from spdx_tools.spdx.parser.error import SPDXParsingError
    from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    try:
        parsed = JsonLikeDictParser().parse(doc)  # type: ignore[no-untyped-call]
    except SPDXParsingError as exc:
        messages = exc.get_messages()  # type: ignore[no-untyped-call]
        first = messages[0] if messages else "unknown problem"
        return False, f"spdx-tools cannot parse it ({len(messages)} problem(s)): {_one_line(first)}"
    except Exception as exc:
        return False, f"spdx-tools cannot parse it: {_one_line(str(exc))}"
    problems = validate_full_spdx_document(parsed)
    if problems:
        first = problems[0].validation_message
        return False, f"spdx-tools reports {len(problems)} validation problem(s): {_one_line(first)}"
    return True, ""


def _cdx_validate(doc: dict[str, Any], version: str) -> tuple[bool, str]:
    """cyclonedx-python-lib's JSON schema validation and model parse."""
    from cyclonedx.model.bom import Bom
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    try:
        schema = SchemaVersion.from_version(version)
    except ValueError:
        return False, f"cyclonedx-python-lib does not know specVersion {version}"
    try:
        problem = JsonStrictValidator(schema).validate_str(json.dumps(doc))
    except Exception as exc:
        return False, f"cyclonedx-python-lib cannot validate it: {_one_line(str(exc))}"
    if problem is not None:
        return False, f"CycloneDX {version} schema validation failed: {_one_line(str(problem))}"
    try:
        with warnings.catch_warnings():
            # Deprecation notes about fields of older spec versions are not findings.
            warnings.simplefilter("ignore")
            Bom.from_json(doc)  # type: ignore[attr-defined]
    except Exception as exc:
        return False, f"cyclonedx-python-lib cannot load it: {_one_line(str(exc))}"
    return True, ""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())[:400]


def sbom_from_statement(payload: bytes, subject_digest: str) -> ParsedSbom:
    """An in-toto Statement payload about *subject_digest* carrying an SBOM, parsed."""
    try:
        statement = json.loads(payload)
    except (ValueError, RecursionError):
        raise Rejected("the attestation payload is not JSON") from None
    if not isinstance(statement, dict) or statement.get("_type") not in _STATEMENTS:
        raise Rejected("the attestation payload is not an in-toto Statement v0.1 or v1")
    subjects = statement.get("subject")
    if not isinstance(subjects, list):
        raise Rejected("the in-toto Statement has no subject list")
    named = [
        "sha256:" + str(s["digest"]["sha256"])
        for s in subjects[:1024]
        if isinstance(s, dict) and isinstance(s.get("digest"), dict) and "sha256" in s["digest"]
    ]
    if subject_digest not in named:
        shown = ", ".join(n[:80] for n in named[:3]) or "no sha256 digest"
        raise Rejected(f"the statement is about {shown}, not {subject_digest}")
    predicate_type = statement.get("predicateType")
    fmt = sbom_format(predicate_type) if isinstance(predicate_type, str) else ""
    if not fmt:
        raise Rejected(f"predicate type {str(predicate_type)[:200]!r} is not an SPDX or CycloneDX SBOM")
    if "predicate" not in statement:
        raise Rejected("the statement has no predicate")
    return parse_sbom(statement["predicate"], fmt)


@dataclass
class _Found:
    verified: Verified
    sbom: ParsedSbom


def find_sboms(
    subject_digest: str,
    fetched: Mapping[str, bytes],
    options: SignatureOptions,
    *,
    att_manifests: Sequence[str] = (),
    referrers: Sequence[Mapping[str, Any]] = (),
) -> tuple[list[_Found], list[dict[str, str]]]:
    """Every SBOM candidate for *subject_digest*: (accepted ones, rejected ones)."""
    accepted: list[_Found] = []
    rejected: list[dict[str, str]] = []

    def consider(source: str, verify: Any) -> None:
        try:
            found: Verified = verify()
            if found.payload_type != IN_TOTO:
                raise Rejected(f"DSSE payload type {found.payload_type[:100]!r} is not in-toto")
            problem = identity_problem(found, options)
            if problem:
                raise Rejected(f"signed, but {problem}")
            accepted.append(_Found(found, sbom_from_statement(found.payload, subject_digest)))
        except Rejected as exc:
            if len(rejected) < 256:
                rejected.append({"source": source[:_TEXT], "reason": _one_line(str(exc))})

    for manifest_digest in list(att_manifests)[:MAX_CANDIDATES]:
        try:
            layers = manifest_layers(fetched, manifest_digest)
        except Rejected as exc:
            rejected.append({"source": f"att-tag {manifest_digest}", "reason": str(exc)})
            continue
        for layer, blob in layers:
            source = f"att-tag {manifest_digest} layer {layer.get('digest')}"
            if layer.get("mediaType") != DSSE_ENVELOPE:
                media_type = str(layer.get("mediaType", ""))
                if "spdx" in media_type or "cyclonedx" in media_type:
                    # cosign attach sbom: the document itself, signed by nobody.
                    reason = f"an unsigned SBOM ({media_type[:100]}); only signed attestations count"
                    rejected.append({"source": source, "reason": reason})
                continue
            if blob is None:
                rejected.append({"source": source, "reason": "the layer blob was not fetched"})
                continue
            annotations = {
                str(k): v for k, v in (layer.get("annotations") or {}).items() if isinstance(v, str)
            }
            consider(
                source,
                lambda b=blob, a=annotations, s=source: verify_cosign_layer(
                    b, a, options, media_type=DSSE_ENVELOPE, source=s
                ),
            )

    for descriptor in list(referrers)[:MAX_CANDIDATES]:
        digest = str(descriptor.get("digest", ""))
        try:
            manifest = json.loads(fetched[digest]) if digest in fetched else None
        except (ValueError, RecursionError):
            manifest = None
        kind = artifact_type(descriptor, manifest if isinstance(manifest, dict) else None)
        source = f"referrer {digest}"
        if kind.startswith(BUNDLE_MEDIA_PREFIX):
            layer_prefix = BUNDLE_MEDIA_PREFIX
        elif kind in (DSSE_ENVELOPE, IN_TOTO) or "in-toto" in kind:
            layer_prefix = DSSE_ENVELOPE
        else:
            continue
        try:
            layers = manifest_layers(fetched, digest)
        except Rejected as exc:
            rejected.append({"source": source, "reason": str(exc)})
            continue
        blobs = [b for lay, b in layers if str(lay.get("mediaType", "")).startswith(layer_prefix)]
        if not blobs or blobs[0] is None:
            rejected.append({"source": source, "reason": "no fetched signed attestation layer"})
            continue
        blob = blobs[0]
        if layer_prefix == BUNDLE_MEDIA_PREFIX:
            consider(source, lambda b=blob, s=source: verify_bundle(b, options, source=s))
        else:
            consider(source, lambda b=blob, s=source: verify_dsse_with_keys(b, options, source=s))
    return accepted, rejected


def collect_sbom(
    subject_digest: str,
    fetched: Mapping[str, bytes],
    options: SignatureOptions,
    collection: Collection,
    *,
    att_manifests: Sequence[str] = (),
    referrers: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The ``evidence.sbom`` section for *subject_digest*.

    *att_manifests* are the digests of the manifests behind the cosign
    ``sha256-<hex>.att`` tag; *referrers* the OCI descriptors naming the
    digest as subject; *fetched* maps digests to verified bodies.
    """
    try:
        check_options(options)
        accepted, rejected = find_sboms(
            subject_digest, fetched, options, att_manifests=att_manifests, referrers=referrers
        )
    except Rejected as exc:
        return {"verified": False, "error": collection.error(COLLECTOR, str(exc))}
    return sbom_section(subject_digest, accepted, rejected, collection)


def sbom_section(
    subject_digest: str,
    accepted: Sequence[_Found],
    rejected: Sequence[dict[str, str]],
    collection: Collection,
) -> dict[str, Any]:
    """The section: the first accepted SBOM (a validated one preferred), or an error."""
    rejected = list(rejected)
    if not accepted:
        # Nothing found is an observation (the policy reports missing_sbom);
        # candidates that failed are also a collection error.
        if not rejected:
            return {"verified": False, "rejected": []}
        message = (
            f"no verified SPDX or CycloneDX SBOM attestation for {subject_digest}: "
            f"{len(rejected)} candidate(s) rejected, first: {rejected[0]['reason']}"
        )
        return {"verified": False, "error": collection.error(COLLECTOR, message), "rejected": rejected}
    chosen = next((f for f in accepted if f.sbom.validated), accepted[0])
    for other in accepted:
        if other is not chosen and len(rejected) < 256:
            rejected.append(
                {"source": other.verified.source, "reason": "another SBOM attestation is the one recorded"}
            )
    signer = chosen.verified
    section: dict[str, Any] = {
        "verified": True,
        "format": chosen.sbom.format,
        "spec_version": chosen.sbom.spec_version,
        "subject_digest": subject_digest,
        "sha256": chosen.sbom.sha256,
        "package_count": chosen.sbom.package_count,
        "validated": chosen.sbom.validated,
        "method": signer.method,
        "source": signer.source[:_TEXT],
    }
    if chosen.sbom.validation_error:
        section["validation_error"] = chosen.sbom.validation_error
    if signer.method == "key":
        section["key_sha256"] = signer.key_sha256
    else:
        section["identity"] = signer.identity
        section["issuer"] = signer.issuer
    section["rejected"] = rejected
    return section
