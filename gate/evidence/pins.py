"""Digest pins from ``models.lock.yaml``: which pins name this artifact.

The lock file format is the seed's::

    version: 1
    models:
      - name: "mistral-7b-instruct-v0.3"
        format: "gguf"
        source: "https://huggingface.co/..."
        filename: "mistral-7b-instruct-v0.3.Q5_K_M.gguf"
        sha256: "<64 hex>"
        size_bytes: 5130000000

A file is pinned by its file name, a directory by its directory name
(``filename``, or ``name`` when ``filename`` is absent). The collector
records the pins that name the artifact; the policy compares digests.
"""

from __future__ import annotations

import hashlib
from typing import Any

from gate.document import load_config
from gate.errors import InputError

MAX_LOCK_BYTES = 4 * 1024 * 1024
MAX_PINS = 100_000


def load_lock(path: str) -> tuple[list[dict[str, Any]], str]:
    """The pin entries of a lock file and the file's sha256; a bad file is a usage error."""
    doc, data = load_config(path, MAX_LOCK_BYTES)  # a sha256: key given twice is refused
    if doc is None:
        doc = {}
    if not isinstance(doc, dict) or not isinstance(doc.get("models") or [], list):
        raise InputError(f"{path}: expected a mapping with a models: list")
    models = doc.get("models") or []
    if len(models) > MAX_PINS:
        raise InputError(f"{path}: more than {MAX_PINS} pins")
    entries: list[dict[str, Any]] = []
    for i, entry in enumerate(models):
        if not isinstance(entry, dict):
            raise InputError(f"{path}: models[{i}] is not a mapping")
        digest = entry.get("sha256")
        if not isinstance(digest, str) or not digest.strip():
            continue  # the seed's template entries carry an empty sha256: not a pin
        size = entry.get("size_bytes", 0)
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InputError(f"{path}: models[{i}].size_bytes is not a non-negative integer")
        pin: dict[str, Any] = {"sha256": digest.strip()[:128], "size_bytes": size}
        for key in ("name", "filename", "source", "format"):
            if isinstance(entry.get(key), str):
                pin[key] = entry[key][:4096]
        entries.append(pin)
    return entries, hashlib.sha256(data).hexdigest()


def collect_pins(name: str, entries: list[dict[str, Any]], origin: str, sha256: str = "") -> dict[str, Any]:
    """The ``evidence.pins`` section: the pins whose filename (or name) is *name*."""
    matching = [e for e in entries if e.get("filename", e.get("name")) == name][:1000]
    section: dict[str, Any] = {"origin": origin[:4096], "name": name[:4096], "entries": matching}
    if sha256:
        section["sha256"] = sha256
    return section
