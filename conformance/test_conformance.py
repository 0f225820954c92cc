"""Every scenario through every driver; then, per scenario, all drivers must agree.

``test_scenario[<scenario>-<driver>]`` checks one driver's outcome against the
scenario's expectations. ``test_drivers_agree[<scenario>]`` compares the outcomes of
all drivers (reusing those already computed) and names the drivers that differ from
the core driver, field by field.
"""

from __future__ import annotations

import pytest

from .drivers import DRIVERS, run
from .model import Outcome, check, comparable, differences
from .scenarios import ALL

DRIVER_NAMES = list(DRIVERS)
REFERENCE = "core"

# Bugs in conch that scenarios show on one driver: (scenario, driver) -> the bug.
# Strict xfails: once a bug is fixed its tests pass, fail as XPASS, and the entry goes.
KNOWN_BUGS: dict[tuple[str, str], str] = {}


def _cases() -> list[object]:
    return [
        pytest.param(
            name,
            driver,
            id=f"{name}-{driver}",
            marks=[pytest.mark.xfail(reason=KNOWN_BUGS[name, driver], strict=True)]
            if (name, driver) in KNOWN_BUGS
            else [],
        )
        for name in ALL
        for driver in DRIVER_NAMES
    ]


_outcomes: dict[tuple[str, str], Outcome] = {}


def _outcome(name: str, driver: str) -> tuple[Outcome, list[str]]:
    """Run (once) and check a scenario on a driver; keep its comparable outcome."""
    outcome = run(ALL[name], driver)
    _outcomes[name, driver] = comparable(outcome, ALL[name])
    return outcome, check(ALL[name], outcome)


@pytest.mark.parametrize(("name", "driver"), _cases())
def test_scenario(name: str, driver: str) -> None:
    _, problems = _outcome(name, driver)
    assert not problems, f"{name} on {driver}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("name", list(ALL))
def test_drivers_agree(name: str) -> None:
    outcomes = {}
    for driver in DRIVER_NAMES:
        if (name, driver) not in _outcomes:
            _outcome(name, driver)
        outcomes[driver] = _outcomes[name, driver]
    reference = outcomes[REFERENCE]
    report = []
    for driver, outcome in outcomes.items():
        if outcome != reference:
            report.append(f"{driver} differs from {REFERENCE}:")
            report += [f"    {line}" for line in differences(reference, outcome)]
    assert not report, f"drivers disagree on {name}:\n  " + "\n  ".join(report)
