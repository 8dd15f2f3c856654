"""What every content parser in ``gate.formats`` takes and gives back.

Parsers face hostile bytes. Each one reads through a :class:`Blob` (random
access, never the whole file at once), checks every bound before it uses
it, and returns a :class:`Report`: the structure it understood (JSON-able),
its findings, and the nested blobs it found (archive members, a pickle
inside a NumPy array, bytes appended after the end of a format) for the
dispatcher to scan in turn. Parsers never recurse themselves, never execute
or deserialize what they read, and know nothing about the input document,
so each one can be fuzzed on its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Protocol

SEVERITIES = ("critical", "high", "medium", "low", "info")


class Blob(Protocol):
    """Random-access bytes: a file, a slice of one, or bytes in memory."""

    @property
    def size(self) -> int:
        """Length in bytes."""
        ...

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to *length* bytes from *offset* (fewer only at the end)."""
        ...


class BytesBlob:
    """A blob over bytes already in memory (small members, decompressed data)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    @property
    def size(self) -> int:
        """Length in bytes."""
        return len(self._data)

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to *length* bytes from *offset*."""
        if offset < 0 or length < 0:
            raise ValueError("negative offset or length")
        return self._data[offset : offset + length]


class FileBlob:
    """A blob over an open file descriptor, read with ``os.pread``.

    Reads hit the page cache the streaming hasher already filled, so a
    parser's bounded reads do not read a large file a second time.
    """

    def __init__(self, fd: int, size: int | None = None) -> None:
        self._fd = fd
        self._size = os.fstat(fd).st_size if size is None else size

    @property
    def size(self) -> int:
        """Length in bytes."""
        return self._size

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to *length* bytes from *offset*."""
        if offset < 0 or length < 0:
            raise ValueError("negative offset or length")
        length = max(0, min(length, self._size - offset))
        chunks: list[bytes] = []
        while length > 0:
            chunk = os.pread(self._fd, min(length, 1 << 24), offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
            length -= len(chunk)
        return b"".join(chunks)


class SliceBlob:
    """A window ``[start, start + size)`` of another blob (a stored zip member)."""

    def __init__(self, parent: Blob, start: int, size: int) -> None:
        if start < 0 or size < 0 or start + size > parent.size:
            raise ValueError("slice outside its parent")
        self._parent = parent
        self._start = start
        self._size = size

    @property
    def size(self) -> int:
        """Length in bytes."""
        return self._size

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to *length* bytes from *offset* within the window."""
        if offset < 0 or length < 0:
            raise ValueError("negative offset or length")
        length = max(0, min(length, self._size - offset))
        return self._parent.read_at(self._start + offset, length)


@dataclass(frozen=True)
class Limits:
    """Bounds every parser honours; exceeding one is a finding, never a crash."""

    max_header_bytes: int = 100 * 1024 * 1024
    """Largest header/metadata block parsed (safetensors JSON header, GGUF KV area, ONNX proto)."""
    max_entries: int = 1_000_000
    """Most tensors, KV pairs, archive members, pickle opcodes' memo entries, ... in one blob."""
    max_string_bytes: int = 16 * 1024 * 1024
    """Longest single string value read (a GGUF string, a pickle BINUNICODE)."""
    max_depth: int = 8
    """Deepest nesting of blobs (archive in archive, pickle in npy in zip)."""
    max_json_depth: int = 64
    """Deepest JSON nesting accepted in headers and configs."""
    max_expanded_bytes: int = 4 * 1024 * 1024 * 1024
    """Most bytes decompressed out of one archive, all members together."""
    max_member_bytes: int = 512 * 1024 * 1024
    """Largest single member decompressed into memory for scanning."""
    max_ratio: float = 200.0
    """Highest compressed-to-expanded ratio before an archive member counts as a bomb."""
    max_pickle_ops: int = 50_000_000
    """Most pickle opcodes interpreted in one stream."""


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Finding:
    """One thing a parser noticed that a policy may care about."""

    code: str
    """Reason-code family from docs/decisions.md §2: ``invalid_header``, ``unsafe_pickle``,
    ``archive_unsafe``, ``polyglot_payload``, ``chat_template_injection``, ``unsafe_layer``,
    ``unknown_format``, ``entropy_anomaly``, ``weight_anomaly``, ..."""
    check: str
    """The precise check that fired, dotted: ``safetensors.offsets_overlap``,
    ``pickle.dangerous_global``, ``pickle.suspicious_global``, ``zip.path_traversal``."""
    severity: str
    """One of SEVERITIES. For pickles: dangerous -> critical, suspicious -> medium."""
    detail: str
    """One sentence a person can act on."""
    member: str = ""
    """Path inside the blob's container chain (``archive/data.pkl``); "" for the blob itself."""
    offset: int | None = None
    """Byte offset inside the blob the finding is about, when there is one."""
    data: dict[str, Any] = field(default_factory=dict)
    """Small JSON-able extras (the pickle global, the opcode, the tensor name)."""

    def to_json(self) -> dict[str, Any]:
        """The finding as it appears in the input document."""
        out: dict[str, Any] = {
            "code": self.code,
            "check": self.check,
            "severity": self.severity,
            "detail": self.detail,
            "member": self.member,
        }
        if self.offset is not None:
            out["offset"] = self.offset
        if self.data:
            out["data"] = self.data
        return out


@dataclass
class Child:
    """A nested blob the dispatcher must scan in turn (depth-limited)."""

    name: str
    """Member path or a label (``data.pkl``, ``<appended@1234>``, ``<object-array>``)."""
    blob: Blob
    """Its bytes."""
    hint: str = ""
    """Format the parent expects it to be (``pickle`` for an object array); content still decides."""


@dataclass
class Report:
    """What a parser understood about one blob."""

    format: str
    """Format name decided by content: safetensors, gguf, pickle, pytorch-zip, zip, tar, 7z,
    npy, npz, onnx, keras, hdf5, joblib, json, text, unknown, ..."""
    header: dict[str, Any] = field(default_factory=dict)
    """JSON-able summary of the structure (counts, versions, dtypes, globals seen); bounded size."""
    findings: list[Finding] = field(default_factory=list)
    """What the policy may care about, in the order found."""
    children: list[Child] = field(default_factory=list)
    """Nested blobs for the dispatcher."""

    def add(
        self,
        code: str,
        check: str,
        severity: str,
        detail: str,
        *,
        member: str = "",
        offset: int | None = None,
        **data: Any,
    ) -> Finding:
        """Record a finding and return it."""
        finding = Finding(code, check, severity, detail, member, offset, dict(data))
        self.findings.append(finding)
        return finding
