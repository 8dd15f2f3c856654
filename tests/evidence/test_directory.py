"""gate/evidence/directory.py: the directory digest and the diffusers layout evidence."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from gate.evidence.artifact import collect_artifact
from gate.evidence.directory import directory_digest


def _digest_of(tree: dict[str, bytes], tmp_path: Path, name: str) -> str:
    root = tmp_path / name
    for rel, data in tree.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    section = collect_artifact(str(root))
    assert section["kind"] == "dir"
    digest: str = section["digest"]
    return digest


def test_directory_digest_is_unambiguous(tmp_path: Path) -> None:
    base = _digest_of({"a": b"xy", "b": b"z"}, tmp_path, "base")
    assert base == _digest_of({"a": b"xy", "b": b"z"}, tmp_path, "same")
    # Bytes moved from one file to the next: same concatenation, other tree.
    assert base != _digest_of({"a": b"x", "b": b"yz"}, tmp_path, "moved")
    # A file renamed, or moved into a folder.
    assert base != _digest_of({"a": b"xy", "c": b"z"}, tmp_path, "renamed")
    assert base != _digest_of({"a": b"xy", "d/b": b"z"}, tmp_path, "folder")
    # A name that absorbs its content (the seed's unseparated encoding collides here).
    assert _digest_of({"ab": b"c"}, tmp_path, "n1") != _digest_of({"a": b"bc"}, tmp_path, "n2")


def test_directory_digest_construction_is_the_documented_one() -> None:
    sha = hashlib.sha256(b"data").digest()
    expected = hashlib.sha256(
        b"gate-dir-digest-v1\x00"
        + (1).to_bytes(8, "big")
        + b"F"
        + (6).to_bytes(8, "big")
        + b"a/file"
        + (32).to_bytes(8, "big")
        + sha
    ).hexdigest()
    assert directory_digest([(b"F", b"a/file", sha)]) == "sha256:" + expected


def test_a_link_differs_from_a_file(tmp_path: Path) -> None:
    file_tree = tmp_path / "f"
    file_tree.mkdir()
    (file_tree / "x").write_bytes(b"t")
    link_tree = tmp_path / "l"
    link_tree.mkdir()
    (link_tree / "x").symlink_to("t")
    assert collect_artifact(str(file_tree))["digest"] != collect_artifact(str(link_tree))["digest"]


def test_diffusers_layout(tmp_path: Path) -> None:
    root = tmp_path / "sd"
    index = {
        "_class_name": "StableDiffusionPipeline",
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
        "scheduler": ["diffusers", "PNDMScheduler"],
        "safety_checker": [None, None],
    }
    root.mkdir()
    (root / "model_index.json").write_text(json.dumps(index))
    (root / "unet").mkdir()
    (root / "unet" / "config.json").write_text('{"see": "https://evil.example/payload.py"}')
    (root / "scheduler").mkdir()
    (root / "extra").mkdir()

    directory = collect_artifact(str(root))["directory"]

    components = {c["name"]: c for c in directory["model_index"]["components"]}
    assert set(components) == {"unet", "vae", "scheduler"}
    assert components["unet"]["present"] and components["unet"]["requires_weights"]
    assert components["unet"]["weight_files"] == 0
    assert not components["vae"]["present"]
    assert not components["scheduler"]["requires_weights"]
    assert directory["subdirs"] == ["extra", "scheduler", "unet"]
    urls = directory["urls"]
    assert any(u["host"] == "evil.example" and u["file"] == "unet/config.json" for u in urls) or urls == []
