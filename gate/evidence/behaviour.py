"""Evidence for stage 6: the behavioural smoke test of a GGUF model (``evidence.behaviour``).

Records, never decides: which runtime ran in which sandbox, the suite's
digest, every prompt's outcome with the danger patterns its answer matched
and a bounded excerpt; or why nothing ran. The stage applies to single GGUF
files (the seed's rule); for anything else it is recorded as not applicable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def collect_behaviour(root: Path, artifact: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """Run the profile's smoke test on *root* when it applies; the section either way."""
    files = artifact.get("files", [])
    is_gguf = artifact.get("kind") == "file" and len(files) == 1 and files[0].get("format") == "gguf"
    if not is_gguf:
        return {
            "ran": False,
            "applicable": False,
            "detail": "the behaviour stage runs single GGUF model files only",
        }
    if not settings.get("run", False):
        return {
            "ran": False,
            "detail": "the profile does not run behaviour tests (artifact.behaviour.run: false)",
        }
    from gate.behaviour.runner import Settings, run_suite
    from gate.behaviour.suite import load_suite

    suite = load_suite(settings.get("suite"))
    return run_suite(root, suite, Settings.from_profile(settings))
