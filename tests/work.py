"""Counting work without a clock, for tests that check a cost grows linearly.

The suite asserts no timings (the machine's speed varies); the number of profiler events
(Python and C function calls and returns) that a piece of code causes does not. It sees
a quadratic loop written in Python, not a quadratic scan inside one C call.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


def profiler_events(run: Callable[[], object]) -> int:
    """How many profiler events calling ``run()`` causes."""
    count = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal count
        count += 1

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return count
