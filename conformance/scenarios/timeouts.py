"""Timeouts: a peer that stays silent, or slow but in time.

Every driver runs these: the socket drivers in real time (each wait is tens of
milliseconds), the core driver on its virtual clock.
"""

from __future__ import annotations

from conformance.model import (
    Call,
    Expect,
    Hold,
    Pause,
    Peer,
    Recv,
    Result,
    Scenario,
    Send,
    Settings,
    Stall,
)

from ._kit import chunked, response, serve

SHORT = Settings(read_timeout=0.05)
OK = response(200, b"ok")
FINE = Result(body=b"ok")
READ_TIMEOUT = Result(status=None, error="ReadTimeout")


def _silent(name: str, steps: tuple, result: Result, read: str = "read", doc: str = "") -> Scenario:  # type: ignore[type-arg]
    """The first connection plays `steps` then goes silent; the next call gets a new one."""
    return Scenario(
        name=f"timeouts/{name}",
        doc=doc,
        settings=SHORT,
        calls=(Call(read=read), Call(path="/next")),  # type: ignore[arg-type]
        peers=(Peer(connections=((Recv(), *steps, Hold()), serve(OK))),),
        expect=Expect(results=(result, FINE), connections=(2,)),
    )


HEAD_ONLY = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
MIB = b"u" * (1024 * 1024)
HUGE = MIB * 16  # more than loopback sockets buffer, and than a stalled memory peer takes
TOO_BIG = response(413, b"too big", [("Connection", "close")], reason="Content Too Large")

SCENARIOS: list[Scenario] = [
    _silent("silent-peer", (), READ_TIMEOUT, doc="Not a byte of a response: ReadTimeout."),
    _silent("silent-after-head", (Send(HEAD_ONLY),), READ_TIMEOUT),
    _silent(
        "silent-after-head-streamed",
        (Send(HEAD_ONLY + b"01234"),),
        Result(status=200, body=None, error="ReadTimeout"),
        read="stream",
        doc="The head came, the body stopped halfway: the error comes while streaming.",
    ),
    _silent(
        "silent-inside-chunked",
        (Send(response(200, b"5\r\nhello\r\n", [("Transfer-Encoding", "chunked")])),),
        READ_TIMEOUT,
    ),
    _silent(
        "silent-after-100-continue",
        (Send(b"HTTP/1.1 100 Continue\r\n\r\n"),),
        READ_TIMEOUT,
        doc="An informational response does not end the wait for the final one.",
    ),
    _silent("silent-inside-head", (Send(b"HTTP/1.1 200 OK\r\nContent-"),), READ_TIMEOUT),
    Scenario(
        name="timeouts/slow-but-in-time",
        doc="Each read waits at most read_timeout; pauses shorter than that are fine.",
        settings=Settings(read_timeout=0.5),
        calls=(Call(),),
        peers=(
            Peer(
                connections=(
                    (
                        Recv(),
                        Pause(0.02),
                        Send(
                            response(
                                200, chunked(b"slow", b"ly"), [("Transfer-Encoding", "chunked")]
                            )[:60]
                        ),
                        Pause(0.02),
                        Send(
                            response(
                                200, chunked(b"slow", b"ly"), [("Transfer-Encoding", "chunked")]
                            )[60:]
                        ),
                    ),
                )
            ),
        ),
        expect=Expect(results=(Result(body=b"slowly"),)),
    ),
    Scenario(
        name="timeouts/no-read-timeout",
        doc="read timeout None: the client waits as long as it takes.",
        settings=Settings(read_timeout=None),
        calls=(Call(),),
        peers=(Peer(connections=((Recv(), Pause(0.03), Send(OK)),)),),
        expect=Expect(results=(FINE,)),
    ),
    Scenario(
        name="timeouts/timed-out-connection-not-reused",
        doc="After a timeout mid-response the connection is closed, never reused: the "
        "late bytes cannot be taken for the next response.",
        settings=SHORT,
        calls=(Call(), Call(path="/next", pause_before=0.1)),
        peers=(Peer(connections=((Recv(), Pause(0.1), Send(response(200, b"late"))), serve(OK))),),
        expect=Expect(results=(READ_TIMEOUT, FINE), connections=(2,)),
    ),
    Scenario(
        name="timeouts/keep-alive-then-silent",
        doc="A reused connection that goes silent: a timeout is not retried.",
        settings=SHORT,
        calls=(Call(), Call(path="/2")),
        peers=(Peer(connections=((Recv(), Send(OK), Recv(), Hold()), serve(OK))),),
        expect=Expect(results=(FINE, READ_TIMEOUT), connections=(1,)),
    ),
    Scenario(
        name="timeouts/write-timeout",
        doc="The server stops reading: the upload backs up and the write times out.",
        settings=Settings(timeout=0.1),
        calls=(Call(method="PUT", body=HUGE), Call(path="/next")),
        peers=(Peer(connections=((Recv(head_only=True), Stall()), serve(OK))),),
        expect=Expect(results=(Result(status=None, error="WriteTimeout"), FINE), connections=(2,)),
    ),
    Scenario(
        name="timeouts/write-timeout-after-early-response",
        doc="The server answered 413 and stopped reading: the write times out, and what "
        "had arrived, the 413, is the answer (RFC 9112 §9.5).",
        settings=Settings(timeout=0.1),
        calls=(Call(method="PUT", body=HUGE), Call(path="/next")),
        peers=(
            Peer(
                connections=(
                    (Recv(head_only=True), Send(TOO_BIG), Stall()),
                    serve(OK),
                )
            ),
        ),
        expect=Expect(results=(Result(status=413, body=b"too big"), FINE), connections=(2,)),
    ),
    Scenario(
        name="timeouts/streamed-upload-early-response",
        doc="The same with a generator body: the 413 is seen between chunks.",
        settings=Settings(timeout=0.1),
        calls=(Call(method="PUT", chunks=(MIB,) * 16), Call(path="/next")),
        peers=(
            Peer(
                connections=(
                    (Recv(head_only=True), Send(TOO_BIG), Stall()),
                    serve(OK),
                )
            ),
        ),
        expect=Expect(results=(Result(status=413, body=b"too big"), FINE), connections=(2,)),
    ),
]
