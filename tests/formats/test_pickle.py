"""gate.formats.pickle: real pickles pass clean, every hiding trick is caught, nothing runs."""

from __future__ import annotations

import base64
import collections
import datetime
import io
import os
import pickle
import struct
from pathlib import Path
from typing import Any

import pytest

from gate.formats.interface import BytesBlob, FileBlob, Limits, Report
from gate.formats.pickle import DANGEROUS, SAFE, SUSPICIOUS, classify, looks_like_pickle, parse
from tests.formats.pickle_payloads import (
    BENIGN_DICT,
    binbytes,
    call0,
    call4,
    frame,
    glob,
    proto,
    s0,
    stack_global,
    u,
)


def scan(data: bytes, **kw: Any) -> Report:
    return parse(BytesBlob(data), **kw)


def checks(report: Report) -> set[str]:
    return {f.check for f in report.findings}


def worst(report: Report) -> str:
    order = ["critical", "high", "medium", "low", "info"]
    sev = [f.severity for f in report.findings]
    return min(sev, key=order.index) if sev else "none"


def assert_clean(report: Report) -> None:
    bad = [f.to_json() for f in report.findings if f.severity in ("critical", "high", "medium")]
    assert bad == [], bad
    for g in report.header["globals"]:
        assert g["classification"] == SAFE, g


def assert_dangerous(report: Report, module: str | None = None, name: str | None = None) -> None:
    assert worst(report) == "critical", [f.to_json() for f in report.findings]
    if module is not None:
        hits = [
            f
            for f in report.findings
            if f.check == "pickle.dangerous_global"
            and f.data.get("module") == module
            and f.data.get("name") == name
        ]
        assert hits, [f.to_json() for f in report.findings]
        assert hits[0].offset is not None and hits[0].data["opcode"]


# -- benign pickles made by the real libraries ---------------------------------------


class Point:
    """A plain class for copyreg-style pickles."""

    def __init__(self) -> None:
        self.x = 1


BENIGN_OBJECT = {
    "ints": [0, 1, -1, 255, 65535, 2**31, -(2**31), 2**64, 10**40],
    "floats": [0.5, float("inf")],
    "text": ["", "a", "ü" * 300, "x" * 70000],
    "bytes": [b"", b"\x80\x02abc", b"y" * 70000],
    "none": None,
    "bools": (True, False),
    "od": collections.OrderedDict(a=1, b=[1, 2]),
    "counter": collections.Counter("abca"),
    "set": {1, 2, 3},
    "frozen": frozenset({4}),
    "bytearray": bytearray(b"zz"),
    "complex": 1 + 2j,
    "slice": slice(1, 5, 2),
    "range": range(3),
    "nested": [[[]], {(): {}}],
    "date": datetime.datetime(2024, 1, 2, 3, 4, 5),
}


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_stdlib_pickles_of_plain_data_are_clean(protocol: int) -> None:
    data = pickle.dumps(BENIGN_OBJECT, protocol=protocol)
    report = scan(data)
    assert report.format == "pickle"
    assert_clean(report)
    assert report.header["stop_reached"] is True
    assert report.header["streams"] == 1
    assert looks_like_pickle(BytesBlob(data))


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_numpy_arrays_pickled_are_clean(protocol: int) -> None:
    np = pytest.importorskip("numpy")
    obj = {
        "f32": np.arange(24, dtype=np.float32).reshape(2, 3, 4),
        "f16": np.ones(5, dtype=np.float16),
        "i64": np.arange(7),
        "str": np.array(["a", "bcd"]),
        "obj": np.array([1, "x", None], dtype=object),
        "scalar": np.float64(2.5),
        "rec": np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")]),
        "fortran": np.asfortranarray(np.ones((2, 3))),
        "rng": np.random.default_rng(0),
        "legacy_rng": np.random.RandomState(0),
    }
    assert_clean(scan(pickle.dumps(obj, protocol=protocol)))


def _torch_objects() -> dict[str, Any]:
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3),
        torch.nn.BatchNorm2d(2),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.LSTM(4, 3),
        torch.nn.TransformerEncoderLayer(8, 2, 16),
        torch.nn.Embedding(10, 4),
    )
    state = dict(model.state_dict())
    state["bf16"] = torch.ones(3, dtype=torch.bfloat16)
    state["int"] = torch.arange(5)
    state["bool"] = torch.tensor([True, False])
    state["param"] = torch.nn.Parameter(torch.zeros(2))
    state["quant"] = torch.quantize_per_tensor(torch.rand(4), 0.1, 2, torch.quint8)
    state["sparse"] = torch.eye(3).to_sparse()
    state["view"] = torch.arange(10.0)[2:6]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.zeros(1, 1, 6, 6).view(1, 1, 6, 6)) if False else None
    return {
        "state_dict": state,
        "whole_model": model,
        "training": {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "epoch": 3,
            "dtype": torch.float16,
        },
    }


@pytest.mark.parametrize("what", ["state_dict", "whole_model", "training"])
def test_torch_zip_checkpoints_are_clean(what: str) -> None:
    torch = pytest.importorskip("torch")
    import zipfile

    buf = io.BytesIO()
    torch.save(_torch_objects()[what], buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        pickles = [n for n in zf.namelist() if n.endswith(".pkl")]
        assert pickles
        for name in pickles:
            report = parse(BytesBlob(zf.read(name)), member=name)
            assert_clean(report)
            assert report.header["stop_reached"]


@pytest.mark.parametrize("what", ["state_dict", "whole_model", "training"])
def test_torch_legacy_checkpoints_are_clean_and_storages_are_not_junk(what: str) -> None:
    torch = pytest.importorskip("torch")
    buf = io.BytesIO()
    torch.save(_torch_objects()[what], buf, _use_new_zipfile_serialization=False)
    report = scan(buf.getvalue())
    assert report.format == "pytorch-legacy"
    assert_clean(report)
    assert report.header["streams"] == 5
    assert report.header["trailing_bytes"] == 0
    if what != "training":
        assert report.header["storage_bytes"] > 0


# -- imports and calls, every way a pickle spells them --------------------------------

EXEC_GLOBALS = [
    ("os", "system"),
    ("posix", "system"),
    ("nt", "system"),
    ("__builtin__", "eval"),
    ("builtins", "exec"),
    ("builtins", "eval"),
    ("builtins", "compile"),
    ("builtins", "open"),
    ("builtins", "getattr"),
    ("builtins", "__import__"),
    ("builtins", "globals"),
    ("subprocess", "Popen"),
    ("subprocess", "check_output"),
    ("os", "popen"),
    ("pty", "spawn"),
]

# docs/model-threats.md §3: callables used to bypass public scanners.
BYPASS_GLOBALS = [
    ("runpy", "_run_code"),
    ("bdb", "Bdb.run"),
    ("cProfile", "run"),
    ("cProfile", "runctx"),
    ("profile", "run"),
    ("timeit", "timeit"),
    ("trace", "Trace.run"),
    ("code", "InteractiveInterpreter.runcode"),
    ("doctest", "debug_script"),
    ("pydoc", "locate"),
    ("pkgutil", "resolve_name"),
    ("importlib", "import_module"),
    ("operator", "attrgetter"),
    ("operator", "methodcaller"),
    ("_operator", "attrgetter"),
    ("functools", "partial"),
    ("pip", "main"),
    ("pip._internal", "main"),
    ("venv", "create"),
    ("pty", "spawn"),
    ("ctypes", "CDLL"),
    ("uuid", "_get_command_stdout"),
    ("logging", "FileHandler"),
    ("logging.config", "listen"),
    ("_io", "FileIO"),
    ("io", "open"),
    ("urllib.request", "urlopen"),
    ("ssl", "get_server_certificate"),
    ("numpy.testing._private.utils", "runstring"),
    ("numpy", "__builtins__"),
    ("numpy", "load"),
    ("multiprocessing.util", "spawnv_passfds"),
    ("torch", "load"),
    ("torch.serialization", "load"),
    ("torch.storage", "_load_from_bytes"),
    ("torch.jit", "load"),
    ("torch._dynamo", "optimize"),
    ("torch.fx.graph_module", "reduce_graph_module"),
    ("torch.hub", "load"),
    ("marshal", "loads"),
    ("types", "FunctionType"),
    ("types", "CodeType"),
    ("pickle", "loads"),
    ("_pickle", "loads"),
    ("cPickle", "loads"),
    ("dill", "loads"),
    ("cloudpickle", "loads"),
    ("joblib", "load"),
    ("shelve", "open"),
    ("webbrowser", "open"),
    ("shutil", "rmtree"),
    ("socket", "create_connection"),
    ("http.client", "HTTPConnection"),
    ("requests", "get"),
    ("sys", "modules"),
    ("signal", "signal"),
    ("asyncio.unix_events", "_UnixSubprocessTransport._start"),
    ("pathlib", "os.system"),
    ("collections", "os.system"),
    ("torch.serialization", "os"),
    ("copyreg", "add_extension"),
    ("copy_reg", "_inverted_registry"),
    ("yaml", "unsafe_load"),
    ("pandas", "read_pickle"),
    ("sympy", "sympify"),
    ("antigravity", "webbrowser"),
    ("idlelib.pyshell", "main"),
    ("_posixsubprocess", "fork_exec"),
    ("numpy.core", "_ufunc_reconstruct"),
    ("numpy._core", "_ufunc_reconstruct"),
    ("torch._utils", "_import_dotted_name"),
    ("hydra.utils", "instantiate"),
    ("hydra._internal.utils", "_locate"),
]


@pytest.mark.parametrize(("module", "name"), EXEC_GLOBALS + BYPASS_GLOBALS)
def test_code_execution_globals_are_dangerous_through_global(module: str, name: str) -> None:
    report = scan(call0(module, name, "touch /tmp/x"))
    assert_dangerous(report)
    assert "pickle.dangerous_global" in checks(report)


@pytest.mark.parametrize(("module", "name"), EXEC_GLOBALS + BYPASS_GLOBALS)
def test_code_execution_globals_are_dangerous_through_stack_global(module: str, name: str) -> None:
    report = scan(call4(module, name, "touch /tmp/x"))
    assert_dangerous(report)
    assert "pickle.dangerous_global" in checks(report)


def test_python2_aliases_resolve_like_the_unpickler() -> None:
    report = scan(call0("__builtin__", "eval", "1"))
    assert_dangerous(report, "builtins", "eval")
    assert report.header["globals"][0]["written_as"] == "__builtin__.eval"
    # what Python-2-era pickles of sets and new-style objects write is fine
    assert_clean(scan(glob("__builtin__", "set") + b"(]tR."))
    reconstruct = b"(" + glob("collections", "OrderedDict") + glob("__builtin__", "object") + b"NtR."
    assert_clean(scan(glob("copy_reg", "_reconstructor") + reconstruct))


def test_global_only_imported_never_called_is_still_dangerous() -> None:
    report = scan(proto(2) + glob("os", "system") + b".")
    assert_dangerous(report, "os", "system")


def test_unknown_global_is_suspicious_not_dangerous() -> None:
    report = scan(proto(2) + glob("mypackage.models", "Net") + b")\x81}b.")
    assert worst(report) == "medium"
    assert checks(report) == {"pickle.suspicious_global"}
    finding = report.findings[0]
    assert (finding.code, finding.data["module"], finding.data["name"]) == (
        "unsafe_pickle",
        "mypackage.models",
        "Net",
    )
    assert finding.offset == 2


def test_dotted_name_of_an_allowlisted_module_is_not_allowlisted() -> None:
    assert classify("collections", "OrderedDict")[0] == SAFE
    assert classify("collections", "OrderedDict.fromkeys")[0] != SAFE
    assert classify("torch._utils", "_rebuild_tensor_v2.__globals__")[0] == DANGEROUS
    assert classify("sklearn.linear_model._base", "LinearRegression")[0] == SAFE
    assert classify("sklearn.utils", "estimator_html_repr")[0] == SUSPICIOUS
    assert classify("torch.nn.modules.linear", "Linear")[0] == SAFE


def test_memo_swapped_names_resolve_to_what_the_loader_imports() -> None:
    # A benign module name is memoized first, then the same slot is overwritten with
    # "os": a scanner remembering the first PUT sees collections.system.
    data = (
        proto(4)
        + u("collections")
        + b"q\x00"  # BINPUT 0
        + b"0"
        + u("os")
        + b"q\x00"  # BINPUT 0 again
        + b"0"
        + u("system")
        + b"q\x01"
        + b"0"
        + b"h\x00"  # BINGET 0 -> "os"
        + b"h\x01"  # BINGET 1 -> "system"
        + b"\x93"
        + u("id")
        + b"\x85R."
    )
    assert_dangerous(scan(data), "os", "system")


def test_memoize_and_text_get_put_are_followed() -> None:
    data = (
        proto(4)
        + u("sys")
        + b"\x94"  # MEMOIZE -> 0
        + b"0"
        + u("builtins")
        + b"\x94"  # 1
        + b"0"
        + u("exec")
        + b"p7\n"  # PUT 7 (text)
        + b"0"
        + b"g1\n"
        + b"g7\n"
        + b"\x93"
        + u("print(1)")
        + b"\x85R."
    )
    assert_dangerous(scan(data), "builtins", "exec")


def test_inst_obj_newobj_newobj_ex_calls() -> None:
    inst = b"(" + s0("id") + b"ios\nsystem\n."
    obj = b"(" + glob("os", "system") + s0("id") + b"o."
    newobj = proto(2) + glob("subprocess", "Popen") + b"(" + s0("id") + b"t\x81."
    newobj_ex = proto(4) + stack_global("subprocess", "Popen") + b")}\x92."
    for data in (inst, obj, newobj, newobj_ex):
        report = scan(data)
        assert_dangerous(report)
        assert report.header["calls"] >= 1 or data is newobj


def test_build_on_an_imported_global_is_a_mutation() -> None:
    # BUILD on a module object rewrites its namespace; here on an allowlisted class.
    data = proto(2) + glob("collections", "OrderedDict") + b"}(" + s0("fromkeys") + s0("x") + b"ub."
    report = scan(data)
    assert "pickle.global_mutation" in checks(report)
    assert worst(report) == "critical"
    module = proto(2) + glob("torch", "_utils") + b"N}(" + s0("_rebuild_tensor_v2") + b"N" + b"u\x86b."
    assert "pickle.global_mutation" in checks(scan(module))


def test_setitem_on_an_imported_global_is_a_mutation() -> None:
    data = proto(2) + glob("copyreg", "_extension_registry") + b"(" + s0("a") + s0("b") + b"u."
    report = scan(data)
    assert "pickle.global_mutation" in checks(report)


def test_build_with_setstate_on_unknown_class_is_reported() -> None:
    data = proto(2) + glob("evil.module", "Gadget") + b")\x81}(" + s0("cmd") + s0("id") + b"ub."
    report = scan(data)
    assert "pickle.suspicious_global" in checks(report)
    assert report.header["calls"] == 2


def test_setattr_of_dunder_names_through_state_is_dangerous() -> None:
    # BUILD with (dict state, slot state): the slot state is applied with setattr()
    obj = proto(2) + glob("collections", "OrderedDict") + b")R"
    slot = b"N}(" + s0("__class__") + glob("mypackage", "Evil") + b"u\x86b."
    report = scan(obj + slot)
    assert "pickle.dunder_state" in checks(report)
    assert worst(report) == "critical"
    # torch's parameter rebuild setattr()s its state argument
    rebuild = (
        proto(2)
        + glob("torch._utils", "_rebuild_parameter_with_state")
        + b"(N\x89N}("
        + s0("__class__")
        + b"NutR."
    )
    assert "pickle.dunder_state" in checks(scan(rebuild))


def test_reduce_with_list_arguments_is_still_a_call() -> None:
    # pickle.py (used by joblib) runs func(*args) for any iterable, _pickle.c needs a tuple
    data = glob("collections", "OrderedDict") + b"(lR" + glob("os", "system") + b"(" + s0("id") + b"lR."
    report = scan(data)
    assert_dangerous(report, "os", "system")
    assert report.header["calls"] == 2


def test_calling_a_computed_value_is_dangerous() -> None:
    data = proto(2) + glob("collections", "OrderedDict") + b")R)R."
    report = scan(data)
    assert "pickle.computed_callable" in checks(report)
    assert worst(report) == "critical"


def test_stack_global_with_computed_names_is_dangerous() -> None:
    data = (
        proto(4)
        + glob("builtins", "str")
        + b"("
        + s0("os")
        + b"tR"
        + u("system")
        + b"\x93"
        + u("id")
        + b"\x85R."
    )
    report = scan(data)
    assert "pickle.computed_global" in checks(report)


def test_stack_global_with_non_string_names_breaks_like_the_loader() -> None:
    report = scan(proto(4) + b"K\x01K\x02\x93.")
    assert "pickle.parse_error" in checks(report)


def test_ext_opcodes_are_reported_and_calling_them_is_dangerous() -> None:
    report = scan(proto(2) + b"\x82\x01(" + s0("id") + b"tR.")
    assert {"pickle.extension_global", "pickle.computed_callable"} <= checks(report)
    assert worst(report) == "critical"
    for ext in (b"\x83\x01\x00", b"\x84\x01\x00\x00\x00"):
        assert "pickle.extension_global" in checks(scan(proto(2) + ext + b"."))


def test_copyreg_reconstructor_with_computed_class_is_dangerous() -> None:
    data = (
        glob("copy_reg", "_reconstructor")
        + b"("
        + glob("collections", "OrderedDict")
        + b")R"
        + glob("__builtin__", "object")
        + b"NtR."
    )
    assert "pickle.computed_callable" in checks(scan(data))


def test_codecs_encode_only_with_constants() -> None:
    ok = proto(2) + glob("_codecs", "encode") + b"(" + s0("abc") + s0("latin1") + b"tR."
    assert_clean(scan(ok))
    odd = proto(2) + glob("_codecs", "encode") + b"(" + s0("abc") + s0("rot13") + b"tR."
    assert "pickle.unexpected_args" in checks(scan(odd))


# -- streams, breaks, frames -----------------------------------------------------------


def test_second_stream_after_a_benign_first_is_interpreted() -> None:
    report = scan(BENIGN_DICT + call4("os", "system", "id"))
    assert report.header["streams"] == 2
    assert_dangerous(report, "os", "system")
    hit = next(f for f in report.findings if f.check == "pickle.dangerous_global")
    assert hit.data["stream"] == 1
    assert hit.offset == len(BENIGN_DICT) + 2 + len(u("os") + u("system"))
    assert hit.data["opcode"] == "STACK_GLOBAL"


def test_second_protocol0_stream_is_interpreted() -> None:
    report = scan(pickle.dumps([1, 2], protocol=0) + call0("posix", "system", "id"))
    assert_dangerous(report, "posix", "system")


def test_payload_then_broken_stream_is_critical() -> None:
    data = call0("os", "system", "id")[:-1] + b"\xff\xfe garbage"
    report = scan(data)
    assert {"pickle.dangerous_global", "pickle.broken_after_call"} <= checks(report)
    # a call to an allowlisted global followed by a break is still critical
    benign_call_then_break = proto(2) + glob("collections", "OrderedDict") + b")R" + b"0" * 3
    report = scan(benign_call_then_break)
    assert "pickle.broken_after_call" in checks(report)
    assert worst(report) == "critical"


def test_truncated_stream_without_calls_fails_closed() -> None:
    report = scan(proto(2) + b"}q\x00X\x05\x00\x00\x00ab")
    assert checks(report) == {"pickle.parse_error"}
    assert worst(report) == "high"
    assert report.header["stop_reached"] is False


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x80",
        b"\x80\x09.",
        b"\xff",
        b"K",
        b"N",
        b"(.",
        b"0.",
        b"h\x05.",
        b"\x80\x04\x95\xff\xff\xff\xff\x00\x00\x00\x00N.",
    ],
)
def test_unreadable_streams_are_never_a_pass(data: bytes) -> None:
    report = scan(data)
    assert report.findings, data
    assert worst(report) in ("critical", "high")


def test_junk_after_stop_is_reported_and_handed_on() -> None:
    report = scan(BENIGN_DICT + b"\x00\x01 not a pickle")
    assert checks(report) == {"pickle.trailing_data"}
    assert worst(report) == "medium"
    assert report.header["trailing_bytes"] == 15
    assert [c.name for c in report.children] == [f"<trailing@{len(BENIGN_DICT)}>"]


def test_frame_shorter_than_its_opcodes_is_reported() -> None:
    body = u("os") + u("system") + b"\x93" + u("id") + b"\x85R."
    data = proto(4) + frame(body, length=3)  # ends inside the second name
    report = scan(data)
    assert "pickle.frame_mismatch" in checks(report)
    assert_dangerous(report, "os", "system")


def test_frame_opened_inside_another_frame_is_reported() -> None:
    inner = frame(b"N.")
    data = proto(4) + frame(b"N0" + inner, length=4)
    assert "pickle.frame_mismatch" in checks(scan(data))


def test_frame_longer_than_the_data_is_a_parse_error() -> None:
    data = proto(4) + frame(b"N.", length=100)
    assert "pickle.parse_error" in checks(scan(data))


def test_real_framed_pickles_have_no_frame_findings() -> None:
    data = pickle.dumps([bytes(300_000), "x" * 100_000, list(range(10_000))], protocol=5)
    assert_clean(scan(data))


# -- nested pickles ---------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["raw", "base64", "hex", "str"])
def test_pickle_hidden_in_a_constant_becomes_a_child(encoding: str) -> None:
    inner = call4("os", "system", "id")
    if encoding == "raw":
        const = binbytes(inner)
    elif encoding == "base64":
        const = u(base64.b64encode(inner).decode())
    elif encoding == "hex":
        const = u(inner.hex())
    else:
        const = u(inner.decode("latin-1"))
    data = proto(3) + b"}" + u("payload") + const + b"s."
    report = scan(data)
    assert "pickle.nested_pickle" in checks(report)
    children = [c for c in report.children if c.hint == "pickle"]
    assert len(children) == 1
    child = children[0].blob.read_at(0, children[0].blob.size)
    assert child == inner
    assert_dangerous(parse(children[0].blob))


def test_nested_pickle_through_pickle_loads_is_dangerous_at_the_outer_level() -> None:
    inner = call4("os", "system", "id")
    data = proto(3) + glob("pickle", "loads") + binbytes(inner) + b"\x85R."
    report = scan(data)
    assert_dangerous(report, "pickle", "loads")
    assert "pickle.nested_pickle" in checks(report)


def test_text_and_token_like_constants_are_not_taken_for_pickles() -> None:
    corpus = [(f"sentence number {i} of an ordinary corpus " * 8).encode() for i in range(3000)]
    tokens = [f"Tok{i:08d}abcdefghijKLMNOP" for i in range(3000)]
    hexes = [f"{i:064x}" for i in range(1000)]
    for protocol in (0, 2, 4):
        report = scan(pickle.dumps({"corpus": corpus, "tokens": tokens, "hex": hexes}, protocol=protocol))
        assert report.findings == []
        assert report.children == []


def test_ordinary_binary_constants_are_not_taken_for_pickles() -> None:
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(1000).astype(np.float32) for _ in range(20)]
    arrays.append(np.frombuffer(b"\x80\x02" + bytes(range(256)) * 4, dtype=np.uint8).copy())
    report = scan(pickle.dumps(arrays, protocol=4))
    assert_clean(report)
    assert report.children == []


# -- content sniffing --------------------------------------------------------------------


def test_protocol_0_and_1_pickles_without_header_are_found_under_any_name(tmp_path: Path) -> None:
    for i, data in enumerate((call0("os", "system", "id"), pickle.dumps({"a": 1}, protocol=1))):
        path = tmp_path / f"notes{i}.txt"
        path.write_bytes(data)
        fd = os.open(path, os.O_RDONLY)
        try:
            blob = FileBlob(fd)
            assert looks_like_pickle(blob)
            report = parse(blob, member=path.name)
        finally:
            os.close(fd)
        if i == 0:
            assert_dangerous(report, "os", "system")
            assert report.findings[0].member == "notes0.txt"
        else:
            assert_clean(report)


@pytest.mark.parametrize(
    "text",
    [
        b"cat\ndog\nbird\nfish\n",
        b"# README\n\nThis model was trained on...\n",
        b'{"architectures": ["LlamaForCausalLM"], "hidden_size": 4096}\n',
        b"(venv) $ pip install torch\n",
        b"]]]]]",
        b"PK\x03\x04\x14\x00\x00\x00",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"\x80\x02\x00\x01\x02\x03 float data",
        b"I am a sentence.\n",
        b"Nothing to see here.\n",
    ],
)
def test_ordinary_files_do_not_sniff_as_pickles(text: str) -> None:
    assert not looks_like_pickle(BytesBlob(bytes(text)))


def test_sniffing_finds_payload_that_breaks_after_calling() -> None:
    data = call0("os", "system", "id")[:-1] + b"\x00 junk"
    assert looks_like_pickle(BytesBlob(data))
    headless_import = glob("webbrowser", "open") + b"\x00"
    assert looks_like_pickle(BytesBlob(headless_import))


@pytest.mark.parametrize(
    "data",
    [
        # protocol-4 opcodes without any PROTO header: the C unpickler runs these as they are
        stack_global("os", "system") + u("id") + b"\x85R.",
        frame(stack_global("os", "system") + u("id") + b"\x85R."),
        b"\x88" + b"0" + stack_global("os", "system") + u("id") + b"\x85R.",
        # PROTO 0 and 1 are legal headers too
        proto(0) + call0("os", "system", "id"),
        proto(1) + call0("os", "system", "id"),
    ],
)
def test_headerless_streams_starting_with_any_opcode_are_found(data: bytes) -> None:
    assert looks_like_pickle(BytesBlob(data))
    assert_dangerous(scan(data), "os", "system")


def test_scipy_sparse_and_training_metadata_are_clean() -> None:
    sparse = pytest.importorskip("scipy.sparse", reason="scipy comes with scikit-learn in the dev extra")
    np = pytest.importorskip("numpy")
    obj = {"csr": sparse.csr_matrix(np.eye(3)), "coo": sparse.coo_array(np.eye(2))}
    for protocol in (2, 4, 5):
        assert_clean(scan(pickle.dumps(obj, protocol=protocol)))
    torch = pytest.importorskip("torch")
    assert_clean(scan(pickle.dumps({"torch_version": torch.__version__}, protocol=2)))


def test_sniffing_at_an_offset_finds_an_appended_pickle() -> None:
    data = b"GGUF" + bytes(100) + call4("os", "system", "id")
    assert not looks_like_pickle(BytesBlob(data))
    assert looks_like_pickle(BytesBlob(data), 104)


# -- limits --------------------------------------------------------------------------------


def test_opcode_limit_is_a_finding_not_a_hang() -> None:
    data = proto(2) + b"N0" * 10_000 + b"N."
    report = parse(BytesBlob(data), Limits(max_pickle_ops=1000))
    assert "pickle.limit" in checks(report)
    assert worst(report) == "high"


def test_memo_limit_is_a_finding() -> None:
    data = proto(2) + b"N" + b"".join(b"r" + struct.pack("<I", i) for i in range(50)) + b"."
    report = parse(BytesBlob(data), Limits(max_entries=10))
    assert "pickle.limit" in checks(report)


def test_huge_declared_lengths_do_not_allocate() -> None:
    data = proto(4) + b"\x8e" + struct.pack("<Q", 2**62) + b"x."
    report = scan(data)
    assert "pickle.parse_error" in checks(report)


def test_many_findings_are_capped() -> None:
    data = proto(2) + (glob("os", "system") + b"0") * 5000 + b"N."
    report = scan(data)
    assert 0 < len(report.findings) <= 200
    assert report.header["findings_suppressed"] > 0


def test_header_summarises_the_stream() -> None:
    torch = pytest.importorskip("torch")
    buf = io.BytesIO()
    torch.save({"w": torch.ones(2)}, buf)
    import zipfile

    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        name = next(n for n in zf.namelist() if n.endswith("data.pkl"))
        report = parse(BytesBlob(zf.read(name)))
    header = report.header
    assert header["protocols"] == [2]
    assert header["persistent_ids"] == 1
    assert header["persistent_keys"] == ["0"]
    assert header["stop_reached"] is True
    assert {g["module"] + "." + g["name"] for g in header["globals"]} >= {"torch._utils._rebuild_tensor_v2"}
    assert all(g["classification"] == SAFE for g in header["globals"])


# -- never raises ----------------------------------------------------------------------------

_SEEDS = [pickle.dumps(BENIGN_OBJECT, protocol=p) for p in range(pickle.HIGHEST_PROTOCOL + 1)] + [
    call0("os", "system", "id"),
    call4("os", "system", "id"),
    BENIGN_DICT,
]


def _no_raise(data: bytes) -> None:
    from gate.formats import joblib as gate_joblib
    from gate.formats import torch as gate_torch

    blob = BytesBlob(data)
    assert isinstance(looks_like_pickle(blob), bool)
    report = parse(blob, Limits(max_pickle_ops=20_000))
    assert isinstance(report, Report)
    for child in report.children:
        assert isinstance(parse(child.blob, Limits(max_pickle_ops=20_000)), Report)
    assert isinstance(gate_torch.analyse_legacy(blob), Report)
    assert isinstance(gate_joblib.parse(blob), Report)


def test_random_mutations_never_raise() -> None:
    import random

    rng = random.Random(1234)
    for _ in range(1500):
        data = bytearray(rng.choice(_SEEDS))
        for _ in range(rng.randint(1, 6)):
            op = rng.random()
            pos = rng.randrange(len(data) + 1)
            if op < 0.4 and data:
                data[min(pos, len(data) - 1)] = rng.randrange(256)
            elif op < 0.7:
                data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
            elif op < 0.9:
                del data[pos : pos + rng.randint(1, 16)]
            else:
                data = data[:pos]
        _no_raise(bytes(data))


def test_hypothesis_bytes_never_raise() -> None:
    hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is in the dev extra")
    from hypothesis import strategies as st

    opcodes = st.sampled_from(
        [bytes([c]) for c in b"()]}.0123NIJKLFGSTUVXabcdeghijlopqrstu"] + [b"\x80\x04", b"\x93"]
    )
    chunks = st.lists(st.one_of(opcodes, st.binary(max_size=12)), max_size=40).map(b"".join)

    @hypothesis.settings(max_examples=400, deadline=None, derandomize=True)
    @hypothesis.given(st.one_of(st.binary(max_size=200), chunks))
    def check(data: bytes) -> None:
        _no_raise(data)

    check()


# -- through the dispatcher --------------------------------------------------------------------
# (the last three: streams the C unpickler runs with no PROTO, with PROTO 0/1, or behind a FRAME lie)


@pytest.mark.parametrize(
    "data",
    [
        call0("os", "system", "id"),
        call4("os", "system", "id"),
        BENIGN_DICT + call4("os", "system", "id"),
        proto(3) + u(base64.b64encode(call4("os", "system", "id")).decode()) + b".",
    ],
    ids=["protocol0", "protocol4", "second-stream", "nested-base64"],
)
def test_dispatcher_reports_pickle_payloads(data: bytes) -> None:
    from gate.formats.scan import scan_blob

    result = scan_blob(BytesBlob(data), name="weights.bin")
    assert any(f.check == "pickle.dangerous_global" for f in result.findings), result.to_json()


@pytest.mark.parametrize(
    "data",
    [
        stack_global("os", "system") + u("id") + b"\x85R.",
        proto(1) + call0("os", "system", "id"),
        b"\x80\x04\x95"
        + struct.pack("<Q", 4)
        + b"U\x04ab"
        + b"cdXY"
        + stack_global("os", "system")
        + u("id")
        + b"\x85R.",
    ],
    ids=["headerless-protocol4", "proto1-header", "frame-lie"],
)
def test_dispatcher_reports_pickles_the_c_unpickler_accepts(data: bytes) -> None:
    from gate.formats.scan import scan_blob

    result = scan_blob(BytesBlob(data), name="weights.bin")
    assert any(f.check == "pickle.dangerous_global" for f in result.findings), result.to_json()


@pytest.mark.parametrize(
    ("module", "name"),
    [
        # names a trusted namespace imports from elsewhere: the unpickler reaches them there
        ("sklearn.callback._transport", "Client"),
        ("sklearn.callback._transport", "Listener"),
        ("sklearn.callback._progressbar", "Thread"),
        ("sklearn.utils._repr_html.tests.test_js", "HTTPServer"),
        ("sklearn.tests.test_pipeline", "TemporaryDirectory"),
        ("sklearn.utils.tests.test_validation", "NamedTemporaryFile"),
        ("sklearn.ensemble.tests.test_iforest", "Mock"),
        ("sklearn.tests.test_config", "ThreadPoolExecutor"),
        ("sklearn.preprocessing._data", "Popen"),
        ("torch.nn.modules.module", "Thread"),
        ("sklearn.linear_model", "FileHandler"),
    ],
)
def test_trusted_namespaces_do_not_vouch_for_what_they_import(module: str, name: str) -> None:
    assert classify(module, name)[0] != SAFE
    report = scan(call4(module, name, "127.0.0.1"))
    assert worst(report) in {"medium", "high", "critical"}


def test_test_modules_inside_a_trusted_namespace_are_not_trusted() -> None:
    assert classify("sklearn.tests.test_common", "SomeHelper")[0] == SUSPICIOUS
    assert classify("sklearn.utils._testing", "TempMemmap")[0] == SUSPICIOUS
    assert classify("sklearn.linear_model.tests.test_sgd", "MyEstimator")[0] == SUSPICIOUS
    assert classify("torch.nn.modules.conv", "Conv2d")[0] == SAFE
    assert classify("sklearn.ensemble._forest", "RandomForestClassifier")[0] == SAFE
