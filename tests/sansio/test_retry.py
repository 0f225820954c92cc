"""The retry policy: what is retried, how often, after how long; Retry-After; the deadline."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansio.exceptions import (
    ConnectError,
    ConnectTimeout,
    DecodingError,
    LocalProtocolError,
    PoolTimeout,
    ProxyError,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    UnsupportedProtocol,
    WriteError,
    WriteTimeout,
)
from sansio.exchange import connect_retry_delays, is_connect_failure
from sansio.headers import Headers
from sansio.retry import (
    DEFAULT_BACKOFF_MAX,
    DEFAULT_RETRY_AFTER_MAX,
    DEFAULT_RETRY_METHODS,
    DEFAULT_RETRY_STATUSES,
    DEFAULT_RETRY_TOTAL,
    NO_RETRIES,
    Retry,
    RetryDecision,
    RetryKind,
    RetryState,
    parse_retry_after,
)
from sansio.wire import FailurePhase, RequestNotProcessed

# 1994-11-06 08:49:37 UTC, RFC 9110's example date, in its three formats.
EXAMPLE_DATE = 784111777
DATES = [
    "Sun, 06 Nov 1994 08:49:37 GMT",  # IMF-fixdate
    "Sunday, 06-Nov-94 08:49:37 GMT",  # RFC 850
    "Sun Nov  6 08:49:37 1994",  # asctime
]
SENDING, AWAITING, RECEIVING = (
    FailurePhase.SENDING,
    FailurePhase.AWAITING_RESPONSE,
    FailurePhase.RECEIVING,
)


def zeros(n: int) -> bytes:
    return b"\0" * n


def ones(n: int) -> bytes:
    return b"\xff" * n


def half(n: int) -> bytes:
    return b"\x80" + b"\0" * (n - 1)


def on_status(
    retry: Retry,
    status: int = 503,
    state: RetryState | None = None,
    *,
    method: str = "GET",
    headers: Any = (),
    wall_now: float = EXAMPLE_DATE,
    random_bytes: Callable[[int], bytes] = zeros,
    **kwargs: Any,
) -> RetryDecision:
    return retry.after_response(
        state or RetryState(),
        method=method,
        status_code=status,
        headers=headers,
        wall_now=wall_now,
        random_bytes=random_bytes,
        **kwargs,
    )


def on_error(
    retry: Retry,
    error: BaseException,
    phase: FailurePhase | None = None,
    state: RetryState | None = None,
    *,
    method: str = "GET",
    random_bytes: Callable[[int], bytes] = zeros,
    **kwargs: Any,
) -> RetryDecision:
    return retry.after_error(
        state or RetryState(),
        method=method,
        error=error,
        phase=phase,
        random_bytes=random_bytes,
        **kwargs,
    )


# -- the policy value ------------------------------------------------------------------


def test_defaults() -> None:
    retry = Retry()
    assert retry.total == DEFAULT_RETRY_TOTAL
    assert DEFAULT_RETRY_TOTAL == 3
    assert retry.status_forcelist == DEFAULT_RETRY_STATUSES
    assert frozenset({429, 502, 503, 504}) == DEFAULT_RETRY_STATUSES
    # RFC 9110 §9.2.2: the safe methods, PUT and DELETE.
    assert retry.allowed_methods == DEFAULT_RETRY_METHODS
    assert {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"} == DEFAULT_RETRY_METHODS
    assert (retry.connect, retry.read, retry.status) == (None, None, None)
    assert retry.respect_retry_after_header is True
    assert retry.retry_after_max == DEFAULT_RETRY_AFTER_MAX
    assert retry.backoff_max == DEFAULT_BACKOFF_MAX
    assert repr(retry) == "Retry(total=3)"
    assert Retry(0) == NO_RETRIES


def test_value_semantics() -> None:
    assert Retry(5) == Retry(total=5)
    assert hash(Retry(allowed_methods=["get", "put"])) == hash(
        Retry(allowed_methods={"PUT", "GET"})
    )
    assert Retry(allowed_methods=["get"]).allowed_methods == frozenset({"GET"})
    assert Retry(status_forcelist=[500, 500]).status_forcelist == frozenset({500})
    assert Retry(1) != Retry(2)
    with pytest.raises(AttributeError):
        Retry().total = 4  # type: ignore[misc]
    with pytest.raises(TypeError):
        Retry(3, 1)  # type: ignore[call-arg]  # everything but total is keyword-only


def test_repr_shows_what_differs_in_a_stable_order() -> None:
    retry = Retry(
        5, read=1, allowed_methods=["post", "get"], status_forcelist=[503, 429], backoff_max=3
    )
    assert repr(retry) == (
        "Retry(total=5, read=1, allowed_methods=('GET', 'POST'), "
        "status_forcelist=(429, 503), backoff_max=3)"
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"total": -1}, ValueError, r"total=...\) must be a non-negative int, got -1"),
        ({"total": None}, ValueError, "must be a non-negative int, got None"),
        ({"total": True}, ValueError, "must be a non-negative int"),
        ({"total": 1.5}, ValueError, "must be a non-negative int"),
        ({"connect": -1}, ValueError, r"connect=...\) must be a non-negative int or None"),
        ({"read": "2"}, ValueError, r"read=...\) must be a non-negative int or None"),
        ({"status": False}, ValueError, r"status=...\) must be a non-negative int or None"),
        ({"allowed_methods": "GET"}, TypeError, "collection of str or None"),
        ({"allowed_methods": [b"GET"]}, TypeError, "collection of str or None"),
        ({"status_forcelist": [99]}, ValueError, "collection of status codes"),
        ({"status_forcelist": [1000]}, ValueError, "collection of status codes"),
        ({"status_forcelist": [True]}, ValueError, "collection of status codes"),
        ({"status_forcelist": "503"}, ValueError, "collection of status codes"),
        ({"backoff_factor": -0.1}, ValueError, "finite and not negative"),
        ({"backoff_max": math.inf}, ValueError, "finite and not negative"),
        ({"backoff_jitter": math.nan}, ValueError, "finite and not negative"),
        ({"retry_after_max": "60"}, TypeError, "must be a number of seconds"),
        ({"backoff_factor": True}, TypeError, "must be a number of seconds"),
        ({"respect_retry_after_header": 1}, TypeError, "must be True or False"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        Retry(**kwargs)


def test_limits_at_zero_are_allowed() -> None:
    retry = Retry(0, connect=0, read=0, status=0, backoff_max=0, retry_after_max=0)
    assert retry.total == 0
    assert Retry(allowed_methods=None, status_forcelist=()).status_forcelist == frozenset()


def test_exported_as_conch_retry() -> None:
    import conch

    assert conch.Retry is Retry
    assert "Retry" in conch.__all__
    assert repr(conch.Retry(2)) == "Retry(total=2)"


# -- an int, as httpx means it -----------------------------------------------------------


def test_from_int_keeps_a_retry() -> None:
    retry = Retry(7)
    assert Retry.from_int(retry) is retry


@pytest.mark.parametrize(
    ("value", "error"), [(-1, ValueError), (True, TypeError), ("3", TypeError)]
)
def test_from_int_refuses(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        Retry.from_int(value)


@pytest.mark.parametrize("retries", [0, 1, 2, 5])
def test_from_int_is_httpcores_connect_retries(retries: int) -> None:
    retry = Retry.from_int(retries)
    state, delays = RetryState(), []
    while (decision := on_error(retry, ConnectError("refused"), state=state)).retry:
        state = decision.state
        delays.append(decision.delay)
    # The schedule the shells use today for retries=<int>: 0, 0.5, 1, 2... seconds.
    assert delays == list(connect_retry_delays(retries))
    assert decision.reason == f"the {retries} retries allowed are used up"


def test_from_int_retries_connections_only() -> None:
    retry = Retry.from_int(3)
    assert on_error(retry, ConnectTimeout("slow"), method="POST").retry
    assert not on_error(retry, ReadError("reset"), AWAITING).retry
    assert on_error(retry, ReadError("reset"), AWAITING).reason == (
        "the 0 read retries allowed are used up"
    )
    assert not on_status(retry, 503).retry


# -- the back-off ------------------------------------------------------------------------


def test_backoff_schedule_is_urllib3s() -> None:
    retry = Retry(backoff_factor=0.1, backoff_jitter=0)
    waits = [retry.backoff(n, ones) for n in range(1, 6)]
    assert waits == pytest.approx([0.0, 0.2, 0.4, 0.8, 1.6])


def test_backoff_jitter_comes_from_the_random_source() -> None:
    retry = Retry(backoff_factor=1, backoff_jitter=2)
    assert retry.backoff(1, zeros) == 0.0
    assert retry.backoff(1, half) == 1.0
    assert retry.backoff(2, half) == 3.0
    assert retry.backoff(2, ones) <= 4.0
    assert 1.99 < Retry(backoff_factor=0, backoff_jitter=2).backoff(1, ones) < 2.0
    drawn: list[int] = []
    retry.backoff(3, lambda n: drawn.append(n) or zeros(n))  # type: ignore[func-returns-value]
    assert drawn == [8]
    # Without jitter, no randomness is drawn at all.
    Retry(backoff_jitter=0).backoff(3, lambda n: pytest.fail("drew randomness"))


def test_backoff_takes_whatever_bytes_it_gets() -> None:
    retry = Retry(backoff_factor=0, backoff_jitter=1)
    assert retry.backoff(1, lambda n: b"") == 0.0
    assert retry.backoff(1, lambda n: b"\x80") == 0.5
    assert retry.backoff(1, lambda n: b"\x80" + b"\xff" * 20) < 0.6


def test_backoff_is_capped_even_for_absurd_retry_numbers() -> None:
    retry = Retry(backoff_factor=1e300, backoff_max=7, backoff_jitter=0)
    assert retry.backoff(2, zeros) == 7
    assert retry.backoff(10**9, zeros) == 7
    assert Retry(backoff_factor=0, backoff_jitter=0).backoff(10**9, zeros) == 0.0
    assert Retry(backoff_factor=0.5, backoff_max=120, backoff_jitter=5).backoff(50, ones) == 120


# -- Retry-After -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("0", 0.0), ("120", 120.0), (" \t30 ", 30.0), ("007", 7.0), ("9" * 15, 1e15 - 1)],
)
def test_retry_after_delta_seconds(value: str, seconds: float) -> None:
    assert parse_retry_after(value, wall_now=0) == seconds


def test_retry_after_past_every_cap() -> None:
    # Not converted: 100,000 digits would cost (or, past Python's limit, raise).
    assert parse_retry_after("9" * 16, wall_now=0) == math.inf
    assert parse_retry_after("1" * 100_000, wall_now=0) == math.inf


@pytest.mark.parametrize("value", DATES)
def test_retry_after_http_date_against_the_injected_wall_clock(value: str) -> None:
    assert parse_retry_after(value, wall_now=EXAMPLE_DATE - 90) == 90.0
    assert parse_retry_after(value, wall_now=EXAMPLE_DATE) == 0.0
    assert parse_retry_after(value, wall_now=EXAMPLE_DATE + 3600) == 0.0  # past: at once


@pytest.mark.parametrize(
    "value", ["", " ", "-5", "1.5", "+3", "5 seconds", "soon", "\u0661\u0662", "Sun, 06 Nov"]
)
def test_retry_after_unreadable(value: str) -> None:
    assert parse_retry_after(value, wall_now=0) is None


def test_retry_after_from_headers() -> None:
    retry = Retry()
    assert retry.retry_after(Headers({"Retry-After": "5"}), 0) == 5.0
    assert retry.retry_after([(b"Retry-After", b"5")], 0) == 5.0
    assert retry.retry_after([(b"retry-after", b"5"), (b"RETRY-AFTER", b"5")], 0) == 5.0
    assert retry.retry_after(Headers([("Retry-After", "5"), ("Retry-After", "5")]), 0) == 5.0
    # Absent, contradictory or not respected: no hint (the back-off applies).
    assert retry.retry_after(Headers(), 0) is None
    assert retry.retry_after([(b"Retry-After", b"5"), (b"Retry-After", b"6")], 0) is None
    assert Retry(respect_retry_after_header=False).retry_after([(b"Retry-After", b"5")], 0) is None


# -- responses ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", sorted(DEFAULT_RETRY_STATUSES))
def test_default_statuses_are_retried(status: int) -> None:
    decision = on_status(Retry(), status)
    assert decision.retry
    assert decision.kind is RetryKind.STATUS
    assert decision.state == RetryState(total=1, status=1)
    assert decision.reason == f"retry 1 (status {status}) after 0 s"


@pytest.mark.parametrize("status", [200, 301, 400, 404, 500, 501])
def test_other_statuses_are_not(status: int) -> None:
    decision = on_status(Retry(), status)
    assert decision == RetryDecision(
        retry=False, reason=f"status {status} is not retried", state=RetryState()
    )


@pytest.mark.parametrize("method", ["POST", "PATCH", "CONNECT"])
def test_non_idempotent_methods_are_not_retried_on_a_status(method: str) -> None:
    decision = on_status(Retry(), 503, method=method)
    assert not decision.retry
    assert decision.reason == f"{method} is not in allowed_methods"
    assert on_status(Retry(allowed_methods=None), 503, method=method).retry
    assert on_status(Retry(allowed_methods=["post"]), 503, method="post").retry


def test_retry_after_sets_the_wait_without_jitter() -> None:
    headers = [(b"Retry-After", b"7")]
    decision = on_status(Retry(), 429, headers=headers, random_bytes=ones)
    assert decision.retry
    assert decision.delay == 7.0
    assert decision.reason == "retry 1 (status 429, as Retry-After asks) after 7 s"
    date = [(b"Retry-After", DATES[0].encode())]
    assert on_status(Retry(), 503, headers=date, wall_now=EXAMPLE_DATE - 12).delay == 12.0
    # Not respected: the back-off instead.
    ignoring = Retry(respect_retry_after_header=False, backoff_jitter=0)
    assert on_status(ignoring, 429, headers=headers).delay == 0.0


def test_retry_after_at_the_cap_and_past_it() -> None:
    retry = Retry(retry_after_max=60)
    at = on_status(retry, 503, headers=[(b"Retry-After", b"60")])
    assert (at.retry, at.delay) == (True, 60.0)
    past = on_status(retry, 503, headers=[(b"Retry-After", b"61")])
    assert not past.retry
    assert past.reason == "Retry-After asks for more than retry_after_max=60 s"
    assert past.state == RetryState()
    huge = on_status(retry, 503, headers=[(b"Retry-After", b"9" * 40)])
    assert not huge.retry


def test_unreadable_retry_after_falls_back_to_the_backoff() -> None:
    retry = Retry(backoff_jitter=1)
    decision = on_status(retry, 503, headers=[(b"Retry-After", b"later")], random_bytes=half)
    assert (decision.retry, decision.delay) == (True, 0.5)


def test_status_retries_until_used_up() -> None:
    retry = Retry(backoff_factor=1, backoff_jitter=0)
    state, delays = RetryState(), []
    while (decision := on_status(retry, 502, state)).retry:
        state = decision.state
        delays.append(decision.delay)
    assert delays == [0.0, 2.0, 4.0]
    assert state == RetryState(total=3, status=3)
    assert decision.reason == "the 3 retries allowed are used up"
    assert decision.state is state


def test_per_kind_counts_bound_within_total() -> None:
    retry = Retry(5, status=1, connect=2)
    state = on_status(retry, 503).state
    assert on_status(retry, 503, state).reason == "the 1 status retries allowed are used up"
    state = on_error(retry, ConnectError("x"), state=state).state
    state = on_error(retry, ConnectError("x"), state=state).state
    assert state == RetryState(total=3, connect=2, status=1)
    assert on_error(retry, ConnectError("x"), state=state).reason == (
        "the 2 connect retries allowed are used up"
    )
    # Read retries are bounded by total alone.
    assert on_error(retry, ReadError("x"), AWAITING, state).retry


def test_a_body_that_cannot_be_sent_again() -> None:
    retry = Retry()
    started = on_status(retry, 503, body_replayable=False)
    assert not started.retry
    assert started.reason == "the request body cannot be sent again"
    # A server that answered before a byte of the body was taken: it may go again.
    assert on_status(retry, 503, body_replayable=False, body_started=False).retry
    assert not on_error(retry, ReadError("x"), SENDING, body_replayable=False).retry
    assert not on_error(retry, RequestNotProcessed("goaway"), AWAITING, body_replayable=False).retry
    assert on_error(retry, ConnectError("x"), body_replayable=False, body_started=False).retry


def test_the_total_deadline_bounds_the_wait() -> None:
    retry = Retry(backoff_jitter=0)
    headers = [(b"Retry-After", b"5")]
    assert on_status(retry, 503, headers=headers, time_left=5.001).retry
    at = on_status(retry, 503, headers=headers, time_left=5.0)
    assert not at.retry
    assert at.reason == "the total timeout would pass during the 5 s wait"
    assert at.state == RetryState()
    # Even a retry at once needs time left to run in.
    assert on_status(retry, 503, time_left=0.001).retry
    assert not on_status(retry, 503, time_left=0.0).retry
    assert not on_error(retry, ConnectError("x"), time_left=0.0).retry


# -- failures ----------------------------------------------------------------------------


@pytest.mark.parametrize("error", [ConnectError("refused"), ConnectTimeout("slow")])
@pytest.mark.parametrize("method", ["GET", "POST", "PATCH"])
def test_connection_failures_are_retried_for_every_method(error: Exception, method: str) -> None:
    decision = on_error(Retry(), error, method=method)
    assert decision.retry
    assert decision.kind is RetryKind.CONNECT
    assert decision.state == RetryState(total=1, connect=1)
    assert decision.reason == f"retry 1 ({type(error).__name__}) after 0 s"


@pytest.mark.parametrize("phase", [None, SENDING, AWAITING])
def test_a_request_the_server_did_not_process_is_retried_for_every_method(
    phase: FailurePhase | None,
) -> None:
    decision = on_error(Retry(), RequestNotProcessed("refused stream"), phase, method="POST")
    assert decision.retry
    assert decision.kind is RetryKind.CONNECT


READ_ERRORS = [
    ReadError("reset"),
    WriteError("broken pipe"),
    ReadTimeout("slow"),
    WriteTimeout("slow"),
    RemoteProtocolError("EOF before the head"),
]


@pytest.mark.parametrize("error", READ_ERRORS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("phase", [SENDING, AWAITING])
def test_failures_before_the_response_are_retried_for_idempotent_methods(
    error: Exception, phase: FailurePhase
) -> None:
    decision = on_error(Retry(), error, phase, method="PUT")
    assert decision.retry
    assert decision.kind is RetryKind.READ
    assert decision.state == RetryState(total=1, read=1)
    post = on_error(Retry(), error, phase, method="POST")
    assert not post.retry
    assert post.reason == "POST is not in allowed_methods"
    assert post.kind is RetryKind.READ


@pytest.mark.parametrize("error", READ_ERRORS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("phase", [RECEIVING, None])
def test_never_once_the_response_started_or_without_a_stream(
    error: Exception, phase: FailurePhase | None
) -> None:
    decision = on_error(Retry(allowed_methods=None), error, phase)
    assert decision == RetryDecision(
        retry=False, reason=f"{type(error).__name__} is not retried", state=RetryState()
    )


@pytest.mark.parametrize(
    "error",
    [
        PoolTimeout("no connection"),
        ProxyError("407"),
        LocalProtocolError("bad header"),
        UnsupportedProtocol("ftp"),
        DecodingError("bad gzip"),
        ValueError("a bug"),
        KeyboardInterrupt(),
    ],
    ids=lambda e: type(e).__name__,
)
@pytest.mark.parametrize("phase", [None, SENDING, AWAITING])
def test_other_failures_are_never_retried(error: BaseException, phase: FailurePhase | None) -> None:
    assert Retry.kind_of(error, phase) is None
    assert not on_error(Retry(allowed_methods=None), error, phase).retry


@pytest.mark.parametrize(
    "error",
    [ConnectError("x"), ConnectTimeout("x"), ReadError("x"), PoolTimeout("x"), ProxyError("x")],
    ids=lambda e: type(e).__name__,
)
def test_connect_kind_matches_the_shells_connect_failures(error: Exception) -> None:
    # Until the engine takes connect retries over from `connect_retry_delays`, both say
    # the same about which failures are "could not connect".
    assert (Retry.kind_of(error, None) is RetryKind.CONNECT) == is_connect_failure(error)


# -- properties --------------------------------------------------------------------------

ERRORS = [
    ConnectError("x"),
    ConnectTimeout("x"),
    RequestNotProcessed("x"),
    *READ_ERRORS,
    PoolTimeout("x"),
    ProxyError("x"),
]
PHASES = [None, SENDING, AWAITING, RECEIVING]
EVENTS = st.one_of(
    st.tuples(st.just("status"), st.integers(100, 599), st.sampled_from(["", "3", "1000", "x"])),
    st.tuples(st.just("error"), st.sampled_from(ERRORS), st.sampled_from(PHASES)),
)


@settings(max_examples=300, deadline=None)
@given(
    total=st.integers(0, 6),
    limits=st.tuples(*[st.none() | st.integers(0, 4)] * 3),
    method=st.sampled_from(["GET", "PUT", "POST", "PATCH", "DELETE"]),
    replayable=st.booleans(),
    events=st.lists(EVENTS, min_size=1, max_size=12),
    entropy=st.binary(min_size=8, max_size=8),
    time_left=st.none() | st.floats(0, 10),
)
def test_a_driven_policy_is_bounded_and_safe(
    total: int,
    limits: tuple[int | None, int | None, int | None],
    method: str,
    replayable: bool,
    events: list[tuple[Any, ...]],
    entropy: bytes,
    time_left: float | None,
) -> None:
    retry = Retry(total, connect=limits[0], read=limits[1], status=limits[2], backoff_jitter=1)
    state = RetryState()
    for event in events:
        if event[0] == "status":
            headers = [(b"Retry-After", event[2].encode())] if event[2] else []
            decision = on_status(
                retry, event[1], state, method=method, headers=headers,
                random_bytes=lambda n: entropy, body_replayable=replayable, time_left=time_left,
            )  # fmt: skip
            safe = event[1] in DEFAULT_RETRY_STATUSES and method in DEFAULT_RETRY_METHODS
        else:
            error, phase = event[1], event[2]
            decision = on_error(
                retry, error, phase, state, method=method,
                random_bytes=lambda n: entropy, body_replayable=replayable, time_left=time_left,
            )  # fmt: skip
            connect = isinstance(error, ConnectError | ConnectTimeout | RequestNotProcessed)
            before_response = phase in (SENDING, AWAITING) and not isinstance(
                error, PoolTimeout | ProxyError
            )
            safe = connect or (before_response and method in DEFAULT_RETRY_METHODS)
        if not decision.retry:
            assert decision.state is state
            continue
        assert safe
        assert replayable  # every attempt here has started its body
        assert 0 <= decision.delay <= max(DEFAULT_BACKOFF_MAX, DEFAULT_RETRY_AFTER_MAX)
        assert time_left is None or decision.delay < time_left
        state = decision.state
    assert state.total <= total
    assert state.total == state.connect + state.read + state.status
    for kind, limit in zip(RetryKind, limits, strict=True):
        assert limit is None or state.count(kind) <= limit


@settings(max_examples=300, deadline=None)
@given(value=st.text(max_size=40) | st.from_regex(r"\s*[0-9]{1,30}\s*"), now=st.integers(0, 2**40))
def test_any_retry_after_value_gives_a_wait_or_none(value: str, now: int) -> None:
    seconds = parse_retry_after(value, wall_now=now)
    assert seconds is None or seconds >= 0


@settings(max_examples=200, deadline=None)
@given(
    factor=st.floats(0, 1e6),
    cap=st.floats(0, 1e6),
    jitter=st.floats(0, 1e6),
    retry=st.integers(-3, 10**6),
    entropy=st.binary(max_size=16),
)
def test_a_backoff_is_never_negative_nor_past_its_cap(
    factor: float, cap: float, jitter: float, retry: int, entropy: bytes
) -> None:
    policy = Retry(backoff_factor=factor, backoff_max=cap, backoff_jitter=jitter)
    assert 0 <= policy.backoff(retry, lambda n: entropy) <= cap


def test_state_counts() -> None:
    state = RetryState()
    for kind in itertools.chain(RetryKind, [RetryKind.READ]):
        state = state.after(kind)
    assert state == RetryState(total=4, connect=1, read=2, status=1)
    assert state.count(RetryKind.READ) == 2
