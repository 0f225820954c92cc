"""``Expect: 100-continue``: the request body waits for the server's answer to its head."""

from __future__ import annotations

from conformance.model import Call, Close, Expect, Peer, Recv, Result, Scenario, Seen, Send

from ._kit import response

EXPECT = (("Expect", "100-continue"),)
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"

SCENARIOS: list[Scenario] = [
    Scenario(
        name="expect_continue/h1/100-then-body",
        calls=(Call(method="POST", headers=EXPECT, body=b"hello"),),
        peers=(Peer(connections=((Send(CONTINUE), Recv(), Send(response(200, b"ok"))),)),),
        expect=Expect(
            results=(Result(body=b"ok", informational=(100,)),),
            seen=((Seen(method="POST", headers=(("expect", "100-continue"),), body=b"hello"),),),
        ),
        doc="The 100 Continue is skipped: the body goes after it and the final response "
        "is the one returned.",
    ),
    Scenario(
        name="expect_continue/h1/final-response-first",
        calls=(Call(method="POST", headers=EXPECT, body=b"hello"), Call(path="/2")),
        peers=(
            Peer(
                connections=(
                    (
                        Recv(head_only=True),
                        Send(response(417, b"", reason="Expectation Failed")),
                        Close(),
                    ),
                    (Recv(), Send(response(200, b"next"))),
                )
            ),
        ),
        expect=Expect(
            results=(Result(status=417, body=b""), Result(body=b"next")),
            connections=(2,),
        ),
        doc="A final response to the head alone is returned; the body is never sent and "
        "the connection is not reused.",
    ),
]
