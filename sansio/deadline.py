"""The total deadline of one ``send()`` (``Timeout(total=...)``), against an injected clock.

Rules
-----
1. One `Deadline` per ``send()``, started when the send starts and shared by every
   request it makes (redirects, auth round trips, retries): the flow starts it and
   puts it in each request's ``extensions[DEADLINE_EXTENSION]`` while the request is
   sent. A transport used without a client starts one itself from
   ``extensions["timeout"]["total"]`` (`Deadline.of`).
2. ``now`` is always an argument (or a ``clock`` that `Deadline.of` calls only to
   start a deadline), on the monotonic clock of `sansio.env.Env.clock`: the engine's
   ``clock`` must be that same clock (the shells' both are `time.monotonic`).
3. Every wait of a send is bounded by `Deadline.limit`: the phase's own timeout or
   what is left of the total, whichever is shorter. When the total is what ran
   out, the error is the `TimeoutException` subclass of the phase the send was in
   (`Deadline.error`), as if that phase's timeout had passed: a caller's
   ``except httpx.ReadTimeout`` keeps working, and the message says which limit it was.

Phases are the four keys of `sansio.config.Timeout`: ``"pool"`` (waiting for a
connection), ``"connect"`` (TCP, TLS, the proxy handshake, and a back-off wait
before a retry, which the retry policy never lets outlast the deadline), ``"write"``
(sending the request) and ``"read"`` (waiting for and reading the response).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ._frozen import Frozen, set_field
from ._typing_lite import Any, Literal, TypeAlias
from .exceptions import ConnectTimeout, PoolTimeout, ReadTimeout, TimeoutException, WriteTimeout

__all__ = ["DEADLINE_EXTENSION", "NO_DEADLINE", "Deadline", "Phase", "phase_error"]

# The request extension that carries a send's `Deadline` from the flow to the transport.
DEADLINE_EXTENSION = "deadline"

Phase: TypeAlias = Literal["pool", "connect", "write", "read"]

_ERRORS: dict[str, type[TimeoutException]] = {
    "pool": PoolTimeout,
    "connect": ConnectTimeout,
    "write": WriteTimeout,
    "read": ReadTimeout,
}


def phase_error(phase: Phase) -> type[TimeoutException]:
    """The `TimeoutException` subclass a timeout in ``phase`` raises."""
    try:
        return _ERRORS[phase]
    except KeyError:
        raise ValueError(
            f"unknown phase {phase!r}: one of 'pool', 'connect', 'write', 'read'"
        ) from None


class Deadline(Frozen):
    """When a send must be over: ``at`` on ``clock`` (the injected monotonic clock it was
    started on), None for never.

    ``total`` is the budget it was started with (for messages). A deadline is always
    read on the clock it was started on (`now`): the client starts it on its Env's
    clock, and a transport whose engine keeps another clock still measures it there.
    """

    __slots__ = ("at", "clock", "total")
    at: float | None
    total: float | None
    clock: Callable[[], float] | None  # None: the reader's own clock

    def __init__(
        self, at: float | None, total: float | None, clock: Callable[[], float] | None = None
    ) -> None:
        set_field(self, "at", at)
        set_field(self, "total", total)
        set_field(self, "clock", clock)

    @classmethod
    def start(
        cls, total: float | None, now: float, clock: Callable[[], float] | None = None
    ) -> Deadline:
        """A deadline ``total`` seconds after ``now`` (on ``clock``); None: `NO_DEADLINE`."""
        if total is None:
            return NO_DEADLINE
        if isinstance(total, bool) or not isinstance(total, int | float) or not total >= 0:
            raise ValueError(f"a total timeout is a non-negative number or None, got {total!r}")
        return cls(now + total, float(total), clock)

    @classmethod
    def of(cls, extensions: Mapping[str, Any], clock: Callable[[], float]) -> Deadline:
        """The deadline of a request: the send's, or one starting now (``clock()``, read
        only then) from its ``timeout`` extension's ``total`` (a transport called
        without a client)."""
        given = extensions.get(DEADLINE_EXTENSION)
        if isinstance(given, Deadline):
            return given
        timeout: Mapping[str, Any] = extensions.get("timeout") or {}
        total = timeout.get("total")
        return NO_DEADLINE if total is None else cls.start(total, clock(), clock)

    def now(self, own_clock: Callable[[], float]) -> float:
        """The time on the clock this deadline was started on (``own_clock``, the
        reader's, for a deadline made without one)."""
        clock = self.clock
        return (own_clock if clock is None else clock)()

    def remaining(self, now: float) -> float | None:
        """Seconds left (never negative); None without a deadline."""
        at, total = self.at, self.total
        if at is None or total is None:
            return None
        # Clamped to the total too: ``(now + total) - now`` may round above ``total``.
        return min(max(at - now, 0.0), total)

    def expired(self, now: float) -> bool:
        at = self.at
        return at is not None and now >= at

    def limit(self, timeout: float | None, now: float) -> tuple[float | None, bool]:
        """How long the next wait may last: ``min(timeout, remaining)`` (None: no limit),
        and whether the deadline is what sets it (True) rather than the phase's own
        ``timeout``; the caller then raises `error` instead of its usual timeout."""
        left = self.remaining(now)
        if left is None or (timeout is not None and timeout <= left):
            return timeout, False
        return left, True

    def error(self, phase: Phase) -> TimeoutException:
        """The error for a send whose total timeout ran out during ``phase``."""
        kind = phase_error(phase)
        return kind(
            f"the total timeout of {self.total:g} s for the request passed "
            f"(while in the {phase} phase)"
        )

    def check(self, phase: Phase, now: float) -> None:
        """Raise `error` if the deadline has passed; call before starting a phase."""
        if self.expired(now):
            raise self.error(phase)


NO_DEADLINE = Deadline(None, None)
