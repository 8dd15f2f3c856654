"""regorus (default) against real OPA (reference): any difference fails.

Every Rego unit test and every bundled example is evaluated on both engines;
the statuses and the full decision documents must be identical.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.decide import Decider
from gate.document import load_input
from gate.profile import load_profile
from gate.regotest import run_tests
from gate.resources import rego_dir
from tests.conftest import CONTAINER_FIXTURES, container_examples


def _statuses(root: Path, engine: str) -> dict[str, str]:
    run = run_tests(root, engine=engine)
    return {f"data.{r.test.package}.{r.test.name}": r.status for r in run.results}


def test_every_rego_unit_test_agrees() -> None:
    regorus = _statuses(rego_dir(), "regorus")
    opa = _statuses(rego_dir(), "opa")
    assert regorus == opa
    assert len(regorus) >= 70
    assert set(regorus.values()) == {"PASS"}


@pytest.fixture(scope="module")
def deciders() -> dict[str, Decider]:
    profile = load_profile("nim-promotion")
    return {name: Decider(profile, name) for name in ("regorus", "opa")}


@pytest.mark.parametrize("name", container_examples())
def test_every_example_decision_agrees(name: str, deciders: dict[str, Decider]) -> None:
    document = load_input(str(CONTAINER_FIXTURES / f"{name}.input.json"))
    assert deciders["regorus"].decide(document) == deciders["opa"].decide(document)


# A policy on which the engines are known to disagree: OPA evaluates a
# function argument before the surrounding "not", regorus does not. The
# differential comparison must see the difference, or it could never fail.
_DIVERGENT = """\
package divergent

import rego.v1

usable(report) if report.ok == true

test_missing_report_is_unusable if {
	not usable(input.missing)
}
"""


def test_the_comparison_detects_a_known_divergence(tmp_path: Path) -> None:
    (tmp_path / "divergent.rego").write_text(_DIVERGENT)
    assert _statuses(tmp_path, "regorus") != _statuses(tmp_path, "opa")


@pytest.mark.parametrize("engine", ["regorus", "opa"])
def test_a_batch_decides_exactly_what_one_by_one_decides(engine: str) -> None:
    """Decider.decide_many (hygiene's batches) equals decide() per document, in order, on both engines."""
    profile = load_profile("nim-promotion")
    decider = Decider(profile, engine)
    documents = [
        load_input(str(CONTAINER_FIXTURES / f"{name}.input.json")) for name in container_examples()[:8]
    ]
    assert decider.decide_many(documents) == [decider.decide(d) for d in documents]
    assert decider.decide_many([]) == []
