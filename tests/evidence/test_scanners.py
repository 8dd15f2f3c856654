"""gate/evidence/scanners.py: second-opinion scanners by subprocess, failing closed."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gate.evidence.interface import Collection
from gate.evidence.scanners import find, run_one

EVIL = b"cos\nsystem\n(S'echo pwned'\ntR."

# What modelaudit 0.2.x writes with --format json --output FILE.
MODELAUDIT_REPORT = {
    "bytes_scanned": 31,
    "files_scanned": 1,
    "has_errors": False,
    "issues": [
        {
            "message": "Suspicious module reference found: os.system",
            "severity": "critical",
            "location": "evil.pkl (pos 0)",
            "details": {"module": "os", "function": "system"},
        }
    ],
}


def _stand_in(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/usr/bin/env python3\nimport json, sys, time\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ['PATH']}")
    return directory


@pytest.fixture
def evil(tmp_path: Path) -> Path:
    path = tmp_path / "evil.pkl"
    path.write_bytes(EVIL)
    return path


REPLAY = """\
if sys.argv[1:] == ["--version"]:
    print("modelaudit, version 0.2.54"); sys.exit(0)
out = sys.argv[sys.argv.index("--output") + 1]
open(out, "w").write(json.dumps(%s))
sys.exit(1)
"""


def test_stand_in_modelaudit_report_is_parsed(bin_dir: Path, evil: Path) -> None:
    _stand_in(bin_dir, "modelaudit", REPLAY % repr(MODELAUDIT_REPORT))
    collection = Collection()
    record = run_one("modelaudit", str(evil), {"kind": "file"}, 10, collection)
    assert record["installed"] is True
    assert record["version"] == "0.2.54"
    assert record["exit_code"] == 1
    assert record["issues"][0]["severity"] == "critical"
    assert "os.system" in record["issues"][0]["detail"]
    assert collection.executed_commands[-1][:4] == [str(bin_dir / "modelaudit"), "scan", "--format", "json"]


def test_hanging_scanner_is_killed_and_recorded(bin_dir: Path, evil: Path) -> None:
    _stand_in(bin_dir, "modelaudit", 'if sys.argv[1:] == ["--version"]:\n    sys.exit(0)\ntime.sleep(60)\n')
    collection = Collection()
    record = run_one("modelaudit", str(evil), {"kind": "file"}, 1, collection)
    assert record["timed_out"] is True
    assert "timed out" in collection.errors[-1]["message"]


@pytest.mark.parametrize(
    "body",
    [
        'out = sys.argv[sys.argv.index("--output") + 1]\nopen(out, "w").write("<html>nope")\nsys.exit(0)\n',
        "sys.exit(0)\n",  # no report at all
        'raise SystemExit("Traceback: boom")\n',  # a crash
        'out = sys.argv[sys.argv.index("--output") + 1]\n'
        'open(out, "w").write(\'{"issues": [], "has_errors": true}\')\n',
    ],
)
def test_garbage_or_crash_is_an_error(bin_dir: Path, evil: Path, body: str) -> None:
    _stand_in(bin_dir, "modelaudit", 'if sys.argv[1:] == ["--version"]:\n    sys.exit(0)\n' + body)
    record = run_one("modelaudit", str(evil), {"kind": "file"}, 10, Collection())
    assert record.get("error"), record
    assert record["issues"] == []


def test_missing_scanner(bin_dir: Path, evil: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr("sys.executable", str(bin_dir / "python"))
    assert find("modelaudit") is None
    assert run_one("modelaudit", str(evil), {}, 10, Collection()) == {
        "name": "modelaudit",
        "installed": False,
    }


@pytest.mark.skipif(find("modelscan") is None, reason="modelscan is not installed (pip install modelscan)")
def test_real_modelscan_flags_os_system(evil: Path) -> None:
    artifact = {"kind": "file", "files": [{"path": "evil.pkl", "format": "pickle"}]}
    record = run_one("modelscan", str(evil), artifact, 120, Collection())
    assert record["version"].startswith("0.")
    assert any(i["severity"] == "critical" and "system" in i["detail"] for i in record["issues"]), record


@pytest.mark.skipif(find("fickling") is None, reason="fickling is not installed (pip install fickling)")
def test_real_fickling_flags_os_system(evil: Path) -> None:
    artifact = {"kind": "file", "files": [{"path": "evil.pkl", "format": "pickle"}]}
    record = run_one("fickling", str(evil), artifact, 120, Collection())
    assert record["issues"][0]["severity"] == "critical", record
    # fickling only reads pickles: nothing to run on a safetensors file.
    clean = run_one(
        "fickling", str(evil), {"kind": "file", "files": [{"format": "safetensors"}]}, 120, Collection()
    )
    assert clean["issues"] == []
    assert clean["targets"] == 0 and "supports" in clean["skipped"]


# A modelscan stand-in that logs each target, crashes on .npy files and objects to evil.pkl.
LOGGING_MODELSCAN = """\
if sys.argv[1:] == ["--version"]:
    print("modelscan, version 0.8.8"); sys.exit(0)
target = sys.argv[sys.argv.index("-p") + 1]
open(%r, "a").write(target + "\\n")
if target.endswith(".npy"):
    raise SystemExit("AttributeError: module 'numpy.lib.format' has no attribute '_check_version'")
out = sys.argv[sys.argv.index("-o") + 1]
issues = [{"severity": "CRITICAL", "description": "os.system", "source": target}] if "evil" in target else []
open(out, "w").write(json.dumps({"issues": issues, "errors": []}))
sys.exit(1 if issues else 0)
"""


def test_scanner_runs_only_on_the_formats_it_supports(bin_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "ran.log"
    _stand_in(bin_dir, "modelscan", LOGGING_MODELSCAN % str(log))
    model = tmp_path / "model"
    model.mkdir()
    for name in ("weights.safetensors", "config.json", "a.npy", "evil.pkl"):
        (model / name).write_bytes(b"x")
    artifact = {
        "kind": "dir",
        "files": [
            {"path": "weights.safetensors", "format": "safetensors"},
            {"path": "config.json", "format": "json"},
            {"path": "a.npy", "format": "npy"},
            {"path": "evil.pkl", "format": "pickle"},
        ],
    }
    collection = Collection()
    record = run_one("modelscan", str(model), artifact, 10, collection)
    ran = log.read_text().split()
    assert [Path(t).name for t in ran] == ["a.npy", "evil.pkl"]  # not the safetensors or JSON
    assert record["targets"] == 2
    # The crash on a.npy is recorded, and the finding on evil.pkl (scanned after it) is kept.
    assert "a.npy" in record["error"] and "_check_version" in record["error"]
    assert [i["detail"] for i in record["issues"]] == ["os.system"]

    log.unlink()
    only_weights = {"kind": "file", "files": [{"path": "w.safetensors", "format": "safetensors"}]}
    skipped = run_one("modelscan", str(model / "weights.safetensors"), only_weights, 10, Collection())
    assert not log.exists()  # never started on a format it has no scanner for
    assert skipped["targets"] == 0 and skipped["issues"] == [] and "error" not in skipped
