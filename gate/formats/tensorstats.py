"""Sampled entropy and weight-distribution statistics for safetensors and GGUF tensors.

Bounded reads only: at most ``PER_TENSOR_BYTES`` (64 KiB) per tensor and
``PER_FILE_BYTES`` (16 MiB) per file; when a file has many tensors the
per-tensor share shrinks (never below ``MIN_TENSOR_BYTES``, 4 KiB) and
tensors past the file budget are counted as unsampled. A tensor larger than
its share is read as ``CHUNKS`` equal chunks at evenly spaced, element-aligned
positions (first, last and between), so the same file always gives the same
figures. Bytes are viewed with ``numpy.frombuffer`` (a reinterpretation of raw
bytes, not deserialization).

Per tensor: sampled bytes and elements, NaN / Inf counts, mean, std, min, max,
max |x|, fraction of zeros, byte-level Shannon entropy (bits per byte). Float
types (F16, BF16, F32, F64) and integer types get value statistics; other
types (F8, sub-byte, GGUF quantized) get byte entropy, and for GGUF block
quantizations the per-block float scales are decoded and checked for NaN/Inf.

:func:`anomalies` turns the statistics into findings using thresholds from the
profile; :data:`DEFAULT_THRESHOLDS` documents the defaults, which real weights
pass (random-normal F32/F16/BF16/F64 tensors measure 6.0 - 7.7 bits per byte;
random or encrypted bytes measure above 7.95 from 4 KiB on).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from gate.formats import gguf, safetensors
from gate.formats.interface import DEFAULT_LIMITS, Blob, Finding, Limits

PER_TENSOR_BYTES = 64 * 1024
PER_FILE_BYTES = 16 * 1024 * 1024
MIN_TENSOR_BYTES = 4 * 1024
CHUNKS = 4

DEFAULT_THRESHOLDS: dict[str, Any] = {
    "float_entropy_max": 7.9,
    "float_entropy_min": 0.0,
    "entropy_min_sample_bytes": 4096,
    "max_nan": 0,
    "max_inf": 0,
    "abs_max": 1.0e6,
    "max_bad_scales": 0,
}
"""Defaults for :func:`anomalies`; a profile overrides any of them.

- ``float_entropy_max``: byte entropy above this in a float tensor (sampled from at
  least ``entropy_min_sample_bytes``) looks like compressed or encrypted data -> ``entropy_anomaly``;
- ``float_entropy_min``: entropy below this -> ``entropy_anomaly`` (0 disables it: freshly
  initialised models legitimately hold constant tensors, e.g. zero biases);
- ``max_nan`` / ``max_inf``: more NaN / Inf values than this in a float tensor -> ``weight_anomaly``;
- ``abs_max``: any |value| above this -> ``weight_anomaly`` (random bytes read as floats reach 1e38);
- ``max_bad_scales``: NaN/Inf block scales in a quantized GGUF tensor -> ``weight_anomaly``.
"""

_NUMPY_TYPES: dict[str, str] = {
    "F16": "f2",
    "F32": "f4",
    "F64": "f8",
    "I8": "i1",
    "U8": "u1",
    "I16": "i2",
    "U16": "u2",
    "I32": "i4",
    "U32": "u4",
    "I64": "i8",
    "U64": "u8",
}
FLOAT_TYPES = frozenset({"F16", "BF16", "F32", "F64"})

# GGUF block quantizations whose blocks carry float scales: type -> ((offset, numpy type), ...)
_SCALES: dict[str, tuple[tuple[int, str], ...]] = {
    "Q4_0": ((0, "f2"),),
    "Q4_1": ((0, "f2"), (2, "f2")),
    "Q5_0": ((0, "f2"),),
    "Q5_1": ((0, "f2"), (2, "f2")),
    "Q8_0": ((0, "f2"),),
    "Q8_1": ((0, "f2"), (2, "f2")),
    "Q4_K": ((0, "f2"), (2, "f2")),
    "Q5_K": ((0, "f2"), (2, "f2")),
    "Q2_K": ((-4, "f2"), (-2, "f2")),
    "Q3_K": ((-2, "f2"),),
    "Q6_K": ((-2, "f2"),),
    "Q8_K": ((0, "f4"),),
}


@dataclass
class TensorStats:
    """Statistics of one tensor's sampled bytes."""

    name: str
    dtype: str
    nbytes: int
    sampled_bytes: int = 0
    count: int = 0
    """Elements decoded from the sample (0 for byte-entropy-only types)."""
    nan: int = 0
    inf: int = 0
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    abs_max: float | None = None
    zero_fraction: float | None = None
    entropy: float | None = None
    """Shannon entropy of the sampled bytes, bits per byte (0..8)."""
    scales: int = 0
    """Block scales decoded (GGUF quantized types)."""
    bad_scales: int = 0
    """Of those, NaN or Inf."""

    def to_json(self) -> dict[str, Any]:
        """JSON-able form (non-finite floats become strings)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, float) and not math.isfinite(value):
                out[key] = str(value)
        return out


@dataclass
class FileStats:
    """Statistics of one file's tensors."""

    format: str
    tensors: list[TensorStats] = field(default_factory=list)
    unsampled: int = 0
    """Tensors not sampled because the file budget ran out."""
    sampled_bytes: int = 0

    def summary(self, max_tensors: int = 256) -> dict[str, Any]:
        """File-level aggregates plus the first *max_tensors* tensors, JSON-able."""
        floats = [t for t in self.tensors if t.dtype in FLOAT_TYPES and t.count]
        entropies = [t.entropy for t in self.tensors if t.entropy is not None]
        return {
            "format": self.format,
            "tensor_count": len(self.tensors) + self.unsampled,
            "sampled_tensors": len(self.tensors),
            "unsampled_tensors": self.unsampled,
            "sampled_bytes": self.sampled_bytes,
            "nan": sum(t.nan for t in self.tensors),
            "inf": sum(t.inf for t in self.tensors),
            "bad_scales": sum(t.bad_scales for t in self.tensors),
            "abs_max": max((t.abs_max for t in floats if t.abs_max is not None), default=None),
            "entropy_min": min(entropies, default=None),
            "entropy_max": max(entropies, default=None),
            "entropy_mean": sum(entropies) / len(entropies) if entropies else None,
            "tensors": [t.to_json() for t in self.tensors[:max_tensors]],
        }


def byte_entropy(data: bytes) -> float:
    """Shannon entropy of *data* in bits per byte."""
    if not data:
        return 0.0
    counts = np.bincount(np.frombuffer(data, dtype=np.uint8), minlength=256)
    p = counts[counts > 0] / len(data)
    return float(-(p * np.log2(p)).sum())


def _positions(nbytes: int, budget: int, unit: int) -> list[tuple[int, int]]:
    """(offset, length) pairs within a tensor: all of it, or CHUNKS aligned chunks."""
    if nbytes <= budget:
        return [(0, nbytes)]
    chunk = max(unit, budget // CHUNKS // unit * unit)
    last = (nbytes - chunk) // unit * unit
    return sorted({(last * i // (CHUNKS - 1) // unit * unit, chunk) for i in range(CHUNKS)})


def _values(sample: bytes, dtype: str, endian: str) -> np.ndarray[Any, Any] | None:
    if dtype == "BF16":
        raw = np.frombuffer(sample, dtype=endian + "u2").astype(np.uint32) << 16
        return raw.view(np.float32)
    code = _NUMPY_TYPES.get(dtype)
    if code is None:
        return None
    return np.frombuffer(sample, dtype=endian + code)


def tensor_stats(
    blob: Blob, name: str, dtype: str, start: int, nbytes: int, budget: int, endian: str = "<"
) -> TensorStats:
    """Sample one tensor stored at ``[start, start + nbytes)`` and compute its statistics."""
    stats = TensorStats(name[:256], dtype, nbytes)
    block = gguf_block(dtype)
    unit = block[1] if block else max(1, _itemsize(dtype))
    parts = [blob.read_at(start + off, length) for off, length in _positions(nbytes, budget, unit)]
    sample = b"".join(parts)
    stats.sampled_bytes = len(sample)
    stats.entropy = round(byte_entropy(sample), 4)
    if block:
        _scale_stats(stats, parts, dtype, block[1], endian)
        return stats
    usable = b"".join(p[: len(p) // unit * unit] for p in parts)
    values = _values(usable, dtype, endian)
    if values is None or values.size == 0:
        return stats
    _value_stats(stats, values)
    return stats


def _itemsize(dtype: str) -> int:
    if dtype == "BF16":
        return 2
    code = _NUMPY_TYPES.get(dtype)
    return int(code[1]) if code else 1


def gguf_block(type_name: str) -> tuple[int, int] | None:
    """(elements, bytes) per block for a GGUF block-quantized type, else None."""
    for name, block, size in gguf.GGML_TYPES.values():
        if name == type_name and block > 1:
            return block, size
    return None


def _value_stats(stats: TensorStats, values: np.ndarray[Any, Any]) -> None:
    with np.errstate(all="ignore"):  # junk bytes overflow sums; the figures still tell the story
        _value_stats_inner(stats, values)


def _value_stats_inner(stats: TensorStats, values: np.ndarray[Any, Any]) -> None:
    stats.count = int(values.size)
    if values.dtype.kind == "f":
        as64 = values.astype(np.float64)
        nan = np.isnan(as64)
        inf = np.isinf(as64)
        stats.nan, stats.inf = int(nan.sum()), int(inf.sum())
        finite = as64[~(nan | inf)]
    else:
        finite = values.astype(np.float64)
    stats.zero_fraction = round(float((values == 0).sum()) / values.size, 6)
    if finite.size:
        stats.mean = float(finite.mean())
        stats.std = float(finite.std())
        stats.min = float(finite.min())
        stats.max = float(finite.max())
        stats.abs_max = float(np.abs(finite).max())
    if stats.inf:
        stats.abs_max = math.inf


def _scale_stats(stats: TensorStats, parts: list[bytes], dtype: str, block_bytes: int, endian: str) -> None:
    layout = _SCALES.get(dtype)
    if not layout:
        return
    for part in parts:
        blocks = len(part) // block_bytes
        if not blocks:
            continue
        arr = np.frombuffer(part[: blocks * block_bytes], dtype=np.uint8).reshape(blocks, block_bytes)
        for offset, code in layout:
            size = int(code[1])
            col = offset % block_bytes
            raw = np.ascontiguousarray(arr[:, col : col + size]).tobytes()
            scales = np.frombuffer(raw, dtype=endian + code)
            stats.scales += int(scales.size)
            stats.bad_scales += int((~np.isfinite(scales)).sum())


def _share(count: int) -> int:
    if count <= 0:
        return PER_TENSOR_BYTES
    return max(MIN_TENSOR_BYTES, min(PER_TENSOR_BYTES, PER_FILE_BYTES // count))


def safetensors_stats(blob: Blob, limits: Limits = DEFAULT_LIMITS) -> FileStats | None:
    """Statistics for a safetensors file, or None when its header does not parse."""
    _, index = safetensors.read_index(blob, limits)
    if index is None:
        return None
    out = FileStats("safetensors")
    share = _share(len(index.tensors))
    for t in index.tensors:
        start = index.data_start + t.begin
        nbytes = max(0, min(t.end, blob.size - index.data_start) - t.begin)
        if out.sampled_bytes >= PER_FILE_BYTES:
            out.unsampled += 1
            continue
        stats = tensor_stats(blob, t.name, t.dtype, start, nbytes, share)
        out.sampled_bytes += stats.sampled_bytes
        out.tensors.append(stats)
    return out


def gguf_stats(blob: Blob, limits: Limits = DEFAULT_LIMITS) -> FileStats | None:
    """Statistics for a GGUF file, or None when its tensor table does not parse."""
    report, index = gguf.read_index(blob, limits)
    if index is None:
        return None
    endian = "<" if report.header.get("endianness", "little") == "little" else ">"
    out = FileStats("gguf")
    share = _share(len(index.tensors))
    for t in index.tensors:
        nbytes = max(0, min(t.nbytes, blob.size - t.start))
        if out.sampled_bytes >= PER_FILE_BYTES:
            out.unsampled += 1
            continue
        stats = tensor_stats(blob, t.name, t.type_name, t.start, nbytes, share, endian)
        out.sampled_bytes += stats.sampled_bytes
        out.tensors.append(stats)
    return out


def anomalies(stats: FileStats, thresholds: dict[str, Any] | None = None) -> list[Finding]:
    """``entropy_anomaly`` / ``weight_anomaly`` findings for *stats* under *thresholds*."""
    th = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
    out: list[Finding] = []
    for t in stats.tensors:
        data = {"tensor": t.name, "dtype": t.dtype}
        is_float = t.dtype in FLOAT_TYPES
        if is_float and t.entropy is not None and t.sampled_bytes >= th["entropy_min_sample_bytes"]:
            if t.entropy > th["float_entropy_max"]:
                out.append(
                    Finding(
                        "entropy_anomaly",
                        "tensorstats.entropy_high",
                        "high",
                        f"{t.dtype} tensor {t.name!r} has {t.entropy:.3f} bits/byte, above "
                        f"{th['float_entropy_max']}: its bytes look compressed or encrypted, "
                        "not like weights",
                        data={**data, "entropy": t.entropy},
                    )
                )
            elif t.entropy < th["float_entropy_min"]:
                out.append(
                    Finding(
                        "entropy_anomaly",
                        "tensorstats.entropy_low",
                        "medium",
                        f"{t.dtype} tensor {t.name!r} has {t.entropy:.3f} bits/byte, "
                        f"below {th['float_entropy_min']}",
                        data={**data, "entropy": t.entropy},
                    )
                )
        if is_float and t.nan > th["max_nan"]:
            out.append(
                Finding(
                    "weight_anomaly",
                    "tensorstats.nan",
                    "high",
                    f"tensor {t.name!r}: {t.nan} of {t.count} sampled values are NaN",
                    data={**data, "nan": t.nan, "count": t.count},
                )
            )
        if is_float and t.inf > th["max_inf"]:
            out.append(
                Finding(
                    "weight_anomaly",
                    "tensorstats.inf",
                    "high",
                    f"tensor {t.name!r}: {t.inf} of {t.count} sampled values are infinite",
                    data={**data, "inf": t.inf, "count": t.count},
                )
            )
        if is_float and t.abs_max is not None and math.isfinite(t.abs_max) and t.abs_max > th["abs_max"]:
            out.append(
                Finding(
                    "weight_anomaly",
                    "tensorstats.abs_max",
                    "high",
                    f"tensor {t.name!r} holds values up to {t.abs_max:.3g}, beyond {th['abs_max']:.3g}: "
                    "these bytes are not plausible weights",
                    data={**data, "abs_max": t.abs_max},
                )
            )
        if t.bad_scales > th["max_bad_scales"]:
            out.append(
                Finding(
                    "weight_anomaly",
                    "tensorstats.bad_scales",
                    "high",
                    f"quantized tensor {t.name!r}: {t.bad_scales} of {t.scales} block scales are NaN or Inf",
                    data={**data, "bad_scales": t.bad_scales, "scales": t.scales},
                )
            )
    return out
