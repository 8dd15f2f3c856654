"""Installed as users install it: a wheel built from the checkout runs outside the checkout.

The wheel is built by pip (hatchling in an isolated build environment), installed with
``--no-deps`` into a fresh virtualenv whose only other path is the test environment's
site-packages (for the dependencies), and run from a folder outside the repository: the policies,
schemas and profiles it uses are the ones inside the wheel.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.helpers import ROOT


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("install")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work / "dist"), str(ROOT)],
        check=True,
        timeout=600,
    )
    (wheel,) = (work / "dist").glob("gate-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "gate/_data/rego/gate/main/main.rego" in names
    assert "gate/_data/policy-profiles/standalone.yaml" in names
    assert "gate/_data/schemas/input.schema.json" in names
    subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True, timeout=120)
    python = work / "venv" / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        timeout=300,
    )
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "gate-test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return work


def _gate(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    outside = work / "elsewhere"
    outside.mkdir(exist_ok=True)
    return subprocess.run(
        [str(work / "venv" / "bin" / "gate"), *args],
        cwd=outside,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(outside)},
    )


def test_the_installed_gate_is_the_wheel_not_the_checkout(installed: Path) -> None:
    python = installed / "venv" / "bin" / "python"
    where = subprocess.run(
        [str(python), "-c", "import gate, gate.resources as r; print(gate.__file__); print(r.rego_dir())"],
        cwd=installed,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert all(str(installed / "venv") in line for line in where), where
    assert str(ROOT) not in " ".join(where)


def test_the_wheel_decides_a_bundled_example_outside_the_checkout(installed: Path) -> None:
    example = installed / "unsigned.input.json"
    shutil.copy(ROOT / "fixtures" / "container" / "unsigned.input.json", example)
    run = _gate(installed, "eval", "--input", str(example), "--profile", "nim-promotion", "-o", "json")
    assert run.returncode == 1, run.stderr
    assert json.loads(run.stdout)["verdict"] == "block"
    assert "unsigned" in json.loads(run.stdout)["reasons"]


def test_the_wheel_carries_its_rego_tests_and_reason_codes(installed: Path) -> None:
    tests = _gate(installed, "test")
    assert tests.returncode == 0, tests.stdout[-2000:] + tests.stderr
    rules = _gate(installed, "rules", "-o", "json")
    assert rules.returncode == 0 and len(json.loads(rules.stdout)) > 100
