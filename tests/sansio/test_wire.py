"""The wire interface: value types and the protocol the machines implement."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest

from sansio.h1 import H1Connection
from sansio.wire import (
    NEED_BODY,
    RECEIVE,
    SEND,
    BodyChunk,
    EndOfBody,
    FailurePhase,
    RequestHead,
    ResponseHead,
    Signal,
    WireConnection,
    planned_head,
)


def test_signals_are_distinct_singletons() -> None:
    assert list(Signal) == [SEND, RECEIVE, NEED_BODY]
    assert len({SEND, RECEIVE, NEED_BODY}) == 3
    assert SEND is Signal.SEND


def test_values_are_frozen_slotted_and_compare_by_value() -> None:
    request = RequestHead(
        method=b"GET", target=b"/", headers=[(b"Host", b"a")], authority=b"a", scheme=b"https"
    )
    response = ResponseHead(status_code=200, reason=b"OK", headers=[], http_version="HTTP/1.1")
    for value, field in (
        (request, "headers"),
        (response, "status_code"),
        (BodyChunk(b"x"), "data"),
        (EndOfBody([]), "trailers"),
    ):
        assert not hasattr(value, "__dict__")
        with pytest.raises(FrozenInstanceError):
            setattr(value, field, None)
    assert BodyChunk(b"x") == BodyChunk(b"x")
    assert EndOfBody([(b"a", b"b")]) != EndOfBody([])
    with pytest.raises(TypeError):
        RequestHead(b"GET", b"/", [], b"a", b"https")  # type: ignore[call-arg]
    # The planner's head of every request: the same value, fields in order.
    assert planned_head(b"GET", b"/", [(b"Host", b"a")], b"a", b"https") == request
    # A response head takes its fields in order too (how the wire machines build it).
    assert ResponseHead(200, b"OK", [], "HTTP/1.1") == response
    assert ResponseHead(200, b"OK", [], "HTTP/1.1", ((100, []),)).informational == ((100, []),)


def test_failure_phases() -> None:
    assert {p.value for p in FailurePhase} == {"sending", "awaiting_response", "receiving"}


def test_h1_machine_implements_the_protocol() -> None:
    conn: WireConnection = H1Connection()  # checked by mypy
    assert conn.max_streams == 1
    assert conn.is_idle
    assert conn.is_reusable
    assert conn.can_start_request
