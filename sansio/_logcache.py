"""The loggers conch writes to, and how their answers are read per request.

Rules
-----
1. `logging` is never imported here: until the program imports it, no logger can take
   records, and `loggers` says so with None (importing it would cost a program that never
   logs ~7 ms on its first request).
2. A logger's answer for a level may be read from logging's own per-logger ``_cache``
   (emptied by logging at every level or `logging.disable` change) only when its class
   answers with `logging.Logger.isEnabledFor` (`reads_cache`) and it is not disabled
   (logging caches no answer then: ``disabled`` is set by `logging.config` without
   emptying any cache). Otherwise, and when the answer is missing, logging is asked.
   Callers read the cache inline: it runs for every request, one call less each time.
"""

from __future__ import annotations

import sys

from ._typing_lite import Any

__all__ = ["loggers"]


def loggers(names: tuple[str, ...]) -> tuple[tuple[Any, ...], bool] | None:
    """The loggers named ``names`` (typed Any: ``_cache`` is not in logging's stubs) and
    whether their answers may be read from logging's cache; None while the program has
    not imported `logging`. Callers keep what it gives (`logging.getLogger` always gives
    the same loggers) rather than ask per request, under logging's lock."""
    if sys.modules.get("logging") is None:
        return None
    import logging

    found = tuple(logging.getLogger(name) for name in names)
    reads_cache = all(type(logger).isEnabledFor is logging.Logger.isEnabledFor for logger in found)
    return found, reads_cache
