"""The total deadline, ``Timeout(total=...)``: the whole send, however its time is spent.

A body that drips inside the read timeout, redirects each in time that add up, a wait
for the pool, an upload that backs up, the wait for a 100, an HTTP/2 stream: each
ends when the total passes, with the `TimeoutException` of the phase it was in and a
message that names the total; the next call gets a connection at once. Socket drivers
wait in real time (a quarter of a second each), the core driver on its virtual clock.
"""

from __future__ import annotations

from dataclasses import replace

from conformance.model import (
    Call,
    Expect,
    H2Reply,
    Hold,
    Pause,
    Peer,
    Recv,
    Result,
    Scenario,
    Send,
    Settings,
    Stall,
    Step,
)

from ._kit import response, serve
from .h2 import H2

# Long enough that a call meant to succeed (the next one, the first of two sharing the
# pool) does so on a loaded machine; short enough to keep the scenarios quick.
TOTAL = 0.25
FAST = Settings(total_timeout=TOTAL)
OK = response(200, b"ok")
FINE = Result(body=b"ok")
NEXT = Call(path="/next")


def passed(error: str, phase: str) -> Result:
    """The call failed as the total timeout, in ``phase``."""
    return Result(
        status=None,
        error=error,
        message=f"the total timeout of {TOTAL:g} s for the request passed (while in the {phase}",
    )


def _drip() -> tuple[Step, ...]:
    """A head promising 10 bytes, then one byte every 50 ms: each well inside the read
    timeout (5 s), the whole body not inside the total."""
    steps: list[Step] = [Recv(), Send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")]
    for byte in b"0123456789":
        steps += [Pause(0.05), Send(bytes([byte]))]
    return tuple(steps)


def _redirects() -> tuple[Step, ...]:
    """Three answers on one connection, each 100 ms after its request."""
    steps: list[Step] = []
    for answer in (
        response(302, b"", [("Location", "/b")], reason="Found"),
        response(302, b"", [("Location", "/c")], reason="Found"),
        OK,
    ):
        steps += [Recv(), Pause(0.1), Send(answer)]
    return tuple(steps)


SCENARIOS: list[Scenario] = [
    Scenario(
        name="deadline/drip-inside-the-read-timeout",
        doc="Every byte comes well inside the read timeout; the total stops the body, "
        "and the connection cut short is not reused.",
        settings=FAST,
        calls=(Call(), NEXT),
        peers=(Peer(connections=(_drip(), serve(OK))),),
        expect=Expect(results=(passed("ReadTimeout", "read"), FINE), connections=(2,)),
    ),
    Scenario(
        name="deadline/drip-streamed",
        doc="stream(): the deadline runs until the response is closed, not to its head.",
        settings=FAST,
        calls=(Call(read="stream"), NEXT),
        peers=(Peer(connections=(_drip(), serve(OK))),),
        expect=Expect(
            results=(
                Result(
                    status=200, body=None, error="ReadTimeout", message=passed("", "read").message
                ),
                FINE,
            ),
            connections=(2,),
        ),
    ),
    Scenario(
        name="deadline/redirects-add-up",
        doc="Each hop answers in time; together they take longer than the total.",
        settings=replace(FAST, follow_redirects=True),
        calls=(Call(path="/a"), NEXT),
        peers=(Peer(connections=(_redirects(), serve(OK))),),
        expect=Expect(results=(passed("ReadTimeout", "read"), FINE), connections=(2,)),
    ),
    Scenario(
        name="deadline/in-time",
        doc="A send that ends inside its total is untouched by it, redirects and all.",
        settings=Settings(total_timeout=2.0, follow_redirects=True),
        calls=(Call(path="/a"),),
        peers=(Peer(connections=(_redirects(),)),),
        expect=Expect(results=(Result(body=b"ok", history=(302, 302)),), connections=(1,)),
    ),
    Scenario(
        name="deadline/pool-wait-counts",
        doc="One connection for two calls: the one that waited for it has only what its "
        "total left, and the pool serves the next call at once.",
        settings=replace(FAST, max_connections=1),
        calls=(Call(concurrent=True), Call(path="/2", concurrent=True), NEXT),
        peers=(
            Peer(
                connections=(
                    (Recv(), Pause(0.05), Send(OK), Recv(), Pause(0.5), Send(OK)),
                    serve(OK),
                )
            ),
        ),
        expect=Expect(
            results=(FINE, passed("ReadTimeout", "read"), FINE),
            connections=(2,),
        ),
    ),
    Scenario(
        name="deadline/upload-backs-up",
        doc="The server stops reading: the upload ends with the total, a WriteTimeout.",
        settings=FAST,
        calls=(Call(method="PUT", body=b"u" * (16 * 1024 * 1024)), NEXT),
        peers=(Peer(connections=((Recv(head_only=True), Stall()), serve(OK))),),
        expect=Expect(results=(passed("WriteTimeout", "write"), FINE), connections=(2,)),
    ),
    Scenario(
        name="deadline/waiting-for-100-continue",
        doc="The body waits for a 100 (1 s at most), but not past the total.",
        settings=FAST,
        calls=(Call(method="POST", headers=(("Expect", "100-continue"),), body=b"hi"), NEXT),
        peers=(Peer(connections=((Recv(head_only=True), Hold()), serve(OK))),),
        expect=Expect(results=(passed("ReadTimeout", "read"), FINE), connections=(2,)),
    ),
    Scenario(
        name="deadline/h2-one-stream",
        doc="HTTP/2: the total ends the stream alone; the connection serves the next call.",
        settings=replace(H2, total_timeout=TOTAL),
        calls=(Call(), NEXT),
        peers=(
            Peer(
                connections=((Recv(), Recv(), H2Reply(newest=True, body=b"ok"), Hold()),),
                h2=True,
            ),
        ),
        expect=Expect(results=(passed("ReadTimeout", "read"), FINE), connections=(1,)),
    ),
]
