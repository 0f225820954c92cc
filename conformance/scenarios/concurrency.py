"""Requests at once on one client: streams interleaved on one HTTP/2 connection, requests
waiting for a pool slot, and a request cancelled mid-exchange while others go on.

Calls marked ``concurrent`` start together (threads for the sync client, tasks for the
others), so which one goes first differs from run to run and from driver to driver: the
scenarios are built so that the outcome does not, and results and requests are compared
in any order within a group. A cancellation is a request body that raises a
BaseException (`Interrupted`) after its first chunk: the same for every driver.
"""

from __future__ import annotations

from conformance.model import (
    Call,
    Expect,
    H2Reply,
    Pause,
    Peer,
    Recv,
    Result,
    Scenario,
    Seen,
    Send,
    Settings,
)

from ._kit import response

H2 = Settings(http2_prior_knowledge=True)
INTERRUPTED = "conformance.model.Interrupted"


def _h2(*steps: object) -> Peer:
    return Peer(connections=(tuple(steps),), h2=True)  # type: ignore[arg-type]


SCENARIOS = [
    Scenario(
        name="concurrency/h2/answered-newest-first",
        calls=(Call(path="/a", concurrent=True), Call(path="/b", concurrent=True)),
        peers=(_h2(Recv(), Recv(), H2Reply(body=b"second", newest=True), H2Reply(body=b"first")),),
        expect=Expect(
            results=(Result(body=b"first"), Result(body=b"second")),
            seen=((Seen(target="/a", connection=0), Seen(target="/b", connection=0)),),
            connections=(1,),
        ),
        settings=H2,
        doc="Two streams at once on one connection, the later one answered first.",
    ),
    Scenario(
        name="concurrency/h2/five-streams",
        calls=tuple(Call(path=f"/{i}", concurrent=True) for i in range(5)),
        peers=(_h2(*(Recv() for _ in range(5)), *(H2Reply(body=b"%d" % i) for i in range(5))),),
        expect=Expect(
            results=tuple(Result(body=b"%d" % i) for i in range(5)),
            seen=(tuple(Seen(target=f"/{i}", connection=0) for i in range(5)),),
            connections=(1,),
        ),
        settings=H2,
        doc="Five requests at once: one connection (they wait for the first to know it "
        "speaks HTTP/2), five streams, answered once all have arrived.",
    ),
    Scenario(
        name="concurrency/h2/interrupted-mid-upload",
        calls=(
            Call(
                method="PUT",
                path="/up",
                chunks=(b"a" * 10, b"b" * 10),
                interrupt_after=1,
                concurrent=True,
            ),
            Call(path="/b", concurrent=True),
            Call(path="/after"),
        ),
        peers=(_h2(Recv(), Pause(0.05), H2Reply(body=b"b"), Recv(), H2Reply(body=b"after")),),
        expect=Expect(
            results=(
                Result(status=None, error=INTERRUPTED),
                Result(body=b"b"),
                Result(body=b"after"),
            ),
            # The upload's stream was reset (its RST_STREAM left with the next request):
            # the peer never counts it.
            seen=((Seen(target="/b", connection=0), Seen(target="/after", connection=0)),),
            connections=(1,),
        ),
        settings=H2,
        doc="A request cancelled while it uploads ends its stream alone: the other one "
        "on the connection is answered, and the next request uses the same connection.",
    ),
    Scenario(
        name="concurrency/h1/waiting-for-the-slot",
        calls=(Call(path="/1", concurrent=True), Call(path="/2", concurrent=True)),
        peers=(
            Peer(
                connections=(
                    (
                        Recv(),
                        Pause(0.05),
                        Send(response(200, b"first")),
                        Recv(),
                        Send(response(200, b"second")),
                    ),
                )
            ),
        ),
        expect=Expect(
            results=(Result(body=b"first"), Result(body=b"second")),
            seen=((Seen(target="/1", connection=0), Seen(target="/2", connection=0)),),
            connections=(1,),
        ),
        settings=Settings(max_connections=1),
        doc="One connection allowed: the second request waits for it, then reuses it.",
    ),
    Scenario(
        name="concurrency/h1/per-host-cap",
        calls=(
            Call(path="/1", concurrent=True),
            Call(path="/2", concurrent=True),
            Call(path="/3", origin=1, concurrent=True),
        ),
        peers=(
            Peer(
                connections=(
                    (
                        Recv(),
                        Pause(0.05),
                        Send(response(200, b"one")),
                        Recv(),
                        Send(response(200, b"one")),
                    ),
                )
            ),
            Peer(host="localhost", connections=((Recv(), Send(response(200, b"other"))),)),
        ),
        expect=Expect(
            results=(Result(body=b"one"), Result(body=b"one"), Result(body=b"other")),
            connections=(1, 1),
        ),
        settings=Settings(max_connections_per_host=1),
        doc="One connection per host (Limits.max_connections_per_host): the second request "
        "to a host waits for the first one's connection; another host is not held back.",
    ),
    Scenario(
        name="concurrency/h1/pool-timeout",
        calls=(Call(concurrent=True), Call(concurrent=True)),
        peers=(Peer(connections=((Recv(), Pause(0.1), Send(response(200, b"slow"))),)),),
        expect=Expect(
            results=(Result(body=b"slow"), Result(status=None, error="PoolTimeout")),
            seen=((Seen(connection=0),),),
            connections=(1,),
        ),
        settings=Settings(max_connections=1, pool_timeout=0.02),
        doc="One connection allowed and busy: the other request gives up after its pool timeout.",
    ),
    Scenario(
        name="concurrency/h1/one-connection-each",
        # The same request twice: which one lands on which connection may differ.
        calls=(Call(concurrent=True), Call(concurrent=True)),
        peers=(
            Peer(
                connections=(
                    (Recv(), Pause(0.05), Send(response(200, b"ok"))),
                    (Recv(), Pause(0.05), Send(response(200, b"ok"))),
                )
            ),
        ),
        expect=Expect(
            results=(Result(body=b"ok"), Result(body=b"ok")),
            connections=(2,),
        ),
        doc="HTTP/1.1 requests at once: a connection each.",
    ),
]
