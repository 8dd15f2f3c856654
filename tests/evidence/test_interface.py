"""Redaction and the collection record, as they appear in an input document."""

from __future__ import annotations

from gate.evidence.interface import REDACTED, Collection, redact_argv


def test_every_secret_flag_is_redacted_in_both_forms() -> None:
    argv = [
        "grype",
        "--password=hunter2",
        "--token",
        "abc",
        "--auth=u:p",
        "--key",
        "k.pem",
        "--username=bob",
        "--registry-token",
        "t0k",
        "--secret=s",
        "-o",
        "json",
    ]

    out = redact_argv(argv)

    assert out == [
        "grype",
        f"--password={REDACTED}",
        "--token",
        REDACTED,
        f"--auth={REDACTED}",
        "--key",
        REDACTED,
        f"--username={REDACTED}",
        "--registry-token",
        REDACTED,
        f"--secret={REDACTED}",
        "-o",
        "json",
    ]
    assert not {"hunter2", "abc", "u:p", "k.pem", "bob", "t0k", "s"} & set(" ".join(out).split())


def test_userinfo_in_urls_is_redacted() -> None:
    assert redact_argv(["https://alice:pw@registry.example/v2/"]) == [
        f"https://{REDACTED}@registry.example/v2/"
    ]


def test_collection_records_hosts_once_and_errors_in_order() -> None:
    collection = Collection(runtime=True)
    collection.contacted("nvcr.io")
    collection.contacted("nvcr.io")
    collection.error("oci-registry", "HTTP 401 from nvcr.io")
    collection.ran(["grype", "--token=x"])

    assert collection.to_json() == {
        "errors": [{"collector": "oci-registry", "message": "HTTP 401 from nvcr.io"}],
        "executed_commands": [["grype", f"--token={REDACTED}"]],
        "egress_hosts_contacted": ["nvcr.io"],
    }
