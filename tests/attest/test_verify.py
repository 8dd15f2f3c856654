"""gate eval --attest and gate attest verify, as a user runs them: every check named when it fails."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gate.attest import dsse
from gate.attest.bundle import BUNDLE_MEDIA_TYPE
from gate.attest.keys import SigningKey, generate_key, load_signing_key
from gate.attest.sign import sign_statements
from gate.attest.verify import parse_duration
from tests.attest.conftest import thirdparty
from tests.conftest import CONTAINER_FIXTURES
from tests.helpers import Run, run_cli

PROMOTE = CONTAINER_FIXTURES / "clean-runtime-promote.input.json"
RESOLVED = "sha256:7f3b9a4c2e1d0f8a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"
GOOGLE_VERIFIER = "https://bcid.corp.google.com/verifier/bcid_package_enforcer/v0.1"

Keys = tuple[SigningKey, Path, Path]


def _attest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, keys: Keys, source: Path = PROMOTE, *extra: str
) -> Path:
    out = tmp_path / "decision.intoto.jsonl"
    run = run_cli(
        capsys, "eval", "--input", str(source), "--profile", "nim-promotion", "--attest", str(out),
        "--key", str(keys[1]), *extra,
    )  # fmt: skip
    assert run.code in (0, 1, 3), run.err
    return out


def _verify(capsys: pytest.CaptureFixture[str], path: Path, public: Path, *extra: str) -> Run:
    return run_cli(capsys, "attest", "verify", str(path), "--key", str(public), *extra)


def _failed(run: Run) -> str | None:
    last = run.out.strip().splitlines()[-1]
    return last.split("NOT verified: ")[1].split(" check failed")[0] if "NOT verified" in last else None


def _statements(path: Path) -> list[dict[str, Any]]:
    return [
        json.loads(base64.b64decode(json.loads(line)["payload"])) for line in path.read_text().splitlines()
    ]


def test_round_trip_verifies(tmp_path: Path, keypair: Keys, capsys: pytest.CaptureFixture[str]) -> None:
    path = _attest(capsys, tmp_path, keypair)

    run = _verify(capsys, path, keypair[2], "--digest", RESOLVED, "--max-age", "1h")

    assert run.code == 0, run.out + run.err
    assert run.out.strip().endswith(f"{path}: verified")
    assert [line.split()[0] for line in run.out.splitlines()[:-1]] == [
        "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "SKIP",
    ]  # fmt: skip
    assert [s["predicateType"] for s in _statements(path)] == [
        "https://slsa.dev/verification_summary/v1",
        "https://gate.dev/attestation/decision/v1",
    ]


@pytest.mark.parametrize(
    ("example", "verdict", "code"),
    [
        ("clean-runtime-promote", "promote", 0),
        ("unsigned", "block", 1),
        ("rekor-unreachable-alone", "manual-review", 3),
    ],
)
def test_every_verdict_is_attested(
    example: str, verdict: str, code: int, tmp_path: Path, keypair: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "a.jsonl"
    run = run_cli(
        capsys, "eval", "--input", str(CONTAINER_FIXTURES / f"{example}.input.json"), "--profile",
        "nim-promotion", "--attest", str(out), "--key", str(keypair[1]), "-o", "json",
    )  # fmt: skip

    assert run.code == code
    assert json.loads(run.out)["verdict"] == verdict
    assert _verify(capsys, out, keypair[2], "--expect-verdict", verdict).code == 0
    assert _statements(out)[1]["predicate"]["decision"]["verdict"] == verdict


def test_wrong_key_fails_the_signature_check(
    tmp_path: Path, keypair: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _attest(capsys, tmp_path, keypair)
    run_cli(capsys, "keygen", "--out", str(tmp_path / "other"))

    run = _verify(capsys, path, tmp_path / "other.pub", "-o", "json")

    assert run.code == 1
    report = json.loads(run.out)
    assert report["valid"] is False
    assert report["failed_check"] == "signature"
    assert "wrong key, or the payload was changed" in report["detail"]


def test_tampered_payload_fails_the_signature_check(
    tmp_path: Path, keypair: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _attest(capsys, tmp_path, keypair, CONTAINER_FIXTURES / "unsigned.input.json")
    lines = path.read_text().splitlines()
    envelope = json.loads(lines[1])
    payload = base64.b64decode(envelope["payload"]).replace(b'"verdict":"block"', b'"verdict":"promote"')
    envelope["payload"] = base64.b64encode(payload).decode()
    path.write_text(lines[0] + "\n" + json.dumps(envelope) + "\n")

    run = _verify(capsys, path, keypair[2], "--expect-verdict", "any")

    assert run.code == 1
    assert _failed(run) == "signature"
    assert "envelope 2 has no signature that verifies" in run.out


def test_wrong_subject_digest(tmp_path: Path, keypair: Keys, capsys: pytest.CaptureFixture[str]) -> None:
    path = _attest(capsys, tmp_path, keypair)

    run = _verify(capsys, path, keypair[2], "--digest", "sha256:" + "0" * 64)

    assert run.code == 1
    assert _failed(run) == "subject"
    assert f"is about {RESOLVED}, not sha256:{'0' * 64}" in run.out


def test_artifact_file_is_hashed_for_the_subject(
    tmp_path: Path, keypair: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _attest(capsys, tmp_path, keypair)
    other = tmp_path / "model.gguf"
    other.write_bytes(b"GGUF not the image")

    run = _verify(capsys, path, keypair[2], "--artifact", str(other))

    assert _failed(run) == "subject"


def _signed(tmp_path: Path, key: SigningKey, statements: list[dict[str, Any]], fmt: str = "dsse") -> Path:
    path = tmp_path / f"custom.{fmt}.jsonl"
    path.write_bytes(sign_statements(statements, key, fmt))
    return path


def _promote_statements(
    tmp_path: Path, keys: Keys, capsys: pytest.CaptureFixture[str]
) -> list[dict[str, Any]]:
    return _statements(_attest(capsys, tmp_path, keys))


def test_stale_attestation_fails_freshness(
    tmp_path: Path, keypair: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    statements = _promote_statements(tmp_path, keypair, capsys)
    old = (datetime.now(timezone.utc) - timedelta(hours=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    statements[0]["predicate"]["timeVerified"] = old
    statements[1]["predicate"]["timestamp"] = old
    path = _signed(tmp_path, keypair[0], statements)

    assert _verify(capsys, path, keypair[2], "--max-age", "48h").code == 0
    run = _verify(capsys, path, keypair[2], "--max-age", "24h")
    assert run.code == 1
    assert _failed(run) == "freshness"
    assert "30h old, older than --max-age 24h" in run.out


def test_future_attestation_fails_freshness(
    tmp_path: Path, keypair: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    statements = _promote_statements(tmp_path, keypair, capsys)
    statements[0]["predicate"]["timeVerified"] = "2999-01-01T00:00:00Z"

    run = _verify(capsys, _signed(tmp_path, keypair[0], statements), keypair[2])

    assert _failed(run) == "freshness"
    assert "is in the future" in run.out


def test_block_decision_fails_the_result_check_by_default(
    tmp_path: Path, keypair: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _attest(capsys, tmp_path, keypair, CONTAINER_FIXTURES / "unsigned.input.json")

    run = _verify(capsys, path, keypair[2])

    assert run.code == 1
    assert _failed(run) == "result"
    assert "verificationResult is 'FAILED', not 'PASSED' (--expect-verdict promote)" in run.out


def test_wrong_expected_verdict(tmp_path: Path, keypair: Keys, capsys: pytest.CaptureFixture[str]) -> None:
    path = _attest(capsys, tmp_path, keypair, CONTAINER_FIXTURES / "unsigned.input.json")

    run = _verify(capsys, path, keypair[2], "--expect-verdict", "manual-review")

    assert _failed(run) == "result"
    assert "verdict is 'block', not 'manual-review'" in run.out


def test_policy_digest(tmp_path: Path, keypair: Keys, capsys: pytest.CaptureFixture[str]) -> None:
    path = _attest(capsys, tmp_path, keypair)
    digest = run_cli(capsys, "attest", "policy-digest", "--profile", "nim-promotion").out.strip()
    assert digest.startswith("sha256:") and len(digest) == 71

    assert _verify(capsys, path, keypair[2], "--policy-digest", digest).code == 0
    run = _verify(capsys, path, keypair[2], "--policy-digest", "sha256:" + "a" * 64)
    assert run.code == 1
    assert _failed(run) == "policy-digest"


def test_unexpected_predicate_type(tmp_path: Path, keypair: Keys, capsys: pytest.CaptureFixture[str]) -> None:
    statements = _promote_statements(tmp_path, keypair, capsys)
    statements[1]["predicateType"] = "https://example.com/other/v1"

    run = _verify(capsys, _signed(tmp_path, keypair[0], statements), keypair[2])

    assert _failed(run) == "predicate-type"


def test_unexpected_verifier(tmp_path: Path, keypair: Keys, capsys: pytest.CaptureFixture[str]) -> None:
    statements = _promote_statements(tmp_path, keypair, capsys)
    statements[0]["predicate"]["verifier"]["id"] = "https://evil.example/verifier"

    run = _verify(capsys, _signed(tmp_path, keypair[0], statements), keypair[2])

    assert _failed(run) == "verifier"
    assert "'https://evil.example/verifier'" in run.out


def test_not_a_statement(tmp_path: Path, keypair: Keys, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "raw.json"
    path.write_text(json.dumps(dsse.sign(dsse.INTOTO_PAYLOAD_TYPE, b'{"hello":1}', keypair[0]).to_json()))

    run = _verify(capsys, path, keypair[2])

    assert _failed(run) == "statement"


def test_checks_run_in_order_and_the_first_failure_is_named(
    tmp_path: Path, keypair: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    # Wrong subject AND a block verdict AND a wrong policy digest: subject comes first.
    path = _attest(capsys, tmp_path, keypair, CONTAINER_FIXTURES / "unsigned.input.json")

    run = _verify(
        capsys,
        path,
        keypair[2],
        "--digest",
        "sha256:" + "0" * 64,
        "--policy-digest",
        "sha256:" + "0" * 64,
        "-o",
        "json",
    )

    report = json.loads(run.out)
    assert report["failed_check"] == "subject"
    statuses = {c["check"]: c["status"] for c in report["checks"]}
    assert statuses["result"] == "fail" and statuses["policy-digest"] == "fail"
    assert [c["check"] for c in report["checks"]] == [
        "signature", "statement", "subject", "predicate-type",
        "verifier", "freshness", "result", "policy-digest",
    ]  # fmt: skip


def test_sigstore_bundle_format(tmp_path: Path, keypair: Keys, capsys: pytest.CaptureFixture[str]) -> None:
    path = _attest(capsys, tmp_path, keypair, PROMOTE, "--attest-format", "sigstore-bundle")
    bundles = [json.loads(line) for line in path.read_text().splitlines()]

    assert [b["mediaType"] for b in bundles] == [BUNDLE_MEDIA_TYPE] * 2
    assert bundles[0]["verificationMaterial"]["publicKey"]["hint"] == keypair[0].keyid
    assert _verify(capsys, path, keypair[2], "--digest", RESOLVED).code == 0


def test_sigstore_bundle_shape_is_accepted_by_the_sigstore_models(
    tmp_path: Path, keypair: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    from sigstore.models import Bundle, InvalidBundle
    from sigstore_models.bundle.v1 import Bundle as BundleMessage

    path = _attest(capsys, tmp_path, keypair, PROMOTE, "--attest-format", "sigstore-bundle")
    line = path.read_text().splitlines()[0]

    # The protobuf-specs model (what every Sigstore client parses) accepts it.
    message = BundleMessage.from_json(line)
    assert message.media_type == BUNDLE_MEDIA_TYPE
    assert message.verification_material.public_key.hint == keypair[0].keyid
    # sigstore-python's verifier supports keyless bundles only: a public-key
    # bundle carries no certificate and no Rekor entry, so it refuses to load it.
    with pytest.raises(InvalidBundle, match="expected certificate"):
        Bundle.from_json(line)


def test_env_key_and_encrypted_key_sign(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATE_TEST_PASS", "s3cret-pass")
    run_cli(capsys, "keygen", "--out", str(tmp_path / "enc"), "--passphrase-env", "GATE_TEST_PASS")
    monkeypatch.setenv("GATE_KEY_PEM", (tmp_path / "enc.key").read_text())
    out = tmp_path / "a.jsonl"

    run = run_cli(
        capsys, "eval", "--input", str(PROMOTE), "--profile", "nim-promotion", "--attest", str(out),
        "--key", "env://GATE_KEY_PEM", "--key-passphrase-env", "GATE_TEST_PASS",
    )  # fmt: skip

    assert run.code == 0, run.err
    assert _verify(capsys, out, tmp_path / "enc.pub").code == 0


def test_encrypted_key_without_passphrase_fails_before_evaluating(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATE_TEST_PASS", "s3cret-pass")
    run_cli(capsys, "keygen", "--out", str(tmp_path / "enc"), "--passphrase-env", "GATE_TEST_PASS")
    out = tmp_path / "a.jsonl"

    run = run_cli(
        capsys, "eval", "--input", str(PROMOTE), "--profile", "nim-promotion", "--attest", str(out),
        "--key", str(tmp_path / "enc.key"),
    )  # fmt: skip

    assert run.code == 2
    assert run.out == ""
    assert len(run.err_lines) == 1 and "passphrase-encrypted" in run.err
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--attest", "x.jsonl"], "--attest needs --key KEY (or --sign sigstore for keyless signing)"),
        (["--key", "k.key"], "--key needs --attest FILE or --audit-log PATH (what to sign)"),
        (["--sign", "sigstore"], "--sign sigstore needs --attest FILE (where to write the attestation)"),
    ],
)
def test_attest_option_misuse(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "eval", "--input", str(PROMOTE), "--profile", "nim-promotion", *args)

    assert run.code == 2
    assert run.out == ""
    assert run.err_lines == [f"gate: error: {message}"]


def test_unreadable_or_foreign_files_exit_2(
    tmp_path: Path, keypair: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = _verify(capsys, tmp_path / "nope.jsonl", keypair[2])
    junk = tmp_path / "junk.json"
    junk.write_text('{"hello": "world"}')
    foreign = _verify(capsys, junk, keypair[2])

    assert missing.code == 2 and "cannot read" in missing.err
    assert foreign.code == 2
    assert foreign.err_lines == [
        f"gate: error: {junk}: document: neither a DSSE envelope nor a Sigstore bundle"
    ]


def test_durations() -> None:
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("7d") == timedelta(days=7)
    for bad in ("", "12", "1x", "h1"):
        with pytest.raises(ValueError):
            parse_duration(bad)


# --- real third-party envelopes ---


def test_real_google_vsa_verifies(capsys: pytest.CaptureFixture[str]) -> None:
    envelope = thirdparty("intoto", "vsa.gke-gce-pre.bcid-vsa.dsse.jsonl")
    key = thirdparty("intoto", "vsa.gke-gce-pre.signing-public-key.pem")

    run = _verify(capsys, envelope, key, "--verifier-id", GOOGLE_VERIFIER)

    assert run.code == 0, run.out
    # Under gate's own verifier id it is a different verifier: named, not a crash.
    assert _failed(_verify(capsys, envelope, key)) == "verifier"


def test_real_google_vsa_with_a_changed_payload_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    value = json.loads(thirdparty("intoto", "vsa.gke-gce-pre.bcid-vsa.dsse.jsonl").read_text())
    payload = base64.b64decode(value["payload"]).replace(b"SLSA_BUILD_LEVEL_2", b"SLSA_BUILD_LEVEL_3")
    value["payload"] = base64.b64encode(payload).decode()
    path = tmp_path / "tampered.jsonl"
    path.write_text(json.dumps(value))

    run = _verify(capsys, path, thirdparty("intoto", "vsa.gke-gce-pre.signing-public-key.pem"))

    assert _failed(run) == "signature"


def _bcr_certificate(tmp_path: Path, name: str) -> Path:
    bundle = json.loads(thirdparty("sigstore", "bcr-slsa-provenance", name).read_text())
    der = base64.b64decode(bundle["verificationMaterial"]["certificate"]["rawBytes"])
    path = tmp_path / f"{name}.crt.pem"
    path.write_bytes(x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM))
    return path


def test_real_github_provenance_bundle_verifies_with_its_certificate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert = _bcr_certificate(tmp_path, "MODULE.bazel.intoto.jsonl")
    artifact = thirdparty("sigstore", "bcr-slsa-provenance", "MODULE.bazel")
    slsa = ("--type", "https://slsa.dev/provenance/v1", "--artifact", str(artifact))

    bundle = _verify(
        capsys, thirdparty("sigstore", "bcr-slsa-provenance", "MODULE.bazel.intoto.jsonl"), cert, *slsa
    )
    bare = _verify(
        capsys, thirdparty("intoto", "slsa-v1.github-actions.MODULE.bazel.dsse-envelope.json"), cert, *slsa
    )
    wrong = _verify(
        capsys,
        thirdparty("sigstore", "bcr-slsa-provenance", "MODULE-wrong-signer.bazel.intoto.jsonl"),
        cert,
        *slsa,
    )

    assert bundle.code == 0, bundle.out
    assert bare.code == 0, bare.out
    assert _failed(wrong) == "signature"


def test_real_cosign_statement_v01_verifies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = thirdparty("oci", "ghcr-slsa-example-package")
    manifest = json.loads(next(folder.glob("cosign-attestations-manifest.*.json")).read_text())
    cert = tmp_path / "cosign.crt.pem"
    cert.write_text(manifest["layers"][0]["annotations"]["dev.sigstore.cosign/certificate"])
    index = next(folder.glob("image-index.*.json"))

    run = _verify(
        capsys, thirdparty("intoto", "slsa-v0.2.container-generator.cosign-dsse-envelope.json"), cert,
        "--type", "https://slsa.dev/provenance/v0.2", "--artifact", str(index),
    )  # fmt: skip

    assert run.code == 0, run.out


def test_key_loaded_once_signs_many(keypair: Keys) -> None:
    assert load_signing_key(str(keypair[1])).keyid == keypair[0].keyid
    assert generate_key().keyid != keypair[0].keyid


# --- keyless (Sigstore bundles, verified offline against the bundled trust roots) ---

BCR_IDENTITY = (
    "https://github.com/bazel-contrib/publish-to-bcr/.github/workflows/publish.yaml@refs/tags/v0.0.1"
)
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
BEACON = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)


def _keyless(capsys: pytest.CaptureFixture[str], path: Path, identity: str, *extra: str) -> Run:
    return run_cli(
        capsys, "attest", "verify", str(path), "--certificate-identity", identity,
        "--certificate-oidc-issuer", GITHUB_ISSUER, *extra,
    )  # fmt: skip


def test_keyless_production_bundle_verifies_by_identity(capsys: pytest.CaptureFixture[str]) -> None:
    folder = thirdparty("sigstore", "bcr-slsa-provenance")
    slsa = ("--type", "https://slsa.dev/provenance/v1", "--artifact", str(folder / "MODULE.bazel"))

    good = _keyless(capsys, folder / "MODULE.bazel.intoto.jsonl", BCR_IDENTITY, *slsa)
    wrong = _keyless(
        capsys, folder / "MODULE-wrong-signer.bazel.intoto.jsonl", BCR_IDENTITY, *slsa, "-o", "json"
    )

    assert good.code == 0, good.out
    assert good.err == ""
    report = json.loads(wrong.out)
    assert report["failed_check"] == "signature"
    assert "Certificate's SANs do not match" in report["detail"]
    assert "loosebazooka" in report["detail"]


def test_keyless_staging_dsse_bundle_and_a_subject_that_is_not_the_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bundle = thirdparty("sigstore", "a.dsse.staging-rekor-v2.txt.sigstore.json")
    other = thirdparty("sigstore", "a.dsse.staging-rekor-v2.txt")
    slsa = ("--type", "https://slsa.dev/provenance/v1", "--staging")

    signed = _keyless(capsys, bundle, BEACON, *slsa)
    mismatch = _keyless(capsys, bundle, BEACON, *slsa, "--artifact", str(other))
    production = _keyless(capsys, bundle, BEACON, "--type", "https://slsa.dev/provenance/v1")

    assert signed.code == 0, signed.out
    assert _failed(mismatch) == "subject"
    assert _failed(production) == "signature"


def test_keyless_needs_a_bundle_not_a_bare_envelope(capsys: pytest.CaptureFixture[str]) -> None:
    run = _keyless(capsys, thirdparty("intoto", "vsa.gke-gce-pre.bcid-vsa.dsse.jsonl"), BCR_IDENTITY)

    assert _failed(run) == "signature"
    assert "carries no certificate: verify it with --key" in run.out


def test_verify_needs_a_key_or_an_identity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "attest", "verify", str(tmp_path / "x.jsonl"))

    assert run.code == 2
    assert "give --key PUB, or --certificate-identity ID and --certificate-oidc-issuer URL" in run.err


def test_bad_max_age_is_usage(tmp_path: Path, keypair: Keys, capsys: pytest.CaptureFixture[str]) -> None:
    path = _attest(capsys, tmp_path, keypair)

    run = _verify(capsys, path, keypair[2], "--max-age", "soon")

    assert run.code == 2
    assert run.err_lines == [
        "gate: error: --max-age: 'soon' is not a duration (examples: 90s, 30m, 24h, 7d, 1h30m)"
    ]
