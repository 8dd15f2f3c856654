"""Registry credentials and ``WWW-Authenticate`` challenges.

Credentials come, first match wins, from:

1. ``GATE_REGISTRY_USERNAME`` / ``GATE_REGISTRY_PASSWORD`` (the image's registry only);
2. ``NGC_API_KEY`` for ``nvcr.io`` (user ``$oauthtoken``, as NGC documents);
3. the docker config (``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``):
   ``credHelpers[host]``, then ``auths[host].auth`` (base64 ``user:password``), then
   ``credsStore``; a helper runs as ``docker-credential-<name> get`` with the server on
   standard input, no shell, a timeout and an output cap, and its argv is recorded.

A secret never leaves this module except inside an ``Authorization`` header:
``Credentials`` does not print its password, and every error message here is
written without one.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gate.evidence.interface import Collection

NGC_HOST = "nvcr.io"
NGC_USER = "$oauthtoken"
HELPER_TIMEOUT = 10.0
MAX_HELPER_OUTPUT = 64 * 1024
MAX_DOCKER_CONFIG = 1024 * 1024
_HELPER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")


class CredentialError(Exception):
    """Credentials were configured but could not be read (never carries a secret)."""


@dataclass(frozen=True)
class Credentials:
    """A user name and password (or token) for one registry."""

    username: str
    password: str = field(repr=False)
    source: str = ""
    """Where they came from (``env``, ``NGC_API_KEY``, ``docker-config``, ``helper:<name>``)."""

    def basic(self) -> str:
        """The ``Authorization`` header value for HTTP basic auth."""
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def __str__(self) -> str:
        return f"credentials for {self.username!r} from {self.source}"


def _normal_host(key: str) -> str:
    host = key.strip()
    for prefix in ("https://", "http://"):
        if host.startswith(prefix):
            host = host[len(prefix) :]
    host = host.split("/", 1)[0]
    return "docker.io" if host in ("index.docker.io", "registry-1.docker.io") else host


def _config_path(env: Mapping[str, str]) -> Path:
    base = env.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def _run_helper(
    name: str, server: str, collection: Collection, search_path: str | None
) -> Credentials | None:
    if not _HELPER_NAME.match(name):
        raise CredentialError(f"docker config names credential helper {name[:64]!r}, which is not allowed")
    program = f"docker-credential-{name}"
    path = shutil.which(program, path=search_path)
    if path is None:
        raise CredentialError(f"credential helper {program} is not on PATH")
    argv = [program, "get"]
    collection.ran(argv)
    from gate import procs

    try:
        # Its own session, killed on the deadline and with gate; output bounded (gate.procs).
        done = procs.run(
            [path, "get"],
            timeout=HELPER_TIMEOUT,
            input=server.encode(),
            stdout_cap=MAX_HELPER_OUTPUT,
            stderr_cap=0,
            keep="head",
            kill_on_overflow=True,
        )
    except OSError as exc:
        raise CredentialError(f"credential helper {program} could not run: {exc.strerror}") from None
    if done.timed_out:
        raise CredentialError(f"credential helper {program} did not answer within {HELPER_TIMEOUT:g} s")
    if done.code != 0:
        # "credentials not found" is how helpers say "anonymous".
        return None
    if done.stdout_truncated:
        raise CredentialError(f"credential helper {program} printed more than {MAX_HELPER_OUTPUT} bytes")
    try:
        answer = json.loads(done.stdout)
        username, secret = answer["Username"], answer["Secret"]
    except (ValueError, KeyError, TypeError):
        raise CredentialError(f"credential helper {program} printed something other than its JSON") from None
    if not isinstance(username, str) or not isinstance(secret, str):
        raise CredentialError(f"credential helper {program} printed non-string credentials")
    if username == "<token>":
        raise CredentialError(
            f"credential helper {program} returned an identity token, which gate does not use"
        )
    return Credentials(username, secret, f"helper:{name}")


def _docker_config(env: Mapping[str, str]) -> dict[str, object]:
    path = _config_path(env)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_DOCKER_CONFIG + 1)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CredentialError(f"{path}: cannot read: {exc.strerror}") from None
    if len(data) > MAX_DOCKER_CONFIG:
        raise CredentialError(f"{path}: larger than {MAX_DOCKER_CONFIG} bytes")
    try:
        config = json.loads(data)
    except ValueError:
        raise CredentialError(f"{path}: not valid JSON") from None
    if not isinstance(config, dict):
        raise CredentialError(f"{path}: not a JSON object")
    return config


def _from_auths(auths: object, host: str, path: Path) -> Credentials | None:
    if not isinstance(auths, dict):
        return None
    for key, entry in auths.items():
        if not isinstance(key, str) or _normal_host(key) != host or not isinstance(entry, dict):
            continue
        encoded = entry.get("auth")
        if isinstance(encoded, str) and encoded:
            try:
                username, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise CredentialError(f"{path}: auths entry for {host} is not base64 user:password") from None
            if not sep:
                raise CredentialError(f"{path}: auths entry for {host} has no ':' between user and password")
            return Credentials(username, password, "docker-config")
        plain_user, plain_password = entry.get("username"), entry.get("password")
        if isinstance(plain_user, str) and isinstance(plain_password, str):
            return Credentials(plain_user, plain_password, "docker-config")
    return None


def find_credentials(
    registry: str, collection: Collection, env: Mapping[str, str] | None = None
) -> Credentials | None:
    """Credentials for *registry* (``host[:port]`` as in the reference), or None for anonymous."""
    env = os.environ if env is None else env
    user, password = env.get("GATE_REGISTRY_USERNAME"), env.get("GATE_REGISTRY_PASSWORD")
    if user and password:
        return Credentials(user, password, "env")
    host = _normal_host(registry)
    if host == NGC_HOST and env.get("NGC_API_KEY"):
        return Credentials(NGC_USER, env["NGC_API_KEY"], "NGC_API_KEY")
    config = _docker_config(env)
    helpers = config.get("credHelpers")
    if isinstance(helpers, dict):
        for key, name in helpers.items():
            if isinstance(key, str) and _normal_host(key) == host and isinstance(name, str):
                return _run_helper(name, _helper_server(host), collection, env.get("PATH"))
    found = _from_auths(config.get("auths"), host, _config_path(env))
    if found is not None:
        return found
    store = config.get("credsStore")
    if isinstance(store, str) and store:
        return _run_helper(store, _helper_server(host), collection, env.get("PATH"))
    return None


def _helper_server(host: str) -> str:
    return _HUB_KEYS[0] if host == "docker.io" else host


_PARAM = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*,?')


@dataclass(frozen=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge."""

    scheme: str
    """Lower-case scheme: ``basic`` or ``bearer``."""
    params: dict[str, str]
    """realm, service, scope, error, ..."""


def parse_challenge(header: str) -> Challenge | None:
    """The first challenge in a ``WWW-Authenticate`` value, or None when unreadable."""
    text = header.strip()[:4096]
    scheme, _, rest = text.partition(" ")
    if not scheme or not re.match(r"^[A-Za-z][A-Za-z0-9_-]*$", scheme):
        return None
    params: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        match = _PARAM.match(rest, pos)
        if not match or match.end() == pos:
            break
        value = match.group(2) if match.group(2) is not None else match.group(3)
        params[match.group(1).lower()] = re.sub(r"\\(.)", r"\1", value or "")
        pos = match.end()
    return Challenge(scheme.lower(), params)
