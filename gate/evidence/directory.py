"""Model directories: the directory digest and the layout evidence (stage 7).

Directory digest (``sha256:<hex>``), version 1::

    sha256( b"gate-dir-digest-v1\\x00"
            || u64be(number of entries)
            || for each entry, sorted by its relative POSIX path as bytes:
                 type (1 byte: b"F" regular file, b"L" symbolic link)
                 || u64be(len(path)) || path
                 || u64be(len(value)) || value )

where ``path`` is the entry's path relative to the directory (``/``
separators, file-system bytes), and ``value`` is the raw 32-byte sha256 of a
file's contents or the bytes of a link's target. Every field is
length-delimited and the prefix separates this construction from any other
use of sha256, so two different trees (a renamed file, bytes moved from
one file to another, a file replaced by a link) never share an encoding.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from gate.evidence.source import parse_url
from gate.formats import strictjson

DIGEST_PREFIX = b"gate-dir-digest-v1\x00"

WEIGHT_FORMATS = frozenset(
    {"safetensors", "gguf", "onnx", "pytorch-zip", "pytorch-legacy", "pytorch-tar", "pickle", "npy", "npz"}
    | {"hdf5", "keras", "joblib"}
)
# Component classes that carry no weights of their own.
_NO_WEIGHTS = re.compile(r"(Scheduler|Tokenizer|TokenizerFast|FeatureExtractor|ImageProcessor|Processor)$")
_URL = re.compile(r"https?://[^\s\"'<>\\]{1,2048}", re.IGNORECASE)

MAX_INDEX_BYTES = 1024 * 1024
MAX_CONFIG_BYTES = 16 * 1024 * 1024
MAX_URLS = 10_000


def _u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


def directory_digest(entries: list[tuple[bytes, bytes, bytes]]) -> str:
    """The directory digest over ``(type, relative path bytes, value)`` entries (see module doc)."""
    h = hashlib.sha256(DIGEST_PREFIX)
    h.update(_u64(len(entries)))
    for kind, path, value in sorted(entries, key=lambda e: e[1]):
        h.update(kind)
        h.update(_u64(len(path)))
        h.update(path)
        h.update(_u64(len(value)))
        h.update(value)
    return "sha256:" + h.hexdigest()


def _read_json(path: Path, limit: int) -> Any:
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"larger than {limit} bytes")
    return strictjson.loads(data)  # a StrictJSONError is a ValueError


def _strings(value: Any, depth: int = 0) -> list[str]:
    if depth > 64:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *_strings(v, depth + 1)]]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v, depth + 1)]
    return []


def model_index(root: Path, files: list[dict[str, Any]]) -> dict[str, Any]:
    """``model_index.json`` (diffusers layout): its components and whether each folder holds weights."""
    index_path = root / "model_index.json"
    if index_path.is_symlink() or not index_path.is_file():
        return {"present": False, "components": []}
    try:
        index = _read_json(index_path, MAX_INDEX_BYTES)
    except (OSError, ValueError) as exc:
        return {"present": True, "error": f"model_index.json: {exc}"[:2048], "components": []}
    if not isinstance(index, dict):
        return {"present": True, "error": "model_index.json is not a JSON object", "components": []}
    components = []
    for name, value in index.items():
        if name.startswith("_") or not isinstance(value, list) or len(value) != 2:
            continue
        library, cls = value
        if not isinstance(library, str) or not isinstance(cls, str):
            continue  # [null, null]: an optional component left out
        folder = root / name
        present = folder.is_dir() and not folder.is_symlink()
        weights = sum(
            1 for f in files if f["path"].startswith(name + "/") and f.get("format") in WEIGHT_FORMATS
        )
        components.append(
            {
                "name": name[:255],
                "library": library[:255],
                "class": cls[:255],
                "present": present,
                "weight_files": weights,
                "requires_weights": not _NO_WEIGHTS.search(cls),
            }
        )
    return {"present": True, "components": components[:256]}


def config_urls(root: Path, files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every http(s) URL in the directory's JSON files, with its canonical host."""
    urls: list[dict[str, Any]] = []
    for record in files:
        if record.get("format") != "json" or record.get("size", 0) > MAX_CONFIG_BYTES:
            continue
        try:
            value = _read_json(root / record["path"], MAX_CONFIG_BYTES)
        except (OSError, ValueError):
            continue  # the format stage reports unparseable JSON
        for text in _strings(value):
            for match in _URL.finditer(text):
                url = match.group(0)
                host = parse_url(url)["host"]
                urls.append({"file": record["path"], "url": url[:4096], "host": host[:255]})
                if len(urls) >= MAX_URLS:
                    return urls
    return urls


def collect_directory(root: Path, files: list[dict[str, Any]], subdirs: list[str]) -> dict[str, Any]:
    """The ``evidence.artifact.directory`` section."""
    return {
        "model_index": model_index(root, files),
        "subdirs": sorted(subdirs)[:10000],
        "urls": config_urls(root, files),
    }
