"""Where registry credentials come from, and that they never show."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from gate.evidence.interface import Collection
from gate.evidence.oci.auth import CredentialError, Credentials, find_credentials, parse_challenge

SECRET = "pa55-w0rd-never-shown"


def docker_config(tmp_path: Path, config: dict[str, object]) -> dict[str, str]:
    (tmp_path / "config.json").write_text(json.dumps(config))
    return {"DOCKER_CONFIG": str(tmp_path), "PATH": f"{tmp_path}:{os.environ.get('PATH', '')}"}


def helper(tmp_path: Path, name: str, body: str) -> None:
    path = tmp_path / f"docker-credential-{name}"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_auths_entry_is_decoded(tmp_path: Path) -> None:
    encoded = base64.b64encode(f"alice:{SECRET}".encode()).decode()
    env = docker_config(tmp_path, {"auths": {"https://nvcr.io": {"auth": encoded}}})

    found = find_credentials("nvcr.io", Collection(), env)

    assert found == Credentials("alice", SECRET, "docker-config")
    assert SECRET not in repr(found) and SECRET not in str(found)


def test_docker_hub_keys_match_docker_io(tmp_path: Path) -> None:
    encoded = base64.b64encode(b"bob:pw").decode()
    env = docker_config(tmp_path, {"auths": {"https://index.docker.io/v1/": {"auth": encoded}}})
    assert find_credentials("docker.io", Collection(), env) == Credentials("bob", "pw", "docker-config")


def test_ngc_api_key_is_the_oauthtoken_password(tmp_path: Path) -> None:
    env = {"NGC_API_KEY": SECRET, "DOCKER_CONFIG": str(tmp_path)}
    assert find_credentials("nvcr.io", Collection(), env) == Credentials("$oauthtoken", SECRET, "NGC_API_KEY")
    assert find_credentials("ghcr.io", Collection(), env) is None


def test_gate_registry_variables_come_first(tmp_path: Path) -> None:
    env = {"GATE_REGISTRY_USERNAME": "ci", "GATE_REGISTRY_PASSWORD": SECRET, "NGC_API_KEY": "other"}
    assert find_credentials("nvcr.io", Collection(), env) == Credentials("ci", SECRET, "env")


def test_credential_helper_runs_with_the_server_on_stdin(tmp_path: Path) -> None:
    helper(
        tmp_path,
        "gatetest",
        'read server\nprintf \'{"ServerURL":"%s","Username":"carol","Secret":"' + SECRET + '"}\' "$server"\n',
    )
    env = docker_config(tmp_path, {"credHelpers": {"registry.example:5000": "gatetest"}})
    collection = Collection()

    found = find_credentials("registry.example:5000", collection, env)

    assert found == Credentials("carol", SECRET, "helper:gatetest")
    assert collection.executed_commands == [["docker-credential-gatetest", "get"]]
    assert SECRET not in json.dumps(collection.to_json())


def test_creds_store_is_the_fallback_and_not_found_means_anonymous(tmp_path: Path) -> None:
    helper(tmp_path, "empty", "echo 'credentials not found in native keychain'\nexit 1\n")
    env = docker_config(tmp_path, {"credsStore": "empty"})
    assert find_credentials("registry.example", Collection(), env) is None


def test_a_helper_that_hangs_or_lies_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gate.evidence.oci.auth.HELPER_TIMEOUT", 0.5)
    helper(tmp_path, "slow", "sleep 5\n")
    helper(tmp_path, "garbage", "echo not json\n")
    for name, problem in (("slow", "did not answer within 0.5 s"), ("garbage", "other than its JSON")):
        env = docker_config(tmp_path, {"credsStore": name})
        with pytest.raises(CredentialError) as caught:
            find_credentials("registry.example", Collection(), env)
        assert problem in str(caught.value)


def test_helper_names_are_allowlisted(tmp_path: Path) -> None:
    env = docker_config(tmp_path, {"credsStore": "../../bin/sh"})
    with pytest.raises(CredentialError) as caught:
        find_credentials("registry.example", Collection(), env)
    assert "is not allowed" in str(caught.value)


def test_missing_helper_and_broken_config(tmp_path: Path) -> None:
    env = docker_config(tmp_path, {"credsStore": "nonexistent-helper"})
    with pytest.raises(CredentialError, match="not on PATH"):
        find_credentials("registry.example", Collection(), env)
    (tmp_path / "config.json").write_text("{")
    with pytest.raises(CredentialError, match="not valid JSON"):
        find_credentials("registry.example", Collection(), env)


def test_challenges() -> None:
    bearer = parse_challenge(
        'Bearer realm="https://authn.nvidia.com/token",service="registry",scope="repository:nim/x:pull"'
    )
    assert bearer is not None
    assert bearer.scheme == "bearer"
    assert bearer.params == {
        "realm": "https://authn.nvidia.com/token",
        "service": "registry",
        "scope": "repository:nim/x:pull",
    }
    basic = parse_challenge('Basic realm="gate-test"')
    assert basic is not None and basic.scheme == "basic"
    assert parse_challenge("") is None
