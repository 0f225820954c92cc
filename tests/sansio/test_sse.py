"""Tests for `sansio.sse`: the event-stream parser (WHATWG HTML 9.2.6), `EventSource` over
in-memory responses, and the reconnection rules of `Reconnect`.

Every parser test runs on the stream fed whole, cut in two at every position and fed one
byte at a time (`outcomes`): the events, and the error if any, must not depend on how the
bytes arrive.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
)
from typing import Any

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from sansio import sse
from sansio.exceptions import (
    ConnectError,
    LocalProtocolError,
    PoolTimeout,
    ProxyError,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    StreamError,
    TransportError,
)
from sansio.models import Request, Response
from sansio.sse import (
    DEFAULT_MAX_EVENT_SIZE,
    DEFAULT_MAX_RECONNECTION_DELAY,
    DEFAULT_MAX_RECONNECTS,
    DEFAULT_RECONNECTION_DELAY,
    EventSource,
    EventStreamParser,
    EventTooLarge,
    Reconnect,
    ServerSentEvent,
    SSEError,
    event_stream_headers,
)
from sansio.streams import AsyncByteStream, SyncByteStream

MiB = 1024 * 1024
E = ServerSentEvent
Outcome = tuple[list[ServerSentEvent], str | None]


def parse(chunks: Sequence[bytes], **options: Any) -> Outcome:
    """Events (taken one at a time, so none is lost to an error) and the error's name."""
    parser = EventStreamParser(**options)
    events: list[ServerSentEvent] = []
    try:
        for chunk in [*(c for c in chunks if c), b""]:
            parser.receive_data(chunk)
            while (event := parser.next_event()) is not None:
                events.append(event)
    except SSEError as exc:
        return events, type(exc).__name__
    return events, None


def outcomes(data: bytes, **options: Any) -> Outcome:
    """The outcome of `data` fed whole, which must equal every other way of cutting it."""
    whole = parse([data], **options)
    assert parse([data[i : i + 1] for i in range(len(data))], **options) == whole
    for cut in range(1, len(data)):
        assert parse([data[:cut], data[cut:]], **options) == whole, cut
    return whole


def events(data: bytes, **options: Any) -> list[ServerSentEvent]:
    found, error = outcomes(data, **options)
    assert error is None
    return found


# -- the standard's examples (WHATWG HTML 9.2.6 and 9.2.7) ----------------------------------


def test_three_messages() -> None:
    stream = (
        b"data: This is the first message.\n\n"
        b"data: This is the second message, it\n"
        b"data: has two lines.\n\n"
        b"data: This is the third message.\n\n"
    )
    assert events(stream) == [
        E(data="This is the first message."),
        E(data="This is the second message, it\nhas two lines."),
        E(data="This is the third message."),
    ]


def test_event_types() -> None:
    stream = (
        b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n"
    )
    assert events(stream) == [
        E(event="add", data="73857293"),
        E(event="remove", data="2153"),
        E(event="add", data="113411"),
    ]


def test_multi_line_data() -> None:
    assert events(b"data: YHOO\ndata: +2\ndata: 10\n\n") == [E(data="YHOO\n+2\n10")]


def test_ids_and_a_stream_that_ends_mid_event() -> None:
    # The last block has no blank line: it is never dispatched.
    stream = (
        b": test stream\n\n"
        b"data: first event\nid: 1\n\n"
        b"data:second event\nid\n\n"
        b"data:  third event\n"
    )
    assert events(stream) == [E(data="first event", id="1"), E(data="second event", id="")]


def test_empty_data_lines() -> None:
    # "data" alone appends an empty line: the first event has data "", the second "\n".
    assert events(b"data\n\ndata\ndata\n\ndata:") == [E(data=""), E(data="\n")]


def test_one_space_after_the_colon_is_dropped() -> None:
    assert events(b"data:test\n\ndata: test\n\ndata:  test\n\n") == [
        E(data="test"),
        E(data="test"),
        E(data=" test"),
    ]


# -- lines ------------------------------------------------------------------------------------


@pytest.mark.parametrize("end", [b"\n", b"\r", b"\r\n"], ids=["LF", "CR", "CRLF"])
def test_every_line_end(end: bytes) -> None:
    stream = b"event: e" + end + b"data: a" + end + b"data: b" + end + end
    assert events(stream) == [E(event="e", data="a\nb")]


def test_mixed_line_ends() -> None:
    assert events(b"data: a\r\ndata: b\rdata: c\n\r\n") == [E(data="a\nb\nc")]


def test_cr_cr_is_two_lines_and_lf_cr_too() -> None:
    assert events(b"data: a\r\rdata: b\n\rdata: c\r\n\n") == [E(data="a"), E(data="b"), E(data="c")]


def test_a_cr_then_a_lone_lf_in_the_next_chunk_is_one_line_end() -> None:
    assert parse([b"data: a\r", b"\n", b"data: b\r", b"\n\r", b"\n"])[0] == [E(data="a\nb")]


def test_a_cr_before_a_chunk_that_starts_with_text() -> None:
    assert parse([b"data: a\r", b"\rdata: b\r", b"\r"])[0] == [E(data="a"), E(data="b")]


def test_other_line_separators_are_data() -> None:
    data = "a\u2028b\u2029c\u0085d\x0be\x0cf\x1cg".encode()
    assert events(b"data: " + data + b"\n\n") == [E(data=data.decode())]


# -- fields -----------------------------------------------------------------------------------


def test_a_line_without_a_colon_is_a_field_with_an_empty_value() -> None:
    assert events(b"event\ndata\n\nid\ndata: x\n\n") == [E(data=""), E(data="x")]


def test_only_the_first_colon_splits() -> None:
    assert events(b"data: a: b:c\n\n") == [E(data="a: b:c")]


def test_field_names_are_case_sensitive_and_unknown_ones_ignored() -> None:
    assert events(b"Data: no\nDATA: no\nfoo: bar\n data: no\ndata: yes\n\n") == [E(data="yes")]


def test_comments_are_ignored() -> None:
    assert events(b": hello\n:\ndata: a\n: inside\ndata: b\n:\n\n") == [E(data="a\nb")]


def test_the_event_type_resets_after_each_event() -> None:
    assert events(b"event: x\ndata: 1\n\ndata: 2\n\n") == [E(event="x", data="1"), E(data="2")]


def test_an_empty_event_type_is_message() -> None:
    assert events(b"event:\ndata: 1\n\n") == [E(event="message", data="1")]


def test_a_block_without_data_is_not_dispatched_and_drops_its_type() -> None:
    # The standard: an empty data buffer resets the event type buffer and dispatches nothing.
    assert events(b"event: x\n\ndata: 1\n\nevent: y\nid: 7\nretry: 5\n\n") == [E(data="1")]


def test_an_event_type_split_over_chunks() -> None:
    assert events(b"event: update\ndata: {}\n\n") == [E(event="update", data="{}")]


# -- the last event ID ------------------------------------------------------------------------


def test_the_last_event_id_persists_across_events() -> None:
    assert events(b"id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n") == [
        E(data="a", id="1"),
        E(data="b", id="1"),
        E(data="c", id="2"),
    ]


def test_an_id_with_nul_is_ignored() -> None:
    assert events(b"id: 1\ndata: a\n\nid: 2\x00\ndata: b\n\n") == [
        E(data="a", id="1"),
        E(data="b", id="1"),
    ]


def test_an_id_alone_still_sets_the_last_event_id() -> None:
    parser = EventStreamParser()
    assert parser.feed(b"id: 5\n\n") == []
    assert parser.last_event_id == "5"
    assert parser.feed(b"data: x\n\n") == [E(data="x", id="5")]


def test_the_last_event_id_changes_only_at_a_blank_line() -> None:
    # An event cut off by the end of the stream was never received: its ID does not count.
    parser = EventStreamParser()
    parser.feed(b"id: 1\ndata: a\n\nid: 2\ndata: b\n")
    assert parser.last_event_id == "1"
    parser.feed(b"")
    assert parser.last_event_id == "1"


def test_the_parser_can_start_from_a_last_event_id() -> None:
    parser = EventStreamParser(last_event_id="41")
    assert parser.last_event_id == "41"
    assert parser.feed(b"data: a\n\nid\ndata: b\n\n") == [E(data="a", id="41"), E(data="b")]
    assert parser.last_event_id == ""


# -- retry ------------------------------------------------------------------------------------


def test_retry_sets_the_reconnection_time_and_marks_its_event() -> None:
    parser = EventStreamParser()
    assert parser.retry is None
    assert parser.feed(b"retry: 1500\ndata: a\n\ndata: b\n\n") == [
        E(data="a", retry=1500),
        E(data="b"),
    ]
    assert parser.retry == 1500


def test_retry_alone_is_not_an_event_but_is_kept() -> None:
    parser = EventStreamParser()
    assert parser.feed(b"retry: 0\n\ndata: a\n\n") == [E(data="a")]
    assert parser.retry == 0


@pytest.mark.parametrize(
    "value",
    [b"", b" ", b"1a", b"-1", b"+1", b"1.5", b"1e3", b"  10", b"10 ", "\u0661".encode(), b"\xb2"],
)
def test_retry_takes_ascii_digits_only(value: bytes) -> None:
    parser = EventStreamParser()
    assert parser.feed(b"retry: 7\n\nretry:" + value + b"\ndata: a\n\n") == [E(data="a")]
    assert parser.retry == 7


def test_a_huge_retry_saturates() -> None:
    parser = EventStreamParser()
    parser.feed(b"retry: " + b"9" * 5000 + b"\n\n")
    assert parser.retry == 999_999_999_999_999
    parser.feed(b"retry: " + b"1" * 15 + b"\n\n")
    assert parser.retry == 111_111_111_111_111


# -- decoding ---------------------------------------------------------------------------------


def test_utf8_split_anywhere() -> None:
    text = "caf\u00e9 \u20ac \U0001f600 \u4e2d"
    assert events(("event: \u00e9\u20ac\ndata: " + text + "\n\n").encode()) == [
        E(event="\u00e9\u20ac", data=text)
    ]


def test_invalid_utf8_is_replaced() -> None:
    assert events(b"data: a\xffb\xe2\x82\n\ndata: \xf0\x9f\n\n") == [
        E(data="a\ufffdb\ufffd"),
        E(data="\ufffd"),
    ]


def test_a_bom_at_the_start_is_skipped() -> None:
    assert events(b"\xef\xbb\xbfdata: a\n\n") == [E(data="a")]


def test_only_one_bom_is_skipped() -> None:
    # The second BOM is part of the first line's field name: an unknown field.
    assert events(b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\ndata: b\n\n") == [E(data="b")]


def test_a_bom_later_is_not_skipped() -> None:
    assert events(b"data: a\n\n\xef\xbb\xbfdata: b\n\ndata: \xef\xbb\xbfc\n\n") == [
        E(data="a"),
        E(data="\ufeffc"),
    ]


@pytest.mark.parametrize("start", [b"\xef", b"\xef\xbb", b"\xef\xbb\xbf", b"\xef\xbbX"])
def test_a_stream_of_only_a_bom_or_part_of_one(start: bytes) -> None:
    assert outcomes(start) == ([], None)
    assert events(start + b"\ndata: a\n\n") == [E(data="a")]


def test_a_broken_bom_is_text() -> None:
    assert events(b"\xef\xbbdata: a\n\ndata: b\n\n") == [E(data="b")]
    assert events(b"\xef\xbb\n\ndata: b\n\n") == [E(data="b")]


# -- the end of the stream --------------------------------------------------------------------


def test_an_unfinished_event_is_discarded() -> None:
    assert outcomes(b"data: a\n\ndata: b\n") == ([E(data="a")], None)
    assert outcomes(b"data: a\n\ndata: b") == ([E(data="a")], None)


def test_nothing_after_the_end() -> None:
    parser = EventStreamParser()
    parser.receive_data(b"data: a\n\ndata: b\n")
    parser.receive_data(b"")
    assert parser.next_event() == E(data="a")
    assert parser.next_event() is None
    assert parser.next_event() is None
    with pytest.raises(StreamError, match="ended"):
        parser.receive_data(b"data: c\n\n")
    with pytest.raises(StreamError):
        parser.receive_data(b"")


def test_next_event_without_data() -> None:
    assert EventStreamParser().next_event() is None


# -- the size limit ---------------------------------------------------------------------------


def test_default_limit() -> None:
    assert 8 * MiB == DEFAULT_MAX_EVENT_SIZE
    big = b"x" * (DEFAULT_MAX_EVENT_SIZE - len(b"data:"))
    assert parse([b"data:" + big + b"\n\n"]) == ([E(data=big.decode())], None)
    assert parse([b"data:" + big + b"x\n\n"]) == ([], "EventTooLarge")


@pytest.mark.parametrize(
    "event",
    [
        b"data:12345",  # one line
        b"data:1\ndata:2\ndata",  # data lines add up (line ends not counted)
        b"data:1\ndata:2\nevent:",  # and the line being read counts with them
        b"data\nid:1234",
    ],
)
def test_the_limit_counts_the_lines_of_the_event(event: bytes) -> None:
    limit = sum(len(line) for line in event.split(b"\n"))
    stream = b"data:b\n\n" + event + b"\n\ndata:a\n\n"
    found, error = outcomes(stream, max_event_size=limit)
    assert error is None
    assert len(found) in {2, 3}
    assert outcomes(stream, max_event_size=limit - 1) == ([E(data="b")], "EventTooLarge")


def test_the_limit_stops_a_line_before_its_end() -> None:
    parser = EventStreamParser(max_event_size=100)
    parser.receive_data(b"data: a\n\ndata: ")
    parser.receive_data(b"x" * 94)
    assert parser.next_event() == E(data="a")
    assert parser.next_event() is None
    parser.receive_data(b"x")
    with pytest.raises(EventTooLarge, match="max_event_size=100"):
        parser.next_event()


def test_other_lines_do_not_add_up() -> None:
    # Only data lines accumulate; event, id and other lines replace or vanish.
    stream = b"event: aaaa\nid: bbbbb\nfoo: cccccc\nevent: dddd\ndata: e\n\n"
    assert events(stream, max_event_size=11) == [E(event="dddd", data="e", id="bbbbb")]
    assert outcomes(stream, max_event_size=10) == ([], "EventTooLarge")


def test_comments_do_not_count() -> None:
    stream = b":" + b"c" * 1000 + b"\ndata: a\n:" + b"c" * 1000 + b"\n\n"
    assert events(stream, max_event_size=10) == [E(data="a")]


def test_the_count_restarts_with_each_event() -> None:
    stream = b"data: 12\n\n" * 5
    assert events(stream, max_event_size=8) == [E(data="12")] * 5


def test_no_limit() -> None:
    big = b"x" * (DEFAULT_MAX_EVENT_SIZE + 1)
    assert parse([b"data:" + big + b"\n\n"], max_event_size=None) == ([E(data=big.decode())], None)


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "10"])
def test_bad_limits(bad: Any) -> None:
    with pytest.raises(ValueError, match="max_event_size"):
        EventStreamParser(max_event_size=bad)


def test_feed_loses_the_events_before_an_error_in_the_same_chunk() -> None:
    parser = EventStreamParser(max_event_size=10)
    with pytest.raises(EventTooLarge):
        parser.feed(b"data: a\n\ndata: " + b"x" * 20)
    assert issubclass(EventTooLarge, SSEError)


# -- linear work ------------------------------------------------------------------------------


def test_a_large_event_one_byte_at_a_time_is_scanned_once(monkeypatch: pytest.MonkeyPatch) -> None:
    scanned = []

    def counting(data: bytes, keepends: bool) -> list[bytes]:
        scanned.append(len(data))
        return data.splitlines(keepends)

    monkeypatch.setattr(sse, "_splitlines", counting)
    stream = b"id: 1\ndata: " + b"x" * MiB + b"\r\ndata: y\n\n"
    parser = EventStreamParser()
    found = []
    # This loop is about work, not coverage (other tests run these lines): under a
    # coverage tracer its million calls would take ten times longer.
    tracer = sys.gettrace()
    sys.settrace(None)
    try:
        for i in range(len(stream)):
            found += parser.feed(stream[i : i + 1])
    finally:
        sys.settrace(tracer)
    assert found == [E(data="x" * MiB + "\ny", id="1")]
    # Every byte passed the line scanner once: no rescanning of what was held.
    assert sum(scanned) == len(stream)
    assert len(scanned) == len(stream)


# -- properties -------------------------------------------------------------------------------


def reference(data: bytes) -> list[ServerSentEvent]:
    """WHATWG HTML 9.2.6 read literally: decode everything, split, interpret line by line."""
    text = data.decode("utf-8-sig", "replace")  # the standard's UTF-8 decode drops one BOM
    lines = re.split("\r\n|\r|\n", text)[:-1]  # what follows the last line end is no line
    found = []
    data_buffer, event_type, id_buffer, retry = "", "", "", None
    for line in lines:
        if line == "":
            last_id = id_buffer
            if data_buffer:
                found.append(E(event_type, data_buffer.removesuffix("\n"), last_id, retry))
            data_buffer, event_type, retry = "", "", None
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data_buffer += value + "\n"
        elif name == "event":
            event_type = value
        elif name == "id" and "\0" not in value:
            id_buffer = value
        elif name == "retry" and value and all(c in "0123456789" for c in value):
            retry = int(value)
    return found


_CHARACTERS = ["a", "b", " ", ":", "0", "7", "\0", "\u00e9", "\u2028", "\ufeff", "\U0001f600"]
_VALUES = st.text(st.sampled_from(_CHARACTERS), max_size=6)
_LINES = st.one_of(
    st.just(""),
    st.tuples(
        st.sampled_from(["data", "event", "id", "retry", "", "dat", "Data", "x"]),
        st.sampled_from(["", ":", ": ", ":  "]),
        _VALUES,
    ).map("".join),
)
_STREAMS = st.tuples(
    st.booleans(),
    st.lists(st.tuples(_LINES, st.sampled_from(["\n", "\r", "\r\n"])), max_size=12),
    st.sampled_from(["", "\n", "data: tail"]),
).map(
    lambda parts: (
        (b"\xef\xbb\xbf" if parts[0] else b"")
        + "".join(line + end for line, end in parts[1]).encode()
        + parts[2].encode()
    )
)


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=300, deadline=None)
@given(_STREAMS, st.lists(st.integers(min_value=0), max_size=8))
def test_the_parser_agrees_with_the_standard_however_split(data: bytes, cuts: list[int]) -> None:
    expected = reference(data)
    assert parse([data]) == (expected, None)
    assert parse(_cut(data, cuts)) == (expected, None)


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=80),
    st.lists(st.integers(min_value=0), max_size=8),
    st.one_of(st.none(), st.integers(min_value=1, max_value=40)),
)
def test_any_bytes_give_events_or_a_conch_error(
    data: bytes, cuts: list[int], limit: int | None
) -> None:
    # Random bytes, with line ends mixed in often enough to make lines.
    data = data.replace(b"\x01", b"\n").replace(b"\x02", b"\r").replace(b"\x03", b"data:")
    whole = parse([data], max_event_size=limit)
    assert parse(_cut(data, cuts), max_event_size=limit) == whole
    if limit is None:
        assert whole == (reference(data), None)


# -- events -----------------------------------------------------------------------------------


def test_event_defaults() -> None:
    event = ServerSentEvent()
    assert (event.event, event.data, event.id, event.retry) == ("message", "", "", None)
    assert repr(event) == "ServerSentEvent(event='message')"


def test_event_repr_eq_hash() -> None:
    event = ServerSentEvent(data="data", retry=3, id="id", event="event")
    assert repr(event) == "ServerSentEvent(event='event', data='data', id='id', retry=3)"
    assert event == ServerSentEvent("event", "data", "id", 3)
    assert event != ServerSentEvent("event", "data", "id", 4)
    assert event != ("event", "data", "id", 3)
    assert len({event, ServerSentEvent("event", "data", "id", 3)}) == 1


def test_events_are_read_only() -> None:
    event = ServerSentEvent(data="x")
    with pytest.raises(AttributeError):
        event.data = "y"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        event.other = 1  # type: ignore[attr-defined]


def test_event_json() -> None:
    assert ServerSentEvent(data='{"key": "value"}').json() == {"key": "value"}
    assert ServerSentEvent(data='["a", 1]').json() == ["a", 1]
    with pytest.raises(json.JSONDecodeError):
        ServerSentEvent().json()


def test_sse_error_is_a_transport_error() -> None:
    assert issubclass(SSEError, TransportError)


# -- request headers --------------------------------------------------------------------------


def test_event_stream_headers() -> None:
    headers = event_stream_headers({"Accept": "text/html", "X-Token": "t"})
    assert headers["accept"] == "text/event-stream"
    assert headers["cache-control"] == "no-store"
    assert headers["x-token"] == "t"
    assert headers.get_list("accept") == ["text/event-stream"]
    assert "last-event-id" not in headers
    assert "last-event-id" not in event_stream_headers(None, "")


def test_last_event_id_header() -> None:
    mine = {"Last-Event-ID": "from-caller"}
    assert event_stream_headers(mine)["last-event-id"] == "from-caller"
    assert event_stream_headers(mine, None)["last-event-id"] == "from-caller"
    assert event_stream_headers(mine, "42")["last-event-id"] == "42"
    assert "last-event-id" not in event_stream_headers(mine, "")
    # The standard sends the ID as UTF-8.
    sent = event_stream_headers(None, "\u00e9\u20ac")
    assert sent.raw[-1] == (b"Last-Event-ID", "\u00e9\u20ac".encode())


# -- EventSource over in-memory responses -----------------------------------------------------


class Body(SyncByteStream):
    """A sync body: ``pieces`` one by one, then ``error`` if given."""

    def __init__(self, *pieces: bytes, error: Exception | None = None) -> None:
        self.pieces = pieces
        self.error = error
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield from self.pieces
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        self.closed = True


class AsyncBody(AsyncByteStream):
    def __init__(self, *pieces: bytes, error: Exception | None = None) -> None:
        self.pieces = pieces
        self.error = error
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece
        if self.error is not None:
            raise self.error

    async def aclose(self) -> None:
        self.closed = True


STREAM = [("Content-Type", "text/event-stream")]


def response(
    *pieces: bytes,
    status: int = 200,
    headers: Any = STREAM,
    error: Exception | None = None,
    asynchronous: bool = False,
    request: Request | None = None,
) -> Response:
    body = AsyncBody(*pieces, error=error) if asynchronous else Body(*pieces, error=error)
    request = request or Request("GET", "http://sse.test/", headers=event_stream_headers(None))
    return Response(status, headers=headers, stream=body, request=request)


def collect(source: EventSource, **options: Any) -> list[ServerSentEvent]:
    return list(source.iter_sse(**options))


def acollect(source: EventSource, library: str, **options: Any) -> list[ServerSentEvent]:
    async def main() -> list[ServerSentEvent]:
        return [event async for event in source.aiter_sse(**options)]

    return asyncio.run(main()) if library == "asyncio" else trio.run(main)


LIBRARIES = ["asyncio", "trio"]


def test_iter_sse() -> None:
    source = EventSource(response(b"data: YH", b"OO\nid: 1\n\nda", b"ta: +2\n\n"))
    assert collect(source) == [E(data="YHOO", id="1"), E(data="+2", id="1")]
    assert source.response.is_closed


@pytest.mark.parametrize("library", LIBRARIES)
def test_aiter_sse(library: str) -> None:
    source = EventSource(response(b"data: YH", b"OO\n\nda", b"ta: +2\n\n", asynchronous=True))
    assert acollect(source, library) == [E(data="YHOO"), E(data="+2")]
    assert source.response.is_closed


def test_a_gzip_stream_is_decoded() -> None:
    import gzip

    body = gzip.compress(b"data: zipped\n\n")
    headers = [*STREAM, ("Content-Encoding", "gzip")]
    assert collect(EventSource(response(body[:7], body[7:], headers=headers))) == [E(data="zipped")]


@pytest.mark.parametrize(
    "content_type",
    [
        "text/event-stream",
        "text/event-stream; charset=utf-8",
        "Text/Event-Stream",
        "application/json, text/event-stream; charset=utf-8",
    ],
)
def test_event_stream_content_types(content_type: str) -> None:
    source = EventSource(response(b"data: a\n\n", headers={"Content-Type": content_type}))
    assert collect(source) == [E(data="a")]


@pytest.mark.parametrize("content_type", [None, "text/plain", "text/event-streams", "text/html"])
def test_other_content_types_fail_when_iteration_starts(content_type: str | None) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    source = EventSource(response(b"data: a\n\n", headers=headers))
    events = source.iter_sse()  # nothing raised yet, as in httpx-sse
    with pytest.raises(SSEError, match="text/event-stream") as caught:
        next(events)
    assert caught.value.request is source.response.request
    with pytest.raises(SSEError, match="text/event-stream"):
        acollect(EventSource(response(headers=headers, asynchronous=True)), "asyncio")


def test_the_size_limit_through_an_event_source() -> None:
    source = EventSource(response(b"data: ok\n\ndata: " + b"x" * 100 + b"\n\n"))
    events = source.iter_sse(max_event_size=50)
    assert next(events) == E(data="ok")
    with pytest.raises(EventTooLarge) as caught:
        next(events)
    assert caught.value.request is source.response.request
    with pytest.raises(ValueError, match="max_event_size"):
        source.iter_sse(max_event_size=0)


@pytest.mark.parametrize("library", LIBRARIES)
def test_the_size_limit_through_aiter_sse(library: str) -> None:
    source = EventSource(response(b"data: " + b"x" * 100 + b"\n\n", asynchronous=True))
    with pytest.raises(EventTooLarge):
        acollect(source, library, max_event_size=50)
    with pytest.raises(ValueError, match="max_event_size"):
        source.aiter_sse(max_event_size=-1)


def test_an_error_without_a_request_attached() -> None:
    bare = Response(200, headers=STREAM, stream=Body(b"data: " + b"x" * 100 + b"\n\n"))
    with pytest.raises(EventTooLarge):
        collect(EventSource(bare), max_event_size=10)
    with pytest.raises(SSEError) as caught:
        collect(EventSource(Response(200, content=b"")))
    with pytest.raises(RuntimeError):
        caught.value.request  # noqa: B018


def test_stopping_early_closes_the_body() -> None:
    source = EventSource(response(b"data: a\n\n", b"data: b\n\n"))
    events = source.iter_sse()
    assert next(events) == E(data="a")
    events.close()
    assert not source.response.is_closed  # closing it is the caller's (connect_sse's) part


def test_reconnect_needs_a_connected_source() -> None:
    with pytest.raises(ValueError, match="connect_sse"):
        EventSource(response()).iter_sse(reconnect=True)
    with pytest.raises(ValueError, match="aconnect_sse"):
        EventSource(response()).aiter_sse(reconnect=True)


# -- Reconnect: the decisions -----------------------------------------------------------------


def test_reconnect_defaults() -> None:
    policy = Reconnect()
    assert policy.max_reconnects == DEFAULT_MAX_RECONNECTS == 5
    assert policy.reconnection_time == DEFAULT_RECONNECTION_DELAY == 3.0
    assert policy.max_delay == DEFAULT_MAX_RECONNECTION_DELAY == 300.0
    assert policy.last_event_id is None
    assert policy.attempts == 0


@pytest.mark.parametrize(
    "options",
    [
        {"max_reconnects": -1},
        {"max_reconnects": True},
        {"max_reconnects": 1.0},
        {"delay": -1.0},
        {"delay": 10.0, "max_delay": 5.0},
    ],
)
def test_reconnect_bad_options(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"max_reconnects|delay"):
        Reconnect(**options)


def test_accept() -> None:
    policy = Reconnect()
    assert policy.accept(response())
    assert not policy.accept(response(status=204, headers={}))  # the server says: stop
    with pytest.raises(SSEError, match=r"200 response.*503 Service Unavailable"):
        policy.accept(response(status=503))
    with pytest.raises(SSEError, match="text/event-stream"):
        policy.accept(response(headers={"Content-Type": "text/plain"}))


def test_the_parser_starts_from_the_id_the_request_sent() -> None:
    policy = Reconnect()
    sent = Request("GET", "http://sse.test/", headers=event_stream_headers(None, "7"))
    assert policy.parser(response(request=sent), 10).last_event_id == "7"
    assert policy.parser(response(), 10).last_event_id == ""
    assert policy.parser(Response(200), None).last_event_id == ""


def test_ended_keeps_the_id_and_the_servers_retry() -> None:
    policy = Reconnect()
    parser = EventStreamParser()
    policy.ended(parser)
    assert (policy.last_event_id, policy.reconnection_time) == ("", 3.0)
    parser.feed(b"id: 9\nretry: 250\n\n")
    policy.ended(parser)
    assert (policy.last_event_id, policy.reconnection_time) == ("9", 0.25)


@pytest.mark.parametrize(
    ("error", "again"),
    [
        (ReadError("reset"), True),
        (ConnectError("refused"), True),
        (ReadTimeout("slow"), True),
        (PoolTimeout("busy"), True),
        (RemoteProtocolError("cut short"), True),
        (SSEError("not a stream"), False),
        (EventTooLarge("big"), False),
        (LocalProtocolError("bad header"), False),
        (ProxyError("no"), False),
    ],
)
def test_which_failures_reconnect(error: TransportError, again: bool) -> None:
    assert Reconnect().should_reconnect(error) is again


def test_delays_back_off_and_give_up() -> None:
    policy = Reconnect(max_reconnects=3, delay=1.0, max_delay=3.0)
    assert [policy.next_delay(), policy.next_delay(), policy.next_delay()] == [1.0, 2.0, 3.0]
    cause = ReadError("gone")
    with pytest.raises(SSEError, match="max_reconnects=3") as caught:
        policy.next_delay(cause)
    assert caught.value.__cause__ is cause
    policy.received()  # an event: the next reconnection starts from the short delay again
    assert policy.next_delay() == 1.0


def test_the_servers_retry_sets_the_delay_up_to_the_cap() -> None:
    policy = Reconnect()
    parser = EventStreamParser()
    parser.feed(b"retry: 10\n\n")
    policy.ended(parser)
    assert policy.next_delay() == 0.01
    parser.feed(b"retry: 99999999999\n\n")
    policy.ended(parser)
    policy.received()
    assert policy.next_delay() == DEFAULT_MAX_RECONNECTION_DELAY


def test_unbounded_reconnects_stay_finite() -> None:
    policy = Reconnect(max_reconnects=None, delay=1.0, max_delay=1e300)
    delays = [policy.next_delay() for _ in range(2000)]
    assert delays[:3] == [1.0, 2.0, 4.0]
    assert delays[-1] == 2.0**32
    assert Reconnect(max_reconnects=0).max_reconnects == 0


# -- EventSource with reconnection, over scripted in-memory connections ----------------------


Step = Response | Exception


class Server:
    """Scripted connections: each `connect` takes the next step (a response builder's
    output, or an exception to raise as the connection fails)."""

    def __init__(self, *steps: Callable[[Request], Step]) -> None:
        self.steps = list(steps)
        self.sent: list[str | None] = []  # the Last-Event-ID of each request (None: none)
        self.opened: list[Response] = []
        self.closed = 0

    def request(self, last_event_id: str | None) -> Request:
        headers = event_stream_headers(None, last_event_id)
        request = Request("GET", "http://sse.test/", headers=headers)
        self.sent.append(request.headers.get("last-event-id"))
        return request

    def first(self) -> Response:
        result = self.steps.pop(0)(self.request(None))
        assert isinstance(result, Response)
        self.opened.append(result)
        return result

    def step(self, last_event_id: str | None) -> Response:
        result = self.steps.pop(0)(self.request(last_event_id))
        if isinstance(result, Exception):
            raise result
        self.opened.append(result)
        return result

    @contextmanager
    def _sync(self, last_event_id: str | None) -> Iterator[Response]:
        result = self.step(last_event_id)
        try:
            yield result
        finally:
            self.closed += 1

    @asynccontextmanager
    async def _async(self, last_event_id: str | None) -> AsyncIterator[Response]:
        result = self.step(last_event_id)
        try:
            yield result
        finally:
            self.closed += 1

    def connect(self, last_event_id: str | None) -> AbstractContextManager[Response]:
        return self._sync(last_event_id)

    def aconnect(self, last_event_id: str | None) -> AbstractAsyncContextManager[Response]:
        return self._async(last_event_id)


def reply(*pieces: bytes, status: int = 200, headers: Any = STREAM, error: Exception | None = None,
          asynchronous: bool = False) -> Callable[[Request], Step]:  # fmt: skip
    return lambda request: response(
        *pieces, status=status, headers=headers, error=error, asynchronous=asynchronous,
        request=request,
    )  # fmt: skip


def fail(error: Exception) -> Callable[[Request], Step]:
    return lambda request: error


class Run:
    """Reads a scripted server with reconnection, sync or on an event loop."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sleeps: list[float] = []

    @property
    def asynchronous(self) -> bool:
        return self.mode != "sync"

    def source(self, server: Server) -> EventSource:
        source = EventSource(server.first())
        if self.asynchronous:

            async def sleep(seconds: float) -> None:
                self.sleeps.append(seconds)

            source._abind(server.aconnect, sleep)
        else:
            source._bind(server.connect, self.sleeps.append)
        return source

    def events(self, source: EventSource, limit: int | None = None, **options: Any) -> list[E]:
        if not self.asynchronous:
            found = []
            events = source.iter_sse(**options)
            for event in events:
                found.append(event)
                if len(found) == limit:
                    events.close()  # type: ignore[attr-defined]
            return found

        async def main() -> list[E]:
            found = []
            events = source.aiter_sse(**options)
            async for event in events:
                found.append(event)
                if len(found) == limit:
                    await events.aclose()
            return found

        return asyncio.run(main()) if self.mode == "asyncio" else trio.run(main)


@pytest.fixture(params=["sync", "asyncio", "trio"])
def run(request: pytest.FixtureRequest) -> Run:
    return Run(request.param)


def test_reconnects_with_the_last_event_id_until_the_server_says_stop(run: Run) -> None:
    a = run.asynchronous
    server = Server(
        reply(b"retry: 20\nid: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 3\ndata: lost", asynchronous=a),
        reply(b"data: c\n\nid: \xc3\xa9\ndata: d\n\n", asynchronous=a),
        reply(status=204, headers={}, asynchronous=a),
    )
    found = run.events(run.source(server), reconnect=True)
    assert found == [
        E(data="a", id="1", retry=20),
        E(data="b", id="2"),
        E(data="c", id="2"),
        E(data="d", id="\u00e9"),
    ]
    assert server.sent == [None, "2", "\u00e9"]
    assert run.sleeps == [0.02, 0.02]
    assert all(r.is_closed for r in server.opened)
    assert server.closed == 2


def test_network_failures_reconnect_and_back_off(run: Run) -> None:
    a = run.asynchronous
    server = Server(
        reply(b"retry: 10\nid: 1\ndata: a\n\n", error=ReadError("reset"), asynchronous=a),
        fail(ConnectError("refused")),
        reply(b"data: b\n\n", error=RemoteProtocolError("cut"), asynchronous=a),
        reply(b"", asynchronous=a),
        reply(status=204, headers={}, asynchronous=a),
    )
    policy = Reconnect()
    found = run.events(run.source(server), reconnect=policy)
    assert found == [E(data="a", id="1", retry=10), E(data="b", id="1")]
    assert server.sent == [None, "1", "1", "1", "1"]
    # Each connection that brings no event doubles the wait; one with an event resets it.
    assert run.sleeps == [0.01, 0.02, 0.01, 0.02]
    assert policy.last_event_id == "1"


def test_gives_up_after_max_reconnects(run: Run) -> None:
    a = run.asynchronous
    server = Server(
        reply(b"data: a\n\n", asynchronous=a),
        fail(ConnectError("refused")),
        fail(ConnectError("refused again")),
    )
    with pytest.raises(SSEError, match="max_reconnects=2") as caught:
        run.events(run.source(server), reconnect=Reconnect(max_reconnects=2, delay=0.5))
    assert isinstance(caught.value.__cause__, ConnectError)
    assert run.sleeps == [0.5, 1.0]


@pytest.mark.parametrize(
    ("second", "message"),
    [
        ({"status": 500}, "got 500"),
        ({"headers": {"Content-Type": "text/html"}}, "text/event-stream"),
        ({"pieces": [b"data: " + b"x" * 100 + b"\n\n"]}, "max_event_size"),
    ],
    ids=["status", "content-type", "too-large"],
)
def test_failures_of_the_stream_itself_are_raised(
    run: Run, second: dict[str, Any], message: str
) -> None:
    a = run.asynchronous
    options = dict(second)
    pieces = options.pop("pieces", [b"data: x\n\n"])
    server = Server(
        reply(b"data: a\n\n", asynchronous=a), reply(*pieces, **options, asynchronous=a)
    )
    with pytest.raises(SSEError, match=message):
        run.events(run.source(server), reconnect=True, max_event_size=50)
    assert run.sleeps == [3.0]
    assert all(r.is_closed for r in server.opened)


def test_other_errors_are_raised_at_once(run: Run) -> None:
    a = run.asynchronous
    server = Server(reply(b"data: a\n\n", error=LocalProtocolError("ours"), asynchronous=a))
    with pytest.raises(LocalProtocolError):
        run.events(run.source(server), reconnect=True)
    assert run.sleeps == []


def test_a_204_at_first_means_no_events(run: Run) -> None:
    server = Server(reply(status=204, headers={}, asynchronous=run.asynchronous))
    assert run.events(run.source(server), reconnect=True) == []
    assert server.sent == [None]


def test_stopping_early_closes_the_reconnected_response(run: Run) -> None:
    a = run.asynchronous
    server = Server(
        reply(b"data: a\n\n", asynchronous=a),
        reply(b"data: b\n\ndata: c\n\n", asynchronous=a),
    )
    source = run.source(server)
    assert run.events(source, limit=2, reconnect=True) == [E(data="a"), E(data="b")]
    assert source.response is server.opened[1]
    assert source.response.is_closed
    assert server.closed == 1


def test_the_first_requests_last_event_id_is_the_starting_point(run: Run) -> None:
    a = run.asynchronous
    server = Server(
        reply(b"data: a\n\nid\ndata: b\n\n", asynchronous=a),
        reply(b"data: c\n\n", asynchronous=a),
        reply(status=204, headers={}, asynchronous=a),
    )
    first = server.steps[0]
    server.steps[0] = lambda request: first(
        Request("GET", request.url, headers=event_stream_headers(None, "40"))
    )
    found = run.events(run.source(server), reconnect=True)
    # The server reset the ID with an empty "id": the reconnection sends none.
    assert found == [E(data="a", id="40"), E(data="b"), E(data="c")]
    assert server.sent == [None, None, None]
