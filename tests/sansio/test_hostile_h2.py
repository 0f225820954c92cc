"""Hostile HTTP/2 input: valid server frame sequences, mutated, cut short and split anywhere.

h2 in the server role answers three requests (a GET, a POST with a body, a HEAD) with
a random sequence of actions: responses with 1xx heads, header fields, bodies in several
DATA frames (some padded) and trailers, PINGs, SETTINGS changes, WINDOW_UPDATEs,
RST_STREAMs and GOAWAY. Its bytes are then mutated (bytes flipped, inserted, deleted or
repeated, or the tail cut off), split at random points and fed to the client machine,
which a miniature shell drives until every stream has ended.

What the machine promises (the rules of sansio/h2.py and sansio/wire.py), checked here:

- `receive_data` never raises; `next_step`, `send_body` and `release` raise nothing but
  conch's protocol errors;
- every stream ends (its response, or an error) once EOF is fed, within a number of
  steps linear in the input: never a hang;
- what it hands out (body bytes) and what it asks to send (ACKs, WINDOW_UPDATEs, resets,
  GOAWAY) grow linearly with the input: no amplification, no unbounded buffering.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import h2.config
import h2.connection
import h2.exceptions
from h2.errors import ErrorCodes
from h2.settings import SettingCodes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sansio.exceptions import ProtocolError
from sansio.h2 import MAX_FRAME_SIZE, H2Connection
from sansio.wire import NEED_BODY, RECEIVE, SEND, BodyChunk, EndOfBody, RequestHead

# Bounds the tests hold the machine to. Every frame is at least 9 bytes and becomes at
# most one event or reply (a 17-byte PING its 17-byte ACK, a 9-byte SETTINGS its 9-byte
# ACK), so a few steps and a few bytes out per byte in is generous; the constants cover
# the preface, the requests and the streams' own steps.
STEPS_PER_BYTE = 1
STEPS_BASE = 100
OUT_PER_BYTE = 3
OUT_BASE = 16 * 1024  # our preface, three requests, their bodies

UPLOAD = (b"u" * 5000, b"v" * 300)


def requests(conn: H2Connection) -> dict[int, Iterator[bytes] | None]:
    """Start the three requests; their stream ids and bodies."""
    heads = [
        (b"GET", False),
        (b"POST", True),
        (b"HEAD", False),
    ]
    started: dict[int, Iterator[bytes] | None] = {}
    for method, has_body in heads:
        head = RequestHead(
            method=method, target=b"/", headers=[], authority=b"example.com", scheme=b"https"
        )
        sid = conn.start_request(head, has_body=has_body)
        started[sid] = iter(UPLOAD) if has_body else None
    return started


# -- the server's side: valid frames from h2 ---------------------------------------------

statuses = st.sampled_from([b"200", b"204", b"404", b"500"])
names = st.sampled_from([b"x-a", b"x-b", b"content-type", b"set-cookie", b"vary"])
field_values = st.binary(max_size=40).map(lambda v: v.translate(None, b"\r\n\x00 \t") or b"v")

respond = st.tuples(
    st.just("respond"),
    st.integers(0, 2),  # which request
    st.integers(0, 2),  # 1xx heads first
    statuses,
    st.lists(st.tuples(names, field_values), max_size=6),
    st.lists(st.integers(0, 3000), min_size=1, max_size=3),  # DATA frame sizes
    st.integers(0, 40),  # padding
    st.booleans(),  # trailers
)
control = st.one_of(
    st.tuples(st.just("ping"), st.binary(min_size=8, max_size=8)),
    st.tuples(
        st.just("settings"),
        st.sampled_from(
            [
                (SettingCodes.MAX_CONCURRENT_STREAMS, 0),
                (SettingCodes.MAX_CONCURRENT_STREAMS, 1),
                (SettingCodes.INITIAL_WINDOW_SIZE, 0),
                (SettingCodes.INITIAL_WINDOW_SIZE, 70000),
                (SettingCodes.HEADER_TABLE_SIZE, 0),
                (SettingCodes.MAX_FRAME_SIZE, 32768),
            ]
        ),
    ),
    st.tuples(st.just("window"), st.integers(-1, 2), st.integers(1, 100_000)),
    st.tuples(st.just("reset"), st.integers(0, 2), st.sampled_from(list(ErrorCodes))),
    st.tuples(st.just("goaway"), st.integers(0, 2), st.sampled_from(list(ErrorCodes))),
)
actions = st.lists(st.one_of(respond, control), min_size=1, max_size=10)


def server_bytes(script: list[tuple[Any, ...]]) -> bytes:
    """What h2, as the server, sends for ``script`` after reading our three requests."""
    client = H2Connection()
    sids = list(requests(client))
    server = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=False, header_encoding=None)
    )
    server.initiate_connection()
    server.receive_data(client.data_to_send())
    for action in script:
        # An action not valid in the stream's state: the server would not send it.
        with contextlib.suppress(h2.exceptions.H2Error):
            _act(server, sids, action)
    return server.data_to_send()


def _act(server: h2.connection.H2Connection, sids: list[int], action: tuple[Any, ...]) -> None:
    kind = action[0]
    if kind == "respond":
        _, which, early, status, fields, sizes, pad, trailers = action
        sid = sids[which]
        for _ in range(early):
            server.send_headers(sid, [(b":status", b"103")])
        ends = not sizes and not trailers
        server.send_headers(sid, [(b":status", status), *fields], end_stream=ends)
        for index, size in enumerate(sizes):
            last = index == len(sizes) - 1 and not trailers
            server.send_data(sid, b"d" * size, end_stream=last, pad_length=pad or None)
        if trailers:
            server.send_headers(sid, [(b"x-sum", b"1")], end_stream=True)
    elif kind == "ping":
        server.ping(action[1])
    elif kind == "settings":
        server.update_settings(dict([action[1]]))
    elif kind == "window":
        sid = None if action[1] < 0 else sids[action[1]]
        server.increment_flow_control_window(action[2], stream_id=sid)
    elif kind == "reset":
        server.reset_stream(sids[action[1]], action[2])
    else:
        server.close_connection(action[2], last_stream_id=sids[action[1]])


# -- mutations and splits ----------------------------------------------------------------


@st.composite
def hostile(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    """Server bytes, mutated, and the pieces they arrive in."""
    data = server_bytes(draw(actions))
    kind = draw(st.sampled_from(["none", "flip", "insert", "delete", "repeat", "truncate"]))
    at = draw(st.integers(0, len(data)))
    if kind == "flip":
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(data) - 1))
            data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
    elif kind == "insert":
        data = data[:at] + draw(st.binary(min_size=1, max_size=40)) + data[at:]
    elif kind == "delete":
        data = data[:at] + data[at + draw(st.integers(1, 40)) :]
    elif kind == "repeat":
        end = min(len(data), at + draw(st.integers(1, 200)))
        data = data[:end] + data[at:end] * draw(st.integers(1, 5)) + data[end:]
    elif kind == "truncate":
        data = data[:at]
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(data) - 1)), max_size=12))))
    bounds = [0, *(cut for cut in cuts if cut < len(data)), len(data)]
    return data, [data[start:end] for start, end in itertools.pairwise(bounds)]


# -- the client's side: a shell in miniature ------------------------------------------------


@dataclass
class Tally:
    steps: int = 0
    body: int = 0  # response body bytes handed out
    out: int = 0  # bytes the machine asked us to send
    errors: list[str] = field(default_factory=list)


def play(pieces: list[bytes], budget: int) -> Tally:
    conn = H2Connection()
    live = requests(conn)
    tally = Tally(out=len(conn.data_to_send()))

    def finish(sid: int) -> None:
        del live[sid]
        try:
            conn.release(sid)
        except ProtocolError as exc:
            tally.errors.append(f"release: {exc}")
        tally.out += len(conn.data_to_send())

    def pump() -> None:
        for sid in list(live):
            while True:
                tally.steps += 1
                assert tally.steps <= budget, "more steps than the input can explain"
                try:
                    step = conn.next_step(sid)
                    if step is SEND:
                        tally.out += len(conn.data_to_send())
                    elif step is NEED_BODY:
                        body = live[sid]
                        assert body is not None
                        conn.send_body(sid, next(body, None))
                    elif step is RECEIVE:
                        break
                    elif type(step) is BodyChunk:
                        tally.body += len(step.data)
                    elif type(step) is EndOfBody:
                        finish(sid)
                        break
                except ProtocolError as exc:  # conch's, and nothing else
                    tally.errors.append(str(exc))
                    finish(sid)
                    break

    for piece in pieces:
        conn.receive_data(piece)  # never raises: failures reach the streams
        pump()
    conn.receive_data(b"")
    pump()
    assert not live, "EOF must end every stream"
    assert conn.is_idle
    # What stays buffered is bounded: at most one incomplete frame.
    assert len(conn._h2.incoming_buffer._data) <= MAX_FRAME_SIZE + 9
    return tally


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(hostile())
def test_mutated_server_frames_give_conch_errors_only_and_end_in_linear_steps(
    given_input: tuple[bytes, list[bytes]],
) -> None:
    data, pieces = given_input
    size = len(data)
    tally = play(pieces, budget=STEPS_PER_BYTE * size + STEPS_BASE)
    assert tally.body <= size  # every body byte came in a DATA frame
    assert tally.out <= OUT_PER_BYTE * size + OUT_BASE


def test_an_unmutated_exchange_completes() -> None:
    """The generator is sound: untouched, the server's answers come through whole."""
    script: list[tuple[Any, ...]] = [
        ("respond", 0, 1, b"200", [(b"x-a", b"1")], [1000, 10], 5, True),
        ("ping", b"12345678"),
        ("respond", 1, 0, b"201", [], [3], 0, False),
        ("respond", 2, 0, b"200", [], [], 0, False),
    ]
    data = server_bytes(script)
    tally = play([data[i : i + 7] for i in range(0, len(data), 7)], budget=10**6)
    assert tally.errors == []
    assert tally.body == 1013
