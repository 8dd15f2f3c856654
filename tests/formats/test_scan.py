"""The dispatcher: every nested blob scanned by content, nothing failing open."""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import os
import pickle
import random
import struct
import zipfile
from typing import Any

import pytest

from gate.formats import scan as scanmod
from gate.formats import zip as zipfmt
from gate.formats.interface import BytesBlob, Limits, Report
from gate.formats.scan import ScanResult, scan_blob
from tests.formats import zipbuild
from tests.formats.zipbuild import Member

PAYLOAD = b"cposix\nsystem\n(S'touch /tmp/pwned'\ntR."
PAYLOAD4 = b"\x80\x04\x95\x1e\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x8c\x06system\x93\x8c\x02id\x85R."


def has_parser(module: str) -> bool:
    return importlib.util.find_spec(f"gate.formats.{module}") is not None


def at(result: ScanResult, member: str) -> list[Any]:
    return [f for f in result.findings if f.member == member]


def assert_pickle_blocked(result: ScanResult, member: str) -> None:
    """The pickle at *member* is flagged: by the analyser once it exists, fail-closed before."""
    found = at(result, member)
    if has_parser("pickle"):
        assert any(f.code == "unsafe_pickle" for f in found), found
    else:
        assert any(f.check == "pickle.parser_unavailable" and f.severity == "high" for f in found), found


def zip_bytes(compress: int = zipfile.ZIP_STORED, **members: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compress) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def safetensors_bytes(extra: bytes = b"") -> bytes:
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + b"\x00" * 8 + extra


def archive_unsafe(result: ScanResult) -> list[str]:
    return [f"{f.member}: {f.check}" for f in result.findings if f.code == "archive_unsafe"]


def test_pickle_under_an_innocent_name_in_a_zip() -> None:
    data = zip_bytes(**{"docs/readme.txt": PAYLOAD, "weights.bin": os.urandom(100)})
    result = scan_blob(BytesBlob(data), name="model.zip")
    assert result.format == "zip"
    assert {m["path"]: m["format"] for m in result.members}["model.zip!docs/readme.txt"] == "pickle"
    assert_pickle_blocked(result, "model.zip!docs/readme.txt")


def test_every_pickle_in_a_pytorch_zip_is_analysed() -> None:
    data = zip_bytes(
        **{
            "archive/data.pkl": pickle.dumps({"w": 1}, protocol=2),
            "archive/data/0": os.urandom(64),
            "archive/extra.pkl": PAYLOAD4,
            "archive/data/1": PAYLOAD4,
        }
    )
    result = scan_blob(BytesBlob(data), name="model.pt")
    assert result.format == "pytorch-zip"
    formats = {m["path"]: m["format"] for m in result.members}
    assert formats["model.pt!archive/data/0"] == "tensor-data"
    assert_pickle_blocked(result, "model.pt!archive/extra.pkl")
    assert_pickle_blocked(result, "model.pt!archive/data/1")


def test_pickle_appended_to_safetensors() -> None:
    data = safetensors_bytes(PAYLOAD4)
    result = scan_blob(BytesBlob(data), name="model.safetensors")
    assert result.format == "safetensors"
    if not has_parser("safetensors"):
        assert any(f.check == "safetensors.parser_unavailable" for f in result.findings)
        return
    assert any(f.code == "polyglot_payload" for f in at(result, "model.safetensors"))
    appended = [m["path"] for m in result.members if "<appended@" in m["path"]]
    assert appended and {m["format"] for m in result.members if m["path"] in appended} == {"pickle"}
    assert_pickle_blocked(result, appended[0])


def test_zip_appended_to_safetensors_is_scanned() -> None:
    data = safetensors_bytes(zip_bytes(**{"x/data.pkl": PAYLOAD}))
    result = scan_blob(BytesBlob(data), name="m.safetensors")
    if not has_parser("safetensors"):
        pytest.skip("the safetensors parser is not on this branch")
    member = next(m["path"] for m in result.members if m["path"].endswith("!x/data.pkl"))
    assert_pickle_blocked(result, member)


def test_local_header_disagreement_payload_found_under_directory_name() -> None:
    data = zipbuild.build([Member("archive/data.pkl", PAYLOAD, local_name="archive/version")])
    result = scan_blob(BytesBlob(data), name="m.pt")
    assert any("zip.local_name_mismatch" in s for s in archive_unsafe(result))
    assert_pickle_blocked(result, "m.pt!archive/data.pkl")


def test_crc_mismatch_member_is_still_scanned() -> None:
    data = zipbuild.build([Member("archive/data.pkl", PAYLOAD, crc=1), Member("archive/version", b"3\n")])
    result = scan_blob(BytesBlob(data), name="m.pt")
    assert "m.pt!archive/data.pkl: zip.crc_mismatch" in archive_unsafe(result)
    assert_pickle_blocked(result, "m.pt!archive/data.pkl")


@pytest.mark.parametrize("flags", [0x1, 0x20, 0x40])
def test_flagged_member_is_still_scanned(flags: int) -> None:
    data = zipbuild.build([Member("archive/data.pkl", PAYLOAD, flags=flags)])
    result = scan_blob(BytesBlob(data), name="m.pt")
    assert archive_unsafe(result)
    assert_pickle_blocked(result, "m.pt!archive/data.pkl")


def test_nesting_beyond_the_depth_limit() -> None:
    data = PAYLOAD
    for i in range(5):
        data = zip_bytes(**{f"level{i}.bin": data})
    result = scan_blob(BytesBlob(data), name="deep.zip", limits=Limits(max_depth=3))
    deep = [f for f in result.findings if f.check == "nesting_too_deep"]
    assert deep and deep[0].code == "archive_unsafe"
    assert max(m["depth"] for m in result.members) == 3
    # With the default depth the payload at the bottom is reached.
    result = scan_blob(BytesBlob(data), name="deep.zip")
    assert_pickle_blocked(result, "deep.zip!level4.bin!level3.bin!level2.bin!level1.bin!level0.bin")


def test_nested_bombs_share_one_expansion_budget() -> None:
    inner = zip_bytes(zipfile.ZIP_DEFLATED, **{f"z{i}": os.urandom(200_000) for i in range(3)})
    outer = zip_bytes(zipfile.ZIP_DEFLATED, **{f"inner{i}.zip": inner for i in range(4)})
    result = scan_blob(BytesBlob(outer), name="o.zip", limits=Limits(max_expanded_bytes=2_000_000))
    assert any("expanded_too_large" in s for s in archive_unsafe(result))


def test_member_count_is_bounded_across_the_tree() -> None:
    inner = zip_bytes(**{f"m{i}": b"x" for i in range(4)})
    outer = zip_bytes(**{f"inner{i}.zip": inner for i in range(4)})
    result = scan_blob(BytesBlob(outer), name="o.zip", limits=Limits(max_entries=10))
    assert any("scan.too_many_members" in s for s in archive_unsafe(result))


def test_raw_compressed_pickle_is_unwrapped() -> None:
    result = scan_blob(BytesBlob(gzip.compress(PAYLOAD4)), name="model.joblib")
    # joblib.load opens a compressed pickle by its magic: the file is a compressed joblib.
    assert (result.format, result.header["compression"]) == ("joblib", "gzip")
    assert {"gzip", "joblib", "pickle"} <= result.formats
    assert_pickle_blocked(result, "model.joblib!<decompressed>")


def test_compressed_non_pickle_keeps_its_format() -> None:
    result = scan_blob(BytesBlob(gzip.compress(b"plain words\n" * 50)), name="notes.gz")
    assert result.format == "gzip"


def test_pickle_hidden_inside_unknown_bytes() -> None:
    data = os.urandom(5000) + PAYLOAD4 + os.urandom(3000)
    result = scan_blob(BytesBlob(data), name="blob.dat")
    embedded = [f for f in result.findings if f.check == "embedded.pickle"]
    assert embedded and embedded[0].offset == 5000 and embedded[0].code == "polyglot_payload"
    assert_pickle_blocked(result, "blob.dat!<pickle@5000>")


def test_zip_hidden_inside_a_text_file() -> None:
    data = b"notes\n" * 100 + zip_bytes(a=b"x")[:60] + b"\nmore notes\n"
    result = scan_blob(BytesBlob(data), name="notes.txt")
    assert any(f.check == "embedded.zip" for f in result.findings)


def test_random_float_tensors_raise_no_polyglot_alarm() -> None:
    np = pytest.importorskip("numpy")
    data = np.random.default_rng(7).standard_normal(1 << 21).astype("float32").tobytes()
    result = scan_blob(BytesBlob(data), name="weights.raw")
    assert result.format == "unknown"
    assert result.findings == []


def test_parser_that_raises_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(blob: Any, limits: Any) -> Report:
        raise RuntimeError("boom")

    monkeypatch.setattr(zipfmt, "parse", broken)
    result = scan_blob(BytesBlob(zip_bytes(a=b"x")), name="a.zip")
    assert [(f.code, f.check, f.severity) for f in result.findings] == [
        ("invalid_header", "zip.parser_error", "high")
    ]


def test_missing_parser_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    real = scanmod.importlib.import_module

    def missing(name: str) -> Any:
        if name == "gate.formats.zip":
            raise ImportError("not installed")
        return real(name)

    monkeypatch.setattr(scanmod.importlib, "import_module", missing)
    result = scan_blob(BytesBlob(zip_bytes(a=b"x")), name="a.zip")
    assert [f.check for f in result.findings] == ["zip.parser_unavailable"]


def test_benign_torch_checkpoint_has_no_archive_findings() -> None:
    torch = pytest.importorskip("torch")
    buf = io.BytesIO()
    torch.save({"w": torch.randn(64, 64), "b": torch.zeros(64), "step": 3}, buf)
    result = scan_blob(BytesBlob(buf.getvalue()), name="model.pt")
    assert result.format == "pytorch-zip"
    assert archive_unsafe(result) == []
    assert not [f for f in result.findings if f.code == "polyglot_payload"]
    formats = {m["path"].split("!")[-1].split("/", 1)[-1]: m["format"] for m in result.members[1:]}
    assert formats["data.pkl"] == "pickle"
    assert {fmt for name, fmt in formats.items() if name.startswith("data/")} == {"tensor-data"}


def test_benign_numpy_archives_have_no_archive_findings() -> None:
    np = pytest.importorskip("numpy")
    for save in (np.savez, np.savez_compressed):
        buf = io.BytesIO()
        save(buf, weights=np.random.default_rng(1).standard_normal((128, 128)), bias=np.zeros(128))
        result = scan_blob(BytesBlob(buf.getvalue()), name="arrays.npz")
        assert result.format == "npz"
        assert archive_unsafe(result) == []
        assert {m["format"] for m in result.members[1:]} == {"npy"}


class CountingBlob:
    def __init__(self, data: bytes) -> None:
        self.inner = BytesBlob(data)
        self.read = 0

    @property
    def size(self) -> int:
        return self.inner.size

    def read_at(self, offset: int, length: int) -> bytes:
        out = self.inner.read_at(offset, length)
        self.read += len(out)
        return out


def test_large_stored_tensor_members_are_only_sniffed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zipfmt, "CRC_CHECK_BYTES", 1 << 20)
    tensor = os.urandom(16 << 20)
    data = zip_bytes(**{"archive/data.pkl": pickle.dumps({"a": 1}, protocol=2), "archive/data/0": tensor})
    blob = CountingBlob(data)
    result = scan_blob(blob, name="big.pt")
    assert {m["format"] for m in result.members} >= {"pytorch-zip", "tensor-data"}
    assert blob.read < 2 << 20


def test_members_and_formats_are_reported() -> None:
    data = zip_bytes(**{"a.json": b"{}", "b.txt": b"hello", "c.zip": zip_bytes(d=b"\x00\x01\x02")})
    result = scan_blob(BytesBlob(data), name="x.zip")
    assert [(m["path"], m["format"], m["depth"]) for m in result.members] == [
        ("x.zip", "zip", 0),
        ("x.zip!a.json", "json", 1),
        ("x.zip!b.txt", "text", 1),
        ("x.zip!c.zip", "zip", 1),
        ("x.zip!c.zip!d", "unknown", 2),
    ]
    assert result.formats == {"zip", "json", "text", "unknown"}
    assert result.header["members"] == 3
    assert json.dumps(result.to_json())


def test_random_mutations_never_raise() -> None:
    rng = random.Random(66)
    seeds = [
        zip_bytes(
            **{"archive/data.pkl": PAYLOAD4, "archive/data/0": os.urandom(200), "n.zip": zip_bytes(a=PAYLOAD)}
        ),
        zip_bytes(zipfile.ZIP_DEFLATED, **{"a.txt": b"text " * 50, "b": gzip.compress(PAYLOAD4)}),
        safetensors_bytes(PAYLOAD4),
        gzip.compress(zip_bytes(a=PAYLOAD)),
    ]
    limits = Limits(max_member_bytes=1 << 20, max_expanded_bytes=4 << 20)
    for seed in seeds:
        for _ in range(150):
            buf = bytearray(seed)
            for _ in range(rng.randint(1, 6)):
                pos = rng.randrange(len(buf))
                if rng.random() < 0.7:
                    buf[pos] = rng.randrange(256)
                else:
                    del buf[pos : pos + rng.randint(1, 8)]
            result = scan_blob(BytesBlob(bytes(buf)), name="fuzz", limits=limits)
            assert result.members and result.members[0]["path"] == "fuzz"
            assert not [f for f in result.findings if f.check == "scan.internal_error"]


LAMBDA_CONFIG = {
    "class_name": "Sequential",
    "config": {
        "name": "sequential",
        "layers": [
            {
                "class_name": "Lambda",
                "config": {
                    "name": "lambda",
                    "function": ["4wEAAAAAAAAAAAAAAAEAAAACAAAAQwAAAHMIAAAAfABkARQAUwApAk7p", None, None],
                    "function_type": "lambda",
                    "module": "__main__",
                },
            }
        ],
    },
}


def test_keras_archive_config_is_inspected() -> None:
    data = zip_bytes(
        **{
            "config.json": json.dumps(LAMBDA_CONFIG).encode(),
            "metadata.json": b'{"keras_version": "3.3.3"}',
            "model.weights.h5": b"\x89HDF\r\n\x1a\n" + b"\x00" * 64,
        }
    )
    result = scan_blob(BytesBlob(data), name="model.keras")
    assert result.format == "keras"
    if not has_parser("keras"):
        assert any(
            f.check == "json.parser_unavailable" or "parser_unavailable" in f.check for f in result.findings
        )
        return
    found = at(result, "model.keras!config.json")
    assert any(f.code == "unsafe_layer" for f in found), found


def test_numpy_object_array_pickle_is_analysed() -> None:
    np = pytest.importorskip("numpy")
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    header_end = buf.getvalue().index(b"\n") + 1
    data = buf.getvalue()[:header_end] + PAYLOAD4
    result = scan_blob(BytesBlob(data), name="arr.npy")
    assert result.format == "npy"
    inner = [m for m in result.members if m["depth"] == 1]
    assert inner and inner[0]["format"] == "pickle"
    assert_pickle_blocked(result, inner[0]["path"])


def test_large_keras_config_is_still_inspected(monkeypatch: pytest.MonkeyPatch) -> None:
    from gate.formats import detect

    monkeypatch.setattr(detect, "MAX_JSON_SNIFF", 100)
    data = zip_bytes(**{"config.json": json.dumps(LAMBDA_CONFIG).encode(), "metadata.json": b"{}"})
    result = scan_blob(BytesBlob(data), name="model.keras")
    assert any(f.code == "unsafe_layer" for f in at(result, "model.keras!config.json"))


def test_elf_and_7z_hidden_inside_unknown_bytes() -> None:
    py7zr = pytest.importorskip("py7zr")
    archive = io.BytesIO()
    with py7zr.SevenZipFile(archive, "w") as sz:
        sz.writestr(PAYLOAD4, "x.bin")
    elf = b"\x7fELF\x02\x01\x01" + b"\x00" * 57
    data = os.urandom(2000) + archive.getvalue() + os.urandom(1000) + elf + os.urandom(500)
    result = scan_blob(BytesBlob(data), name="blob.dat")
    checks = {f.check for f in result.findings if f.code == "polyglot_payload"}
    assert {"embedded.7z", "embedded.elf"} <= checks
    assert_pickle_blocked(result, "blob.dat!<7z@2000>!x.bin")


def test_lzma_alone_joblib_is_unwrapped() -> None:
    import lzma

    result = scan_blob(BytesBlob(lzma.compress(PAYLOAD4, format=lzma.FORMAT_ALONE)), name="m.joblib")
    assert (result.format, result.header["compression"]) == ("joblib", "lzma")
    assert_pickle_blocked(result, "m.joblib!<decompressed>")


# -- chat templates in a model directory's JSON configs and template files ---------------------

_BENIGN_TEMPLATE = (
    "{%- set ns = namespace(first=true) -%}{%- for m in messages -%}"
    "{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] | trim + '<|im_end|>\\n' }}"
    "{%- if loop.first %}{% set ns.first = false %}{% endif -%}{%- endfor -%}"
    "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif -%}"
)
_ESCAPE = "{{ cycler|attr('__in' ~ 'it__')|attr('__globals__') }}"


def _tokenizer_config(template: Any) -> bytes:
    return json.dumps(
        {"bos_token": "<s>", "eos_token": "</s>", "model_max_length": 4096, "chat_template": template}
    ).encode()


def _template_checks(result: ScanResult) -> set[str]:
    return {f.check for f in result.findings if f.code == "chat_template_injection"}


@pytest.mark.parametrize(
    "template",
    [
        _ESCAPE,
        [{"name": "default", "template": _BENIGN_TEMPLATE}, {"name": "tool_use", "template": _ESCAPE}],
    ],
    ids=["string", "named-list"],
)
def test_chat_template_in_tokenizer_config_is_inspected(template: Any) -> None:
    result = scan_blob(BytesBlob(_tokenizer_config(template)), name="tokenizer_config.json")
    assert result.format == "json"
    assert _template_checks(result), result.to_json()


def test_benign_chat_templates_in_tokenizer_config_are_clean() -> None:
    for template in (_BENIGN_TEMPLATE, [{"name": "default", "template": _BENIGN_TEMPLATE}]):
        result = scan_blob(BytesBlob(_tokenizer_config(template)), name="tokenizer_config.json")
        assert result.findings == [], result.to_json()
    # other JSON fields holding harmless Jinja, and JSON with no template at all, are clean
    plain = scan_blob(
        BytesBlob(b'{"architectures": ["LlamaForCausalLM"], "prompt": "Hello {{ name }}"}'), name="c.json"
    )
    assert plain.findings == []
    # a trainer log with NaN and no template in it is not a finding
    trainer_log = b'{"best_metric": NaN, "log_history": [{"loss": 1.5}]}'
    log = scan_blob(BytesBlob(trainer_log), name="trainer_state.json")
    assert log.findings == []


def test_jinja_in_any_json_field_is_inspected() -> None:
    """transformers and serving stacks render more than chat_template: any string holding Jinja."""
    data = json.dumps({"generation": {"prompt_template": "{{ config.__class__.__init__.__globals__ }}"}})
    result = scan_blob(BytesBlob(data.encode()), name="generation_config.json")
    assert _template_checks(result), result.to_json()
    assert {f.data.get("source") for f in result.findings} == {"generation.prompt_template"}


def test_escaped_chat_template_key_and_braces_are_decoded() -> None:
    """A key or brace written as a JSON \\u escape is the same key or brace to the loader."""
    escaped = (
        b'{"bos_token": "<s>", "chat_\\u0074emplate": '
        b"\"\\u007b\\u007b cycler.__init__.__globals__.os.popen('id').read() \\u007d\\u007d\"}"
    )
    result = scan_blob(BytesBlob(escaped), name="tokenizer_config.json")
    assert _template_checks(result), result.to_json()


def test_chat_template_after_a_large_vocabulary_is_inspected() -> None:
    """No count limit on the walk: a template cannot hide behind 150,000 vocabulary entries."""
    vocab = {f"tok{i}": i for i in range(150_000)}
    data = json.dumps({"model": {"vocab": vocab}, "chat_template": _ESCAPE}).encode()
    result = scan_blob(BytesBlob(data), name="tokenizer.json")
    assert _template_checks(result), [f.check for f in result.findings]


def test_template_json_that_does_not_parse_strictly_is_a_finding() -> None:
    dup = b'{"chat_template": "{{ messages }}", "chat_template": "' + _ESCAPE.encode() + b'"}'
    result = scan_blob(BytesBlob(dup), name="tokenizer_config.json")
    assert [f.check for f in result.findings] == ["json.duplicate_key"]


def test_chat_template_file_is_inspected_by_name() -> None:
    bad = scan_blob(BytesBlob(_ESCAPE.encode()), name="model/chat_template.jinja")
    assert bad.format == "text"
    assert _template_checks(bad)
    good = scan_blob(BytesBlob(_BENIGN_TEMPLATE.encode()), name="model/chat_template.jinja")
    assert (good.format, good.findings) == ("text", [])
    # the same text under another name is plain text
    assert scan_blob(BytesBlob(_ESCAPE.encode()), name="README.md").findings == []
