"""A quarantine, a registry folder, a signing key and a profile for watcher tests."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from gate.attest.keys import generate_key, write_keypair
from gate.profile import load_profile
from gate.watch.service import WatchConfig, Watcher
from tests.helpers import ROOT


def safetensors_bytes(floats: int = 64) -> bytes:
    """A small, valid safetensors file with non-trivial float weights."""
    data = struct.pack(f"<{floats}f", *[(i % 17 - 8) / 10 for i in range(floats)])
    header = json.dumps({"w": {"dtype": "F32", "shape": [floats], "data_offsets": [0, len(data)]}}).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + data


@dataclass
class Site:
    """Folders and files of one watcher deployment."""

    root: Path
    quarantine: Path
    registry: Path
    key: Path
    pub: Path
    profile: Path

    def config(self, **overrides: object) -> WatchConfig:
        values: dict[str, object] = {
            "quarantine": self.quarantine,
            "registry": self.registry,
            "profile": load_profile(str(self.profile)),
            "key": _load(self.key),
            "audit_log": self.root / "audit.jsonl",
            "state_dir": self.root / "state",
            "settle_s": 0.0,
            "poll_s": 0.05,
        }
        values.update(overrides)
        return WatchConfig(**values)  # type: ignore[arg-type]

    def watcher(self, **overrides: object) -> Watcher:
        return Watcher(self.config(**overrides), log=lambda line: None)


def _load(path: Path) -> object:
    from gate.attest.keys import load_signing_key

    return load_signing_key(str(path))


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    quarantine, registry = tmp_path / "quarantine", tmp_path / "registry"
    quarantine.mkdir()
    registry.mkdir()
    key, pub = write_keypair(str(tmp_path / "provenance"), generate_key(), None)
    # The standalone profile without external scanners: gate's own pipeline, fast.
    settings = yaml.safe_load((ROOT / "policy-profiles" / "standalone.yaml").read_text())
    settings["name"] = "standalone-watch"
    settings["artifact"]["scanners"]["run"] = []
    profile = tmp_path / "standalone-watch.yaml"
    profile.write_text(yaml.safe_dump(settings))
    yield Site(tmp_path, quarantine, registry, key, pub, profile)
