"""SentencePiece tokenizer models: recognised by structure, summarised, never confused with other bytes."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import pytest

from gate.formats import detect, sentencepiece
from gate.formats.interface import BytesBlob
from gate.formats.scan import scan_blob


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _len(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _piece(text: str, score: float, kind: int = 1) -> bytes:
    body = (
        _len(1, text.encode())
        + _varint(2 << 3 | 5)
        + struct.pack("<f", score)
        + _varint(3 << 3)
        + _varint(kind)
    )
    return _len(1, body)


def model_proto(pieces: list[str]) -> bytes:
    """A ModelProto as sentencepiece writes it: pieces, trainer spec, normalizer spec."""
    out = b"".join(_piece(p, -float(i), 2 if i < 3 else 1) for i, p in enumerate(pieces))
    trainer = _len(1, b"corpus.txt") + _varint(3 << 3) + _varint(2)  # input, model_type BPE
    normalizer = _len(1, b"nmt_nfkc") + _varint(3 << 3) + _varint(1)
    return out + _len(2, trainer) + _len(3, normalizer)


def test_hand_built_model_is_recognised_and_summarised() -> None:
    data = model_proto(["<unk>", "<s>", "</s>", "\u2581the", "\u2581quick", "fox"])
    blob = BytesBlob(data)
    assert detect.detect(blob) == "sentencepiece"
    report = sentencepiece.parse(blob)
    assert report.findings == []
    assert report.header == {"pieces": 6, "specs": 2}
    result = scan_blob(blob, name="tokenizer.model")
    assert (result.format, result.findings) == ("sentencepiece", [])


def test_real_sentencepiece_model(tmp_path: Path) -> None:
    spm = pytest.importorskip("sentencepiece", reason="sentencepiece is not installed")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("hello world, a tiny corpus for a tokenizer\n" * 40 + "the quick brown fox\n" * 40)
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(tmp_path / "tok"), vocab_size=30, model_type="bpe", minloglevel=2
    )
    result = scan_blob(BytesBlob((tmp_path / "tok.model").read_bytes()), name="tokenizer.model")
    assert (result.format, result.findings) == ("sentencepiece", [])


@pytest.mark.parametrize(
    "data",
    [
        model_proto(["a", "b"])[:-3],  # truncated
        model_proto(["a"]) + b"\x00\x01\x02",  # trailing bytes
        b"\x0a\x05hello",  # a piece that is not a piece message, no specs
        model_proto(["a"]) + _len(9, b"x"),  # a field SentencePiece does not have
        b"\x0a" + bytes(range(200)),
    ],
    ids=["truncated", "trailing", "no-specs", "unknown-field", "random"],
)
def test_other_bytes_are_not_sentencepiece(data: bytes) -> None:
    assert not sentencepiece.looks_like(BytesBlob(data))
    assert sentencepiece.parse(BytesBlob(data)).findings[0].code == "invalid_header"


def test_a_pickle_named_tokenizer_model_is_still_a_pickle() -> None:
    payload = b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00idq\x00\x85R."
    assert scan_blob(BytesBlob(payload), name="tokenizer.model").format == "pickle"
    assert scan_blob(BytesBlob(pickle.dumps({"a": 1})), name="spiece.model").format == "pickle"
