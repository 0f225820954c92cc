"""Retries under a `Retry` policy (``retries=``): statuses, Retry-After, failures
before the response, and what is never sent twice.

The policies wait no back-off (``backoff_factor=0``, no jitter) and ``Retry-After: 0``,
so the socket drivers stay fast; the waits themselves are the core's tests.
"""

from __future__ import annotations

from conformance.model import (
    Call,
    Close,
    Expect,
    Peer,
    Recv,
    Result,
    Scenario,
    Seen,
    Send,
    Settings,
)
from sansio.retry import Retry

from ._kit import response

OK = response(200, b"ok")
BUSY = response(503, b"busy", [("Retry-After", "0")], reason="Service Unavailable")
NOW = {"backoff_factor": 0, "backoff_jitter": 0}


def _policy(total: int, **options: object) -> Settings:
    return Settings(retries=Retry(total, **NOW, **options))  # type: ignore[arg-type]


SCENARIOS: list[Scenario] = [
    Scenario(
        name="retries/h1/status-retry-after",
        calls=(Call(),),
        peers=(Peer(connections=((Recv(), Send(BUSY)), (Recv(), Send(OK)))),),
        expect=Expect(
            results=(Result(body=b"ok"),),
            connections=(2,),
            seen=((Seen(connection=0), Seen(connection=1)),),
        ),
        settings=_policy(2),
        doc="A 503 with Retry-After: 0 is sent again at once; the unread 503 body closes "
        "its connection, the retry opens another.",
    ),
    Scenario(
        name="retries/h1/status-retries-used-up",
        calls=(Call(),),
        peers=(Peer(connections=((Recv(), Send(BUSY)), (Recv(), Send(BUSY)))),),
        expect=Expect(
            results=(Result(status=503, body=b"busy"),),
            connections=(2,),
        ),
        settings=_policy(1),
        doc="When the retries are used up, the last response is returned as it is.",
    ),
    Scenario(
        name="retries/h1/post-status-not-retried",
        calls=(Call(method="POST", body=b"once"),),
        peers=(Peer(connections=((Recv(), Send(BUSY)),)),),
        expect=Expect(results=(Result(status=503, body=b"busy"),), connections=(1,)),
        settings=_policy(2),
        doc="POST is not idempotent: a 503 to it is returned, not retried.",
    ),
    Scenario(
        name="retries/h1/closed-before-response",
        calls=(Call(),),
        peers=(Peer(connections=((Recv(), Close()), (Recv(), Send(OK)))),),
        expect=Expect(results=(Result(body=b"ok"),), connections=(2,)),
        settings=_policy(1),
        doc="A new connection closed before any response byte: under a policy the "
        "request is sent again (without one, RemoteProtocolError).",
    ),
    Scenario(
        name="retries/h1/streamed-body-not-sent-twice",
        calls=(Call(method="POST", chunks=(b"one", b"two")),),
        peers=(Peer(connections=((Recv(), Close()), (Recv(), Send(OK)))),),
        expect=Expect(
            results=(Result(status=None, error="RemoteProtocolError"),),
            connections=(1,),
        ),
        settings=_policy(3, allowed_methods=None),
        doc="A body from a generator cannot be sent again: once it started to go out, "
        "the failure is the caller's, whatever the policy allows.",
    ),
]
