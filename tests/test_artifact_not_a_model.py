"""A model admission profile admits models: a lone config or text file is not one.

Each case runs ``gate eval --artifact`` as a real process on real files, on both engines.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from tests.helpers import run_process

ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
)


def _eval(engine: str, artifact: Path | str, profile: str = "standalone") -> tuple[int, dict]:  # type: ignore[type-arg]
    run = run_process(
        sys.executable, "-m", "gate", "eval", "--artifact", str(artifact), "--profile", profile,
        "-o", "json", "--engine", engine,
    )  # fmt: skip
    assert run.code in (0, 1), run.err
    return run.code, json.loads(run.out)


def _weights(path: Path) -> Path:
    rng = np.random.default_rng(3)
    save_file({"w": rng.standard_normal((16, 16)).astype("float32")}, str(path))
    return path


def _lone_files(tmp_path: Path) -> dict[str, Path]:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(ALIAS_BOMB)
    fake = tmp_path / "x.safetensors"
    fake.write_text("not weights, just text\n")
    config = tmp_path / "config.json"
    config.write_text('{"architectures": ["LlamaForCausalLM"], "hidden_size": 16}')
    return {"hostname": Path("/etc/hostname"), "deep": deep, "bomb": bomb, "fake": fake, "config": config}


@pytest.mark.parametrize("case", ["hostname", "deep", "bomb", "fake", "config"])
@pytest.mark.parametrize("profile", ["standalone", "appliance"])
def test_a_lone_config_or_text_file_is_not_a_model(
    case: str, profile: str, engine: str, tmp_path: Path
) -> None:
    artifact = _lone_files(tmp_path)[case]
    assert artifact.is_file(), f"{artifact} is missing"
    code, decision = _eval(engine, artifact, profile)
    assert code == 1
    assert decision["verdict"] == "block"
    assert "not_a_model" in decision["reasons"]
    assert decision["stages"]["format"]["status"] == "FAIL"


def test_text_named_safetensors_inside_a_model_directory_blocks(engine: str, tmp_path: Path) -> None:
    _weights(tmp_path / "model.safetensors")
    (tmp_path / "extra.safetensors").write_text("hello\n")
    code, decision = _eval(engine, tmp_path)
    assert code == 1
    assert decision["reasons"] == ["not_a_model"]
    assert "extra.safetensors is named like safetensors but its content is text" in [
        r["message"] for r in decision["results"]
    ]


def test_a_directory_of_configs_only_is_not_a_model(engine: str, tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    (tmp_path / "tokenizer.json").write_text('{"version": "1.0", "model": {"type": "BPE"}}')
    code, decision = _eval(engine, tmp_path)
    assert code == 1
    assert decision["reasons"] == ["not_a_model"]


def test_a_model_directory_with_its_configs_still_promotes(engine: str, tmp_path: Path) -> None:
    _weights(tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text('{"architectures": ["LlamaForCausalLM"], "hidden_size": 16}')
    tokenizer = {"version": "1.0", "model": {"type": "BPE", "vocab": {"a": 0}}}
    (tmp_path / "tokenizer.json").write_text(json.dumps(tokenizer))
    (tmp_path / "tokenizer_config.json").write_text('{"model_max_length": 2048}')
    (tmp_path / "README.md").write_text("# tiny\n")
    code, decision = _eval(engine, tmp_path)
    assert decision["verdict"] == "promote", decision["results"]
    assert code == 0
    single_code, single = _eval(engine, tmp_path / "model.safetensors")
    assert (single_code, single["verdict"]) == (0, "promote")


def test_a_deep_config_inside_a_model_directory_blocks(engine: str, tmp_path: Path) -> None:
    _weights(tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    code, decision = _eval(engine, tmp_path)
    assert code == 1
    assert decision["reasons"] == ["invalid_header"]
    assert "config.json" in decision["results"][0]["message"]
