"""gate/evidence/pins.py: models.lock.yaml in the seed's format."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.errors import InputError
from gate.evidence.pins import collect_pins, load_lock

LOCK = """\
version: 1
models:
  - name: "tiny"
    format: "safetensors"
    source: "https://huggingface.co/org/tiny"
    filename: "model.safetensors"
    sha256: "%s"
    size_bytes: 10
  - name: "template"
    filename: "other.gguf"
    sha256: ""
    size_bytes: 0
"""


def test_pins_by_file_name(tmp_path: Path) -> None:
    lock = tmp_path / "models.lock.yaml"
    lock.write_text(LOCK % ("a" * 64))
    entries, digest = load_lock(str(lock))
    assert [e["filename"] for e in entries] == ["model.safetensors"]  # empty sha256: not a pin
    section = collect_pins("model.safetensors", entries, str(lock), digest)
    assert section["entries"][0]["sha256"] == "a" * 64
    assert collect_pins("other.safetensors", entries, str(lock))["entries"] == []


def test_seed_example_with_no_models_is_empty(tmp_path: Path) -> None:
    lock = tmp_path / "models.lock.yaml"
    lock.write_text("version: 1\nmodels: []\n")
    assert load_lock(str(lock))[0] == []


@pytest.mark.parametrize(
    "text", ["models: {a: 1}\n", "models:\n  - sha256: ab\n    size_bytes: -1\n", "[: x"]
)
def test_bad_lock_is_a_usage_error(tmp_path: Path, text: str) -> None:
    lock = tmp_path / "models.lock.yaml"
    lock.write_text(text)
    with pytest.raises(InputError, match=str(lock)):
        load_lock(str(lock))
