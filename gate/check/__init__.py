"""``gate check``: conftest-style policy checks over configuration files."""

from gate.check.runner import CheckResult, CheckRun, Result, run_check

__all__ = ["CheckResult", "CheckRun", "Result", "run_check"]
