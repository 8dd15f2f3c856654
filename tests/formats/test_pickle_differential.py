"""Differential test: gate's interpreter sees every import the real C unpickler makes.

Random opcode programs (names through the memo, marks, frames, protocol
switches, calls) go to CPython's C unpickler with ``find_class`` and
``persistent_load`` replaced by recorders that return inert stand-ins, so
nothing is imported and nothing runs; the same bytes go to gate. Every
(module, name) the C unpickler asked for must be among gate's globals: a
name gate misses is a name a scanner would let through.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import random
import struct
from typing import Any

from gate.formats.interface import BytesBlob
from gate.formats.pickle import analyse, looks_like_pickle, resolve_name

NAMES = [
    "os",
    "system",
    "collections",
    "OrderedDict",
    "builtins",
    "eval",
    "torch._utils",
    "__builtin__",
    "x.y",
]


class _Inert:
    """Whatever the pickle does with an imported object, nothing happens."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> _Inert:
        return _Inert()

    def __setstate__(self, state: Any) -> None:
        pass

    def append(self, item: Any) -> None:
        pass

    def extend(self, items: Any) -> None:
        pass

    def add(self, item: Any) -> None:
        pass

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


class _Recorder(pickle.Unpickler):
    def __init__(self, data: bytes, peek: bool, encoding: str = "ASCII") -> None:
        # BytesIO has no peek(): the C unpickler then reads FRAMEs into memory and drops
        # what a straddling read leaves behind; a BufferedReader reads contiguously.
        source: Any = io.BufferedReader(io.BytesIO(data)) if peek else io.BytesIO(data)  # type: ignore[arg-type]
        super().__init__(source, encoding=encoding)
        self.seen: list[tuple[str, str]] = []

    def find_class(self, module: str, name: str) -> Any:
        self.seen.append((module, name))
        return type("Inert", (_Inert,), {})

    def persistent_load(self, pid: Any) -> Any:
        return _Inert()


def _text(rng: random.Random) -> bytes:
    name = rng.choice(NAMES).encode()
    kind = rng.randrange(5)
    if kind == 0:
        return b"\x8c" + bytes([len(name)]) + name
    if kind == 1:
        return b"X" + struct.pack("<I", len(name)) + name
    if kind == 2:
        return b"V" + name + b"\n"
    if kind == 3:
        return b"S'" + name + b"'\n"
    return b"U" + bytes([len(name)]) + name


def _chunk(rng: random.Random) -> bytes:
    roll = rng.randrange(34)
    if roll < 6:
        return _text(rng)
    if roll < 8:
        # a name pair through the memo, then an import
        return _text(rng) + b"q\x00" + _text(rng) + b"q\x01" + rng.choice([b"", b"0"]) + b"h\x00h\x01\x93"
    if roll < 10:
        return _text(rng) + _text(rng) + b"\x93"
    roll -= 4
    # (no LONG_BINPUT: after a lying FRAME its index comes from other bytes, and the C
    # unpickler then sizes its memo to that index, gigabytes for a random one)
    if roll < 8:
        return b"q" + bytes([rng.randrange(4)])
    if roll < 10:
        return b"h" + bytes([rng.randrange(4)])
    options = [
        b"\x94",
        b"p%d\n" % rng.randrange(4),
        b"g%d\n" % rng.randrange(4),
        b"j" + struct.pack("<I", rng.randrange(4)),
        b"\x93",
        b"c" + rng.choice(NAMES).encode() + b"\n" + rng.choice(NAMES).encode() + b"\n",
        b"i" + rng.choice(NAMES).encode() + b"\n" + rng.choice(NAMES).encode() + b"\n",
        b"(",
        b")",
        b"t",
        b"\x85",
        b"\x86",
        b"\x87",
        b"]",
        b"}",
        b"l",
        b"d",
        b"a",
        b"e",
        b"s",
        b"u",
        b"R",
        b"b",
        b"\x81",
        b"\x92",
        b"o",
        b"0",
        b"1",
        b"2",
        b"N",
        b"K" + bytes([rng.randrange(256)]),
        b"\x80" + bytes([rng.randrange(6)]),
        b"Q",
        b"\x88",
    ]
    return rng.choice(options)


def _program(rng: random.Random) -> bytes:
    body = b"".join(_chunk(rng) for _ in range(rng.randint(1, 24)))
    if rng.random() < 0.3:
        body = b"\x95" + struct.pack("<Q", rng.randrange(len(body) + 2)) + body
    if rng.random() < 0.5:
        body = b"\x80" + bytes([rng.choice([2, 3, 4])]) + body
    return body + b"."


def _gate_globals(data: bytes) -> set[tuple[str, str]]:
    report = analyse(BytesBlob(data), max_streams=1).report
    out: set[tuple[str, str]] = set()
    for g in report.header["globals"]:
        written = g.get("written_as")
        out.add((g["module"], g["name"]))
        if written:
            module, _, name = written.partition(".")
            out.add((module, name))
    return out


def test_gate_sees_every_import_the_c_unpickler_makes() -> None:
    rng = random.Random(20240601)
    imports = 0
    for _ in range(8000):
        data = _program(rng)
        seen: list[tuple[str, str]] = []
        for peek in (False, True):
            recorder = _Recorder(data, peek)
            with contextlib.suppress(Exception):
                recorder.load()
            seen.extend(recorder.seen)
        if not seen:
            continue
        imports += 1
        ours = {f"{m}.{n}" for m, n in _gate_globals(data)}
        # find_class overrides get the names as written; gate reports them after the
        # Python-2 fixes the default find_class applies for protocols < 3: accept both
        missing = [
            (m, n)
            for m, n in seen
            if f"{m}.{n}" not in ours and "{}.{}".format(*resolve_name(m, n, 0)) not in ours
        ]
        assert missing == [], (data, seen, ours)
    assert imports > 1500


def test_frame_lie_followed_only_by_file_reads_is_caught() -> None:
    # The FRAME holds "U\x04ab": SHORT_BINSTRING's payload runs past the frame. Reading
    # bytes (pickle.loads, buffered files) it is "abcd"; reading a BytesIO (torch's zip
    # records) the C unpickler drops "ab" and takes "cdS'", so the STRING that hides the
    # payload from one view is the payload in the other.
    payload = b"\x8c\x02os\x8c\x06system\x93\x8c\x02id\x85R"
    data = b"\x80\x04\x95" + struct.pack("<Q", 4) + b"U\x04ab" + b"cdS'" + payload + b"'\n0N."
    contiguous = _Recorder(data, peek=True, encoding="latin1")
    contiguous.load()
    assert contiguous.seen == []
    file_read = _Recorder(data, peek=False)
    with contextlib.suppress(pickle.UnpicklingError):
        file_read.load()
    assert file_read.seen == [("os", "system")]

    report = analyse(BytesBlob(data)).report
    checks = {f.check for f in report.findings}
    assert {"pickle.frame_mismatch", "pickle.dangerous_global", "pickle.broken_after_call"} <= checks
    hit = next(f for f in report.findings if f.check == "pickle.dangerous_global")
    assert hit.data["view"] == "file-read"
    assert report.header["file_read_view"]["stop_reached"] is False


def test_frame_lie_hidden_behind_junk_in_the_contiguous_view_still_sniffs_as_pickle() -> None:
    # contiguous: "abcd", then BINUNICODE with an impossible length; file-read view: "cdXY",
    # then the payload
    payload = b"\x8c\x02os\x8c\x06system\x93\x8c\x02id\x85R."
    data = b"\x80\x04\x95" + struct.pack("<Q", 4) + b"U\x04ab" + b"cdXY" + payload
    file_read = _Recorder(data, peek=False)
    with contextlib.suppress(Exception):
        file_read.load()
    assert file_read.seen == [("os", "system")]
    assert looks_like_pickle(BytesBlob(data))
    checks = {f.check for f in analyse(BytesBlob(data)).report.findings}
    assert {"pickle.frame_mismatch", "pickle.dangerous_global"} <= checks


def test_frame_running_past_stop_moves_the_next_stream_for_file_readers() -> None:
    # The FRAME covers "N." and 6 more bytes: pickle.load on a BytesIO returns None and
    # leaves the file at the frame's end, where a second load() finds the payload; read
    # contiguously, the second stream would start at the junk.
    first = b"\x80\x04\x95" + struct.pack("<Q", 8) + b"N." + b"\xff" * 6
    payload = b"\x80\x04" + b"\x8c\x02os\x8c\x06system\x93\x8c\x02id\x85R."
    data = first + payload
    source = io.BytesIO(data)
    assert pickle.load(source) is None
    assert source.tell() == len(first)
    second = _Recorder(data[source.tell() :], peek=False)
    second.load()
    assert second.seen == [("os", "system")]

    report = analyse(BytesBlob(data)).report
    checks = {f.check for f in report.findings}
    assert {"pickle.frame_mismatch", "pickle.dangerous_global"} <= checks
    assert report.header["file_read_view"]["streams"] == 2
