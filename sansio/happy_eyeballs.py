"""Happy Eyeballs (RFC 8305): in which order to try a host's addresses, and when.

The shell resolves the host (``getaddrinfo``: both families at once, already sorted
by the system's RFC 6724 rules) and connects; this module decides everything else::

    race = HappyEyeballs(order_addresses(infos, key=lambda info: info[4][0]))
    while True:
        step = race.next_step(clock())
        if isinstance(step, Start):
            ...   # begin connecting to step.address, concurrently; each attempt
                  # reports race.failed(i, error), or race.connected(i) (False: close it)
        elif isinstance(step, Wait):
            ...   # wait for a report, but no later than step.until (None: no limit)
        elif isinstance(step, Connected):
            break  # step.index won: cancel the attempts in step.cancel
        else:
            raise step.error  # Failed

The whole race runs under the connect timeout (and the total deadline); when that
passes, or the caller is cancelled, `HappyEyeballs.abort` names the attempts to cancel.

Rules
-----
1. ``now`` is an argument; nothing here reads a clock, resolves or connects.
2. Order (§4): addresses of the preferred family first (IPv6 unless told otherwise),
   ``first_family_count`` of them, then the families alternate; each family keeps the
   resolver's order; a repeated address is tried once.
3. Timing (§5): the first attempt starts at once; the next one starts when the
   Connection Attempt Delay has passed since the latest start, or at once when the
   latest attempt has failed (as trio's ``open_tcp_stream`` and asyncio's staggered
   race do). The delay is 250 ms by default and must lie within the RFC's bounds,
   10 ms to 2 s: a value outside is a `ValueError`, not silently changed.
4. The first attempt to connect wins (§6): every other running attempt is cancelled,
   and one that connects after the winner is closed (`connected` answers False).
5. When every attempt has failed the race fails with one error: an attempt's own
   error when there was only one address (exactly what a plain connect raises);
   otherwise a `ConnectError` (a `ConnectTimeout` if every attempt timed out) naming
   each address and its error, chained from the first attempt's, the most preferred
   address's. trio raises a combined ``OSError`` in the same way; asyncio raises the
   first error when all read alike.

Not here: the Resolution Delay of §3 (waiting 50 ms for AAAA answers after A), which
needs asynchronous DNS; ``getaddrinfo`` gives both families together.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence

from ._frozen import Frozen, set_field
from ._typing_lite import Generic, Literal, TypeAlias, TypeVar
from .exceptions import ConnectError, ConnectTimeout

__all__ = [
    "DEFAULT_ATTEMPT_DELAY",
    "DEFAULT_FIRST_FAMILY_COUNT",
    "DEFAULT_PREFERRED_FAMILY",
    "MAX_ATTEMPT_DELAY",
    "MIN_ATTEMPT_DELAY",
    "Connected",
    "Failed",
    "Family",
    "HappyEyeballs",
    "Start",
    "Step",
    "Wait",
    "check_attempt_delay",
    "family_of",
    "order_addresses",
]

T = TypeVar("T")

Family: TypeAlias = Literal["ipv4", "ipv6"]

# RFC 8305 §8: "a default Connection Attempt Delay of 250 milliseconds" (the value of
# Apple's stack, Chrome's and trio's), and §5: it "MUST have a lower bound, especially
# if it is computed using historical data" (10 ms recommended) and "SHOULD NOT" exceed
# 2 seconds (beyond that a broken path costs more than a sequential fallback would).
DEFAULT_ATTEMPT_DELAY = 0.25
MIN_ATTEMPT_DELAY = 0.01
MAX_ATTEMPT_DELAY = 2.0

# RFC 8305 §4: IPv6 first (§4 follows RFC 6724, which prefers it) and one address of
# the preferred family before the first of the other ("First Address Family Count",
# 1 by default; 2 favours the preferred family a little more).
DEFAULT_PREFERRED_FAMILY: Family = "ipv6"
DEFAULT_FIRST_FAMILY_COUNT = 1


def check_attempt_delay(attempt_delay: object) -> float:
    """``attempt_delay`` as seconds, if it is a number within RFC 8305's bounds (a
    transport checks its setting when it is made, not at its first connection)."""
    if isinstance(attempt_delay, bool) or not isinstance(attempt_delay, int | float):
        raise TypeError(f"attempt_delay is a number of seconds, not {attempt_delay!r}")
    if not MIN_ATTEMPT_DELAY <= attempt_delay <= MAX_ATTEMPT_DELAY:
        raise ValueError(
            f"attempt_delay must be between {MIN_ATTEMPT_DELAY} and {MAX_ATTEMPT_DELAY} "
            f"seconds (RFC 8305 §5), got {attempt_delay!r}"
        )
    return float(attempt_delay)


def family_of(address: str) -> Family:
    """The family of an IP address as text: IPv6 addresses hold a colon, IPv4 ones never."""
    return "ipv6" if ":" in address else "ipv4"


def order_addresses(
    addresses: Iterable[T],
    key: Callable[[T], str],
    *,
    prefer: Family | None = DEFAULT_PREFERRED_FAMILY,
    first_family_count: int = DEFAULT_FIRST_FAMILY_COUNT,
) -> list[T]:
    """The order in which to try ``addresses`` (RFC 8305 §4).

    ``key`` gives an address's IP as text (for ``getaddrinfo`` results,
    ``lambda info: info[4][0]``). ``prefer`` is the family to start with; None keeps
    the family of the resolver's first answer (its RFC 6724 choice).
    """
    if isinstance(first_family_count, bool) or not isinstance(first_family_count, int):
        raise TypeError(f"first_family_count is an int, not {type(first_family_count).__name__}")
    if first_family_count < 1:
        raise ValueError(f"first_family_count must be at least 1, got {first_family_count}")
    if prefer not in ("ipv4", "ipv6", None):
        raise ValueError(f"prefer is 'ipv4', 'ipv6' or None, not {prefer!r}")
    families: dict[Family, list[T]] = {}
    seen: set[str] = set()
    for address in addresses:
        ip = key(address)
        if ip not in seen:
            seen.add(ip)
            families.setdefault(family_of(ip), []).append(address)
    if not families:
        return []
    first = prefer if prefer in families else next(iter(families))
    preferred = families.pop(first)
    other = next(iter(families.values()), [])
    head = preferred[: first_family_count - 1]
    rest = itertools.zip_longest(preferred[first_family_count - 1 :], other)
    return head + [a for pair in rest for a in pair if a is not None]


class Start(Frozen, Generic[T]):
    """Start connecting to ``address`` now, as attempt ``index``; then ask again."""

    __slots__ = ("address", "index")
    index: int
    address: T

    def __init__(self, index: int, address: T) -> None:
        set_field(self, "index", index)
        set_field(self, "address", address)


class Wait(Frozen):
    """Wait for an attempt to report, but no later than ``until`` (None: no limit)."""

    __slots__ = ("until",)
    until: float | None

    def __init__(self, until: float | None) -> None:
        set_field(self, "until", until)


class Connected(Frozen):
    """Attempt ``index`` won: cancel the attempts in ``cancel`` and use its connection."""

    __slots__ = ("cancel", "index")
    index: int
    cancel: tuple[int, ...]

    def __init__(self, index: int, cancel: tuple[int, ...]) -> None:
        set_field(self, "index", index)
        set_field(self, "cancel", cancel)


class Failed(Frozen):
    """Every attempt failed (or there was no address): raise ``error``."""

    __slots__ = ("error",)
    error: Exception

    def __init__(self, error: Exception) -> None:
        set_field(self, "error", error)


Step: TypeAlias = "Start[T] | Wait | Connected | Failed"


class HappyEyeballs(Generic[T]):
    """One race to connect to a host: tell it what happens, ask it what to do next.

    ``addresses`` come in the order to try them (`order_addresses`); ``label`` names an
    address in error messages (``str`` by default; ``lambda info: info[4][0]`` for
    ``getaddrinfo`` results). Attempts are named by their index in ``addresses``.
    """

    __slots__ = (
        "_addresses",
        "_delay",
        "_errors",
        "_label",
        "_latest_failed",
        "_next",
        "_next_start",
        "_over",
        "_running",
        "_winner",
    )

    def __init__(
        self,
        addresses: Sequence[T],
        *,
        attempt_delay: float = DEFAULT_ATTEMPT_DELAY,
        label: Callable[[T], str] = str,
    ) -> None:
        self._addresses = tuple(addresses)
        self._delay = check_attempt_delay(attempt_delay)
        self._label = label
        self._next = 0  # the index of the next attempt to start
        self._next_start = -math.inf  # when it may start without a failure
        self._latest_failed = False
        self._running: dict[int, None] = {}  # started, not yet failed or connected
        self._errors: list[tuple[int, Exception]] = []
        self._winner: int | None = None
        self._over = False

    @property
    def running(self) -> tuple[int, ...]:
        """The attempts started and not yet reported, oldest first."""
        return tuple(self._running)

    def next_step(self, now: float) -> Start[T] | Wait | Connected | Failed:
        """What to do now: start an attempt, wait, use the winner, or fail."""
        winner = self._winner
        if winner is not None:
            return Connected(winner, self.running)
        if self._over:
            raise RuntimeError("the race was aborted")
        more = self._next < len(self._addresses)
        if more and (self._latest_failed or now >= self._next_start):
            index = self._next
            self._next += 1
            self._next_start = now + self._delay
            self._latest_failed = False
            self._running[index] = None
            return Start(index, self._addresses[index])
        if self._running:
            return Wait(self._next_start if more else None)
        return Failed(self._error())

    def failed(self, index: int, error: Exception) -> None:
        """Attempt ``index`` failed with ``error`` (after a win, nothing changes)."""
        if self._over:
            return
        self._report(index)
        self._errors.append((index, error))
        if index == self._next - 1:
            self._latest_failed = True

    def connected(self, index: int) -> bool:
        """Attempt ``index`` connected: True if it is the winner, False if another
        attempt won first or the race was aborted (close this connection)."""
        if self._over:
            return False
        self._report(index)
        if self._winner is not None:
            return False
        self._winner = index
        return True

    def abort(self) -> tuple[int, ...]:
        """The race is abandoned (the connect timeout passed, or the caller was
        cancelled): the attempts to cancel. Any later `connected` answers False."""
        running = self.running
        self._running.clear()
        self._over = True
        return running if self._winner is None else ()

    def _report(self, index: int) -> None:
        if index not in self._running:
            raise RuntimeError(f"attempt {index} is not running")
        del self._running[index]

    def _error(self) -> Exception:
        errors = sorted(self._errors, key=lambda pair: pair[0])
        if not errors:
            return ConnectError("the host name resolved to no address")
        if len(errors) == 1:
            return errors[0][1]
        kind = (
            ConnectTimeout
            if all(isinstance(error, ConnectTimeout) for _, error in errors)
            else ConnectError
        )
        details = "; ".join(
            f"{self._label(self._addresses[index])}: {error}" for index, error in errors
        )
        combined = kind(f"all {len(errors)} addresses failed: {details}")
        combined.__cause__ = errors[0][1]
        return combined
