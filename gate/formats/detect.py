"""Decide a blob's format by its content, never by its name.

The order of the checks is part of the security model, because one blob can
satisfy several of them:

1. **Unambiguous magic at offset 0** (7z, GGUF, ``\\x93NUMPY``, HDF5 at 0,
   ELF/PE/Mach-O, gzip/bz2/xz/zstd/lz4 frames, ``PK\\x03\\x04``). What a loader
   opens is decided by these first bytes; a compressed stream wrapping a tar is
   ``tar``.
2. **safetensors** (a little-endian header length, then ``{``).
3. **pickle with a PROTO header** (``\\x80`` + protocol 0-5, confirmed by a trial walk of
   the opcodes so random tensor bytes do not qualify). ``torch.load`` unpickles
   anything that does not start with a zip local header, so a pickle at offset
   0 wins over a zip found at the tail (that zip is then appended data).
4. **tar** (``ustar`` at 257, or a valid old-style header checksum).
5. **pickle protocol 0/1** (no header: a trial walk decides), for the same
   reason as 3.
6. **zip found only through its End Of Central Directory record** — a zip can
   start with anything, so this comes after every format that owns offset 0.
7. **HDF5 with a user block** (superblock at 512, 1024, 2048, ...).
8. **ONNX** (protobuf has no magic; the ONNX parser's own sniffing).
9. **zlib**, shebang **scripts**, **json**, **text** (UTF-8 without NULs).
10. ``tensor-data`` when the parent said so (a PyTorch storage), else ``unknown``.

The *hint* never overrides a positive identification; it only decides what
otherwise-unrecognised bytes are: ``pickle`` (a loader unpickles them, e.g. a
NumPy object array) or ``tensor-data``.

A pickle can be appended to anything: that is for the parsers (bytes after
the end of a format become children) and the dispatcher's polyglot search.
"""

from __future__ import annotations

import bz2
import lzma
import pickletools
import re
import struct
import zlib
from typing import IO, Any, cast

from gate.formats import strictjson
from gate.formats import zip as zipfmt
from gate.formats.interface import Blob, Limits

FORMATS = (
    "empty",
    "safetensors",
    "gguf",
    "pickle",
    "pytorch-legacy",
    "pytorch-zip",
    "npz",
    "keras",
    "zip",
    "tar",
    "7z",
    "gzip",
    "bz2",
    "xz",
    "zlib",
    "lz4",
    "zstd",
    "lzma",
    "joblib",
    "npy",
    "hdf5",
    "onnx",
    "sentencepiece",
    "json",
    "text",
    "elf",
    "pe",
    "macho",
    "script",
    "tensor-data",
    "unknown",
)
"""Every name :func:`detect` returns."""

EXECUTABLE_FORMATS = frozenset({"elf", "pe", "macho", "script"})
ARCHIVE_FORMATS = frozenset({"zip", "pytorch-zip", "npz", "keras", "tar", "7z"})
COMPRESSED_FORMATS = frozenset({"gzip", "bz2", "xz", "zlib", "lz4", "zstd", "lzma"})

SEVENZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
NPY_MAGIC = b"\x93NUMPY"
GZIP_MAGIC = b"\x1f\x8b"
BZ2_MAGIC = re.compile(rb"^BZh[1-9]1AY&SY")
XZ_MAGIC = b"\xfd7zXZ\x00"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
LZ4_MAGIC = b"\x04\x22\x4d\x18"
LZMA_ALONE_MAGIC = b"]\x00\x00"
MACHO_MAGICS = (b"\xfe\xed\xfa\xce", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf", b"\xcf\xfa\xed\xfe")
FAT_MAGIC = b"\xca\xfe\xba\xbe"
TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
"""``pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)``: the legacy PyTorch file magic."""

HEAD = 4096
TRIAL_WINDOW = 64 * 1024
TRIAL_OPS = 4096
SNIFF_TEXT = 64 * 1024
MAX_JSON_SNIFF = 16 * 1024 * 1024

IMPORT_OPS = frozenset({"GLOBAL", "STACK_GLOBAL", "INST"})
CALL_OPS = frozenset({"REDUCE", "INST", "OBJ", "NEWOBJ", "NEWOBJ_EX", "BUILD"})
STRING_OPS = frozenset(
    {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING"}
)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
# First opcodes of protocol 0/1 streams (pickle.dumps and hand-written payloads).
_PROTO01_FIRST = frozenset(b"(cNIFLSVUTGJKMX]})iq\x88\x89abegjlpt")


def detect(blob: Blob, hint: str = "") -> str:
    """The format of *blob*, decided by content; *hint* only names otherwise-unrecognised bytes."""
    size = blob.size
    if size == 0:
        return "empty"
    head = blob.read_at(0, HEAD)
    magic = _magic(blob, head)
    if magic:
        return magic
    if _is_safetensors(head, size):
        return "safetensors"
    if head[:1] == b"\x80" and len(head) > 1 and head[1] <= 5 and _headed_pickle(blob):
        return "pytorch-legacy" if _is_torch_legacy(blob, head) else "pickle"
    if _is_tar(head):
        return "tar"
    if _looks_like_old_pickle(blob, head):
        return "pickle"
    if hint == "tensor-data":
        # A PyTorch storage: the loader copies it into a tensor and never parses
        # it. Only a pickle (checked above) matters; the rest is not read.
        return "tensor-data"
    if zipfmt.find_eocd(blob) is not None and zipfmt.looks_like(blob):
        return _classify_zip(blob)
    if _hdf5_user_block(blob):
        return "hdf5"
    if hint == "pickle":
        # The parent says a loader unpickles these bytes (a NumPy object array):
        # whatever else they look like, they are analysed as a pickle.
        return "pickle"
    if _looks_like_onnx(blob):
        return "onnx"
    if _looks_like_sentencepiece(blob):
        return "sentencepiece"
    if _is_zlib(head):
        return "zlib"
    if head.startswith(b"#!"):
        return "script"
    text = _text_kind(blob, head)
    if text:
        return text
    return "tensor-data" if hint == "tensor-data" else "unknown"


def _is_torch_legacy(blob: Blob, head: bytes) -> bool:
    try:
        from gate.formats import torch as torchfmt  # type: ignore[attr-defined, unused-ignore]

        return bool(torchfmt.is_legacy(blob))
    except ImportError:
        return head.startswith(TORCH_LEGACY_MAGIC)
    except Exception:
        return False


def _magic(blob: Blob, head: bytes) -> str:
    if head.startswith(SEVENZIP_MAGIC):
        return "7z"
    if head.startswith(b"GGUF"):
        return "gguf"
    if head.startswith(NPY_MAGIC):
        return "npy"
    if head.startswith(HDF5_MAGIC):
        return "hdf5"
    if head.startswith(b"\x7fELF"):
        return "elf"
    if head.startswith(MACHO_MAGICS):
        return "macho"
    if head.startswith(FAT_MAGIC) and len(head) >= 8 and 0 < struct.unpack_from(">L", head, 4)[0] < 32:
        return "macho"
    if head.startswith(b"MZ") and len(head) >= 64:
        pe = struct.unpack_from("<L", head, 60)[0]
        if blob.read_at(pe, 4) == b"PE\x00\x00":
            return "pe"
    if head.startswith(GZIP_MAGIC) and len(head) >= 10 and head[2] == 8:
        return "tar" if _wrapped_tar(blob, "gzip") else "gzip"
    if BZ2_MAGIC.match(head):
        return "tar" if _wrapped_tar(blob, "bz2") else "bz2"
    if head.startswith(XZ_MAGIC):
        return "tar" if _wrapped_tar(blob, "xz") else "xz"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head.startswith(LZ4_MAGIC):
        return "lz4"
    if head.startswith(LZMA_ALONE_MAGIC) and len(head) >= 13:
        return "lzma"
    if head.startswith(b"ZF0x") and len(head) > 12 and head[12] == 0x78:
        return "joblib"  # joblib < 0.10 "zfile": a zlib-compressed pickle behind a length prefix
    if head.startswith(zipfmt.LOCAL_SIG) or head.startswith(zipfmt.EOCD_SIG):
        return _classify_zip(blob)
    return ""


def _is_safetensors(head: bytes, size: int) -> bool:
    if len(head) < 10:
        return False
    n = struct.unpack_from("<Q", head)[0]
    return 2 <= n <= size - 8 and head[8:9] == b"{"


def _is_tar(head: bytes) -> bool:
    if len(head) < 512:
        return False
    if head[257:262] == b"ustar":
        return True
    # Old (v7) headers have no magic: a valid header checksum decides.
    stored = head[148:156].replace(b"\x00", b" ").strip()
    if not stored or not re.fullmatch(rb"[0-7]+", stored) or not head[:1].strip(b"\x00"):
        return False
    total = sum(head[:148]) + 8 * 32 + sum(head[156:512])
    return int(stored, 8) == total


def _wrapped_tar(blob: Blob, kind: str) -> bool:
    decomp: Any
    if kind == "gzip":
        decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif kind == "bz2":
        decomp = bz2.BZ2Decompressor()
    else:
        decomp = lzma.LZMADecompressor()
    try:
        out = decomp.decompress(blob.read_at(0, 1 << 20), 1024)
    except Exception:
        return False
    return _is_tar(out.ljust(512, b"\x00")[:512]) if len(out) >= 262 else False


def _classify_zip(blob: Blob) -> str:
    names = zipfmt.member_names(blob, Limits(max_entries=100_000))
    if not names:
        return "zip"
    if _is_torch_zip(names):
        return "pytorch-zip"
    if all(n.endswith(".npy") for n in names):
        return "npz"
    if "config.json" in names and ("metadata.json" in names or "model.weights.h5" in names):
        return "keras"
    return "zip"


def _is_torch_zip(names: list[str]) -> bool:
    try:
        from gate.formats import torch as torchfmt  # type: ignore[attr-defined, unused-ignore]
    except ImportError:
        return torch_layout(names)
    try:
        layout = torchfmt.classify_zip_members(names).get("layout", "")
    except Exception:
        return torch_layout(names)
    return layout in ("pytorch-zip", "torchscript") or torch_layout(names)


def torch_layout(names: list[str]) -> bool:
    """True when the names follow ``torch.save``'s zip layout (``<root>/data.pkl``)."""
    return any(re.fullmatch(r"[^/]+/data\.pkl", n) for n in names)


def torch_pickle_names(names: list[str]) -> set[str]:
    """Members PyTorch's loader unpickles: ``<root>/data.pkl`` and ``<root>/*.pkl`` siblings."""
    return {n for n in names if re.fullmatch(r"[^/]+/[^/]+\.pkl", n)}


def is_torch_storage(name: str) -> bool:
    """True for a tensor storage member (``<root>/data/<key>``), raw bytes a loader never parses."""
    return re.fullmatch(r"[^/]+/data/[^/]+", name) is not None


def _hdf5_user_block(blob: Blob) -> bool:
    offset = 512
    while offset + 8 <= blob.size and offset <= 1 << 26:
        if blob.read_at(offset, 8) == HDF5_MAGIC:
            return True
        offset *= 2
    return False


class _WindowEnd(Exception):
    """The walk needs bytes past the trial window that the blob does have."""


class _WindowReader:
    """A file-like view of a window of a blob for ``pickletools.genops``."""

    def __init__(self, blob: Blob, offset: int, window: int) -> None:
        self._blob = blob
        self._offset = offset
        self._data = blob.read_at(offset, window)
        self._window = window
        self._pos = 0

    def tell(self) -> int:
        return self._pos

    def read(self, n: int = -1) -> bytes:
        if n < 0 or self._pos + n > len(self._data):
            if len(self._data) == self._window and n >= 0 and self._offset + self._pos + n <= self._blob.size:
                raise _WindowEnd
            n = len(self._data) - self._pos
        out = self._data[self._pos : self._pos + n]
        self._pos += len(out)
        return out

    def readline(self) -> bytes:
        end = self._data.find(b"\n", self._pos)
        if end < 0:
            if len(self._data) == self._window:
                raise _WindowEnd
            end = len(self._data) - 1
        out = self._data[self._pos : end + 1]
        self._pos = end + 1
        return out


def trial_pickle(blob: Blob, offset: int, window: int = TRIAL_WINDOW, strict: bool = False) -> bool:
    """Walk pickle opcodes from *offset* without executing anything.

    Lenient (detection at offset 0): true when the walk reaches STOP, or runs
    past the window cleanly, or reaches an import opcode before breaking (a
    stream that imports and is then broken is still dangerous). Strict (a
    pickle embedded in other data): only a stream that imports a well-formed
    name and then calls something counts; random tensor bytes essentially never
    do that.
    """
    imports = 0
    called = False
    ops = 0
    strings: list[str] = []
    try:
        for opcode, arg, _ in pickletools.genops(cast(IO[bytes], _WindowReader(blob, offset, window))):
            ops += 1
            name = opcode.name
            if name in STRING_OPS and isinstance(arg, str | bytes):
                strings = [*strings[-1:], arg if isinstance(arg, str) else arg.decode("latin-1")]
            elif name in ("GLOBAL", "INST") and isinstance(arg, str):
                module, _, attr = arg.partition(" ")
                if _IDENT.match(module) and _IDENT.match(attr):
                    imports += 1
            elif name == "STACK_GLOBAL" and len(strings) == 2 and all(_IDENT.match(s) for s in strings):
                imports += 1
            if name in CALL_OPS and imports:
                called = True
            if name == "STOP" or ops >= TRIAL_OPS:
                return (imports > 0 and called) if strict else True
    except _WindowEnd:
        return (imports > 0 and called) if strict else True
    except Exception:
        return (imports > 0 and called) if strict else imports > 0
    return (imports > 0 and called) if strict else imports > 0


def _analyser_says_pickle(blob: Blob) -> bool:
    """The pickle analyser's own sniffing, when it is installed (a failure counts as yes)."""
    try:
        from gate.formats import pickle as picklefmt  # type: ignore[attr-defined, unused-ignore]
    except ImportError:
        return False
    try:
        return bool(picklefmt.looks_like_pickle(blob, 0))
    except Exception:
        return True


def _headed_pickle(blob: Blob) -> bool:
    # PROTO with any protocol 0-5 is accepted by the unpickler, so \x80\x00 and
    # \x80\x01 count too. Either sniffer saying yes is enough.
    return trial_pickle(blob, 0) or _analyser_says_pickle(blob)


def _looks_like_old_pickle(blob: Blob, head: bytes) -> bool:
    if not head:
        return False
    if head[0] in _PROTO01_FIRST and trial_pickle(blob, 0) and _walks_clean_or_imports(blob):
        return True
    return _analyser_says_pickle(blob)


def _walks_clean_or_imports(blob: Blob) -> bool:
    """For headerless streams: a complete walk of more than one opcode, or an import."""
    ops = 0
    try:
        for opcode, _, _ in pickletools.genops(cast(IO[bytes], _WindowReader(blob, 0, TRIAL_WINDOW))):
            ops += 1
            if opcode.name in IMPORT_OPS:
                return True
            if opcode.name == "STOP":
                return ops > 1
    except _WindowEnd:
        return True
    except Exception:
        return False
    return False


def _looks_like_onnx(blob: Blob) -> bool:
    try:
        from gate.formats import onnx as onnxfmt  # type: ignore[attr-defined, unused-ignore]
    except ImportError:
        return False
    try:
        return bool(onnxfmt.looks_like_onnx(blob))
    except Exception:
        return False


def _looks_like_sentencepiece(blob: Blob) -> bool:
    try:
        from gate.formats import sentencepiece
    except ImportError:  # pragma: no cover - part of gate; without it the bytes stay unknown
        return False
    return sentencepiece.looks_like(blob)


def _is_zlib(head: bytes) -> bool:
    if len(head) < 2 or head[0] & 0x0F != 8 or head[0] >> 4 > 7 or (head[0] << 8 | head[1]) % 31:
        return False
    try:
        zlib.decompressobj().decompress(head, 64)
    except zlib.error:
        return False
    return True


def _text_kind(blob: Blob, head: bytes) -> str:
    sample = blob.read_at(0, SNIFF_TEXT)
    if b"\x00" in sample:
        return ""
    try:
        decoded = sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A sample cut through a multi-byte character is still text.
        if exc.start < len(sample) - 3 or len(sample) < SNIFF_TEXT:
            return ""
        decoded = sample[: exc.start].decode("utf-8")
    stripped = decoded.lstrip("\ufeff \t\r\n")
    if stripped[:1] in ("{", "[") and blob.size <= MAX_JSON_SNIFF:
        # JSON is what the one strict parser accepts: a duplicated key, NaN or
        # nesting beyond its depth bound makes the file text.
        try:
            strictjson.loads(blob.read_at(0, blob.size).removeprefix(b"\xef\xbb\xbf"))
            return "json"
        except strictjson.StrictJSONError:
            pass
    return "text"
