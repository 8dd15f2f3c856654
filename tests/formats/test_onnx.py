"""ONNX: the wire-format walker against models built by onnx.helper and shipped in the onnx wheel."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import set_external_data

from gate.formats import onnx as gonnx
from gate.formats.interface import BytesBlob

WHEEL_DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"
WHEEL_MODELS = sorted(WHEEL_DATA.glob("light/*.onnx")) + sorted(WHEEL_DATA.glob("simple/*/model.onnx"))


def _model(
    domain: str = "", ops: tuple[str, ...] = ("Relu",), opsets: dict[str, int] | None = None
) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    w = numpy_helper.from_array(np.ones(2, np.float32), "w")
    nodes = [helper.make_node("Add", ["x", "w"], ["t0"])]
    for i, op in enumerate(ops):
        nodes.append(helper.make_node(op, [f"t{i}"], [f"t{i + 1}"], domain=domain))
    nodes.append(helper.make_node("Identity", [f"t{len(ops)}"], ["y"]))
    graph = helper.make_graph(nodes, "g", [x], [y], initializer=[w])
    imports = [helper.make_opsetid("", 17)] + [helper.make_opsetid(d, v) for d, v in (opsets or {}).items()]
    return helper.make_model(graph, opset_imports=imports, producer_name="gate-tests")


def _parse(model: onnx.ModelProto) -> gonnx.Report:
    return gonnx.parse(BytesBlob(model.SerializeToString()))


def test_helper_model_summary() -> None:
    report = _parse(_model())
    assert report.findings == []
    h = report.header
    assert h["ir_version"] == onnx.IR_VERSION
    assert h["opset_imports"] == [{"domain": "", "version": 17}]
    assert h["producer_name"] == "gate-tests"
    assert (h["node_count"], h["initializer_count"]) == (3, 1)
    assert h["op_types"] == {"Add": 1, "Relu": 1, "Identity": 1}
    assert h["custom_domains"] == [] and h["external_data"] == []


@pytest.mark.parametrize(
    "path", WHEEL_MODELS[:8] + WHEEL_MODELS[-3:], ids=lambda p: p.parent.name + "/" + p.name
)
def test_models_shipped_in_the_onnx_wheel(path: Path) -> None:
    data = path.read_bytes()
    model = onnx.load_from_string(data)
    report = gonnx.parse(BytesBlob(data))
    assert [f for f in report.findings if f.severity in ("critical", "high")] == []
    assert report.header["ir_version"] == model.ir_version
    assert report.header["node_count"] >= len(model.graph.node)
    assert report.header["initializer_count"] >= len(model.graph.initializer)
    assert gonnx.looks_like_onnx(BytesBlob(data))


def test_wheel_models_exist() -> None:
    assert len(WHEEL_MODELS) >= 8


def test_custom_domain_is_recorded_and_reported() -> None:
    report = _parse(_model(domain="com.evil", ops=("Backdoor",), opsets={"com.evil": 1}))
    [finding] = report.findings
    assert (finding.code, finding.check, finding.severity) == ("unsafe_layer", "onnx.custom_domain", "medium")
    assert report.header["custom_domains"] == ["com.evil"]
    assert report.header["op_types"]["com.evil::Backdoor"] == 1


def test_standard_domains_are_not_custom() -> None:
    report = _parse(_model(domain="ai.onnx.ml", ops=("Normalizer",), opsets={"ai.onnx.ml": 3}))
    assert report.findings == []


def test_local_functions_are_not_custom_operators() -> None:
    body = [helper.make_node("Relu", ["a"], ["b"])]
    func = helper.make_function(
        "pkg.local", "MyRelu", ["a"], ["b"], body, opset_imports=[helper.make_opsetid("", 17)]
    )
    graph = helper.make_graph(
        [helper.make_node("MyRelu", ["x"], ["y"], domain="pkg.local")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    model = helper.make_model(
        graph,
        functions=[func],
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("pkg.local", 1)],
    )
    onnx.checker.check_model(model)
    report = _parse(model)
    assert report.findings == []
    assert report.header["function_domains"] == ["pkg.local"]
    assert report.header["op_types"] == {"pkg.local::MyRelu": 1, "Relu": 1}


def test_custom_op_inside_a_local_function_is_found() -> None:
    body = [helper.make_node("Native", ["a"], ["b"], domain="com.vendor")]
    func = helper.make_function(
        "pkg.local", "F", ["a"], ["b"], body, opset_imports=[helper.make_opsetid("com.vendor", 1)]
    )
    graph = helper.make_graph(
        [helper.make_node("F", ["x"], ["y"], domain="pkg.local")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    model = helper.make_model(graph, functions=[func], opset_imports=[helper.make_opsetid("pkg.local", 1)])
    assert _parse(model).header["custom_domains"] == ["com.vendor"]


def test_subgraph_nodes_are_walked() -> None:
    then = helper.make_graph(
        [helper.make_node("Hidden", [], ["o"], domain="com.hidden")],
        "then",
        [],
        [helper.make_tensor_value_info("o", TensorProto.FLOAT, [1])],
    )
    other = helper.make_graph(
        [helper.make_node("Constant", [], ["o"], value=numpy_helper.from_array(np.ones(1, np.float32)))],
        "else",
        [],
        [helper.make_tensor_value_info("o", TensorProto.FLOAT, [1])],
    )
    node = helper.make_node("If", ["c"], ["o"], then_branch=then, else_branch=other)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("o", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    report = _parse(model)
    assert report.header["custom_domains"] == ["com.hidden"]
    assert report.header["node_count"] == 3


def _external(location: str) -> onnx.ModelProto:
    model = _model()
    tensor = model.graph.initializer[0]
    set_external_data(tensor, location=location, offset=0, length=8)
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    return model


def test_relative_external_data_is_recorded() -> None:
    report = _parse(_external("weights/model.bin"))
    assert report.findings == []
    assert report.header["external_data"] == [
        {"tensor": "w", "location": "weights/model.bin", "offset": 0, "length": 8}
    ]


@pytest.mark.parametrize("location", ["subdir/../weights.bin", "./weights.bin", "a/./b/../w.bin"])
def test_external_data_that_stays_inside_once_normalised_passes(location: str) -> None:
    report = _parse(_external(location))
    assert report.findings == [], [f.to_json() for f in report.findings]


@pytest.mark.parametrize("domain", ["", "ai.onnx", "com.microsoft"])
def test_python_op_blocks_in_any_domain(domain: str) -> None:
    # What torch.onnx.export writes for an autograd.Function it cannot lower (operator_export_type
    # ONNX_FALLTHROUGH): a PythonOp node, here in the default domain.
    report = _parse(_model(domain=domain, ops=("PythonOp",)))
    checks = {f.check for f in report.findings}
    assert "onnx.python_op" in checks, checks
    [python_op] = [f for f in report.findings if f.check == "onnx.python_op"]
    assert (python_op.code, python_op.severity) == ("unsafe_layer", "high")


@pytest.mark.parametrize(
    "location",
    [
        "../../etc/passwd",
        "subdir/../../secret",
        "weights/../../secret",
        "/etc/passwd",
        "\\\\server\\share\\w.bin",
        "C:/Windows/win.ini",
        "c:weights.bin",
        "..\\..\\boot.ini",
        "w.bin\x00.txt",
        "file:///etc/passwd",
        "",
        "%2e%2e/%2e%2e/etc/passwd",
        "%252e%252e%252fsecret",
        "weights%2f..%2f..%2fsecret",
        "%2Fetc%2Fpasswd",
        "..%5c..%5cboot.ini",
    ],
)
def test_escaping_external_data_is_critical(location: str) -> None:
    report = _parse(_external(location))
    [finding] = report.findings
    assert (finding.code, finding.check, finding.severity) == (
        "unsafe_layer",
        "onnx.external_data_escape",
        "critical",
    )
    assert finding.offset is not None


def test_external_without_location_is_invalid() -> None:
    model = _model()
    tensor = model.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    [finding] = _parse(model).findings
    assert finding.check == "onnx.external_data_location"


@pytest.mark.parametrize(
    ("data", "check"),
    [
        (b"\x08\x07\x3a\xff\xff\xff\xff\x0f", "onnx.length"),
        (b"\x08" + b"\xff" * 11, "onnx.varint"),
        (b"\x08\x07\x3b", "onnx.wire_type"),
        (b"\x00\x01", "onnx.field_number"),
        (b"\x08\x07", "onnx.not_a_model"),
        (b"\x08\x07\x3a\x02\x0a\x00", "onnx.not_a_model"),  # fine graph, but ...
    ],
)
def test_broken_wire_format(data: bytes, check: str) -> None:
    report = gonnx.parse(BytesBlob(data))
    checks = {f.check for f in report.findings}
    if data.endswith(b"\x0a\x00"):
        assert "onnx.not_a_model" not in checks
        return
    assert check in checks, [f.to_json() for f in report.findings]


def _ld(field: int, payload: bytes) -> bytes:
    def varint(n: int) -> bytes:
        out = b""
        while True:
            out += bytes([(n & 0x7F) | (0x80 if n > 0x7F else 0)])
            n >>= 7
            if not n:
                return out

    return varint(field << 3 | 2) + varint(len(payload)) + payload


def test_deeply_nested_graphs_are_bounded() -> None:
    # protobuf itself refuses to build this, so the bytes are written by hand:
    # graph{node{op_type "If", attribute{g: graph{...}}}} forty levels deep.
    graph = b""
    for _ in range(40):
        graph = _ld(1, _ld(4, b"If") + _ld(5, _ld(1, b"then_branch") + _ld(6, graph)))
    report = gonnx.parse(BytesBlob(b"\x08\x07" + _ld(7, graph)))
    assert "onnx.nesting" in {f.check for f in report.findings}


def test_looks_like_rejects_other_formats() -> None:
    for data in (b"GGUF\x03\x00\x00\x00", b"\x80\x04\x95", b"PK\x03\x04", b"{}", b"\x08\x07"):
        assert not gonnx.looks_like_onnx(BytesBlob(data))


def test_random_mutations_never_raise() -> None:
    rng = random.Random(4)
    bases = [_model(domain="x.y", ops=("A", "B")).SerializeToString(), _external("w.bin").SerializeToString()]
    for _ in range(800):
        data = bytearray(rng.choice(bases))
        for _ in range(rng.randint(1, 5)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.2:
            data = data[: rng.randrange(len(data))]
        report = gonnx.parse(BytesBlob(bytes(data)))
        assert all(f.check != "onnx.parser_error" for f in report.findings), report.findings
