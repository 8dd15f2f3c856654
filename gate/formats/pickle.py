"""Pickle analysis that never unpickles: a symbolic opcode interpreter.

The interpreter walks the opcode stream the way CPython's C unpickler
(``_pickle.c``, the loader ``pickle.load`` and ``torch.load`` actually run)
walks it, but every value is a symbol: constants stay bounded constants,
``GLOBAL``/``STACK_GLOBAL``/``INST``/``EXT*`` produce :class:`Glob` symbols
that are classified, and ``REDUCE``/``INST``/``OBJ``/``NEWOBJ``/``NEWOBJ_EX``
/``BUILD`` record calls on them. Stack, mark stack and memo are modelled so
that names computed through the memo resolve to what the real loader would
import.

Where the C unpickler and ``pickletools`` disagree the C unpickler wins:

* ``FRAME`` only checks that its length is available and then reads opcodes
  straight on; an opcode that straddles a frame end or a frame opened before
  the previous one ends is legal for C, an error for the pure-Python
  unpickler, and reported here (``pickle.frame_mismatch``);
* ``BINSTRING`` lengths are unsigned, ``PROTO`` may appear anywhere and only
  changes how later imports are mapped (Python-2 names for protocols < 3);
* the stream ends at the first ``STOP``: the bytes after it are another
  stream (read in turn, with the memo carried over, as a loader reusing one
  unpickler would), data the format explains (torch legacy storages), or
  trailing junk (reported).

Classification is allowlist-first (:mod:`gate.formats.pickle_allowlist`):
a global is *safe* only when it is on the reviewed list, *dangerous* when it
reaches code execution, files, the network or another deserializer, and
*suspicious* otherwise. Calls on anything but an imported global, mutations
of imported globals (``BUILD``/``SETITEM``/``APPEND`` on them) and
non-string names for ``STACK_GLOBAL`` are dangerous. A stream that called
something and then broke is dangerous: the real loader has already run the
call when it raises.
"""

from __future__ import annotations

import _compat_pickle
import binascii
import codecs
import re
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gate.formats import pickle_allowlist as allow
from gate.formats.interface import DEFAULT_LIMITS, Blob, BytesBlob, Child, Limits, Report, SliceBlob

SAFE = "safe"
SUSPICIOUS = "suspicious"
DANGEROUS = "dangerous"

HIGHEST_PROTOCOL = 5
NAME_CAP = 4096
"""Longest string kept verbatim; longer constants keep their length and a prefix."""
PREFIX_CAP = 64
CONTAINER_CAP = 64
"""Items kept per symbolic container (the count is always exact)."""
MAX_STACK = 1_000_000
MAX_MARKS = 100_000
MAX_STREAMS = 10_000
MAX_FINDINGS = 200
MAX_GLOBALS_LISTED = 256
NESTED_SNIFF_MIN = 16
NESTED_MATERIALISE_CAP = 64 * 1024 * 1024
"""Largest str/bytes constant read into memory to look for an encoded pickle inside."""
NESTED_BUDGET = 256 * 1024 * 1024
"""Most constant bytes read into memory for that, all constants of one blob together."""
MAX_NESTED = 64
CHUNK = 1 << 20

_CLASS_NAME = re.compile(r"_*[A-Z][A-Za-z0-9_]*\Z")
_B64 = re.compile(rb"[A-Za-z0-9+/=\s_-]+\Z")
_HEX = re.compile(rb"[0-9A-Fa-f\s]+\Z")


# --------------------------------------------------------------------------------------
# Symbolic values
# --------------------------------------------------------------------------------------


class Str:
    """A str/bytes/bytearray constant: kept whole when short, else length + prefix."""

    __slots__ = ("data_offset", "kind", "length", "prefix", "raw", "text")

    def __init__(
        self,
        kind: str,
        length: int,
        text: str | bytes | None,
        prefix: bytes,
        data_offset: int | None,
        raw: bool,
    ) -> None:
        self.kind = kind
        self.length = length
        self.text = text
        self.prefix = prefix
        self.data_offset = data_offset
        self.raw = raw
        """True when the value's bytes are stored verbatim at data_offset in the blob."""


class Seq:
    """A tuple, list, set or frozenset (first items kept, count exact)."""

    __slots__ = ("count", "items", "kind")

    def __init__(self, kind: str, items: list[Any]) -> None:
        self.kind = kind
        self.count = len(items)
        self.items = items[:CONTAINER_CAP]

    def extend(self, items: list[Any]) -> None:
        room = CONTAINER_CAP - len(self.items)
        if room > 0:
            self.items.extend(items[:room])
        self.count += len(items)


class Map:
    """A dict (first pairs kept, count exact)."""

    __slots__ = ("count", "items")

    def __init__(self, items: list[tuple[Any, Any]]) -> None:
        self.count = len(items)
        self.items = items[:CONTAINER_CAP]

    def set(self, pairs: list[tuple[Any, Any]]) -> None:
        room = CONTAINER_CAP - len(self.items)
        if room > 0:
            self.items.extend(pairs[:room])
        self.count += len(pairs)

    def get(self, key: str) -> Any:
        for k, v in self.items:
            if isinstance(k, Str) and k.text == key:
                return v
        return None


class Glob:
    """An imported global."""

    __slots__ = ("cls", "module", "name", "offset", "op", "reason")

    def __init__(self, module: str, name: str, cls: str, reason: str, op: str, offset: int) -> None:
        self.module = module
        self.name = name
        self.cls = cls
        self.reason = reason
        self.op = op
        self.offset = offset

    @property
    def full(self) -> str:
        return f"{self.module}.{self.name}"


class Called:
    """The result of calling something (a global, or worse)."""

    __slots__ = ("args", "func", "offset", "op", "state")

    def __init__(self, func: Any, args: Any, op: str, offset: int) -> None:
        self.func = func
        self.args = args
        self.op = op
        self.offset = offset
        self.state: Any = None
        """What BUILD set on the object, if anything."""


class Opaque:
    """A value the interpreter cannot know: a persistent-load result, a buffer, a huge number."""

    __slots__ = ("what",)

    def __init__(self, what: str) -> None:
        self.what = what


class _Broken(Exception):
    """The real unpickler raises here."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


class _Limit(Exception):
    """A bound of :class:`Limits` was reached."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


# --------------------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------------------


def resolve_name(module: str, name: str, proto: int) -> tuple[str, str]:
    """The (module, name) the unpickler imports, after its Python-2 fixes for protocols < 3."""
    if proto < 3:
        mapped = _compat_pickle.NAME_MAPPING.get((module, name))
        if mapped is not None:
            return mapped
        if module in _compat_pickle.IMPORT_MAPPING:
            return _compat_pickle.IMPORT_MAPPING[module], name
    return module, name


def _canonical_module(module: str) -> str:
    head, dot, tail = module.partition(".")
    if module in allow.MODULE_ALIASES:
        return allow.MODULE_ALIASES[module]
    if head in allow.MODULE_ALIASES:
        return allow.MODULE_ALIASES[head] + dot + tail
    return module


def _in_class_namespace(module: str, name: str) -> bool:
    if not module.startswith(allow.CLASS_NAMESPACES):
        return False
    if any(module == ex or module.startswith(ex + ".") for ex in allow.CLASS_NAMESPACE_EXCEPTIONS):
        return False
    parts = module.split(".")
    if any(part.startswith("__") for part in parts):
        return False
    # Test suites and test helpers shipped inside a package import servers, temporary
    # files, mocks and thread pools; nothing in them is fitted state.
    if any(part in allow.CLASS_NAMESPACE_TEST_PARTS or part.startswith(("test_", "_test")) for part in parts):
        return False
    return bool(_CLASS_NAME.match(name)) and not name.startswith("__")


def classify(module: str, name: str) -> tuple[str, str]:
    """``(classification, reason)`` of the global ``module.name`` (names as the unpickler imports them).

    Allowlist first: safe only when reviewed; dangerous when the alias-resolved dotted
    path starts with a denied prefix or passes through a denied attribute; else suspicious.
    """
    full = f"{module}.{name}"
    if full in allow.ALLOWED:
        return SAFE, "on the reviewed allowlist of ML reconstruction globals"
    if "Storage" in name and module == "torch" and "." not in name:
        # torch's loader maps any *Storage name to a storage type without importing.
        return SAFE, "torch storage type"
    canon = _canonical_module(module)
    parts = [p for p in canon.split(".") if p] + [p for p in name.split(".") if p]
    for i in range(1, len(parts) + 1):
        if ".".join(parts[:i]) in allow.DENY_PREFIXES:
            return DANGEROUS, f"{'.'.join(parts[:i])} runs code, touches files or the network, or unpickles"
    name_parts = name.split(".")
    for part in name_parts:
        if part in allow.DENY_COMPONENTS:
            return DANGEROUS, f"attribute {part!r} reaches code execution or the interpreter"
    for part in canon.split(".")[1:]:
        if part.startswith("__") and part.endswith("__"):
            return DANGEROUS, f"module path passes through {part!r}"
    if not module or not name:
        return DANGEROUS, "empty module or name"
    # Checked after the denylist: a trusted namespace's modules also hold names they
    # import from elsewhere (``Popen``, ``Thread``, ``Client``), which the unpickler
    # reaches through them just the same.
    if "." not in name and _in_class_namespace(module, name):
        return SAFE, "estimator or layer class from a trusted namespace"
    if "." in name:
        return SUSPICIOUS, "dotted attribute path not on the allowlist"
    if canon == "__torch__" or canon.startswith("__torch__."):
        return SUSPICIOUS, (
            "a TorchScript class compiled from the archive's code/ folder, which torch.jit.load "
            "runs and gate does not analyse"
        )
    return SUSPICIOUS, "not on the reviewed allowlist"


# --------------------------------------------------------------------------------------
# Opcodes
# --------------------------------------------------------------------------------------

OPNAMES: dict[int, str] = {
    ord(c): n
    for c, n in {
        "(": "MARK",
        ".": "STOP",
        "0": "POP",
        "1": "POP_MARK",
        "2": "DUP",
        "F": "FLOAT",
        "I": "INT",
        "J": "BININT",
        "K": "BININT1",
        "L": "LONG",
        "M": "BININT2",
        "N": "NONE",
        "P": "PERSID",
        "Q": "BINPERSID",
        "R": "REDUCE",
        "S": "STRING",
        "T": "BINSTRING",
        "U": "SHORT_BINSTRING",
        "V": "UNICODE",
        "X": "BINUNICODE",
        "a": "APPEND",
        "b": "BUILD",
        "c": "GLOBAL",
        "d": "DICT",
        "}": "EMPTY_DICT",
        "e": "APPENDS",
        "g": "GET",
        "h": "BINGET",
        "i": "INST",
        "j": "LONG_BINGET",
        "l": "LIST",
        "]": "EMPTY_LIST",
        "o": "OBJ",
        "p": "PUT",
        "q": "BINPUT",
        "r": "LONG_BINPUT",
        "s": "SETITEM",
        "t": "TUPLE",
        ")": "EMPTY_TUPLE",
        "u": "SETITEMS",
        "G": "BINFLOAT",
        "B": "BINBYTES",
        "C": "SHORT_BINBYTES",
        "\x80": "PROTO",
        "\x81": "NEWOBJ",
        "\x82": "EXT1",
        "\x83": "EXT2",
        "\x84": "EXT4",
        "\x85": "TUPLE1",
        "\x86": "TUPLE2",
        "\x87": "TUPLE3",
        "\x88": "NEWTRUE",
        "\x89": "NEWFALSE",
        "\x8a": "LONG1",
        "\x8b": "LONG4",
        "\x8c": "SHORT_BINUNICODE",
        "\x8d": "BINUNICODE8",
        "\x8e": "BINBYTES8",
        "\x8f": "EMPTY_SET",
        "\x90": "ADDITEMS",
        "\x91": "FROZENSET",
        "\x92": "NEWOBJ_EX",
        "\x93": "STACK_GLOBAL",
        "\x94": "MEMOIZE",
        "\x95": "FRAME",
        "\x96": "BYTEARRAY8",
        "\x97": "NEXT_BUFFER",
        "\x98": "READONLY_BUFFER",
    }.items()
}

# Every opcode a stream can start with when it has no PROTO header: the C unpickler does
# not require PROTO, so protocol 2-5 opcodes (\x8c SHORT_BINUNICODE, \x95 FRAME, ...) can
# open a headerless stream too. Only opcodes that need a stack, mark or memo are left out.
_HEADERLESS_START = frozenset(
    b"(]})NIJKLMFGSTUVXBCPc\x82\x83\x84\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f\x95\x96\x97"
)


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


class _Reader:
    """Sequential reads over ``blob[start:end]`` through a window, skipping big payloads unread.

    ``buffer_end`` models the C unpickler reading from a file object without ``peek``
    (``torch.load`` of a zip record or a ``BytesIO``): after ``FRAME`` it holds the frame
    in memory, and a read that the frame cannot satisfy drops the rest of the frame and
    continues from the file, that is from the frame's end. ``None``: contiguous reads
    (``pickle.loads`` of bytes, buffered files).
    """

    __slots__ = ("base", "blob", "buf", "buffer_end", "end", "pos")

    def __init__(self, blob: Blob, start: int, end: int) -> None:
        self.blob = blob
        self.end = end
        self.pos = start
        self.base = start
        self.buf = b""
        self.buffer_end: int | None = None

    def _straddle(self, n: int) -> None:
        be = self.buffer_end
        if be is not None and self.pos < be < self.pos + n:
            self.pos = be

    def _fill(self, n: int) -> None:
        want = min(max(n, CHUNK), self.end - self.pos)
        self.buf = self.blob.read_at(self.pos, want) if want > 0 else b""
        self.base = self.pos

    def byte(self) -> int:
        rel = self.pos - self.base
        if rel < 0 or rel >= len(self.buf):
            if self.pos >= self.end:
                return -1
            self._fill(1)
            rel = 0
            if not self.buf:
                return -1
        self.pos += 1
        return self.buf[rel]

    def take(self, n: int) -> bytes:
        """Exactly *n* bytes (small n) or raise truncated."""
        if self.buffer_end is not None:
            self._straddle(n)
        if self.pos + n > self.end:
            raise _Broken("pickle data was truncated", self.pos)
        rel = self.pos - self.base
        if rel < 0 or rel + n > len(self.buf):
            self._fill(n)
            rel = 0
        out = self.buf[rel : rel + n]
        if len(out) < n:
            raise _Broken("pickle data was truncated", self.pos)
        self.pos += n
        return out

    def skip(self, n: int) -> int:
        """Skip *n* bytes without reading them; returns where they start."""
        if self.buffer_end is not None and n > 0:
            self._straddle(n)
        if n < 0 or self.pos + n > self.end:
            raise _Broken("pickle data was truncated", self.pos)
        start = self.pos
        self.pos += n
        return start

    def peek_at(self, offset: int, n: int) -> bytes:
        rel = offset - self.base
        if rel >= 0 and rel + n <= len(self.buf):
            return self.buf[rel : rel + n]
        return self.blob.read_at(offset, max(0, min(n, self.end - offset)))

    def line(self, cap: int) -> tuple[bytes, int]:
        """One ``\\n``-terminated line without the newline: (first *cap* bytes, full length)."""
        be = self.buffer_end
        if be is None or self.pos >= be:
            return self._line(cap)
        start = self.pos
        prefix, length = self._line(cap)
        if start + length < be:
            return prefix, length
        # the newline is not in the frame buffer: the file's readline() starts at the frame end
        self.pos = be
        return self._line(cap)

    def _line(self, cap: int) -> tuple[bytes, int]:
        start = self.pos
        rel = start - self.base
        if 0 <= rel < len(self.buf):
            idx = self.buf.find(b"\n", rel)
            if idx >= 0:
                self.pos = self.base + idx + 1
                return self.buf[rel:idx], idx - rel
        # Slow path: search chunk by chunk, keeping only a prefix.
        prefix = b""
        offset = start
        while offset < self.end:
            chunk = self.blob.read_at(offset, min(CHUNK, self.end - offset))
            if not chunk:
                break
            idx = chunk.find(b"\n")
            piece = chunk if idx < 0 else chunk[:idx]
            if len(prefix) < cap:
                prefix += piece[: cap - len(prefix)]
            if idx >= 0:
                length = offset + idx - start
                self.pos = offset + idx + 1
                return prefix, length
            offset += len(chunk)
        raise _Broken("pickle data was truncated (line without newline)", start)


# --------------------------------------------------------------------------------------
# The interpreter
# --------------------------------------------------------------------------------------


@dataclass
class StreamInfo:
    """What one opcode stream did."""

    start: int
    end: int = 0
    protocol: int = 0
    """Highest PROTO seen (0 when there was none)."""
    ops: int = 0
    stop: bool = False
    error: str = ""
    error_offset: int | None = None
    calls: int = 0
    imports: int = 0
    dangerous_imports: int = 0
    known_imports: int = 0
    limit_hit: bool = False
    persistent_ids: list[Any] = field(default_factory=list)
    persistent_count: int = 0
    globals: list[Glob] = field(default_factory=list)
    result: Any = None
    """The symbolic value STOP returned."""


BuildHook = Callable[["Machine", Any, Any, int], None]
"""Called after BUILD with (machine, instance, state, offset): may skip bytes (joblib arrays)."""


class Machine:
    """Interprets one or more pickle streams over a blob, recording into a report.

    ``trial`` machines (content sniffing) record nothing and stop early.
    """

    def __init__(
        self,
        blob: Blob,
        limits: Limits = DEFAULT_LIMITS,
        *,
        report: Report | None = None,
        member: str = "",
        trial: bool = False,
        max_ops: int | None = None,
        build_hook: BuildHook | None = None,
        file_view: bool = False,
    ) -> None:
        self.blob = blob
        self.limits = limits
        self.report = report if report is not None else Report(format="pickle")
        self.member = member
        self.trial = trial
        self.max_ops = limits.max_pickle_ops if max_ops is None else max_ops
        self.memo: dict[int, Any] = {}
        self.build_hook = build_hook
        self.file_view = file_view
        """Read FRAMEs the way the C unpickler does from a file without peek (see _Reader)."""
        self.frame_irregular = False
        """A FRAME length disagreed with the opcodes: the file view must be analysed too."""
        self.reported: set[tuple[Any, ...]] = set()
        self.globals_seen: dict[str, dict[str, Any]] = {}
        self.finding_counts: dict[str, int] = {}
        self.suppressed = 0
        self.nested: list[Child] = []
        self.reader = _Reader(blob, 0, blob.size)
        self.info = StreamInfo(0)
        self.proto = 0
        self.stack: list[Any] = []
        self.metastack: list[list[Any]] = []
        self.frame_end: int | None = None
        self.stream_index = 0
        self.skipped_regions: list[tuple[int, int]] = []
        self.buried = 0
        """Values under the current mark (in the metastack)."""
        self.nested_read = 0
        self.handlers: dict[str, Callable[[str, int], None]] = {
            "BINPUT": self._op_binput,
            "BINGET": self._op_binget,
            "MEMOIZE": self._op_memoize,
            "SHORT_BINUNICODE": self._op_short_binunicode,
            "BINUNICODE": self._op_binunicode,
            "BINUNICODE8": self._op_binunicode8,
            "BININT1": self._op_binint1,
            "BININT2": self._op_binint2,
            "BININT": self._op_binint,
            "MARK": self._op_mark,
            "EMPTY_TUPLE": self._op_empty_tuple,
            "TUPLE1": self._op_tuple1,
            "TUPLE2": self._op_tuple1,
            "TUPLE3": self._op_tuple1,
            "TUPLE": self._op_tuple,
            "EMPTY_DICT": self._op_empty_dict,
            "EMPTY_LIST": self._op_empty_list,
            "EMPTY_SET": self._op_empty_set,
            "NONE": self._op_none,
            "NEWTRUE": self._op_newtrue,
            "NEWFALSE": self._op_newfalse,
            "SETITEM": self._op_setitem,
            "SETITEMS": self._op_setitem,
            "APPEND": self._op_append,
            "APPENDS": self._op_append,
            "ADDITEMS": self._op_append,
            "SHORT_BINBYTES": self._op_short_binbytes,
            "BINBYTES": self._op_short_binbytes,
            "BINBYTES8": self._op_short_binbytes,
            "BYTEARRAY8": self._op_short_binbytes,
            "SHORT_BINSTRING": self._op_short_binstring,
            "BINSTRING": self._op_short_binstring,
            "REDUCE": self._op_reduce,
            "BUILD": self._op_build,
            "NEWOBJ": self._op_newobj,
            "NEWOBJ_EX": self._op_newobj_ex,
            "OBJ": self._op_obj,
            "INST": self._op_inst,
            "GLOBAL": self._op_global,
            "STACK_GLOBAL": self._op_stack_global,
            "EXT1": self._op_ext1,
            "EXT2": self._op_ext1,
            "EXT4": self._op_ext1,
            "PROTO": self._op_proto,
            "FRAME": self._op_frame,
            "POP": self._op_pop,
            "POP_MARK": self._op_pop_mark,
            "DUP": self._op_dup,
            "PUT": self._op_put,
            "LONG_BINPUT": self._op_long_binput,
            "GET": self._op_get,
            "LONG_BINGET": self._op_long_binget,
            "LIST": self._op_list,
            "DICT": self._op_dict,
            "FROZENSET": self._op_frozenset,
            "INT": self._op_int,
            "LONG": self._op_long,
            "LONG1": self._op_long1,
            "LONG4": self._op_long4,
            "FLOAT": self._op_float,
            "BINFLOAT": self._op_binfloat,
            "STRING": self._op_string,
            "UNICODE": self._op_unicode,
            "PERSID": self._op_persid,
            "BINPERSID": self._op_binpersid,
            "NEXT_BUFFER": self._op_next_buffer,
            "READONLY_BUFFER": self._op_readonly_buffer,
        }

        self.table: list[tuple[str, Callable[[str, int], None]] | None] = [None] * 256
        for code, opname in OPNAMES.items():
            self.table[code] = (opname, self.handlers.get(opname, self._op_stop))

    # -- findings ------------------------------------------------------------------

    def flag(
        self, check: str, severity: str, detail: str, offset: int | None, op: str = "", **data: Any
    ) -> None:
        if self.trial:
            return
        key = (check, offset, data.get("module"), data.get("name"))
        if key in self.reported:
            return
        self.reported.add(key)
        if self.file_view:
            data["view"] = "file-read"
        count = self.finding_counts.get(check, 0) + 1
        self.finding_counts[check] = count
        if count > MAX_FINDINGS // 4 or len(self.report.findings) >= MAX_FINDINGS:
            self.suppressed += 1
            return
        if op:
            data["opcode"] = op
        data["stream"] = self.stream_index
        self.report.add("unsafe_pickle", check, severity, detail, member=self.member, offset=offset, **data)

    # -- values --------------------------------------------------------------------

    def push(self, value: Any) -> None:
        # The size bound is checked every 1024 opcodes in run_stream (one push per opcode at most).
        self.stack.append(value)

    def pop(self, off: int) -> Any:
        if not self.stack:
            raise _Broken("unpickling stack underflow", off)
        return self.stack.pop()

    def top(self, off: int) -> Any:
        if not self.stack:
            raise _Broken("unpickling stack underflow", off)
        return self.stack[-1]

    def pop_mark(self, off: int) -> list[Any]:
        if not self.metastack:
            raise _Broken("could not find MARK", off)
        items = self.stack
        self.stack = self.metastack.pop()
        self.buried -= len(self.stack)
        return items

    def make_str(self, kind: str, length: int, off: int, op: str, decode: str) -> Str:
        """Read a counted string/bytes payload at the reader position (kept bounded)."""
        if length > self.limits.max_string_bytes and not self.trial:
            self.flag(
                "pickle.limit",
                "info",
                f"{op} payload of {length} bytes is larger than the string limit; kept as a prefix",
                off,
                op,
            )
        data_offset = self.reader.skip(length)
        keep = min(length, NAME_CAP)
        head = self.reader.peek_at(data_offset, keep)
        text: str | bytes | None
        if length <= NAME_CAP:
            if decode == "utf-8":
                text = head.decode("utf-8", "surrogatepass") if _utf8_ok(head) else None
                if text is None:
                    raise _Broken(f"{op} payload is not valid UTF-8", off)
            elif decode == "latin-1":
                text = head.decode("latin-1")
            else:
                text = head
        else:
            text = None
        value = Str(kind, length, text, head[:PREFIX_CAP], data_offset, decode != "utf-8" or head.isascii())
        if length >= NESTED_SNIFF_MIN and not self.trial:
            self.sniff_nested(value, off, op)
        return value

    def text_str(self, kind: str, content: str, off: int, op: str) -> Str:
        value = Str(kind, len(content), content if len(content) <= NAME_CAP else None, b"", None, False)
        value.prefix = content[:PREFIX_CAP].encode("latin-1", "replace")
        if len(content) >= NESTED_SNIFF_MIN and not self.trial:
            self.nested_candidate(content.encode("latin-1", "replace"), off, op)
        return value

    # -- nested pickles -------------------------------------------------------------

    def sniff_nested(self, value: Str, off: int, op: str) -> None:
        """Report a str/bytes constant that is itself a pickle (raw, base64 or hex)."""
        head = value.prefix
        if not value.raw:
            # a str holding latin-1 characters: what the bytes mean, not their UTF-8 form
            head = head.decode("utf-8", "ignore").encode("latin-1", "replace")
        raw_candidate = _plausible_start(head)
        if not raw_candidate and not _encoded_start(head):
            return
        assert value.data_offset is not None
        if value.raw and raw_candidate:
            child: Blob = SliceBlob(self.blob, value.data_offset, value.length)
            if looks_like_pickle(child):
                self.add_nested(child, off, op, "raw")
                return
        if value.length > NESTED_MATERIALISE_CAP:
            return
        if self.nested_read + value.length > NESTED_BUDGET or len(self.nested) >= MAX_NESTED:
            # Defence in depth only (a nested pickle runs only through a loads-like call,
            # which is dangerous on its own): a warning, not a block.
            self.flag(
                "pickle.limit",
                "low",
                f"too many or too large encoded constants to check for hidden pickles (at offset {off})",
                off,
                op,
            )
            return
        self.nested_read += value.length
        data = self.blob.read_at(value.data_offset, value.length)
        if value.kind == "str" and not data.isascii():
            try:
                data = data.decode("utf-8", "surrogatepass").encode("latin-1")
            except UnicodeError:
                return
        self.nested_candidate(data, off, op, skip_raw=value.raw)

    def nested_candidate(self, data: bytes, off: int, op: str, skip_raw: bool = False) -> None:
        if not skip_raw and looks_like_pickle(BytesBlob(data)):
            self.add_nested(BytesBlob(data), off, op, "raw")
            return
        for how, decoded in _decodings(data):
            if looks_like_pickle(BytesBlob(decoded)):
                self.add_nested(BytesBlob(decoded), off, op, how)
                return

    def add_nested(self, blob: Blob, off: int, op: str, how: str) -> None:
        if len(self.nested) >= MAX_NESTED:
            self.flag("pickle.limit", "high", f"more than {MAX_NESTED} pickles hidden in constants", off, op)
            return
        name = f"<nested-pickle@{off}>"
        self.nested.append(Child(name, blob, hint="pickle"))
        self.flag(
            "pickle.nested_pickle",
            "high",
            f"a {how} pickle is hidden in a constant at offset {off}; scanned as {name}",
            off,
            op,
            encoding=how,
        )

    # -- globals and calls ----------------------------------------------------------

    def import_global(self, module: Any, name: Any, op: str, off: int) -> Any:
        rmod, rname = resolve_name(module, name, self.proto)
        cls, reason = classify(rmod, rname)
        g = Glob(rmod, rname, cls, reason, op, off)
        info = self.info
        info.imports += 1
        if cls == DANGEROUS:
            info.dangerous_imports += 1
        top = rmod.split(".")[0]
        if cls == SAFE or top in sys.stdlib_module_names or top in _KNOWN_TOPS:
            info.known_imports += 1
        if len(info.globals) < MAX_GLOBALS_LISTED:
            info.globals.append(g)
        if self.trial:
            return g
        key = g.full
        seen = self.globals_seen.get(key)
        if seen is None:
            if len(self.globals_seen) < MAX_GLOBALS_LISTED * 4:
                self.globals_seen[key] = {
                    "module": rmod,
                    "name": rname,
                    "classification": cls,
                    "count": 1,
                    "offset": off,
                    "opcode": op,
                }
                if (rmod, rname) != (module, name):
                    self.globals_seen[key]["written_as"] = f"{module}.{name}"
        else:
            seen["count"] += 1
        if cls != SAFE:
            written = "" if (rmod, rname) == (module, name) else f" (written {module}.{name})"
            self.flag(
                "pickle.dangerous_global" if cls == DANGEROUS else "pickle.suspicious_global",
                "critical" if cls == DANGEROUS else "medium",
                f"{op} imports {g.full}{written} at offset {off}: {reason}",
                off,
                op,
                module=rmod,
                name=rname,
                classification=cls,
                **({"written_as": f"{module}.{name}"} if written else {}),
            )
        return g

    def call(self, func: Any, args: Any, op: str, off: int) -> Called:
        info = self.info
        info.calls += 1
        if isinstance(func, Glob) and func.module == "<copyreg-extension>":
            self.flag(
                "pickle.computed_callable",
                "critical",
                f"{op} at offset {off} calls extension code {func.name} from copyreg's registry, "
                "an object the file does not name",
                off,
                op,
            )
            return Called(func, args, op, off)
        if isinstance(func, Glob):
            if func.cls == SAFE and not self.trial:
                self.check_args(func, args, op, off)
            return Called(func, args, op, off)
        if isinstance(func, (Called, Opaque)):
            what = f"the result of {op_of(func)}" if isinstance(func, Called) else f"a {func.what} value"
            self.flag(
                "pickle.computed_callable",
                "critical",
                f"{op} at offset {off} calls {what}, not an imported global: the callable is computed",
                off,
                op,
            )
            return Called(func, args, op, off)
        raise _Broken(f"{op} on a value that is not callable ({_kind(func)})", off)

    def check_args(self, func: Glob, args: Any, op: str, off: int) -> None:
        positions = allow.HIGHER_ORDER.get(func.full)
        items = args.items if isinstance(args, Seq) else []
        state_at = allow.SETATTR_STATE.get(func.full)
        if state_at is not None and state_at < len(items):
            self.check_state_keys(items[state_at], f"{func.full} state", op, off)
        if positions:
            for pos in positions:
                if pos < len(items) and isinstance(items[pos], (Called, Opaque)):
                    self.flag(
                        "pickle.computed_callable",
                        "critical",
                        f"{func.full} at offset {off} receives a computed value as the callable "
                        f"it constructs (argument {pos})",
                        off,
                        op,
                        module=func.module,
                        name=func.name,
                    )
        if func.full in allow.CONSTANT_ARGS:
            ok = isinstance(args, Seq) and all(isinstance(a, (Str, int, float)) for a in args.items)
            if ok and func.full == "_codecs.encode" and len(items) >= 2:
                enc = items[1]
                ok = isinstance(enc, Str) and isinstance(enc.text, str) and enc.text in allow.CODECS_ENCODINGS
            if not ok:
                self.flag(
                    "pickle.unexpected_args",
                    "medium",
                    f"{func.full} at offset {off} is called with arguments that are not plain constants",
                    off,
                    op,
                    module=func.module,
                    name=func.name,
                )

    def check_state_keys(self, state: Any, what: str, op: str, off: int) -> None:
        """Dunder names set with setattr() (``__class__``, ``__setstate__``) rewire an object."""
        maps = [state] if isinstance(state, Map) else []
        if isinstance(state, Seq) and state.kind == "tuple":
            maps = [m for m in state.items[:2] if isinstance(m, Map)]
        for m in maps:
            for key, _ in m.items:
                text = key.text if isinstance(key, Str) else None
                if isinstance(text, str) and text.startswith("__") and text.endswith("__"):
                    self.flag(
                        "pickle.dunder_state",
                        "critical",
                        f"{op} at offset {off} sets {text} through {what}: "
                        "an interpreter-level attribute, not object state",
                        off,
                        op,
                        attribute=text,
                    )

    def mutate(self, target: Any, op: str, off: int) -> None:
        if isinstance(target, Glob):
            self.flag(
                "pickle.global_mutation",
                "critical",
                f"{op} at offset {off} mutates the imported object {target.full} "
                "(a later import or call then sees attacker-chosen state)",
                off,
                op,
                module=target.module,
                name=target.name,
            )

    # -- one stream -----------------------------------------------------------------

    def run_stream(self, start: int, end: int, resume: Machine | None = None) -> StreamInfo:
        """Interpret one stream from *start*; stops at STOP, an error or a limit.

        With *resume*, start from a copy of that machine's stack, marks, memo and
        protocol instead of a fresh unpickler (what another loader sees mid-stream).
        """
        r = self.reader
        if r.end != end:
            self.reader = r = _Reader(self.blob, start, end)
        r.pos = start
        info = self.info = StreamInfo(start)
        if resume is None:
            self.proto = 0
            self.stack = []
            self.metastack = []
            self.buried = 0
        else:
            self.proto = resume.proto
            self.stack = list(resume.stack)
            self.metastack = [list(level) for level in resume.metastack]
            self.buried = resume.buried
            self.memo = dict(resume.memo)
        self.frame_end = None
        ops = 0
        max_ops = self.max_ops
        table = self.table
        off = start
        try:
            while True:
                off = r.pos
                fe = self.frame_end
                if fe is not None and off >= fe:
                    self.frame_end = None
                rel = r.pos - r.base
                if 0 <= rel < len(r.buf):
                    code = r.buf[rel]
                    r.pos += 1
                else:
                    code = r.byte()
                if code < 0:
                    if ops == 0:
                        raise _Broken("ran out of input", off)
                    raise _Broken("pickle data was truncated", off)
                ops += 1
                if not ops & 1023 and len(self.stack) + self.buried > MAX_STACK:
                    raise _Limit("more values on the pickle stack than the limit", off)
                if ops > max_ops:
                    info.limit_hit = True
                    raise _Limit(f"more than {max_ops} opcodes in one stream", off)
                entry = table[code]
                if entry is None:
                    raise _Broken(f"invalid load key {code:#04x}", off)
                name, handler = entry
                if code == 0x2E:  # STOP
                    info.result = self.pop(off)
                    info.stop = True
                    fe = self.frame_end
                    if fe is not None and fe > r.pos and not self.file_view:
                        # A loader reading a file without peek has the whole frame in memory
                        # and starts its next load() at the frame's end, not after this STOP.
                        self.frame_irregular = True
                        self.flag(
                            "pickle.frame_mismatch",
                            "high",
                            f"STOP at offset {off} comes before the end of its FRAME at {fe}: the next "
                            "stream starts at a different offset for a loader reading a file",
                            off,
                            name,
                        )
                    break
                handler(name, off)
                fe = self.frame_end
                if fe is not None and off < fe < r.pos and code != 0x95:
                    self.frame_irregular = True
                    self.flag(
                        "pickle.frame_mismatch",
                        "high",
                        f"{name} at offset {off} straddles the end of its FRAME at {fe}: the C unpickler "
                        "and pickletools/the Python unpickler read different opcodes here",
                        off,
                        name,
                    )
                    self.frame_end = None
        except _Broken as exc:
            info.error = str(exc)
            info.error_offset = exc.offset
        except _Limit as exc:
            info.error = str(exc)
            info.error_offset = exc.offset
            info.limit_hit = True
        except RecursionError:  # pragma: no cover - values are flat, but never crash
            info.error = "nesting too deep"
            info.error_offset = off
        info.ops = ops
        info.end = r.pos
        if self.file_view and r.buffer_end is not None and info.stop:
            # the loader read the whole frame from the file: the next load() starts after it
            info.end = max(r.pos, r.buffer_end)
            r.buffer_end = None
        return info

    # -- opcode semantics -------------------------------------------------------------

    def _op_stop(self, name: str, off: int) -> None:  # pragma: no cover - run_stream handles STOP
        raise _Broken("STOP outside the loop", off)

    def _op_binput(self, name: str, off: int) -> None:
        r = self.reader
        self.memo_put(r.take(1)[0], off)

    def _op_binget(self, name: str, off: int) -> None:
        r = self.reader
        self.memo_get(r.take(1)[0], off)

    def _op_memoize(self, name: str, off: int) -> None:
        self.memo_put(len(self.memo), off)

    def _op_short_binunicode(self, name: str, off: int) -> None:
        r = self.reader
        n = r.take(1)[0]
        self.stack.append(self.make_str("str", n, off, name, "utf-8"))

    def _op_binunicode(self, name: str, off: int) -> None:
        r = self.reader
        (n,) = struct.unpack("<I", r.take(4))
        self.stack.append(self.make_str("str", n, off, name, "utf-8"))

    def _op_binunicode8(self, name: str, off: int) -> None:
        r = self.reader
        (n,) = struct.unpack("<Q", r.take(8))
        self.stack.append(self.make_str("str", n, off, name, "utf-8"))

    def _op_binint1(self, name: str, off: int) -> None:
        r = self.reader
        self.stack.append(r.take(1)[0])

    def _op_binint2(self, name: str, off: int) -> None:
        r = self.reader
        self.stack.append(struct.unpack("<H", r.take(2))[0])

    def _op_binint(self, name: str, off: int) -> None:
        r = self.reader
        self.stack.append(struct.unpack("<i", r.take(4))[0])

    def _op_mark(self, name: str, off: int) -> None:
        if len(self.metastack) >= MAX_MARKS:
            raise _Limit("too many nested MARKs", off)
        self.metastack.append(self.stack)
        self.buried += len(self.stack)
        self.stack = []

    def _op_empty_tuple(self, name: str, off: int) -> None:
        self.stack.append(Seq("tuple", []))

    def _op_tuple1(self, name: str, off: int) -> None:
        n = int(name[-1])
        if len(self.stack) < n:
            raise _Broken("unpickling stack underflow", off)
        items = self.stack[-n:]
        del self.stack[-n:]
        self.stack.append(Seq("tuple", items))

    def _op_tuple(self, name: str, off: int) -> None:
        value = Seq("tuple", self.pop_mark(off))
        self.stack.append(value)

    def _op_empty_dict(self, name: str, off: int) -> None:
        self.stack.append(Map([]))

    def _op_empty_list(self, name: str, off: int) -> None:
        self.stack.append(Seq("list", []))

    def _op_empty_set(self, name: str, off: int) -> None:
        self.stack.append(Seq("set", []))

    def _op_none(self, name: str, off: int) -> None:
        self.stack.append(None)

    def _op_newtrue(self, name: str, off: int) -> None:
        self.stack.append(True)

    def _op_newfalse(self, name: str, off: int) -> None:
        self.stack.append(False)

    def _op_setitem(self, name: str, off: int) -> None:
        if name == "SETITEM":
            value = self.pop(off)
            key = self.pop(off)
            items = [key, value]
        else:
            items = self.pop_mark(off)
            if len(items) % 2:
                raise _Broken("odd number of items for SETITEMS", off)
        target = self.top(off)
        if items:
            self.mutate(target, name, off)
        if isinstance(target, Map):
            target.set(list(zip(items[::2], items[1::2], strict=False)))

    def _op_append(self, name: str, off: int) -> None:
        items = [self.pop(off)] if name == "APPEND" else self.pop_mark(off)
        target = self.top(off)
        if items or name == "APPEND":
            self.mutate(target, name, off)
        if isinstance(target, Seq):
            target.extend(items)

    def _op_short_binbytes(self, name: str, off: int) -> None:
        r = self.reader
        size = {"SHORT_BINBYTES": 1, "BINBYTES": 4, "BINBYTES8": 8, "BYTEARRAY8": 8}[name]
        raw = r.take(size)
        n = raw[0] if size == 1 else struct.unpack("<I" if size == 4 else "<Q", raw)[0]
        self.stack.append(
            self.make_str("bytearray" if name == "BYTEARRAY8" else "bytes", n, off, name, "bytes")
        )

    def _op_short_binstring(self, name: str, off: int) -> None:
        r = self.reader
        raw = r.take(1 if name == "SHORT_BINSTRING" else 4)
        # _pickle.c reads the BINSTRING length unsigned (pickle.py rejects negatives).
        n = raw[0] if len(raw) == 1 else struct.unpack("<I", raw)[0]
        self.stack.append(self.make_str("str", n, off, name, "latin-1"))

    def _op_reduce(self, name: str, off: int) -> None:
        args = self.pop(off)
        func = self.pop(off)
        if args is None or isinstance(args, (bool, int, float)):
            # _pickle.c wants a tuple; pickle.py (joblib's unpickler) calls func(*args) with any
            # iterable, so only arguments that are not iterable at all stop both.
            raise _Broken("REDUCE arguments are not iterable", off)
        self.stack.append(self.call(func, args, name, off))

    def _op_build(self, name: str, off: int) -> None:
        r = self.reader
        state = self.pop(off)
        inst = self.top(off)
        if isinstance(inst, (Glob, Called, Opaque)):
            self.info.calls += 1
        if isinstance(inst, Called):
            inst.state = state
            if isinstance(state, Seq) and state.kind == "tuple" and len(state.items) == 2:
                # (dict state, slot state): the C unpickler setattr()s the slot state
                self.check_state_keys(Seq("tuple", [None, state.items[1]]), "BUILD slot state", name, off)
        if isinstance(inst, Glob):
            self.mutate(inst, name, off)
        elif isinstance(inst, Called) and isinstance(inst.func, (Called, Opaque)):
            self.flag(
                "pickle.computed_callable",
                "critical",
                f"BUILD at offset {off} sets state on an object made by a computed callable",
                off,
                name,
            )
        if self.build_hook is not None:
            build_end = r.pos
            self.build_hook(self, inst, state, off)
            fe = self.frame_end
            if fe is not None and build_end <= fe < r.pos:
                # the frame ended with BUILD; the hook skipped unframed bytes after it
                self.frame_end = None

    def _op_newobj(self, name: str, off: int) -> None:
        args = self.pop(off)
        cls = self.pop(off)
        self.require_class(cls, name, off)
        self.stack.append(self.call(cls, args, name, off))

    def _op_newobj_ex(self, name: str, off: int) -> None:
        kwargs = self.pop(off)
        args = self.pop(off)
        cls = self.pop(off)
        self.require_class(cls, name, off)
        self.stack.append(self.call(cls, Seq("tuple", [args, kwargs]), name, off))

    def _op_obj(self, name: str, off: int) -> None:
        items = self.pop_mark(off)
        if not items:
            raise _Broken("unpickling stack underflow", off)
        self.stack.append(self.call(items[0], Seq("tuple", items[1:]), name, off))

    def _op_inst(self, name: str, off: int) -> None:
        items = self.pop_mark(off)
        module = self.ascii_line(name, off)
        cname = self.ascii_line(name, off)
        g = self.import_global(module, cname, name, off)
        self.stack.append(self.call(g, Seq("tuple", items), name, off))

    def _op_global(self, name: str, off: int) -> None:
        module = self.utf8_line(name, off)
        cname = self.utf8_line(name, off)
        self.stack.append(self.import_global(module, cname, name, off))

    def _op_stack_global(self, name: str, off: int) -> None:
        gname = self.pop(off)
        module = self.pop(off)
        self.push(self.stack_global(module, gname, off))

    def _op_ext1(self, name: str, off: int) -> None:
        r = self.reader
        raw = r.take({"EXT1": 1, "EXT2": 2, "EXT4": 4}[name])
        code = int.from_bytes(raw, "little", signed=name == "EXT4")
        if code <= 0:
            raise _Broken("EXT specifies code <= 0", off)
        g = Glob("<copyreg-extension>", str(code), SUSPICIOUS, "extension registry", name, off)
        self.info.imports += 1
        self.flag(
            "pickle.extension_global",
            "medium",
            f"{name} at offset {off} imports extension code {code} from copyreg's registry: "
            "whatever the loading process registered under it",
            off,
            name,
            ext_code=code,
        )
        self.stack.append(g)

    def _op_proto(self, name: str, off: int) -> None:
        r = self.reader
        proto = r.take(1)[0]
        if proto > HIGHEST_PROTOCOL:
            raise _Broken(f"unsupported pickle protocol: {proto}", off)
        self.proto = proto
        self.info.protocol = max(self.info.protocol, proto)

    def _op_frame(self, name: str, off: int) -> None:
        r = self.reader
        (n,) = struct.unpack("<Q", r.take(8))
        if self.file_view:
            be = r.buffer_end
            if be is not None and r.pos < be:
                if r.pos + n <= be:
                    return  # served from the frame already in memory; its end stays
                r.pos = be  # the rest of the old frame is dropped, the new one read from the file
            if n > r.end - r.pos:
                raise _Broken(f"FRAME length {n} runs past the end of the data", off)
            r.buffer_end = r.pos + n
            return
        if self.frame_end is not None and off < self.frame_end:
            self.frame_irregular = True
            self.flag(
                "pickle.frame_mismatch",
                "high",
                f"FRAME at offset {off} starts before the previous frame ends at {self.frame_end}",
                off,
                name,
            )
        if n > r.end - r.pos:
            raise _Broken(f"FRAME length {n} runs past the end of the data", off)
        self.frame_end = r.pos + n

    def _op_pop(self, name: str, off: int) -> None:
        if self.stack:
            self.stack.pop()
        else:
            self.pop_mark(off)

    def _op_pop_mark(self, name: str, off: int) -> None:
        self.pop_mark(off)

    def _op_dup(self, name: str, off: int) -> None:
        self.stack.append(self.top(off))

    def _op_put(self, name: str, off: int) -> None:
        self.memo_put(self.int_line(name, off, nonneg=True), off)

    def _op_long_binput(self, name: str, off: int) -> None:
        r = self.reader
        self.memo_put(struct.unpack("<I", r.take(4))[0], off)

    def _op_get(self, name: str, off: int) -> None:
        self.memo_get(self.int_line(name, off), off)

    def _op_long_binget(self, name: str, off: int) -> None:
        r = self.reader
        self.memo_get(struct.unpack("<I", r.take(4))[0], off)

    def _op_list(self, name: str, off: int) -> None:
        value = Seq("list", self.pop_mark(off))
        self.stack.append(value)

    def _op_dict(self, name: str, off: int) -> None:
        items = self.pop_mark(off)
        if len(items) % 2:
            raise _Broken("odd number of items for DICT", off)
        self.stack.append(Map(list(zip(items[::2], items[1::2], strict=False))))

    def _op_frozenset(self, name: str, off: int) -> None:
        value = Seq("frozenset", self.pop_mark(off))
        self.stack.append(value)

    def _op_int(self, name: str, off: int) -> None:
        text = self.c_line(name, off)
        if text in ("00", "01"):
            self.stack.append(text == "01")
        else:
            self.stack.append(self.parse_int(text, name, off, base=0))

    def _op_long(self, name: str, off: int) -> None:
        text = self.c_line(name, off)
        if text.endswith("L"):
            text = text[:-1]
        self.stack.append(self.parse_int(text, name, off, base=0))

    def _op_long1(self, name: str, off: int) -> None:
        r = self.reader
        n = r.take(1)[0]
        self.stack.append(int.from_bytes(r.take(n), "little", signed=True))

    def _op_long4(self, name: str, off: int) -> None:
        r = self.reader
        (n,) = struct.unpack("<i", r.take(4))
        if n < 0:
            raise _Broken("LONG pickle has negative byte count", off)
        if n <= 64:
            self.stack.append(int.from_bytes(r.take(n), "little", signed=True))
        else:
            r.skip(n)
            self.stack.append(Opaque("long integer"))

    def _op_float(self, name: str, off: int) -> None:
        text = self.c_line(name, off)
        try:
            self.stack.append(float(text))
        except ValueError:
            raise _Broken("could not convert FLOAT argument", off) from None

    def _op_binfloat(self, name: str, off: int) -> None:
        r = self.reader
        self.stack.append(struct.unpack(">d", r.take(8))[0])

    def _op_string(self, name: str, off: int) -> None:
        r = self.reader
        raw, length = r.line(NAME_CAP + 2)
        if length > len(raw) and raw[:1] in (b"'", b'"'):
            # Too long to keep: the closing quote is not checked (more permissive than C).
            self.stack.append(Str("str", length, None, raw[1 : PREFIX_CAP + 1], None, False))
            return
        if length < 2 or raw[:1] != raw[-1:] or raw[:1] not in (b"'", b'"'):
            raise _Broken("the STRING opcode argument must be quoted", off)
        try:
            content = codecs.escape_decode(raw[1:-1])[0]
        except (ValueError, UnicodeError):
            raise _Broken("invalid escape in STRING", off) from None
        self.stack.append(self.text_str("str", content.decode("latin-1"), off, name))

    def _op_unicode(self, name: str, off: int) -> None:
        r = self.reader
        raw, length = r.line(NAME_CAP)
        if length > len(raw):
            self.stack.append(Str("str", length, None, raw[:PREFIX_CAP], None, False))
            return
        try:
            text = raw.decode("raw_unicode_escape")
        except UnicodeError:
            raise _Broken("invalid UNICODE argument", off) from None
        self.stack.append(self.text_str("str", text, off, name))

    def _op_persid(self, name: str, off: int) -> None:
        pid = self.ascii_line(name, off, min_len=0)
        self.persistent(pid, off, name)

    def _op_binpersid(self, name: str, off: int) -> None:
        self.persistent(self.pop(off), off, name)

    def _op_next_buffer(self, name: str, off: int) -> None:
        self.stack.append(Opaque("out-of-band buffer"))

    def _op_readonly_buffer(self, name: str, off: int) -> None:
        self.top(off)

    def inner_stream(self, pos: int) -> StreamInfo:
        """Interpret a complete inner stream at *pos* with a fresh unpickler, then resume after it.

        joblib stores object arrays this way: a second pickle inside the first.
        """
        saved = (
            self.info,
            self.proto,
            self.stack,
            self.metastack,
            self.frame_end,
            self.memo,
            self.build_hook,
            self.buried,
        )
        self.memo = {}
        self.build_hook = None
        try:
            info = self.run_stream(pos, self.reader.end)
            _stream_findings(self, info, self.stream_index)
        finally:
            (
                self.info,
                self.proto,
                self.stack,
                self.metastack,
                self.frame_end,
                self.memo,
                self.build_hook,
                self.buried,
            ) = saved
        self.info.calls += info.calls
        self.info.imports += info.imports
        self.info.dangerous_imports += info.dangerous_imports
        if not info.stop:
            raise _Broken(f"inner pickle stream broken: {info.error}", info.error_offset or pos)
        self.reader.pos = info.end
        return info

    def plain_view(self, pos: int) -> StreamInfo:
        """What a plain unpickler would do with the bytes at *pos*, continuing this stream.

        Used where a format-aware loader skips bytes (joblib array data) that a plain
        ``pickle.load`` would read as opcodes. Imports found that way are recorded.
        """
        trial = Machine(self.blob, self.limits, trial=True, max_ops=SNIFF_OPS)
        trial.reader = _Reader(self.blob, pos, self.reader.end)
        info = trial.run_stream(pos, self.reader.end, resume=self)
        if info.imports:
            real = Machine(self.blob, self.limits, report=self.report, member=self.member)
            real.stream_index = self.stream_index
            real.finding_counts = self.finding_counts
            real.reader = _Reader(self.blob, pos, self.reader.end)
            info = real.run_stream(pos, self.reader.end, resume=self)
            self.nested.extend(real.nested)
            self.globals_seen.update(
                {k: v for k, v in real.globals_seen.items() if k not in self.globals_seen}
            )
            self.flag(
                "pickle.skipped_bytes_are_opcodes",
                "high",
                f"bytes at offset {pos} that a format-aware loader skips are read as pickle opcodes "
                f"by a plain unpickler ({info.imports} import(s), {info.calls} call(s))",
                pos,
            )
        return info

    def require_class(self, cls: Any, op: str, off: int) -> None:
        if not isinstance(cls, (Glob, Called, Opaque)):
            raise _Broken(f"{op} class argument isn't a type object", off)

    def stack_global(self, module: Any, name: Any, off: int) -> Any:
        op = "STACK_GLOBAL"
        if isinstance(module, Str) and isinstance(name, Str) and module.kind == name.kind == "str":
            if isinstance(module.text, str) and isinstance(name.text, str):
                return self.import_global(module.text, name.text, op, off)
            self.info.imports += 1
            self.info.dangerous_imports += 1
            self.flag(
                "pickle.dangerous_global",
                "critical",
                f"STACK_GLOBAL at offset {off} imports a name longer than {NAME_CAP} characters",
                off,
                op,
            )
            return Glob("<long-name>", "<long-name>", DANGEROUS, "name too long", op, off)
        if isinstance(module, (Called, Opaque)) or isinstance(name, (Called, Opaque)):
            self.info.imports += 1
            self.info.dangerous_imports += 1
            self.flag(
                "pickle.computed_global",
                "critical",
                f"STACK_GLOBAL at offset {off} imports a name computed at load time, not a constant",
                off,
                op,
            )
            return Glob("<computed>", "<computed>", DANGEROUS, "computed name", op, off)
        raise _Broken("STACK_GLOBAL requires str", off)

    def persistent(self, pid: Any, off: int, op: str) -> None:
        info = self.info
        info.persistent_count += 1
        if len(info.persistent_ids) < 100_000:
            info.persistent_ids.append(pid)
        # torch's legacy loader returns the class itself for ('module', cls, file, source) ids.
        if (
            isinstance(pid, Seq)
            and len(pid.items) >= 2
            and isinstance(pid.items[0], Str)
            and pid.items[0].text in ("module", b"module")
            and isinstance(pid.items[1], Glob)
        ):
            self.push(pid.items[1])
            return
        self.push(Opaque("persistent-id"))

    def memo_put(self, idx: int, off: int) -> None:
        if not self.stack:
            raise _Broken("unpickling stack underflow (PUT)", off)
        memo = self.memo
        if idx not in memo and len(memo) >= self.limits.max_entries:
            raise _Limit("pickle memo larger than the entry limit", off)
        memo[idx] = self.stack[-1]

    def memo_get(self, idx: int, off: int) -> None:
        try:
            value = self.memo[idx]
        except KeyError:
            raise _Broken(f"memo value not found at index {idx}", off) from None
        self.push(value)

    # -- text arguments -----------------------------------------------------------

    def c_line(self, op: str, off: int) -> str:
        """A numeric argument line as the C unpickler's C-string parsers see it (stops at NUL)."""
        raw, length = self.reader.line(256)
        if length > 256:
            raise _Broken(f"{op} argument too long", off)
        raw = raw.split(b"\0", 1)[0]
        try:
            return raw.decode("ascii").strip()
        except UnicodeDecodeError:
            raise _Broken(f"non-ASCII {op} argument", off) from None

    def parse_int(self, text: str, op: str, off: int, base: int) -> int:
        try:
            return int(text, base)
        except ValueError:
            try:
                return int(text, 10)
            except ValueError:
                raise _Broken(f"invalid literal for {op}", off) from None

    def int_line(self, op: str, off: int, nonneg: bool = False) -> int:
        value = self.parse_int(self.c_line(op, off), op, off, base=10)
        if value < 0:
            raise _Broken(f"negative {op} argument", off)
        return value

    def ascii_line(self, op: str, off: int, min_len: int = 1) -> str:
        raw, length = self.reader.line(NAME_CAP)
        if length < min_len:
            raise _Broken(f"{op}: empty line (pickle data was truncated)", off)
        if length > NAME_CAP:
            return "<long-name>"
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise _Broken(f"{op}: non-ASCII name", off) from None

    def utf8_line(self, op: str, off: int) -> str:
        raw, length = self.reader.line(NAME_CAP)
        if length < 1:
            raise _Broken(f"{op}: empty line (pickle data was truncated)", off)
        if length > NAME_CAP:
            return "<long-name>"
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _Broken(f"{op}: name is not UTF-8", off) from None


_KNOWN_TOPS = frozenset({"torch", "numpy", "sklearn", "joblib", "collections", "builtins", "__builtin__"})


def op_of(value: Called) -> str:
    func = value.func
    return f"{value.op} of {func.full}" if isinstance(func, Glob) else f"a {value.op}"


def _kind(value: Any) -> str:
    if isinstance(value, Str):
        return value.kind
    if isinstance(value, Seq):
        return value.kind
    if isinstance(value, Map):
        return "dict"
    return type(value).__name__


def _utf8_ok(data: bytes) -> bool:
    try:
        data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return False
    return True


def _plausible_start(data: bytes) -> bool:
    if not data:
        return False
    return data[0] == 0x80 or (data[0] in _HEADERLESS_START and b"\n" in data[:PREFIX_CAP])


def _encoded_start(head: bytes) -> bool:
    """Whether the first bytes of a constant, read as hex or base64, start like a pickle."""
    text = b"".join(head.split())
    if len(text) < NESTED_SNIFF_MIN:
        return False
    try:
        if _HEX.match(text) and _plausible_start(binascii.unhexlify(text[: len(text) // 2 * 2])):
            return True
        if _B64.match(text):
            std = text.replace(b"-", b"+").replace(b"_", b"/")
            return _plausible_start(binascii.a2b_base64(std[: len(std) // 4 * 4]))
    except (binascii.Error, ValueError):
        return False
    return False


def _decodings(data: bytes) -> list[tuple[str, bytes]]:
    """Hex and base64 decodings of *data* whose first bytes look like a pickle."""
    text = b"".join(data.split())
    out: list[tuple[str, bytes]] = []
    if len(text) < NESTED_SNIFF_MIN:
        return out
    if len(text) % 2 == 0 and _HEX.match(text[:PREFIX_CAP]) and _HEX.match(text):
        try:
            if _plausible_start(binascii.unhexlify(text[:PREFIX_CAP])):
                out.append(("hex", binascii.unhexlify(text)))
        except (binascii.Error, ValueError):
            pass
    if _B64.match(text[:PREFIX_CAP]):
        std = text.replace(b"-", b"+").replace(b"_", b"/")
        try:
            if _plausible_start(binascii.a2b_base64(std[:PREFIX_CAP])):
                out.append(("base64", binascii.a2b_base64(std + b"=" * (-len(std) % 4))))
        except (binascii.Error, ValueError):
            pass
    return out


# --------------------------------------------------------------------------------------
# Sniffing
# --------------------------------------------------------------------------------------

SNIFF_OPS = 100_000


def looks_like_pickle(blob: Blob, offset: int = 0) -> bool:
    """Whether the bytes at *offset* are plausibly a pickle stream a loader would run.

    Protocol 2+ starts with ``PROTO`` (``\\x80`` then 0..5); protocol 0/1 have no header,
    so the first byte must be an opcode a real pickle starts with. In both cases a
    bounded trial interpretation (100k opcodes) decides: a pickle reaches ``STOP``
    cleanly, or runs the whole budget without an error, or imports and calls a global
    (or imports a dangerous one) before it breaks, which is what a payload needs, or
    has a ``FRAME`` whose length disagrees with its opcodes (see :class:`_Reader`).
    A headerless stream additionally needs its first import to name a known top-level
    module (stdlib or a major ML package) when it breaks before a call, so text that
    happens to start with ``c`` and two short lines is not taken for a pickle.
    """
    if offset < 0 or offset >= blob.size:
        return False
    head = blob.read_at(offset, 2)
    if not head:
        return False
    headed = head[0] == 0x80
    if headed:
        if len(head) < 2 or head[1] > HIGHEST_PROTOCOL:
            return False
    elif head[0] not in _HEADERLESS_START:
        return False
    machine = Machine(blob, trial=True, max_ops=SNIFF_OPS)
    machine.reader = _Reader(blob, offset, blob.size)
    info = machine.run_stream(offset, blob.size)
    if info.stop or machine.frame_irregular:
        # a FRAME whose length disagrees with its opcodes is itself the mark of a crafted
        # pickle: a file-reading loader sees other opcodes than this contiguous trial
        return True
    if info.limit_hit:
        return info.ops > 16
    if info.dangerous_imports:
        return True
    if info.calls and info.imports:
        return headed or info.known_imports > 0 or info.ops > 8
    return bool(headed and info.imports)


# --------------------------------------------------------------------------------------
# The parser entry point
# --------------------------------------------------------------------------------------


@dataclass
class Analysis:
    """All streams of one blob: the report plus what callers (torch, joblib) need."""

    report: Report
    streams: list[StreamInfo]
    end: int
    """Offset after the last stream (where trailing data starts)."""


def analyse(
    blob: Blob,
    limits: Limits = DEFAULT_LIMITS,
    *,
    start: int = 0,
    end: int | None = None,
    member: str = "",
    max_streams: int = MAX_STREAMS,
    trailing_ok: bool = False,
    report: Report | None = None,
) -> Analysis:
    """Interpret every stream in ``blob[start:end]``; see :func:`parse`.

    *max_streams* stops after that many streams (torch legacy files read a fixed
    number); *trailing_ok* leaves bytes after the last stream unflagged (the caller
    accounts for them).
    """
    end = blob.size if end is None else min(end, blob.size)
    if report is None:
        report = Report(format="pickle")
    from gate.formats.joblib import joblib_build_hook

    machine = Machine(blob, limits, report=report, member=member, build_hook=joblib_build_hook)
    if start >= end:
        machine.flag("pickle.parse_error", "high", "no pickle data: ran out of input", start)
    streams, pos = _run_streams(machine, start, end, max_streams)
    if machine.frame_irregular:
        # FRAME lengths lie: a loader reading from a file without peek sees other opcodes.
        # Interpret that view too; its findings are added (marked "view": "file-read").
        alt = Machine(
            blob, limits, report=report, member=member, build_hook=joblib_build_hook, file_view=True
        )
        alt.reported = machine.reported
        alt.finding_counts = machine.finding_counts
        alt_streams, _ = _run_streams(alt, start, end, max_streams)
        for key, value in alt.globals_seen.items():
            machine.globals_seen.setdefault(key, value)
        machine.nested.extend(alt.nested)
        machine.suppressed += alt.suppressed
        report.header["file_read_view"] = {
            "streams": len(alt_streams),
            "opcodes": sum(s.ops for s in alt_streams),
            "stop_reached": bool(alt_streams) and all(s.stop for s in alt_streams),
        }
    if len(streams) >= MAX_STREAMS and pos < end:
        machine.flag("pickle.limit", "high", f"more than {MAX_STREAMS} pickle streams", pos)
    trailing = end - pos if streams and streams[-1].stop else 0
    if trailing and not trailing_ok:
        machine.flag(
            "pickle.trailing_data",
            "medium",
            f"{trailing} bytes after the last STOP at offset {pos} are not a pickle stream",
            pos,
            trailing_bytes=trailing,
        )
        report.children.append(Child(f"<trailing@{pos}>", SliceBlob(blob, pos, trailing)))
    report.children.extend(machine.nested)
    _fill_header(report, machine, streams, trailing, pos)
    return Analysis(report, streams, pos)


def _run_streams(machine: Machine, start: int, end: int, max_streams: int) -> tuple[list[StreamInfo], int]:
    """Interpret consecutive streams from *start* until junk, a break or *max_streams*."""
    machine.reader = _Reader(machine.blob, start, end)
    streams: list[StreamInfo] = []
    pos = start
    while pos < end and len(streams) < max_streams:
        if streams and not looks_like_pickle(SliceBlob(machine.blob, 0, end), pos):
            break
        machine.stream_index = len(streams)
        info = machine.run_stream(pos, end)
        streams.append(info)
        _stream_findings(machine, info, len(streams) - 1)
        pos = info.end
        if not info.stop:
            break
    return streams, pos


def parse(blob: Blob, limits: Limits = DEFAULT_LIMITS, *, member: str = "") -> Report:
    """Analyse a pickle file (one or more streams) without unpickling it.

    A legacy torch checkpoint (magic-number pickle first) is read with its layout
    (:func:`gate.formats.torch.analyse_legacy`) so its storage bytes are not junk.
    """
    from gate.formats import torch as torch_layout

    if torch_layout.is_legacy(blob):
        return torch_layout.analyse_legacy(blob, limits, member=member)
    report = analyse(blob, limits, member=member).report
    if any(str(g.get("module", "")).startswith("joblib.") for g in report.header.get("globals", [])):
        report.format = "joblib"
    return report


def _stream_findings(machine: Machine, info: StreamInfo, index: int) -> None:
    if info.limit_hit:
        machine.flag(
            "pickle.limit",
            "high",
            f"stream {index} stopped at offset {info.error_offset}: {info.error}; the rest was not analysed",
            info.error_offset,
        )
        return
    if not info.error:
        return
    if info.calls:
        machine.flag(
            "pickle.broken_after_call",
            "critical",
            f"stream {index} made {info.calls} call(s) and then broke at offset {info.error_offset} "
            f"({info.error}): a loader has already run those calls when it raises",
            info.error_offset,
            error=info.error,
        )
    else:
        machine.flag(
            "pickle.parse_error",
            "high",
            f"stream {index} cannot be read at offset {info.error_offset}: {info.error}",
            info.error_offset,
            error=info.error,
        )


def _persistent_keys(streams: list[StreamInfo], cap: int = 64) -> list[str]:
    """The storage keys torch-style persistent ids name (``('storage', type, key, ...)``), bounded."""
    keys: list[str] = []
    for info in streams:
        for pid in info.persistent_ids:
            if len(keys) >= cap:
                return keys
            if isinstance(pid, Seq) and len(pid.items) >= 3 and isinstance(pid.items[2], Str):
                text = pid.items[2].text
                if isinstance(text, bytes):
                    text = text.decode("latin-1")
                if text is not None:
                    keys.append(text[:256])
            elif isinstance(pid, str):
                keys.append(pid[:256])
    return keys


def _fill_header(
    report: Report, machine: Machine, streams: list[StreamInfo], trailing: int, end: int
) -> None:
    globals_list = list(machine.globals_seen.values())[:MAX_GLOBALS_LISTED]
    header: dict[str, Any] = {
        "protocols": sorted({s.protocol for s in streams}),
        "streams": len(streams),
        "stream_spans": [
            {"offset": s.start, "end": s.end, "protocol": s.protocol, "opcodes": s.ops, "stop": s.stop}
            for s in streams[:16]
        ],
        "opcodes": sum(s.ops for s in streams),
        "calls": sum(s.calls for s in streams),
        "globals": globals_list,
        "globals_count": len(machine.globals_seen),
        "persistent_ids": sum(s.persistent_count for s in streams),
        "persistent_keys": _persistent_keys(streams),
        "stop_reached": bool(streams) and all(s.stop for s in streams),
        "end": end,
        "trailing_bytes": trailing,
    }
    if machine.suppressed:
        header["findings_suppressed"] = machine.suppressed
    report.header.update(header)
