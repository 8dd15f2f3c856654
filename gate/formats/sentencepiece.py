"""SentencePiece tokenizer models (``tokenizer.model``, ``spiece.model``): a bounded protobuf walk.

A SentencePiece model is a ``ModelProto`` message: repeated ``pieces`` (field 1, each
a message of ``piece`` string 1, ``score`` float 2, ``type`` enum 3), ``trainer_spec``
(2), ``normalizer_spec`` (3), ``self_test_data`` (4) and ``denormalizer_spec`` (5).
The loader (``sentencepiece.SentencePieceProcessor``) parses the protobuf and runs
nothing from it. Recognised only when the *whole* file walks as that message (every
top-level field a length-delimited 1-5, every piece a UTF-8 string with a score or
type, a trainer or normalizer spec present), so other bytes are not taken for one.
Size-bounded by ``Limits.max_header_bytes``; piece count bounded by ``MAX_PIECES``.
"""

from __future__ import annotations

from gate.formats.interface import DEFAULT_LIMITS, Blob, Limits, Report

FORMAT = "sentencepiece"
MAX_PIECES = 4_000_000
_LEN, _VARINT, _I32, _I64 = 2, 0, 5, 1


class _Bad(Exception):
    pass


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    for shift in range(0, 70, 7):
        if pos >= len(data):
            raise _Bad("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
    raise _Bad("varint too long")


def _fields(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(field, wire type, start, end) of every field in data[start:end]."""
    out = []
    pos = start
    while pos < end:
        key, pos = _varint(data, pos)
        field, wire = key >> 3, key & 7
        if field == 0:
            raise _Bad("field number 0")
        if wire == _VARINT:
            _, nxt = _varint(data, pos)
        elif wire == _I32:
            nxt = pos + 4
        elif wire == _I64:
            nxt = pos + 8
        elif wire == _LEN:
            length, pos = _varint(data, pos)
            nxt = pos + length
        else:
            raise _Bad(f"wire type {wire}")
        if nxt > end:
            raise _Bad("field runs past its message")
        out.append((field, wire, pos, nxt))
        pos = nxt
    return out


def _walk(data: bytes) -> dict[str, int]:
    """Counts of a well-formed ModelProto, or raise :class:`_Bad`."""
    pieces = 0
    specs = 0
    for field, wire, start, end in _fields(data, 0, len(data)):
        if wire != _LEN or not 1 <= field <= 5:
            raise _Bad(f"top-level field {field} (wire type {wire}) is not part of a SentencePiece model")
        if field == 1:
            pieces += 1
            if pieces > MAX_PIECES:
                raise _Bad("too many pieces")
            named = False
            for sub, sub_wire, s, e in _fields(data, start, end):
                if sub == 1 and sub_wire == _LEN:
                    data[s:e].decode("utf-8")  # UnicodeDecodeError is a ValueError: caught by the caller
                    named = True
                elif (sub, sub_wire) not in ((2, _I32), (3, _VARINT)):
                    raise _Bad(f"piece field {sub} (wire type {sub_wire})")
            if not named:
                raise _Bad("a piece without its string")
        elif field in (2, 3, 5):
            specs += 1
            _fields(data, start, end)
    if not pieces or not specs:
        raise _Bad("no pieces or no trainer/normalizer spec")
    return {"pieces": pieces, "specs": specs}


def looks_like(blob: Blob, limits: Limits = DEFAULT_LIMITS) -> bool:
    """Whether the whole blob walks as a SentencePiece ``ModelProto``."""
    if blob.size < 8 or blob.size > limits.max_header_bytes:
        return False
    head = blob.read_at(0, 1)
    if head != b"\x0a":  # field 1, length-delimited: the first piece
        return False
    try:
        _walk(blob.read_at(0, blob.size))
    except (_Bad, ValueError):
        return False
    return True


def parse(blob: Blob, limits: Limits = DEFAULT_LIMITS) -> Report:
    """Summarise a SentencePiece model; anything that does not walk is ``invalid_header``."""
    report = Report(FORMAT)
    if blob.size > limits.max_header_bytes:
        report.add(
            "invalid_header",
            "sentencepiece.too_large",
            "high",
            f"SentencePiece model of {blob.size} bytes exceeds the {limits.max_header_bytes}-byte limit",
        )
        return report
    try:
        report.header.update(_walk(blob.read_at(0, blob.size)))
    except (_Bad, ValueError) as exc:
        report.add("invalid_header", "sentencepiece.malformed", "high", f"not a SentencePiece model: {exc}")
    return report
