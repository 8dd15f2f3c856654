"""PyTorch checkpoint layouts, read the way ``torch.load`` reads them.

Three layouts exist:

* **zip** (torch >= 1.6): every record lives under one root directory
  named by the first record (``<root>/data.pkl``, ``<root>/byteorder``,
  ``<root>/version`` or ``<root>/.data/version``, ``<root>/data/<key>``);
  ``data.pkl`` is the pickle the loader runs, storages are raw records.
  A ``constants.pkl`` or ``code/`` record makes it a TorchScript archive,
  which ``torch.load`` hands to ``torch.jit.load``. The zip itself is read by
  the container parser; :func:`classify_zip_members` works on its names.
* **legacy stacked pickles** (``_use_new_zipfile_serialization=False``):
  a magic-number pickle, a protocol-version pickle, a sys-info pickle, the
  payload pickle, a pickle listing storage keys, then for each key an
  8-byte element count and the raw storage bytes. :func:`analyse_legacy`
  interprets the five pickles and accounts for every storage byte, so only
  bytes after the last storage count as trailing data.
* **legacy tar** (torch < 0.4): members ``sys_info``, ``pickle``,
  ``storages``, ``tensors``; :func:`analyse_tar_member` reads the last two,
  which interleave pickles with raw data.
"""

from __future__ import annotations

import struct
from typing import Any

from gate.formats.interface import DEFAULT_LIMITS, Blob, Child, Limits, Report, SliceBlob
from gate.formats.pickle import Glob, Machine, Seq, Str, StreamInfo, _Reader, analyse

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001

# Element size of each legacy storage type (by class name).
ELEMENT_SIZE = {
    "DoubleStorage": 8,
    "FloatStorage": 4,
    "HalfStorage": 2,
    "BFloat16Storage": 2,
    "LongStorage": 8,
    "IntStorage": 4,
    "ShortStorage": 2,
    "CharStorage": 1,
    "ByteStorage": 1,
    "BoolStorage": 1,
    "ComplexFloatStorage": 8,
    "ComplexDoubleStorage": 16,
    "QInt8Storage": 1,
    "QUInt8Storage": 1,
    "QInt32Storage": 4,
    "QUInt4x2Storage": 1,
    "QUInt2x4Storage": 1,
    "UntypedStorage": 1,
}

TAR_MEMBERS = frozenset({"sys_info", "pickle", "storages", "tensors"})


def _trial(blob: Blob, offset: int) -> StreamInfo:
    machine = Machine(blob, trial=True, max_ops=256)
    machine.reader = _Reader(blob, offset, blob.size)
    return machine.run_stream(offset, blob.size)


def first_stream_result(blob: Blob, offset: int = 0) -> Any:
    """The constant the first pickle stream at *offset* returns (a cheap bounded trial)."""
    info = _trial(blob, offset)
    return info.result if info.stop and not info.calls and not info.imports else None


def is_legacy(blob: Blob) -> bool:
    """Whether *blob* starts like a legacy (non-zip) torch checkpoint.

    The first pickle is the magic number; when that pickle computes its value (a call
    instead of a constant, to hide the layout from byte-prefix checks), the protocol
    version 1001 in the second pickle still gives the layout away.
    """
    if blob.size < 2:
        return False
    first = _trial(blob, 0)
    if not first.stop:
        return False
    if not first.calls and not first.imports:
        return bool(first.result == MAGIC_NUMBER)
    second = _trial(blob, first.end)
    return bool(second.stop and not second.calls and second.result == PROTOCOL_VERSION)


def _key_text(value: Any) -> str | None:
    if isinstance(value, Str) and value.text is not None:
        return value.text if isinstance(value.text, str) else value.text.decode("latin-1")
    return None


def _storage_ids(streams: list[StreamInfo]) -> dict[str, tuple[str, int | None]]:
    """Storage key -> (storage type name, numel) from the payload's persistent ids."""
    out: dict[str, tuple[str, int | None]] = {}
    for info in streams:
        for pid in info.persistent_ids:
            if not isinstance(pid, Seq) or len(pid.items) < 3:
                continue
            if _key_text(pid.items[0]) != "storage":
                continue
            stype = pid.items[1]
            key = _key_text(pid.items[2])
            numel = pid.items[4] if len(pid.items) > 4 and isinstance(pid.items[4], int) else None
            if key is not None and isinstance(stype, Glob):
                out[key] = (stype.name.split(".")[-1], numel)
    return out


def analyse_legacy(blob: Blob, limits: Limits = DEFAULT_LIMITS, *, member: str = "") -> Report:
    """A legacy stacked-pickle checkpoint: five pickles, then raw storages, then nothing."""
    analysis = analyse(blob, limits, member=member, max_streams=5, trailing_ok=True)
    report = analysis.report
    report.format = "pytorch-legacy"
    streams = analysis.streams
    header = report.header
    header["layout"] = "legacy"

    def flag(check: str, severity: str, detail: str, offset: int | None = None, **data: Any) -> None:
        report.add("unsafe_pickle", check, severity, detail, member=member, offset=offset, **data)

    # The first three pickles are constants torch compares; anything computed there ran code.
    for index, label in enumerate(("magic number", "protocol version", "sys info")):
        if index >= len(streams):
            break
        info = streams[index]
        if info.calls or info.imports:
            flag(
                "torch.computed_header",
                "critical",
                f"the {label} pickle of the legacy checkpoint imports or calls something "
                f"({info.imports} import(s), {info.calls} call(s)) instead of being a constant",
                info.start,
            )
    if not streams or streams[0].result != MAGIC_NUMBER:
        flag("torch.bad_magic", "high", "the first pickle is not the torch legacy magic number", 0)
    if len(streams) > 1 and streams[1].result != PROTOCOL_VERSION:
        flag("torch.bad_protocol", "medium", "the protocol-version pickle is not 1001", streams[1].start)
    if len(streams) < 5 or not all(s.stop for s in streams):
        # pickle.analyse reports a stream that breaks; one cut off where a stream would
        # start leaves nothing broken, only a checkpoint that is not all there.
        if not any(f.severity in ("critical", "high") for f in report.findings):
            flag(
                "torch.truncated_checkpoint",
                "high",
                f"the legacy checkpoint holds {len(streams)} complete pickle(s) of the five torch writes",
                analysis.end,
            )
        header["storage_bytes"] = 0
        return report
    keys_value = streams[4].result
    keys: list[str] = []
    if isinstance(keys_value, Seq) and keys_value.count == len(keys_value.items):
        keys = [k for k in (_key_text(v) for v in keys_value.items) if k is not None]
    elif isinstance(keys_value, Seq):
        keys = [k for k in (_key_text(v) for v in keys_value.items) if k is not None]
        flag(
            "torch.too_many_storages",
            "medium",
            f"{keys_value.count} storages listed; only the first {len(keys)} were accounted for",
            streams[4].start,
        )
    else:
        flag(
            "torch.bad_storage_keys", "high", "the storage-key pickle is not a list of keys", streams[4].start
        )
    ids = _storage_ids(streams[3:4])
    pos = analysis.end
    size = blob.size
    accounted = 0
    for key in keys:
        stype, numel = ids.get(key, ("", None))
        elsize = ELEMENT_SIZE.get(stype)
        if elsize is None:
            flag("torch.unknown_storage", "high", f"storage {key!r} has no known type; cannot size it", pos)
            break
        raw = blob.read_at(pos, 8)
        if len(raw) < 8:
            flag("torch.truncated_storage", "high", f"storage {key!r} at offset {pos} is truncated", pos)
            break
        (count,) = struct.unpack("<q", raw)
        nbytes = count * elsize
        if count < 0 or pos + 8 + nbytes > size:
            flag(
                "torch.truncated_storage", "high", f"storage {key!r} at offset {pos} runs past the file", pos
            )
            break
        if numel is not None and numel != count:
            flag(
                "torch.storage_size_mismatch",
                "medium",
                f"storage {key!r} declares {numel} elements in the pickle and {count} in the data",
                pos,
            )
        pos += 8 + nbytes
        accounted += 8 + nbytes
    header["storage_keys"] = len(keys)
    header["storage_bytes"] = accounted
    header["trailing_bytes"] = size - pos
    if pos < size:
        flag(
            "pickle.trailing_data",
            "medium",
            f"{size - pos} bytes after the last storage at offset {pos} are not part of the checkpoint",
            pos,
            trailing_bytes=size - pos,
        )
        report.children.append(Child(f"<trailing@{pos}>", SliceBlob(blob, pos, size - pos)))
    return report


def classify_zip_members(names: list[str]) -> dict[str, Any]:
    """What the member names of a zip or tar say about a torch checkpoint.

    Returns ``layout`` ("pytorch-zip", "torchscript", "pytorch-legacy-tar" or ""),
    ``root`` (the zip root directory), ``pickles`` (every member torch's loader or a
    reader may unpickle: every ``.pkl`` plus the legacy tar pickles; the dispatcher
    still sniffs every other member by content), ``data_pkl`` (the one ``torch.load``
    runs), ``storages``, ``code`` (TorchScript sources) and ``problems`` (sentences).
    """
    problems: list[str] = []
    out: dict[str, Any] = {
        "layout": "",
        "root": "",
        "pickles": [],
        "data_pkl": None,
        "storages": [],
        "code": [],
        "problems": problems,
    }
    if not names:
        return out
    if TAR_MEMBERS & {n.strip("/").lstrip("./") for n in names} >= {"sys_info", "pickle"}:
        out["layout"] = "pytorch-legacy-tar"
        out["pickles"] = [n for n in names if n.strip("/").lstrip("./") in TAR_MEMBERS]
        out["data_pkl"] = next((n for n in names if n.strip("/").lstrip("./") == "pickle"), None)
        return out
    out["pickles"] = [n for n in names if n.endswith(".pkl")]
    # torch's zip reader takes the root from the first record's name.
    first = names[0]
    root = first.split("/", 1)[0] if "/" in first else ""
    out["root"] = root
    prefix = root + "/" if root else ""
    data_pkl = prefix + "data.pkl"
    seen: dict[str, int] = {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
    dupes = sorted(n for n, c in seen.items() if c > 1)
    if dupes:
        problems.append(
            f"duplicate member names (readers disagree on which one wins): {', '.join(dupes[:5])}"
        )
    has_version = (prefix + "version") in seen or (prefix + ".data/version") in seen
    if data_pkl in seen or (prefix + "constants.pkl") in seen:
        if (prefix + "constants.pkl") in seen or any(n.startswith(prefix + "code/") for n in names):
            out["layout"] = "torchscript"
            out["code"] = [n for n in names if n.startswith(prefix + "code/")]
        else:
            out["layout"] = "pytorch-zip"
        out["data_pkl"] = data_pkl if data_pkl in seen else None
        out["storages"] = [n for n in names if n.startswith(prefix + "data/")]
        outside = [n for n in names if not n.startswith(prefix)] if prefix else []
        if outside:
            problems.append(f"members outside the root {root!r} that torch ignores: {', '.join(outside[:5])}")
        if not has_version:
            problems.append("no version record: torch refuses the archive, another reader may not")
    return out


def analyse_tar_member(name: str, blob: Blob, limits: Limits = DEFAULT_LIMITS, *, member: str = "") -> Report:
    """The ``storages`` or ``tensors`` member of a legacy tar checkpoint: pickles between raw data.

    Any other member (``sys_info``, ``pickle``) is a plain pickle: use :func:`gate.formats.pickle.parse`.
    """
    base = name.strip("/").lstrip("./")
    report = Report(format="pytorch-legacy-tar-" + base, header={"member": base})
    pos = 0
    size = blob.size
    count_info = analyse(blob, limits, start=0, member=member, max_streams=1, trailing_ok=True, report=report)
    streams = list(count_info.streams)
    count = streams[0].result if streams and streams[0].stop else None
    pos = count_info.end
    if not isinstance(count, int) or count < 0:
        report.add(
            "unsafe_pickle",
            "torch.bad_tar_member",
            "high",
            f"{base}: the first pickle is not a count",
            member=member,
        )
        return report
    done = 0
    for _ in range(min(count, limits.max_entries)):
        one = analyse(blob, limits, start=pos, member=member, max_streams=1, trailing_ok=True, report=report)
        streams.extend(one.streams)
        if not one.streams or not one.streams[0].stop:
            return report
        args = one.streams[0].result
        pos = one.end
        items = args.items if isinstance(args, Seq) else []
        skip: int | None = None
        if base == "storages" and len(items) >= 3 and isinstance(items[2], Glob):
            elsize = ELEMENT_SIZE.get(items[2].name.split(".")[-1])
            raw = blob.read_at(pos, 8)
            if elsize is not None and len(raw) == 8:
                skip = 8 + struct.unpack("<q", raw)[0] * elsize
        elif base == "tensors" and len(items) >= 2:
            raw = blob.read_at(pos, 4)
            if len(raw) == 4:
                (ndim,) = struct.unpack("<i", raw)
                skip = 8 + 16 * ndim + 8 if 0 <= ndim <= 64 else None
        if skip is None or skip < 0 or pos + skip > size:
            report.add(
                "unsafe_pickle",
                "torch.bad_tar_member",
                "high",
                f"{base}: record {done} at offset {pos} cannot be sized",
                member=member,
                offset=pos,
            )
            return report
        pos += skip
        done += 1
    report.header.update({"records": done, "end": pos, "streams": len(streams)})
    if pos < size:
        report.add(
            "unsafe_pickle",
            "pickle.trailing_data",
            "medium",
            f"{size - pos} bytes after the last record of {base}",
            member=member,
            offset=pos,
        )
        report.children.append(Child(f"<trailing@{pos}>", SliceBlob(blob, pos, size - pos)))
    return report
