"""Every input the fuzzers ever found, and every seed, kept to the parser contract (fuzz/targets.py).

This runs the fuzz targets' own checks without atheris: ``fuzz/regressions/<target>/`` holds
the inputs that once broke a parser, and each target's seeds (real files and files written by
the real libraries) must pass too, so the harness cannot rot between fuzzing runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.seeds import write_seeds
from fuzz.targets import TARGETS
from tests.helpers import ROOT

REGRESSIONS = ROOT / "fuzz" / "regressions"


def _kept() -> list[tuple[str, Path]]:
    return [
        (folder.name, path)
        for folder in sorted(REGRESSIONS.iterdir())
        for path in sorted(folder.iterdir())
        if path.is_file()
    ]


def test_every_regression_folder_names_a_target() -> None:
    assert {folder.name for folder in REGRESSIONS.iterdir()} <= set(TARGETS)


@pytest.mark.parametrize(("target", "path"), _kept(), ids=lambda v: v if isinstance(v, str) else v.name)
def test_a_kept_finding_keeps_the_contract(target: str, path: Path) -> None:
    TARGETS[target].run(path.read_bytes())


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_seed_keeps_the_contract(target: str, tmp_path: Path) -> None:
    count = write_seeds(target, tmp_path)
    assert count > 0, f"{target} has no seeds"
    for seed in sorted(tmp_path.iterdir()):
        TARGETS[target].run(seed.read_bytes())
