"""Model card: a pinned OCI referrer counts; a label pointing at a URL does not."""

from __future__ import annotations

import pytest

from gate.decide import Decider
from gate.evidence.interface import Collection
from gate.evidence.model_card import collect_model_card, is_model_card_type
from tests.evidence.helpers import Store, decide_with

SUBJECT = "sha256:" + "1" * 64
CARD_TYPE = "application/vnd.nvidia.model-card.v1+json"


def _card(store: Store, subject: str = SUBJECT, artifact_type: str = CARD_TYPE, config: str = "") -> str:
    kwargs = {"config_media_type": config} if config else {}
    return store.manifest(
        [("application/json", b'{"model": "llama-3.3-70b", "intended_use": "chat"}', {})],
        artifact_type=artifact_type,
        subject=subject,
        **kwargs,
    )


def test_model_card_referrer_is_pinned_by_digest(deciders: dict[str, Decider]) -> None:
    store = Store()
    card = _card(store)
    collection = Collection()

    section = collect_model_card(
        SUBJECT, store.blobs, collection, referrers=[store.descriptor(card, CARD_TYPE)]
    )

    assert section == {"source": "oci-referrer", "digest": card, "media_type": CARD_TYPE}
    assert collection.errors == []
    assert decide_with(deciders, SUBJECT, model_card=section) == {"all_gates_passed"}


def test_artifact_type_can_come_from_the_manifest_config_media_type() -> None:
    store = Store()
    card = _card(store, artifact_type="", config="application/vnd.gate.model-card.v1+markdown")

    section = collect_model_card(SUBJECT, store.blobs, Collection(), referrers=[store.descriptor(card)])

    assert section["source"] == "oci-referrer"
    assert section["media_type"] == "application/vnd.gate.model-card.v1+markdown"


def test_label_only_model_card_is_recorded_as_label_and_blocks(deciders: dict[str, Decider]) -> None:
    store = Store()
    sbom = store.manifest(
        [("application/spdx+json", b"{}", {})], artifact_type="application/spdx+json", subject=SUBJECT
    )
    labels = {"com.nvidia.model-card": "https://catalog.ngc.nvidia.com/orgs/nim/models/llama/card"}

    section = collect_model_card(
        SUBJECT,
        store.blobs,
        Collection(),
        referrers=[store.descriptor(sbom, "application/spdx+json")],
        labels=labels,
    )

    assert section == {
        "source": "label",
        "label": "com.nvidia.model-card",
        "url": labels["com.nvidia.model-card"],
    }
    assert decide_with(deciders, SUBJECT, model_card=section) == {"missing_model_card"}


def test_documentation_annotation_is_a_label_too() -> None:
    section = collect_model_card(
        SUBJECT,
        {},
        Collection(),
        annotations={"org.opencontainers.image.documentation": "https://example.com/doc"},
    )

    assert section["source"] == "label" and section["url"] == "https://example.com/doc"


def test_card_that_names_another_subject_is_rejected(deciders: dict[str, Decider]) -> None:
    store = Store()
    card = _card(store, subject="sha256:" + "2" * 64)
    collection = Collection()

    section = collect_model_card(
        SUBJECT, store.blobs, collection, referrers=[store.descriptor(card, CARD_TYPE)]
    )

    assert section["rejected"][0]["reason"].startswith("the referrer's subject is sha256:2222")
    assert collection.errors[0]["collector"] == "model-card"
    assert decide_with(deciders, SUBJECT, model_card=section) == {"missing_model_card"}


def test_nothing_found_is_missing(deciders: dict[str, Decider]) -> None:
    section = collect_model_card(SUBJECT, {}, Collection())

    assert section == {}
    assert decide_with(deciders, SUBJECT, model_card=section) == {"missing_model_card"}


@pytest.mark.parametrize(
    ("media_type", "card"),
    [
        ("application/vnd.nvidia.model-card.v1+json", True),
        ("application/vnd.huggingface.model-card.v1+markdown", True),
        ("application/vnd.acme.ModelCard+yaml", True),
        ("application/vnd.acme.model_card.v2+json", True),
        ("application/vnd.dev.sigstore.bundle.v0.3+json", False),
        ("application/vnd.oci.image.config.v1+json", False),
        ("", False),
    ],
)
def test_model_card_media_types(media_type: str, card: bool) -> None:
    assert is_model_card_type(media_type) is card
