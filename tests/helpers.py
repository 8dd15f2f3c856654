"""Shared helpers: a fully passing input document, file writers, an in-process CLI runner."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gate.cli import main

ROOT = Path(__file__).resolve().parent.parent
REGO = ROOT / "rego"
SCHEMAS = ROOT / "schemas"
# Real third-party material (signatures, SBOMs, scanner reports), copied into the
# repository with its provenance: fixtures/thirdparty/README.md and PROVENANCE.tsv.
THIRDPARTY = ROOT / "fixtures" / "thirdparty"
BUNDLED_PROFILE = ROOT / "policy-profiles" / "nim-promotion.yaml"
ENGINES = ("regorus", "opa")
BIN = Path(sys.executable).parent

DIGEST = "sha256:" + "1" * 64
PROD = "sha256:" + "2" * 64
OTHER = "sha256:" + "3" * 64
CARD = "sha256:" + "4" * 64
IDENTITY = "https://github.com/nvidia/nim-builder/.github/workflows/release.yml@refs/tags/v1.5.0"
ISSUER = "https://token.actions.githubusercontent.com"
IMAGE = "nvcr.io/nim/meta/llama-3.3-70b:1.5.0"

# The reason codes of the container promotion contract, in gate order.
CONTAINER_CODES = [
    "inputs_incomplete",
    "unknown_registry",
    "digest_drift",
    "unsigned",
    "wrong_identity",
    "wrong_issuer",
    "signed_identity_mismatch",
    "expired_cert",
    "rekor_unreachable",
    "missing_sbom",
    "missing_model_card",
    "cve_regression",
    "malformed_attestation_age",
    "stale_attestation",
    "all_gates_passed",
    "static_mode_no_runtime_evidence",
]


def good_input() -> dict[str, Any]:
    """A fresh runtime input on which every gate passes (``good`` in container_test.rego)."""
    return {
        "gate": {
            "version": "1",
            "mode": "runtime",
            "now": "2026-11-22T12:00:00Z",
            "nonce": "0123456789abcdef",
        },
        "subject": {"kind": "oci-image", "ref": IMAGE},
        "operator": {
            "image_ref_pin": DIGEST,
            "current_prod_digest": PROD,
            "expected_signer_identity": IDENTITY,
            "expected_oidc_issuer": ISSUER,
        },
        "evidence": {
            "registry": {"resolved_digest": DIGEST},
            "signature": {
                "verified": True,
                "digest": DIGEST,
                "identity": IDENTITY,
                "issuer": ISSUER,
                "cert_not_before": "2026-11-22T09:50:00Z",
                "cert_not_after": "2026-11-22T10:00:00Z",
                "tlog": {"reachable": True, "log_index": 123456, "integrated_time": "2026-11-22T09:55:00Z"},
            },
            "sbom": {"verified": True, "format": "spdx", "subject_digest": DIGEST, "sha256": CARD},
            "model_card": {"source": "oci-referrer", "digest": CARD},
            "vulnerabilities": {
                "candidate": {
                    "digest": DIGEST,
                    "matches": [
                        {"id": "CVE-2024-0001", "severity": "Critical"},
                        {"id": "CVE-2024-0002", "severity": "High"},
                        {"id": "CVE-2024-0003", "severity": "Low"},
                    ],
                },
                "baseline": {
                    "digest": PROD,
                    "matches": [
                        {"id": "CVE-2024-0001", "severity": "Critical"},
                        {"id": "CVE-2024-0002", "severity": "Medium"},
                        {"id": "CVE-2023-9999", "severity": "Critical"},
                    ],
                },
            },
            "attestation": {"age_hours": 2},
        },
    }


def write_json(path: Path, value: Any) -> Path:
    """Write *value* as JSON to *path* and return the path."""
    path.write_text(json.dumps(value, indent=2), encoding="utf-8")
    return path


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Run:
    """What one CLI invocation produced."""

    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        """Non-empty stderr lines."""
        return [line for line in self.err.splitlines() if line.strip()]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    """Run ``gate ARGS`` in-process; argparse exits become exit codes."""
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return Run(code, out, err)


def run_process(*argv: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> Run:
    """Run a real subprocess from the project root, text captured separately."""
    completed = subprocess.run(
        list(argv),
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )
    return Run(completed.returncode, completed.stdout.decode(), completed.stderr.decode())


class QuietHTTPServer(ThreadingHTTPServer):
    """A loopback test server whose handler errors never reach stderr.

    A handler that outlives its client (a deliberately slow answer) fails
    with BrokenPipe after the test that caused it has ended; the default
    ``handle_error`` would print that traceback into whichever test is
    capturing output at the time.
    """

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass
