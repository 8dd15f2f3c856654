"""The governance profile a recording registry command must be given.

``gate registry request`` and ``gate registry hygiene`` record transitions
decided under a profile. A profile that names nobody
(``lifecycle.people`` empty, as the bundled ``registry-governance`` template
ships) makes every approval fail, so hygiene would retire every approved
version: such a profile, or one for another policy, is bad input (exit 2),
never a silent default.
"""

from __future__ import annotations

from gate.errors import InputError
from gate.profile import Profile, load_profile


def load_governance(name_or_path: str) -> Profile:
    """The profile, if it is a lifecycle profile that names at least one person."""
    profile = load_profile(name_or_path)
    policy = profile.settings.get("policy")
    if policy != "lifecycle":
        raise InputError(f"{profile.path}: policy is {policy!r}, not 'lifecycle': not a governance profile")
    people = profile.settings.get("lifecycle", {}).get("people") or {}
    if not people:
        raise InputError(
            f"{profile.path}: lifecycle.people names nobody: no approval could count and hygiene would "
            "retire every approved version; copy the profile and list the approvers and their keys"
        )
    return profile


__all__ = ["load_governance"]
