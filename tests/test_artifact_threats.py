"""Model admission end to end: every attack class of docs/model-threats.md blocks with its reason,
benign files made by the real libraries pass (standalone) or block only for documented reasons.

Malicious files are built here, pickles opcode by opcode. Nothing in gate unpickles them: the
payloads would create a marker file, and the test checks it never appears.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gate.evidence.scanners import find
from tests.helpers import run_cli

# --- building blocks ---


def _marker_cmd(marker: Path) -> bytes:
    return f"touch {marker}".encode()


def proto0_system(cmd: bytes) -> bytes:
    """Protocol 0: GLOBAL os.system, REDUCE."""
    return b"cos\nsystem\n(S'" + cmd + b"'\ntR."


def proto4_stack_global(module: bytes, name: bytes, arg: bytes) -> bytes:
    """Protocol 4: names from the stack (STACK_GLOBAL), memoized, then REDUCE."""
    body = (
        b"\x8c" + bytes([len(module)]) + module + b"\x94"
        + b"\x8c" + bytes([len(name)]) + name + b"\x94"
        + b"\x93\x94"
        + b"\x8c" + bytes([len(arg)]) + arg + b"\x94"
        + b"\x85R."
    )  # fmt: skip
    return b"\x80\x04\x95" + struct.pack("<Q", len(body)) + body


def py2_alias(cmd: bytes) -> bytes:
    """Python-2 module alias posix.system via GLOBAL, protocol 2."""
    return b"\x80\x02cposix\nsystem\nq\x00X" + struct.pack("<I", len(cmd)) + cmd + b"\x85R."


def benign_then_evil(cmd: bytes) -> bytes:
    """Two streams: a harmless dict first, the payload second."""
    return b"\x80\x02}q\x00." + proto0_system(cmd)


def call_then_break(cmd: bytes) -> bytes:
    """The payload runs at REDUCE; the stream is then broken on purpose (no STOP)."""
    return b"cos\nsystem\n(S'" + cmd + b"'\ntR\xff\xfe garbage"


def safetensors_bytes(tensors: dict[str, np.ndarray[Any, Any]]) -> bytes:
    from safetensors.numpy import save

    return bytes(save(tensors))


def weights() -> dict[str, np.ndarray[Any, Any]]:
    rng = np.random.default_rng(1)
    return {"w": (rng.standard_normal((64, 64)) * 0.02).astype("float32"), "b": np.zeros(64, "float32")}


def torch_zip(pickle_bytes: bytes, *, crc_ok: bool = True, flags: int = 0) -> bytes:
    """A PyTorch-style zip checkpoint (archive/data.pkl, stored), optionally with a bad CRC or flags."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", pickle_bytes)
        archive.writestr("archive/version", b"3\n")
        archive.writestr("archive/data/0", b"\x00" * 16)
    data = bytearray(buffer.getvalue())
    if not crc_ok or flags:
        # Patch the first local header and its central-directory twin.
        local = data.index(b"PK\x03\x04")
        central = data.index(b"PK\x01\x02")
        if not crc_ok:
            data[local + 14 : local + 18] = b"\xde\xad\xbe\xef"
            data[central + 16 : central + 20] = b"\xde\xad\xbe\xef"
        if flags:
            data[local + 6 : local + 8] = struct.pack("<H", flags)
            data[central + 8 : central + 10] = struct.pack("<H", flags)
    return bytes(data)


# --- running gate ---


def decide(
    capsys: pytest.CaptureFixture[str], path: Path, profile: str = "standalone", engine: str = "regorus"
) -> dict[str, Any]:
    run = run_cli(
        capsys, "eval", "--artifact", str(path), "--profile", profile, "-o", "json", "--engine", engine
    )
    assert run.code in (0, 1), run.err
    decision: dict[str, Any] = json.loads(run.out)
    assert (run.code == 0) == (decision["verdict"] == "promote")
    return decision


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    path = tmp_path / "PWNED"
    yield path
    assert not path.exists(), "gate executed a payload"


# --- malicious classes: each blocks with its reason ---

PICKLE_CASES = {
    "proto0-global-as-txt": ("data.txt", proto0_system),
    "proto4-stack-global-no-extension": ("weights", lambda c: proto4_stack_global(b"os", b"system", c)),
    "builtins-exec-as-bin": ("pytorch_model.bin", lambda c: proto4_stack_global(b"builtins", b"exec", c)),
    "python2-alias-posix": ("model.pt", py2_alias),
    "benign-stream-then-payload": ("model.pkl", benign_then_evil),
    "payload-then-broken-stream": ("model.dat", call_then_break),
}


@pytest.mark.parametrize("case", sorted(PICKLE_CASES))
@pytest.mark.parametrize("engine", ["regorus", "opa"])
def test_malicious_pickles_block(
    case: str, engine: str, tmp_path: Path, marker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name, build = PICKLE_CASES[case]
    path = tmp_path / name
    path.write_bytes(build(_marker_cmd(marker)))
    decision = decide(capsys, path, engine=engine)
    assert decision["verdict"] == "block"
    assert "unsafe_pickle" in decision["reasons"], decision["reasons"]
    assert "denied_format" in decision["reasons"]
    assert decision["stages"]["static_scan"]["status"] == "FAIL"


def test_pickle_appended_to_safetensors_is_a_polyglot(
    tmp_path: Path, marker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(
        safetensors_bytes(weights()) + proto4_stack_global(b"os", b"system", _marker_cmd(marker))
    )
    decision = decide(capsys, path)
    assert decision["verdict"] == "block"
    assert {"polyglot_payload", "invalid_header"} & set(decision["reasons"]), decision["reasons"]


@pytest.mark.parametrize(
    ("label", "crc_ok", "flags"), [("plain", True, 0), ("bad-crc", False, 0), ("encrypted-flag", True, 0x1)]
)
def test_torch_zip_with_payload(
    label: str, crc_ok: bool, flags: int, tmp_path: Path, marker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(torch_zip(proto0_system(_marker_cmd(marker)), crc_ok=crc_ok, flags=flags))
    decision = decide(capsys, path)
    assert decision["verdict"] == "block"
    assert "denied_format" in decision["reasons"]
    assert {"unsafe_pickle", "archive_unsafe"} & set(decision["reasons"]), decision["reasons"]


def test_numpy_object_array_hides_a_pickle(
    tmp_path: Path, marker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    path = tmp_path / "array.npy"
    path.write_bytes(
        b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + py2_alias(_marker_cmd(marker))
    )
    decision = decide(capsys, path)
    assert decision["verdict"] == "block"
    assert "unsafe_pickle" in decision["reasons"], decision["reasons"]


def test_zip_path_traversal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "model.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("../../etc/cron.d/evil", b"* * * * * root sh\n")
    decision = decide(capsys, path)
    assert decision["verdict"] == "block"
    assert "archive_unsafe" in decision["reasons"], decision["reasons"]


def test_gguf_chat_template_injection(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gguf = pytest.importorskip("gguf")
    path = tmp_path / "model.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_chat_template(
        "{{ self.__init__.__globals__.__builtins__.__import__('os').popen('id').read() }}"
    )
    writer.add_tensor("w", (np.random.default_rng(0).standard_normal((32, 32)) * 0.02).astype("float32"))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    decision = decide(capsys, path)
    assert decision["verdict"] == "block"
    assert "chat_template_injection" in decision["reasons"], decision["reasons"]


def test_safetensors_overlapping_offsets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    header = json.dumps(
        {
            "a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
            "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]},
        }
    ).encode()
    path = tmp_path / "model.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\x00" * 24)
    decision = decide(capsys, path)
    assert "invalid_header" in decision["reasons"], decision["reasons"]


def test_random_bytes_as_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    payload = np.frombuffer(np.random.default_rng(3).bytes(256 * 1024), dtype="float32").copy()
    path = tmp_path / "model.safetensors"
    path.write_bytes(safetensors_bytes({"w": payload}))
    decision = decide(capsys, path)
    assert decision["verdict"] == "block"
    assert {"entropy_anomaly", "weight_anomaly"} & set(decision["reasons"]), decision["reasons"]


def test_nan_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = weights()
    w["w"][3, 3] = np.nan
    path = tmp_path / "model.safetensors"
    path.write_bytes(safetensors_bytes(w))
    decision = decide(capsys, path)
    assert "weight_anomaly" in decision["reasons"], decision["reasons"]


def test_keras_lambda_layer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = {
        "class_name": "Sequential",
        "config": {
            "layers": [
                {
                    "class_name": "Lambda",
                    "config": {"function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAA"}}},
                }
            ]
        },
    }
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.3.3"}))
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", b"")
    decision = decide(capsys, path)
    assert decision["verdict"] == "block"
    assert "unsafe_layer" in decision["reasons"], decision["reasons"]


def test_directory_threats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "sd"
    (root / "unet").mkdir(parents=True)
    (root / "model_index.json").write_text(
        json.dumps(
            {
                "_class_name": "StableDiffusionPipeline",
                "unet": ["diffusers", "UNet2DConditionModel"],
                "vae": ["diffusers", "AutoencoderKL"],
            }
        )
    )
    (root / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(safetensors_bytes(weights()))
    (root / "unet" / "config.json").write_text(json.dumps({"_name_or_path": "https://evil.example/unet"}))
    (root / "payload").mkdir()
    (root / "payload" / "run.sh").write_text("#!/bin/sh\n")
    (root / "payload" / "run.sh").chmod(0o755)
    (root / "leak").symlink_to("/etc/passwd")
    decision = decide(capsys, root)
    assert decision["verdict"] == "block"
    for code in ("component_missing", "unexpected_component", "untrusted_url", "symlink_present"):
        assert code in decision["reasons"], (code, decision["reasons"])
    assert decision["stages"]["diffusion"]["status"] == "FAIL"


# --- benign files made by the real libraries ---


@pytest.mark.parametrize("engine", ["regorus", "opa"])
def test_benign_safetensors_promotes(engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(safetensors_bytes(weights()))
    decision = decide(capsys, path, engine=engine)
    assert decision["verdict"] == "promote", decision
    appliance = decide(capsys, path, profile="appliance", engine=engine)
    assert "unsigned" in appliance["reasons"]  # appliance requires a signature
    assert set(appliance["reasons"]) <= {"unsigned", "scanner_missing"}


def test_benign_gguf_promotes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gguf = pytest.importorskip("gguf")
    path = tmp_path / "model.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_chat_template("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}")
    writer.add_tensor("w", (np.random.default_rng(0).standard_normal((32, 32)) * 0.02).astype("float32"))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    decision = decide(capsys, path)
    assert decision["verdict"] == "promote", decision


def test_benign_numpy_promotes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "weights.npy"
    np.save(path, np.arange(100, dtype="float32"))
    decision = decide(capsys, path)
    assert decision["verdict"] == "promote", decision
    if find("modelscan") is not None:
        # modelscan 0.8.8 crashes on NumPy 2 .npy files (numpy.lib.format._check_version is
        # gone): a scanner_error, which standalone (scanners.error: warn) records as a warning.
        errors = [w for w in decision["warnings"] if w["code"] == "scanner_error"]
        assert errors and "modelscan" in errors[0]["message"], decision["warnings"]


def test_keras_without_the_scanners_extra_promotes_and_lambda_still_blocks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # modelscan without its tensorflow extra cannot read .keras files ("please install
    # modelscan with tensorflow extras"); that never decides the verdict: gate's own analysis does.
    data = Path(__file__).parent / "formats" / "data" / "keras"
    benign = decide(capsys, data / "sequential.keras")
    assert benign["verdict"] == "promote", benign["results"]
    evil = decide(capsys, data / "lambda.keras")
    assert evil["reasons"] == ["unsafe_layer"], evil["results"]


def test_onnx_models_from_the_wheel_promote(capsys: pytest.CaptureFixture[str]) -> None:
    onnx = pytest.importorskip("onnx")
    models = sorted(
        (Path(onnx.__file__).parent / "backend" / "test" / "data" / "pytorch-operator").glob("*/model.onnx")
    )
    assert models, "the onnx wheel ships its test models"
    for path in models[:5]:
        decision = decide(capsys, path)
        assert decision["verdict"] == "promote", (path, decision["results"])


def test_onnx_external_data_through_a_dot_dot_inside_the_folder_promotes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper
    from onnx.external_data_helper import set_external_data

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [16])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [16])
    w = numpy_helper.from_array((np.arange(16) * 0.01).astype("float32"), "w")
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g", [x], [y], initializer=[w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    root = tmp_path / "onnx-model"
    root.mkdir()
    (root / "weights.bin").write_bytes(w.raw_data)
    tensor = model.graph.initializer[0]
    set_external_data(tensor, location="subdir/../weights.bin", offset=0, length=64)
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    onnx.save(model, str(root / "model.onnx"))
    decision = decide(capsys, root)
    assert decision["verdict"] == "promote", decision["results"]
    # The same model pointing out of its folder blocks.
    for entry in tensor.external_data:
        if entry.key == "location":
            entry.value = "subdir/../../weights.bin"
    onnx.save(model, str(root / "model.onnx"))
    assert "unsafe_layer" in decide(capsys, root)["reasons"]


def test_benign_torch_checkpoint_blocks_only_as_denied_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    torch.save({"w": torch.zeros(4, 4), "step": 3}, path)
    decision = decide(capsys, path)
    # The pickle family is denied by both profiles; the torch globals themselves are on the
    # reviewed allowlist, so gate's own scan does not call the checkpoint unsafe. fickling
    # 0.1.12 cannot read PyTorch checkpoints (PERSID is not implemented), so it does not run
    # on them; the pickle-allowlist profile admits this file (tests/test_pickle_allowlist.py).
    assert decision["reasons"] == ["denied_format"], decision["results"]


def test_chat_template_in_tokenizer_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "hf"
    root.mkdir()
    (root / "model.safetensors").write_bytes(safetensors_bytes(weights()))
    (root / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"], "hidden_size": 64}))
    clean = {"chat_template": "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"}
    (root / "tokenizer_config.json").write_text(json.dumps(clean))
    assert decide(capsys, root)["verdict"] == "promote"

    evil = {
        "chat_template": [
            {"name": "default", "template": clean["chat_template"]},
            {"name": "tool_use", "template": "{{ cycler.__init__.__globals__.os.popen('id').read() }}"},
        ]
    }
    (root / "tokenizer_config.json").write_text(json.dumps(evil))
    decision = decide(capsys, root)
    assert decision["verdict"] == "block"
    assert decision["reasons"] == ["chat_template_injection"], decision["reasons"]
    assert "tokenizer_config.json" in decision["results"][0]["message"]
