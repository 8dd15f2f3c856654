"""Policy profiles: YAML files that pick a policy, its rules and settings."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate import schemas
from gate.document import load_config
from gate.errors import InputError
from gate.policy import PolicySet
from gate.resources import profiles_dir

MAX_PROFILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Profile:
    """A validated profile and the bytes it came from."""

    name: str
    """The profile's own name (from the file, not the path)."""
    path: str
    """Where it was read from."""
    sha256: str
    """sha256 of the exact file bytes; every decision records it."""
    settings: dict[str, Any]
    """The parsed YAML."""

    def config(self) -> dict[str, Any]:
        """What Rego sees as data.gate.config."""
        config = {k: v for k, v in self.settings.items() if k not in ("apiVersion", "description", "name")}
        config.setdefault("exclude", [])
        config["profile"] = {"name": self.name, "sha256": self.sha256}
        return config


def resolve(name_or_path: str) -> Path:
    """A path as given, or the bundled profile of that name."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml", ".json") or "/" in name_or_path or candidate.exists():
        return candidate
    bundled = profiles_dir() / f"{name_or_path}.yaml"
    if not bundled.is_file():
        known = ", ".join(sorted(p.stem for p in profiles_dir().glob("*.yaml")))
        raise InputError(
            f"no profile named {name_or_path!r} (bundled profiles: {known}); give a path to use your own"
        )
    return bundled


def load_profile(name_or_path: str) -> Profile:
    """Read and schema-check a profile; errors name the file and the field."""
    path = resolve(name_or_path)
    settings, data = load_config(str(path), MAX_PROFILE_BYTES)  # plain data, duplicate keys refused
    if not isinstance(settings, dict):
        raise InputError(f"{path}: a profile must be a YAML mapping")
    found = schemas.problems("profile", settings)
    if found:
        raise InputError(f"{path}: invalid profile: {'; '.join(found)}")
    return Profile(settings["name"], str(path), hashlib.sha256(data).hexdigest(), settings)


def check_against_policies(profile: Profile, policies: PolicySet) -> None:
    """Refuse a profile whose collections or exclusions match no rule.

    A misspelt collection would otherwise switch every rule off, and a
    misspelt exclusion would silently keep a rule on.
    """
    package = f"gate.{profile.settings['policy']}"
    rules = policies.catalog.get(package, {})
    collections = {c for meta in rules.values() for c in meta.collections}
    for collection in profile.settings["collections"]:
        if collection not in collections:
            raise InputError(
                f"{profile.path}: collection {collection!r} selects no rule of policy "
                f"{profile.settings['policy']!r} (known: {', '.join(sorted(collections)) or 'none'})"
            )
    for code in profile.settings.get("exclude", []):
        if code not in rules:
            raise InputError(f"{profile.path}: exclude names unknown reason code {code!r}")
