"""Model card for an image: a pinned OCI referrer, or only a label pointing somewhere.

A model card counts (source ``oci-referrer``) when an OCI referrer of the
image digest is a model card by its type: the referrer descriptor's or
manifest's ``artifactType``, else the manifest's config media type, is one of

- ``application/vnd.gate.model-card.v1+json`` and ``...v1+markdown``
- ``application/vnd.nvidia.model-card.v1+json``
- ``application/vnd.huggingface.model-card.v1+markdown``
- ``application/vnd.cncf.model-card.v1+json``
- or any media type whose name contains ``model-card``, ``model_card``,
  ``model.card`` or ``modelcard`` (case-insensitive).

It is recorded with the referrer manifest's digest (which pins the card's
bytes through the manifest's layer digests). When the referrer manifest was
fetched, its ``subject`` must name the image digest.

An image annotation or config label that only points at a URL (keys
containing ``model-card``/``modelcard``/``model_card``, or
``org.opencontainers.image.documentation``) is recorded as source ``label``
with the URL: the policy treats that as missing, because the page can change
without the image changing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from gate.evidence.interface import Collection
from gate.evidence.signatures import artifact_type

COLLECTOR = "model-card"

MODEL_CARD_TYPES = frozenset(
    {
        "application/vnd.gate.model-card.v1+json",
        "application/vnd.gate.model-card.v1+markdown",
        "application/vnd.nvidia.model-card.v1+json",
        "application/vnd.huggingface.model-card.v1+markdown",
        "application/vnd.cncf.model-card.v1+json",
    }
)
_CARD_NAME = re.compile(r"model[-_.]?card", re.IGNORECASE)
_DOCUMENTATION = "org.opencontainers.image.documentation"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_TEXT = 2048


def is_model_card_type(media_type: str) -> bool:
    """True for a media type that marks a model card (see the module docstring)."""
    return media_type in MODEL_CARD_TYPES or bool(_CARD_NAME.search(media_type))


def _label_url(labels: Mapping[str, Any]) -> tuple[str, str]:
    """(key, value) of the first model-card label, then the documentation label; ("", "")."""
    card = [(k, v) for k, v in labels.items() if _CARD_NAME.search(str(k)) and isinstance(v, str)]
    if card:
        return str(card[0][0]), card[0][1]
    value = labels.get(_DOCUMENTATION)
    if isinstance(value, str) and value:
        return _DOCUMENTATION, value
    return "", ""


def collect_model_card(
    subject_digest: str,
    fetched: Mapping[str, bytes],
    collection: Collection,
    *,
    referrers: Sequence[Mapping[str, Any]] = (),
    annotations: Mapping[str, Any] | None = None,
    labels: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``evidence.model_card`` section for *subject_digest*.

    *referrers* are the OCI descriptors naming the digest as subject;
    *annotations* the image manifest's (or index's) annotations; *labels*
    the image config's labels.
    """
    rejected: list[dict[str, str]] = []
    for descriptor in list(referrers)[:256]:
        digest = str(descriptor.get("digest", ""))
        manifest: Any = None
        if digest in fetched:
            try:
                manifest = json.loads(fetched[digest])
            except (ValueError, RecursionError):
                manifest = None
        kind = artifact_type(descriptor, manifest if isinstance(manifest, dict) else None)
        if not is_model_card_type(kind):
            continue
        source = f"referrer {digest}"[:_TEXT]
        if not _DIGEST.fullmatch(digest):
            rejected.append({"source": source, "reason": "the referrer's digest is not sha256:<64 hex>"})
            continue
        if isinstance(manifest, dict):
            subject = manifest.get("subject")
            named = subject.get("digest") if isinstance(subject, dict) else None
            if named != subject_digest:
                rejected.append(
                    {
                        "source": source,
                        "reason": f"the referrer's subject is {str(named)[:80]}, not the image",
                    }
                )
                continue
        section: dict[str, Any] = {"source": "oci-referrer", "digest": digest, "media_type": kind[:_TEXT]}
        if rejected:
            section["rejected"] = rejected
        return section
    for where in (annotations or {}, labels or {}):
        key, url = _label_url(where)
        if key:
            section = {"source": "label", "label": key[:_TEXT], "url": url[:_TEXT]}
            if rejected:
                section["rejected"] = rejected
            return section
    section = {}
    if rejected:
        section["error"] = collection.error(
            COLLECTOR, f"no usable model-card referrer for {subject_digest}: {rejected[0]['reason']}"
        )
        section["rejected"] = rejected
    return section
