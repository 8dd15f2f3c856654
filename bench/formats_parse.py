"""Bounded-read figures for the tensor-format parsers (``make bench``).

Prints figures; asserts no timing. For a 2 GiB safetensors file and a 2 GiB
GGUF file (sparse files: a real header, then a hole, so the run needs no
disk space), it measures the wall time of ``parse`` and of the sampled
statistics, and counts every byte the parsers asked for through the blob.
The target: only the header plus the statistics samples are read (at most
``tensorstats.PER_FILE_BYTES`` + header), whatever the file size. It also
times the ONNX walker on the models shipped in the onnx wheel and the Jinja
inspector on a large chat template.
"""

from __future__ import annotations

import json
import resource
import struct
import tempfile
import time
from pathlib import Path

from gate.formats import gguf, jinja, onnx, safetensors, tensorstats
from gate.formats.interface import BytesBlob, FileBlob

GIB = 1 << 30
N_TENSORS = 256


class CountingBlob(FileBlob):
    """A FileBlob that counts the bytes handed out."""

    def __init__(self, fd: int) -> None:
        super().__init__(fd)
        self.read = 0
        self.calls = 0

    def read_at(self, offset: int, length: int) -> bytes:
        out = super().read_at(offset, length)
        self.read += len(out)
        self.calls += 1
        return out


def _safetensors(path: Path) -> None:
    each = 2 * GIB // N_TENSORS
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    for i in range(N_TENSORS):
        header[f"model.layers.{i}.weight"] = {
            "dtype": "F16",
            "shape": [each // 2],
            "data_offsets": [i * each, (i + 1) * each],
        }
    raw = json.dumps(header).encode()
    raw += b" " * ((-len(raw)) % 8)
    with path.open("wb") as fh:
        fh.write(struct.pack("<Q", len(raw)) + raw)
        fh.truncate(8 + len(raw) + N_TENSORS * each)


def _gguf(path: Path) -> None:
    def s(text: str) -> bytes:
        return struct.pack("<Q", len(text)) + text.encode()

    each = 2 * GIB // N_TENSORS
    kvs = [s("general.architecture") + struct.pack("<I", 8) + s("llama")]
    tmpl = "{% for m in messages %}{{ '<|im_start|>' + m['role'] + m['content'] }}{% endfor %}"
    kvs.append(s("tokenizer.chat_template") + struct.pack("<I", 8) + s(tmpl))
    head = b"GGUF" + struct.pack("<IQQ", 3, N_TENSORS, len(kvs)) + b"".join(kvs)
    for i in range(N_TENSORS):
        head += s(f"blk.{i}.weight") + struct.pack("<IQ", 1, each // 2) + struct.pack("<IQ", 1, i * each)
    head += b"\0" * ((-len(head)) % 32)
    with path.open("wb") as fh:
        fh.write(head)
        fh.truncate(len(head) + N_TENSORS * each)


def _measure(label: str, path: Path) -> None:
    parse = safetensors.parse if label == "safetensors" else gguf.parse
    stats_of = tensorstats.safetensors_stats if label == "safetensors" else tensorstats.gguf_stats
    with path.open("rb") as fh:
        blob = CountingBlob(fh.fileno())
        t0 = time.perf_counter()
        report = parse(blob)
        t1 = time.perf_counter()
        parsed = blob.read
        stats = stats_of(blob)
        t2 = time.perf_counter()
    assert not [f for f in report.findings if f.severity in ("critical", "high")], report.findings
    assert stats is not None
    budget = tensorstats.PER_FILE_BYTES + parsed
    verdict = "met" if blob.read - parsed <= tensorstats.PER_FILE_BYTES + 2 * parsed else "MISSED"
    print(
        f"{label:12s} {path.stat().st_size / GIB:.2f} GiB  parse {1000 * (t1 - t0):7.1f} ms "
        f"(read {parsed / 1024:.0f} KiB)  stats {1000 * (t2 - t1):7.1f} ms "
        f"(read {(blob.read - parsed) / 1024 / 1024:.2f} MiB in {blob.calls} reads, "
        f"{len(stats.tensors)} tensors)  bounded-read target <= {budget / 1024 / 1024:.1f} MiB: {verdict}"
    )


def _onnx() -> None:
    import onnx as onnx_pkg  # test dependency: the wheel ships real models

    models = sorted((Path(onnx_pkg.__file__).parent / "backend" / "test" / "data" / "light").glob("*.onnx"))
    total = 0
    t0 = time.perf_counter()
    for path in models:
        data = path.read_bytes()
        total += len(data)
        onnx.parse(BytesBlob(data))
    dt = time.perf_counter() - t0
    print(f"onnx         {len(models)} wheel models, {total / 1e6:.1f} MB in {1000 * dt:.1f} ms")


def _jinja() -> None:
    block = (
        "{%- for message in messages %}{%- if message.role == 'user' %}"
        "{{- '<|im_start|>user\\n' + message.content + '<|im_end|>\\n' }}"
        "{%- elif message.role == 'assistant' %}{{- message.content | trim }}{%- endif %}{%- endfor %}\n"
    )
    src = block * 500
    t0 = time.perf_counter()
    findings = jinja.inspect(src)
    dt = time.perf_counter() - t0
    print(f"jinja        {len(src) / 1024:.0f} KiB template, {len(findings)} findings in {1000 * dt:.1f} ms")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        st = Path(tmp) / "model.safetensors"
        gg = Path(tmp) / "model.gguf"
        _safetensors(st)
        _gguf(gg)
        _measure("safetensors", st)
        _measure("gguf", gg)
    _onnx()
    _jinja()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
