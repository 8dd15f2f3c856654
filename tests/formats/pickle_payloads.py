"""Malicious pickles written opcode by opcode (never by pickling a real callable).

Each builder returns bytes a real unpickler would execute; the tests only
ever hand them to gate's analyser.
"""

from __future__ import annotations

import struct


def proto(n: int) -> bytes:
    """PROTO n."""
    return b"\x80" + bytes([n])


def glob(module: str, name: str) -> bytes:
    """GLOBAL module\\nname\\n (protocols 0-3)."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def u(text: str) -> bytes:
    """SHORT_BINUNICODE / BINUNICODE."""
    raw = text.encode()
    if len(raw) < 256:
        return b"\x8c" + bytes([len(raw)]) + raw
    return b"X" + struct.pack("<I", len(raw)) + raw


def s0(text: str) -> bytes:
    """Protocol-0 STRING 'text'."""
    return b"S'" + text.encode() + b"'\n"


def binbytes(data: bytes) -> bytes:
    """BINBYTES."""
    return b"B" + struct.pack("<I", len(data)) + data


def stack_global(module: str, name: str) -> bytes:
    """Two names then STACK_GLOBAL (protocol 4)."""
    return u(module) + u(name) + b"\x93"


def call0(module: str, name: str, arg: str) -> bytes:
    """Protocol 0: module.name(arg) with GLOBAL + MARK/TUPLE + REDUCE, then STOP."""
    return glob(module, name) + b"(" + s0(arg) + b"tR."


def call4(module: str, name: str, arg: str) -> bytes:
    """Protocol 4: module.name(arg) with STACK_GLOBAL + TUPLE1 + REDUCE, then STOP."""
    return proto(4) + stack_global(module, name) + u(arg) + b"\x85R."


def frame(body: bytes, length: int | None = None) -> bytes:
    """FRAME with a chosen (possibly lying) length, then the body."""
    return b"\x95" + struct.pack("<Q", len(body) if length is None else length) + body


BENIGN_DICT = proto(2) + b"}q\x00X\x01\x00\x00\x00aq\x01K\x01s."
