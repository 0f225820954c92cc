"""The scenario corpus, one module per topic; `ALL` holds every scenario by name."""

from __future__ import annotations

from conformance.model import Scenario

from . import (
    auth,
    concurrency,
    cookies,
    decoding,
    expect_continue,
    framing,
    h2,
    keepalive,
    malformed,
    redirects,
    requests,
    retries,
    sse,
    streaming,
    timeouts,
)

__all__ = ["ALL", "MODULES"]

MODULES = (
    framing,
    keepalive,
    malformed,
    redirects,
    auth,
    cookies,
    decoding,
    streaming,
    timeouts,
    requests,
    retries,
    expect_continue,
    h2,
    sse,
    concurrency,
)


def _collect() -> dict[str, Scenario]:
    found: dict[str, Scenario] = {}
    for module in MODULES:
        for scenario in module.SCENARIOS:
            if scenario.name in found:
                raise ValueError(f"two scenarios are named {scenario.name!r}")
            found[scenario.name] = scenario
    return found


ALL: dict[str, Scenario] = _collect()
