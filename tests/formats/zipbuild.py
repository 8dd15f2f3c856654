"""Zip archives built byte by byte, so tests can make the malformed ones real tools refuse to write."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field


@dataclass
class Member:
    """One member; every ``local_*`` / ``cd_*`` override lets the two headers disagree."""

    name: str
    data: bytes
    method: int = 0
    flags: int = 0
    external_attr: int = 0
    made_by: int = (3 << 8) | 20
    crc: int | None = None
    local_name: str | None = None
    local_flags: int | None = None
    local_method: int | None = None
    local_crc: int | None = None
    local_csize: int | None = None
    cd_usize: int | None = None
    offset_of: int | None = None
    """Point this member's directory record at member number N's local header."""
    payload: bytes | None = None
    """Compressed bytes to store as-is (for unsupported methods)."""
    extra: bytes = b""
    zip64: bool = False
    compressed: bytes = field(default=b"", init=False)


def deflate(data: bytes) -> bytes:
    """Raw deflate, as zip stores it."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def build(
    members: list[Member],
    *,
    prepend: bytes = b"",
    append: bytes = b"",
    comment: bytes = b"",
    zip64: bool = False,
    declared_entries: int | None = None,
    gap: bytes = b"",
    relative_offsets: bool = False,
) -> bytes:
    """The archive's bytes. ``relative_offsets`` leaves offsets unadjusted for ``prepend``."""
    out = bytearray(prepend)
    shift = 0 if not relative_offsets else len(prepend)
    offsets: list[int] = []
    for m in members:
        if m.payload is not None:
            m.compressed = m.payload
        elif m.method == 8:
            m.compressed = deflate(m.data)
        else:
            m.compressed = m.data
        offsets.append(len(out) - shift)
        crc = zlib.crc32(m.data) if m.crc is None else m.crc
        lname = (m.local_name if m.local_name is not None else m.name).encode()
        csize = len(m.compressed)
        lextra = b""
        lcsize = csize if m.local_csize is None else m.local_csize
        lusize = len(m.data)
        if m.zip64:
            lextra = struct.pack("<2H2Q", 1, 16, lusize, lcsize)
            lcsize = lusize = 0xFFFFFFFF
        out += struct.pack(
            "<4s5H3L2H",
            b"PK\x03\x04",
            45 if m.zip64 else 20,
            m.flags if m.local_flags is None else m.local_flags,
            m.method if m.local_method is None else m.local_method,
            0,
            0x21,
            crc if m.local_crc is None else m.local_crc,
            lcsize,
            lusize,
            len(lname),
            len(lextra),
        )
        out += lname + lextra + m.compressed
        out += gap
    cd_start = len(out) - shift
    cd = bytearray()
    for i, m in enumerate(members):
        name = m.name.encode()
        crc = zlib.crc32(m.data) if m.crc is None else m.crc
        offset = offsets[m.offset_of] if m.offset_of is not None else offsets[i]
        usize = len(m.data) if m.cd_usize is None else m.cd_usize
        csize = len(m.compressed)
        extra = m.extra
        if m.zip64:
            extra += struct.pack("<2H3Q", 1, 24, usize, csize, offset)
            usize = csize = offset = 0xFFFFFFFF
        cd += struct.pack(
            "<4s6H3L5H2L",
            b"PK\x01\x02",
            m.made_by,
            45 if m.zip64 else 20,
            m.flags,
            m.method,
            0,
            0x21,
            crc,
            csize,
            usize,
            len(name),
            len(extra),
            0,
            0,
            0,
            m.external_attr,
            offset,
        )
        cd += name + extra
    out += cd
    count = len(members) if declared_entries is None else declared_entries
    if zip64:
        z64_at = len(out) - shift
        out += struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(cd), cd_start)
        out += struct.pack("<4sLQL", b"PK\x06\x07", 0, z64_at, 1)
        out += struct.pack(
            "<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, len(comment)
        )
    else:
        out += struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(cd), cd_start, len(comment))
    out += comment + append
    return bytes(out)
