"""Rego policy files, their METADATA catalogue, and their unit tests."""

from gate.policy.files import PolicySet, RegoFile, load_policies

__all__ = ["PolicySet", "RegoFile", "load_policies"]
