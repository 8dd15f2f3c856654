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
    assert "issues" not in record


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
    record = run_one("modelscan", str(evil), {"kind": "file"}, 120, Collection())
    assert record["version"].startswith("0.")
    assert any(i["severity"] == "critical" and "system" in i["detail"] for i in record["issues"]), record


@pytest.mark.skipif(find("fickling") is None, reason="fickling is not installed (pip install fickling)")
def test_real_fickling_flags_os_system(evil: Path) -> None:
    artifact = {"kind": "file", "files": [{"path": "evil.pkl", "formats": ["pickle"]}]}
    record = run_one("fickling", str(evil), artifact, 120, Collection())
    assert record["issues"][0]["severity"] == "critical", record
    # fickling only reads pickles: nothing to run on a safetensors file.
    clean = run_one(
        "fickling", str(evil), {"kind": "file", "files": [{"formats": ["safetensors"]}]}, 120, Collection()
    )
    assert clean["issues"] == []
