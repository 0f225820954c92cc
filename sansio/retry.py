"""The retry policy: which failures and responses are tried again, and after how long.

`Retry` is a frozen value; its decision methods are pure. An engine (or any driver)
keeps one `RetryState` per request and asks after each failed attempt::

    state = RetryState()
    while True:
        try:
            response = attempt()                         # connect, send, read the head
        except TransportError as exc:
            decision = retry.after_error(state, method=..., error=exc, phase=..., ...)
            if not decision.retry:
                raise
        else:
            decision = retry.after_response(state, method=..., status_code=..., ...)
            if not decision.retry:
                return response
            close(response)                              # its body is not wanted
        state = decision.state
        sleep(decision.delay)                            # Sleep(delay): never past the deadline

Rules
-----
1. Nothing here sleeps, reads a clock or draws randomness: ``wall_now`` (seconds
   since the epoch, for an HTTP-date ``Retry-After``), ``time_left`` (what the
   total deadline leaves, `sansio.deadline.Deadline.remaining`) and
   ``random_bytes`` (for jitter) are arguments.
2. A request is tried again only if that is safe: a connection that never reached
   the server (`ConnectError`, `ConnectTimeout`) or a request the server promised
   it did not process (`sansio.wire.RequestNotProcessed`), for any method; a
   request that failed before any byte of the response arrived (the
   `sansio.wire.FailurePhase` is SENDING or AWAITING_RESPONSE), or a response whose
   status is in ``status_forcelist``, only for a method in ``allowed_methods`` (the
   idempotent ones by default). Never once part of the response has arrived
   (RECEIVING), and never a request whose body cannot be sent again
   (``body_replayable`` False) once it started to go out (``body_started``).
3. A wait that would not end before the total deadline is no wait: the decision is
   then not to retry, and the caller gets the response or error it has now.
4. ``Retry-After`` is honoured (``respect_retry_after_header``) as delta-seconds or
   an HTTP-date (parsed by the cookie-date algorithm, `sansio.cookies`, which reads
   all three HTTP-date formats). Past ``retry_after_max`` conch does not retry at
   all rather than earlier than the server asked; a value it cannot read, or
   several that disagree, count as absent (the back-off applies).

Next to urllib3's ``Retry``
---------------------------
The names and meanings follow urllib3 2 where they overlap, so a policy ports by
name: ``total``, ``connect``, ``read``, ``status`` (retries, not attempts: ``total=0``
never retries; a per-kind count of None is bounded by ``total`` only),
``allowed_methods`` (None: any method), ``status_forcelist``, ``backoff_factor``,
``backoff_max``, ``backoff_jitter``, ``respect_retry_after_header``,
``retry_after_max``. The back-off is urllib3's: none before the first retry, then
``backoff_factor * 2 ** (n - 1)`` before retry ``n``, plus up to ``backoff_jitter``
seconds, at most ``backoff_max``. Where conch differs, on purpose:

* Defaults: 3 retries of 429, 502, 503 and 504 (urllib3: 10, no status), a back-off
  factor of 0.5 with 0.5 s of jitter (urllib3: no back-off), and ``Retry-After``
  capped at 120 s (urllib3: 6 hours).
* Past ``retry_after_max`` urllib3 waits the cap and retries early; conch returns
  the response (its ``Retry-After`` tells the caller when to come back): a retry
  earlier than asked most likely earns another 429.
* urllib3 also retries 413, 429 and 503 responses outside ``status_forcelist`` when
  they carry ``Retry-After``; here ``status_forcelist`` alone decides.
* No ``redirect`` or ``other`` counts (redirects are the client's ``max_redirects``;
  other errors are never retried), no ``raise_on_status`` (the last response is
  returned, as httpx code expects; ``raise_for_status`` is the caller's), and no
  ``history``: `RetryState` holds the counts.
* An unreadable ``Retry-After`` is ignored (urllib3 raises ``InvalidHeader``).
* The state lives outside the policy (`RetryState`), so one `Retry` serves every
  request of a transport, and ``sleep`` is the caller's (urllib3 calls ``time.sleep``).

httpx's ``retries=<int>`` means connect retries only, on httpcore's schedule (at
once, then 0.5, 1, 2... seconds): `Retry.from_int`.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Collection, Iterable
from dataclasses import KW_ONLY, dataclass, replace

from .cookies import parse_cookie_date
from .exceptions import (
    ConnectError,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    WriteError,
    WriteTimeout,
)
from .headers import Headers
from .pool import IDEMPOTENT_METHODS
from .wire import FailurePhase, RequestNotProcessed

__all__ = [
    "DEFAULT_BACKOFF_FACTOR",
    "DEFAULT_BACKOFF_JITTER",
    "DEFAULT_BACKOFF_MAX",
    "DEFAULT_RETRY_AFTER_MAX",
    "DEFAULT_RETRY_METHODS",
    "DEFAULT_RETRY_STATUSES",
    "DEFAULT_RETRY_TOTAL",
    "INT_RETRIES_BACKOFF_FACTOR",
    "NO_RETRIES",
    "Retry",
    "RetryDecision",
    "RetryKind",
    "RetryState",
    "parse_retry_after",
]

# Retries after the first attempt: urllib3's Retry.DEFAULT (Retry(3)), which requests
# users know; with the default back-off they wait about 0, 1 and 2 seconds.
DEFAULT_RETRY_TOTAL = 3

# Responses that say "try again later": 429 Too Many Requests, and the gateway and
# overload answers 502, 503, 504 (RFC 9110 §15.6). A 500 is a bug more often than a
# blip, and retrying it repeats whatever side effect it had: not by default.
DEFAULT_RETRY_STATUSES = frozenset({429, 502, 503, 504})

# RFC 9110 §9.2.2: the idempotent methods (PUT, DELETE and the safe ones), as the
# pool's keep-alive retry uses them.
DEFAULT_RETRY_METHODS = frozenset(method.decode("ascii") for method in IDEMPOTENT_METHODS)

# urllib3 recommends a factor of 0.5 to 1 with jitter in production: retries then
# wait 0, 1, 2, 4... seconds, each plus up to half a second, so clients that failed
# together do not come back together.
DEFAULT_BACKOFF_FACTOR = 0.5
DEFAULT_BACKOFF_JITTER = 0.5

# urllib3's DEFAULT_BACKOFF_MAX: no back-off wait longer than two minutes.
DEFAULT_BACKOFF_MAX = 120.0

# The longest Retry-After conch waits for; past it the response is returned. Two
# minutes, as the back-off: a client that should wait longer is better told so.
DEFAULT_RETRY_AFTER_MAX = 120.0

# `Retry.from_int`'s factor: httpcore's connect retries wait 0, then 0.5 s doubling
# (sansio.exchange.connect_retry_delays), which is urllib3's formula with 0.25.
INT_RETRIES_BACKOFF_FACTOR = 0.25

# Exponents past this give a wait beyond any float cap anyway (2.0 ** 1024 overflows).
_MAX_EXPONENT = 1000
# delta-seconds with more digits than this exceed every cap (10**15 s is 31 million
# years), and are not converted: int() of a huge digit string costs, or raises.
_MAX_DELTA_DIGITS = 15


class RetryKind(enum.Enum):
    """What a retry is counted as (urllib3's counters of the same names)."""

    CONNECT = "connect"
    """The request never reached the server, or the server did not process it."""
    READ = "read"
    """The request went out, at least in part, and no response came back."""
    STATUS = "status"
    """A response came back with a status in ``status_forcelist``."""


@dataclass(frozen=True, slots=True)
class RetryState:
    """How many retries one request has had so far: in all, and of each kind."""

    total: int = 0
    connect: int = 0
    read: int = 0
    status: int = 0

    def count(self, kind: RetryKind) -> int:
        return getattr(self, kind.value)  # type: ignore[no-any-return]

    def after(self, kind: RetryKind) -> RetryState:
        """The state once one more retry of ``kind`` is made."""
        return replace(self, total=self.total + 1, **{kind.value: self.count(kind) + 1})


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryDecision:
    """Whether to try again, after how many seconds, and why (for logs and tests).

    ``state`` is the request's state for the next decision: the given one when not
    retrying. ``kind`` is what the failure counts as (None if it is never retried).
    """

    retry: bool
    delay: float = 0.0
    reason: str
    state: RetryState
    kind: RetryKind | None = None


def _unit(data: bytes) -> float:
    """Random bytes as a float in [0, 1): the first 53 bits of the first 8 (a double's
    precision, so that all ones stays below 1); missing bytes count as zeros."""
    return (int.from_bytes(data[:8].ljust(8, b"\0"), "big") >> 11) / 2**53


def parse_retry_after(value: str, wall_now: float) -> float | None:
    """Seconds to wait for a ``Retry-After`` value (RFC 9110 §10.2.3), or None if
    it is neither delta-seconds nor an HTTP-date; a date in the past is 0.

    ``wall_now`` is seconds since the epoch (`sansio.env.Env.wall_clock`).
    """
    text = value.strip(" \t")
    if text.isascii() and text.isdigit():
        if len(text) > _MAX_DELTA_DIGITS:
            return math.inf
        return float(text)
    when = parse_cookie_date(text)
    if when is None:
        return None
    return max(when - wall_now, 0.0)


def _retry_after_values(headers: Headers | Iterable[tuple[bytes, bytes]]) -> set[str]:
    if isinstance(headers, Headers):
        return set(headers.get_list("retry-after"))
    return {value.decode("latin-1") for name, value in headers if name.lower() == b"retry-after"}


def _count_field(name: str, value: object, optional: bool) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        kind = "a non-negative int or None" if optional else "a non-negative int"
        raise ValueError(f"Retry({name}=...) must be {kind}, got {value!r}")


def _seconds_field(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"Retry({name}=...) must be a number of seconds, got {value!r}")
    if not 0 <= value < math.inf:
        raise ValueError(f"Retry({name}=...) must be finite and not negative, got {value!r}")


@dataclass(frozen=True, slots=True, repr=False)
class Retry:
    """A retry policy (see the module docstring); ``Retry(5)`` allows five retries.

    All arguments but ``total`` are keyword-only. ``allowed_methods`` and
    ``status_forcelist`` take any collection and are kept as frozensets (methods
    upper-cased).
    """

    total: int = DEFAULT_RETRY_TOTAL
    _: KW_ONLY
    connect: int | None = None
    read: int | None = None
    status: int | None = None
    allowed_methods: Collection[str] | None = DEFAULT_RETRY_METHODS
    status_forcelist: Collection[int] = DEFAULT_RETRY_STATUSES
    backoff_factor: float = DEFAULT_BACKOFF_FACTOR
    backoff_max: float = DEFAULT_BACKOFF_MAX
    backoff_jitter: float = DEFAULT_BACKOFF_JITTER
    respect_retry_after_header: bool = True
    retry_after_max: float = DEFAULT_RETRY_AFTER_MAX

    def __post_init__(self) -> None:
        _count_field("total", self.total, optional=False)
        for kind in RetryKind:
            _count_field(kind.value, getattr(self, kind.value), optional=True)
        methods = self.allowed_methods
        if methods is not None:
            if isinstance(methods, str | bytes) or not all(isinstance(m, str) for m in methods):
                raise TypeError(
                    f"Retry(allowed_methods=...) is a collection of str or None, got {methods!r}"
                )
            object.__setattr__(self, "allowed_methods", frozenset(m.upper() for m in methods))
        statuses = self.status_forcelist
        if isinstance(statuses, str | bytes) or not all(
            isinstance(s, int) and not isinstance(s, bool) and 100 <= s <= 999 for s in statuses
        ):
            raise ValueError(
                f"Retry(status_forcelist=...) is a collection of status codes, got {statuses!r}"
            )
        object.__setattr__(self, "status_forcelist", frozenset(statuses))
        for name in ("backoff_factor", "backoff_max", "backoff_jitter", "retry_after_max"):
            _seconds_field(name, getattr(self, name))
        if not isinstance(self.respect_retry_after_header, bool):
            raise TypeError("Retry(respect_retry_after_header=...) must be True or False")

    def __repr__(self) -> str:
        # What differs from the defaults, in a stable order (sets sorted).
        shown = [f"total={self.total}"]
        for name in _REPR_FIELDS:
            value = getattr(self, name)
            if value != getattr(_DEFAULT, name):
                if isinstance(value, frozenset):
                    value = tuple(sorted(value))
                shown.append(f"{name}={value!r}")
        return f"Retry({', '.join(shown)})"

    @classmethod
    def from_int(cls, retries: int | Retry) -> Retry:
        """What ``retries=`` means: a `Retry` as it is; an int as in httpx, that many
        retries of a connection that could not be made (any method, no status
        retries), on httpcore's schedule (at once, then 0.5, 1, 2... s, no jitter)."""
        if isinstance(retries, Retry):
            return retries
        if isinstance(retries, bool) or not isinstance(retries, int):
            raise TypeError(f"retries is an int or a Retry, not {type(retries).__name__}")
        if retries < 0:
            raise ValueError(f"retries must not be negative, got {retries}")
        return cls(
            retries,
            read=0,
            status=0,
            allowed_methods=None,
            status_forcelist=(),
            backoff_factor=INT_RETRIES_BACKOFF_FACTOR,
            backoff_jitter=0.0,
        )

    # -- the waits -------------------------------------------------------------------

    def backoff(self, retry: int, random_bytes: Callable[[int], bytes]) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first): none before
        the first, then ``backoff_factor * 2 ** (retry - 1)``, plus jitter, capped."""
        wait = 0.0
        if retry > 1 and self.backoff_factor:
            wait = self.backoff_factor * 2.0 ** min(retry - 1, _MAX_EXPONENT)
        if self.backoff_jitter:
            wait += self.backoff_jitter * _unit(random_bytes(8))
        return min(wait, self.backoff_max)

    def retry_after(
        self, headers: Headers | Iterable[tuple[bytes, bytes]], wall_now: float
    ) -> float | None:
        """The wait a response's ``Retry-After`` asks for, or None (absent, unreadable,
        contradictory, or not respected)."""
        if not self.respect_retry_after_header:
            return None
        values = _retry_after_values(headers)
        if len(values) != 1:
            return None
        return parse_retry_after(values.pop(), wall_now)

    # -- the decisions ---------------------------------------------------------------

    def after_response(
        self,
        state: RetryState,
        *,
        method: str,
        status_code: int,
        headers: Headers | Iterable[tuple[bytes, bytes]],
        wall_now: float,
        random_bytes: Callable[[int], bytes],
        body_replayable: bool = True,
        body_started: bool = True,
        time_left: float | None = None,
    ) -> RetryDecision:
        """Whether to send the request again instead of returning this response."""
        if status_code not in self.status_forcelist:
            return RetryDecision(
                retry=False, reason=f"status {status_code} is not retried", state=state
            )
        kind = RetryKind.STATUS
        refused = self._refuse(state, kind, method, body_replayable, body_started)
        if refused is not None:
            return RetryDecision(retry=False, reason=refused, state=state, kind=kind)
        delay = self.retry_after(headers, wall_now)
        if delay is None:
            delay = self.backoff(state.total + 1, random_bytes)
            why = f"status {status_code}"
        elif delay > self.retry_after_max:
            return RetryDecision(
                retry=False,
                reason=f"Retry-After asks for more than retry_after_max={self.retry_after_max:g} s",
                state=state,
                kind=kind,
            )
        else:
            why = f"status {status_code}, as Retry-After asks"
        return self._decide(state, kind, delay, time_left, why)

    def after_error(
        self,
        state: RetryState,
        *,
        method: str,
        error: BaseException,
        phase: FailurePhase | None,
        random_bytes: Callable[[int], bytes],
        body_replayable: bool = True,
        body_started: bool = True,
        time_left: float | None = None,
    ) -> RetryDecision:
        """Whether to send the request again after ``error``.

        ``phase`` is the wire machine's `failure_phase` for the request's stream, or
        None if there was no stream (the connection, TLS or proxy handshake failed).
        The engine's own once-only retry of the keep-alive race (`sansio.pool.retry_safe`)
        comes first and is not counted here.
        """
        kind = self.kind_of(error, phase)
        if kind is None:
            return RetryDecision(
                retry=False, reason=f"{type(error).__name__} is not retried", state=state
            )
        refused = self._refuse(state, kind, method, body_replayable, body_started)
        if refused is not None:
            return RetryDecision(retry=False, reason=refused, state=state, kind=kind)
        delay = self.backoff(state.total + 1, random_bytes)
        return self._decide(state, kind, delay, time_left, type(error).__name__)

    @staticmethod
    def kind_of(error: BaseException, phase: FailurePhase | None) -> RetryKind | None:
        """What a failure counts as, or None if it is never retried."""
        if isinstance(error, ConnectError | ConnectTimeout | RequestNotProcessed):
            return RetryKind.CONNECT
        if (
            phase is FailurePhase.SENDING or phase is FailurePhase.AWAITING_RESPONSE
        ) and isinstance(
            error, ReadError | WriteError | ReadTimeout | WriteTimeout | RemoteProtocolError
        ):
            return RetryKind.READ
        return None

    def _refuse(
        self,
        state: RetryState,
        kind: RetryKind,
        method: str,
        body_replayable: bool,
        body_started: bool,
    ) -> str | None:
        methods = self.allowed_methods
        if kind is not RetryKind.CONNECT and methods is not None and method.upper() not in methods:
            return f"{method} is not in allowed_methods"
        if body_started and not body_replayable:
            return "the request body cannot be sent again"
        if state.total >= self.total:
            return f"the {self.total} retries allowed are used up"
        limit: int | None = getattr(self, kind.value)
        if limit is not None and state.count(kind) >= limit:
            return f"the {limit} {kind.value} retries allowed are used up"
        return None

    @staticmethod
    def _decide(
        state: RetryState, kind: RetryKind, delay: float, time_left: float | None, why: str
    ) -> RetryDecision:
        if time_left is not None and delay >= time_left:
            return RetryDecision(
                retry=False,
                reason=f"the total timeout would pass during the {delay:g} s wait",
                state=state,
                kind=kind,
            )
        return RetryDecision(
            retry=True,
            delay=delay,
            reason=f"retry {state.total + 1} ({why}) after {delay:g} s",
            state=state.after(kind),
            kind=kind,
        )


_REPR_FIELDS = (
    "connect",
    "read",
    "status",
    "allowed_methods",
    "status_forcelist",
    "backoff_factor",
    "backoff_max",
    "backoff_jitter",
    "respect_retry_after_header",
    "retry_after_max",
)
_DEFAULT = Retry()
NO_RETRIES = Retry(0)
