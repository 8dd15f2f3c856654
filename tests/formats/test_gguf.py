"""GGUF parsing on files written by gguf-py's GGUFWriter, and hand-built broken variants."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import gguf as gguf_py
import numpy as np
import pytest

from gate.formats import gguf
from gate.formats.interface import BytesBlob, Limits

TEMPLATE = "{{ bos_token }}{% for m in messages %}{{ '<|im_start|>' + m['role'] + m['content'] }}{% endfor %}"
EVIL = "{{ cycler.__init__.__globals__.os.popen('touch /tmp/gguf-pwned').read() }}"


def _real(tmp_path: Path, template: str = TEMPLATE, extra: dict[str, str] | None = None) -> bytes:
    path = tmp_path / "model.gguf"
    writer = gguf_py.GGUFWriter(str(path), "llama")
    writer.add_chat_template(template)
    writer.add_uint32("llama.context_length", 128)
    writer.add_token_list(["a", "b", "{{", "{%", "}}"])
    for key, value in (extra or {}).items():
        writer.add_string(key, value)
    rng = np.random.default_rng(0)
    writer.add_tensor("token_embd.weight", rng.standard_normal((4, 64)).astype(np.float32))
    writer.add_tensor("output_norm.weight", rng.standard_normal(64).astype(np.float16))
    writer.add_tensor(
        "blk.0.attn_q.weight", np.zeros((2, 34), np.uint8), raw_dtype=gguf_py.GGMLQuantizationType.Q8_0
    )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path.read_bytes()


def _s(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def _build(
    kvs: list[bytes] | None = None,
    tensors: list[tuple[str, list[int], int, int]] | None = None,
    data: bytes = b"",
    version: int = 3,
    alignment: int = 32,
    counts: tuple[int, int] | None = None,
) -> bytes:
    kvs = kvs if kvs is not None else [_s("general.architecture") + struct.pack("<I", 8) + _s("llama")]
    tensors = tensors or []
    head = b"GGUF" + struct.pack("<I", version)
    n_t, n_kv = counts or (len(tensors), len(kvs))
    head += struct.pack("<QQ", n_t, n_kv) + b"".join(kvs)
    for name, dims, ttype, offset in tensors:
        head += _s(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims)
        head += struct.pack("<IQ", ttype, offset)
    head += b"\0" * ((-len(head)) % alignment)
    return head + data


def _checks(data: bytes, limits: Limits | None = None) -> set[str]:
    return {f.check for f in gguf.parse(BytesBlob(data), limits or Limits()).findings}


def test_real_file_passes(tmp_path: Path) -> None:
    data = _real(tmp_path)
    report = gguf.parse(BytesBlob(data))
    assert report.findings == [] and report.children == []
    h = report.header
    assert (h["version"], h["tensor_count"], h["alignment"], h["architecture"]) == (3, 3, 32, "llama")
    assert h["tensor_types"] == {"F16": 1, "F32": 1, "Q8_0": 1}
    assert h["templates"] == ["tokenizer.chat_template"]
    assert h["kv"]["tokenizer.ggml.tokens"] == {"type": "ARRAY", "element_type": "STRING", "length": 5}
    assert gguf.looks_like(BytesBlob(data))


def test_type_table_matches_gguf_py() -> None:
    for qtype, (block, size) in gguf_py.GGML_QUANT_SIZES.items():
        assert gguf.GGML_TYPES[int(qtype)][1:] == (block, size), qtype
        assert gguf.GGML_TYPES[int(qtype)][0] == qtype.name


def test_only_the_header_is_read(tmp_path: Path) -> None:
    data = _real(tmp_path)

    class Counting(BytesBlob):
        spans: list[tuple[int, int]] = []  # noqa: RUF012

        def read_at(self, offset: int, length: int) -> bytes:
            Counting.spans.append((offset, length))
            return super().read_at(offset, length)

    report = gguf.parse(Counting(data))
    start = report.header["data_start"]
    # reads of the header area may be buffered past it, but nothing is read from the tensors
    # other than the few bytes after the last one checked for padding.
    assert all(off < start or off >= len(data) - 64 for off, _ in Counting.spans)


def test_evil_chat_template_is_reported_with_its_offset(tmp_path: Path) -> None:
    data = _real(tmp_path, template=EVIL)
    report = gguf.parse(BytesBlob(data))
    findings = [f for f in report.findings if f.code == "chat_template_injection"]
    assert findings and all(f.severity == "critical" for f in findings)
    assert all(f.data["source"] == "tokenizer.chat_template" for f in findings)
    offset = findings[0].offset
    assert offset is not None
    (length,) = struct.unpack_from("<Q", data, offset)
    assert data[offset + 8 : offset + 8 + length].decode() == EVIL


def test_named_templates_and_other_jinja_strings_are_inspected(tmp_path: Path) -> None:
    data = _real(
        tmp_path,
        extra={
            "tokenizer.chat_template.tool_use": "{{ lipsum.__globals__ }}",
            "general.description": "a {{ joiner.__init__ }} model",
            "general.notes": "curly {{ braces that are not jinja",
        },
    )
    report = gguf.parse(BytesBlob(data))
    sources = {f.data["source"] for f in report.findings}
    assert sources == {"tokenizer.chat_template.tool_use", "general.description"}
    assert {f.code for f in report.findings} == {"chat_template_injection"}


def test_broken_chat_template_is_invalid_header(tmp_path: Path) -> None:
    report = gguf.parse(BytesBlob(_real(tmp_path, template="{% for x in %}")))
    assert [(f.code, f.check) for f in report.findings] == [("invalid_header", "jinja.parse_error")]


def test_appended_pickle_is_a_polyglot_with_a_child(tmp_path: Path) -> None:
    data = _real(tmp_path)
    payload = b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03." * 2
    report = gguf.parse(BytesBlob(data + payload))
    [finding] = report.findings
    assert (finding.code, finding.check) == ("polyglot_payload", "gguf.appended_data")
    [child] = report.children
    assert child.name == f"<appended@{finding.offset}>"
    assert child.blob.read_at(0, child.blob.size).endswith(payload)


def test_zero_padding_after_the_last_tensor_is_fine() -> None:
    data = _build(tensors=[("t", [4], 0, 0)], data=bytes(16) + bytes(16))
    assert _checks(data) == set()


def test_big_endian_files_are_parsed() -> None:
    head = b"GGUF" + struct.pack(">IQQ", 3, 0, 1)
    kv = (
        struct.pack(">Q", 20)
        + b"general.architecture"
        + struct.pack(">I", 8)
        + struct.pack(">Q", 5)
        + b"llama"
    )
    report = gguf.parse(BytesBlob(head + kv))
    assert report.findings == [] and report.header["endianness"] == "big"


U32 = struct.pack("<I", 4)


@pytest.mark.parametrize(
    ("data", "check"),
    [
        (b"GGUX" + bytes(20), "gguf.magic"),
        (_build(version=1), "gguf.version_unsupported"),
        (_build(version=4), "gguf.version_unsupported"),
        (_build(counts=(0, 2**40)), "gguf.too_many_entries"),
        (_build(counts=(2**40, 1)), "gguf.too_many_entries"),
        (_build(counts=(0, 5), alignment=1), "gguf.truncated"),
        (_build([struct.pack("<Q", 2**40) + b"k"]), "gguf.string_too_long"),
        (_build([struct.pack("<Q", 1000) + b"k"]), "gguf.truncated"),
        (_build([_s("k") + struct.pack("<I", 13) + b"\0" * 8]), "gguf.value_type"),
        (_build([_s("k") + struct.pack("<IIQ", 9, 4, 2**40)]), "gguf.array_too_long"),
        (_build([_s("k") + struct.pack("<IIQ", 9, 4, 2**19)], alignment=1), "gguf.truncated"),
        (_build([_s("k") + struct.pack("<I", 9) + struct.pack("<IQ", 9, 1) * 40]), "gguf.array_depth"),
        (_build([_s("k") + U32 + U32, _s("k") + U32 + U32]), "gguf.duplicate_key"),
        (_build([_s("general.alignment") + U32 + struct.pack("<I", 48)]), "gguf.alignment"),
        (_build([_s("general.alignment") + U32 + struct.pack("<I", 0)]), "gguf.alignment"),
        (_build([_s("general.alignment") + struct.pack("<I", 10) + struct.pack("<Q", 64)]), "gguf.alignment"),
        (_build(tensors=[("t", [4], 0, 0), ("t", [4], 0, 32)], data=bytes(64)), "gguf.duplicate_tensor"),
        (_build(tensors=[("x" * 100, [4], 0, 0)], data=bytes(32)), "gguf.tensor_name"),
        (_build(tensors=[("t", [1, 1, 1, 1, 1], 0, 0)], data=bytes(32)), "gguf.tensor_dims"),
        (_build(tensors=[("t", [4, 0], 0, 0)], data=bytes(32)), "gguf.tensor_dims"),
        (_build(tensors=[("t", [2**32, 2**32], 0, 0)], data=bytes(32)), "gguf.tensor_dims"),
        (_build(tensors=[("t", [4], 4, 0)], data=bytes(32)), "gguf.tensor_type_unknown"),
        (_build(tensors=[("t", [33], 8, 0)], data=bytes(64)), "gguf.tensor_block"),
        (_build(tensors=[("t", [4], 0, 4)], data=bytes(64)), "gguf.tensor_misaligned"),
        (_build(tensors=[("t", [4], 0, 32)], data=bytes(64)), "gguf.tensor_offset"),
        (_build(tensors=[("t", [64], 0, 0)], data=bytes(32)), "gguf.tensor_past_eof"),
        (_build(tensors=[("a", [16], 0, 0), ("b", [16], 0, 32)], data=bytes(96)), "gguf.tensor_overlap"),
    ],
)
def test_broken_files(data: bytes, check: str) -> None:
    report = gguf.parse(BytesBlob(data))
    checks = {f.check for f in report.findings}
    assert check in checks, [f.to_json() for f in report.findings]
    assert all(f.code == "invalid_header" for f in report.findings if f.check == check)
    assert all(f.offset is not None for f in report.findings)


def test_header_area_limit(tmp_path: Path) -> None:
    assert "gguf.header_too_large" in _checks(_real(tmp_path), Limits(max_header_bytes=64))


def test_random_mutations_never_raise(tmp_path: Path) -> None:
    rng = random.Random(2)
    base = _real(tmp_path)
    for _ in range(500):
        data = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(min(len(data), 600))] = rng.randrange(256)
        if rng.random() < 0.2:
            data = data[: rng.randrange(len(data))]
        report = gguf.parse(BytesBlob(bytes(data)))
        assert all(f.check != "gguf.parser_error" for f in report.findings), report.findings
