"""Keyless Sigstore signing: as far as a machine without OIDC credentials or Sigstore access can go."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from tests.conftest import CONTAINER_FIXTURES
from tests.helpers import BIN, run_process

PROMOTE = CONTAINER_FIXTURES / "clean-runtime-promote.input.json"
# Variables the ambient-credential detectors look at; removed so the test sees a plain machine.
CI_VARIABLES = (
    "GITHUB_ACTIONS", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL", "GITLAB_CI",
    "SIGSTORE_ID_TOKEN", "BUILDKITE", "CIRCLECI", "GOOGLE_SERVICE_ACCOUNT_NAME",
)  # fmt: skip


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CI_VARIABLES}
    env.update(extra)
    return env


def _eval_keyless(tmp_path: Path, env: dict[str, str]) -> tuple[int, str, str, Path]:
    import subprocess

    out = tmp_path / "keyless.sigstore.jsonl"
    completed = subprocess.run(
        [str(BIN / "gate"), "eval", "--input", str(PROMOTE), "--profile", "nim-promotion",
         "--attest", str(out), "--sign", "sigstore"],
        capture_output=True, env=env, timeout=120, check=False, text=True,
    )  # fmt: skip
    return completed.returncode, completed.stdout, completed.stderr, out


def test_no_ambient_credential_is_one_line_and_exit_2(tmp_path: Path) -> None:
    code, out, err, path = _eval_keyless(tmp_path, _env())

    assert code == 2
    assert out == ""  # nothing evaluated: the credential is checked first
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("gate: error: --sign sigstore: no ambient OIDC credential found")
    assert not path.exists()


def test_github_actions_without_id_token_permission_is_one_line(tmp_path: Path) -> None:
    # GitHub Actions without `permissions: id-token: write`: the request variables are absent.
    code, _, err, path = _eval_keyless(tmp_path, _env(GITHUB_ACTIONS="true"))

    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "ambient OIDC credential detection failed" in err
    assert not path.exists()


def _jwt(claims: dict[str, object]) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'ES256', 'typ': 'JWT'})}.{part(claims)}.{part({'sig': 'none'})}"


def test_malformed_token_is_one_line(tmp_path: Path) -> None:
    # GitLab hands the token over in SIGSTORE_ID_TOKEN; a malformed JWT is refused before any network use.
    code, _, err, path = _eval_keyless(tmp_path, _env(GITLAB_CI="true", SIGSTORE_ID_TOKEN="not-a-jwt"))

    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "Malformed token" in err
    assert not path.exists()


def test_expired_token_is_one_line(tmp_path: Path) -> None:
    token = _jwt(
        {
            "iss": "https://gitlab.com",
            "aud": "sigstore",
            "sub": "project_path:x/y",
            "iat": 1,
            "nbf": 1,
            "exp": 2,
        }
    )
    code, out, err, path = _eval_keyless(tmp_path, _env(GITLAB_CI="true", SIGSTORE_ID_TOKEN=token))

    assert code == 2, err
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "the ambient OIDC token is unusable" in err
    assert not path.exists()


def test_keyless_and_key_together_is_usage(tmp_path: Path) -> None:
    run = run_process(
        str(BIN / "gate"), "eval", "--input", str(PROMOTE), "--profile", "nim-promotion",
        "--attest", str(tmp_path / "x"), "--sign", "sigstore", "--key", "k.key",
    )  # fmt: skip

    assert run.code == 2
    assert run.err_lines == ["gate: error: --sign sigstore signs keyless: leave out --key"]


@pytest.mark.cannot_run_here
@pytest.mark.skip(
    reason="keyless signing needs an ambient OIDC token (CI with id-token permission) and network access "
    "to Fulcio, Rekor and the Sigstore TUF repository; this machine may reach only package registries"
)
def test_keyless_signing_end_to_end(tmp_path: Path) -> None:  # pragma: no cover - needs the network
    code, _, err, path = _eval_keyless(tmp_path, dict(os.environ))
    assert code == 0, err
    from sigstore.models import Bundle

    for line in path.read_text().splitlines():
        Bundle.from_json(line)
