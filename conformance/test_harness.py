"""The conformance harness itself: the corpus, the checks, the peers and the example."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from sansio import h1
from sansio.h1_heads import Head
from sansio.testing import STALL_BUFFER, MemoryConnection, VirtualClock

from .drivers import DRIVERS, PARSER, run
from .model import (
    ANY,
    Call,
    CallOutcome,
    Close,
    Expect,
    Hold,
    Outcome,
    Pause,
    Peer,
    Recv,
    RequestSeen,
    Result,
    Scenario,
    Seen,
    Send,
    Settings,
    Stall,
    check,
    comparable,
    differences,
)
from .peers import LoopbackPeer, Tokens, peer_program
from .scenarios import ALL, MODULES
from .scenarios._kit import SPLITS, response, serve

ROOT = Path(__file__).resolve().parent.parent
OK = response(200, b"ok")


def test_corpus_size_and_names() -> None:
    assert len(ALL) >= 150
    for module in MODULES:
        topic = module.__name__.rsplit(".", 1)[1]
        assert module.SCENARIOS, topic
        assert all(s.name.startswith(f"{topic}/") for s in module.SCENARIOS), topic


def test_every_split_pattern_cuts_inside_the_data() -> None:
    data = response(200, b"hello")
    for name, cuts in SPLITS.items():
        pieces = Send(data, cuts(data)).pieces(data)
        assert b"".join(pieces) == data, name
        assert all(pieces), name


def test_send_refuses_bad_cuts() -> None:
    with pytest.raises(ValueError, match="increasing"):
        Send(b"abc", (2, 1))
    with pytest.raises(ValueError, match="increasing"):
        Send(b"abc", (3,))
    with pytest.raises(ValueError, match="tokens"):
        Send(b"Location: http://{o1}/", (3,))


def test_tokens_round_trip() -> None:
    tokens = Tokens(["127.0.0.1:41234", "localhost:41235"])
    rendered = tokens.render(b"http://{o0}/ and http://{o1}/")
    assert rendered == b"http://127.0.0.1:41234/ and http://localhost:41235/"
    assert tokens.normalize(rendered) == b"http://{o0}/ and http://{o1}/"


def _outcome(**changes: object) -> Outcome:
    call = CallOutcome(
        status=200,
        reason="OK",
        http_version="HTTP/1.1",
        headers=(("x-a", "1"),),
        body=b"ok",
        error=None,
        message=None,
        history=(),
        url="http://{o0}/",
    )
    seen = RequestSeen(
        connection=0,
        method="GET",
        target="/",
        headers=(("host", "{o0}"),),
        body=b"",
        raw=b"GET / HTTP/1.1\r\nHost: {o0}\r\n\r\n",
    )
    base = Outcome(calls=(call,), seen=((seen,),), connections=(1,), cookies=())
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _scenario(expect: Expect) -> Scenario:
    return Scenario(name="t/t", calls=(Call(),), peers=(Peer(),), expect=expect)


@pytest.mark.parametrize(
    ("result", "fragment"),
    [
        (Result(status=201), "status"),
        (Result(body=b"no"), "body"),
        (Result(error="ReadError"), "error"),
        (Result(headers=(("x-a", "2"),)), "header x-a"),
        (Result(absent_headers=("x-a",)), "must be absent"),
        (Result(history=(302,)), "history"),
        (Result(url="http://{o1}/"), "url"),
        (Result(message="boom"), "message"),
    ],
)
def test_check_finds_each_kind_of_mismatch(result: Result, fragment: str) -> None:
    problems = check(_scenario(Expect(results=(result,))), _outcome())
    assert len(problems) == 1
    assert fragment in problems[0]


def test_check_looks_at_the_peer_side() -> None:
    outcome = _outcome()
    assert check(_scenario(Expect(results=(Result(),), connections=(1,))), outcome) == []
    assert check(_scenario(Expect(results=(Result(),), connections=(2,))), outcome)
    assert check(_scenario(Expect(results=(Result(),), seen=((Seen(), Seen()),))), outcome)
    assert check(_scenario(Expect(results=(Result(),), seen=((Seen(method="PUT"),),))), outcome)
    assert check(_scenario(Expect(results=(Result(),), seen=((Seen(absent=("host",)),),))), outcome)
    assert check(_scenario(Expect(results=(Result(),), cookies=(("a", "1"),))), outcome)
    assert check(_scenario(Expect(results=(Result(),))), _outcome(peer_errors=("bad",)))


def test_comparable_and_differences() -> None:
    one = _outcome()
    call = dataclasses.replace(one.calls[0], error="RemoteProtocolError", message="bad: b'l'")
    two = dataclasses.replace(one, calls=(call,))
    three = dataclasses.replace(
        one, calls=(dataclasses.replace(call, message="bad: b'lo'"),), connections=(2,)
    )
    assert comparable(two) == comparable(dataclasses.replace(three, connections=(1,)))
    found = differences(two, three)
    assert any(line.startswith("call 0 message") for line in found)
    assert "connections: (1,) vs (2,)" in found
    big = dataclasses.replace(one, calls=(dataclasses.replace(one.calls[0], body=b"x" * 10_000),))
    assert b"sha256" in (comparable(big).calls[0].body or b"")


def test_memory_peer_pauses_on_the_virtual_clock() -> None:
    seen: list[RequestSeen] = []
    errors: list[str] = []
    clock = VirtualClock()
    script = (Recv(), Pause(0.5), Send(OK), Close())
    peer = MemoryConnection(peer_program(script, 0, Tokens([]), seen.append, errors.append), clock)
    assert peer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert len(seen) == 1
    assert peer.read() is None
    assert peer.wake_time() == pytest.approx(1000.5)
    clock.now = 1000.2
    peer.tick()
    assert peer.read() is None  # still pausing
    clock.now = 1000.5
    peer.tick()
    assert peer.read() == OK
    assert peer.read() == b""
    assert errors == []


def test_memory_peer_stalls_after_its_buffer() -> None:
    clock = VirtualClock()
    script = (Recv(head_only=True), Stall())
    seen: list[RequestSeen] = []
    errors: list[str] = []
    peer = MemoryConnection(peer_program(script, 0, Tokens([]), seen.append, errors.append), clock)
    assert peer.write(b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n")
    assert peer.write(b"x" * STALL_BUFFER)  # buffered
    assert not peer.write(b"x")  # and now it never reads again
    assert peer.wake_time() is None


def test_core_driver_reports_a_deadlock() -> None:
    scenario = Scenario(
        name="t/deadlock",
        settings=Settings(read_timeout=None),
        calls=(Call(),),
        peers=(Peer(connections=((Recv(), Hold()),)),),
        expect=Expect(results=(Result(status=None, error="sansio.testing.Deadlock"),)),
    )
    assert check(scenario, run(scenario, "core")) == []


def test_a_request_after_the_script_is_recorded_unanswered() -> None:
    scenario = ALL["keepalive/stale-connection-retried"]
    seen = run(scenario, "core").seen[0]
    assert [(r.target, r.connection, r.answered) for r in seen] == [
        ("/", 0, True),
        ("/2", 0, False),
        ("/2", 1, True),
    ]


def test_selectors_example_runs_as_a_script() -> None:
    peer = LoopbackPeer(Peer(connections=(serve(OK),)))
    peer.start(Tokens([peer.authority]))
    try:
        done = subprocess.run(
            [
                sys.executable,
                str(ROOT / "examples" / "selectors_loop.py"),
                f"http://{peer.authority}/",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT)},
            check=False,
        )
    finally:
        peer.finish()
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "200 OK 2 bytes"
    assert [r.target for r in peer.seen] == ["/"]


def test_each_driver_parses_heads_with_its_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """The five drivers on `PARSER`, the ``-h11``/``-llhttp`` ones on the parser they name."""
    used: list[str] = []

    def recording(name: str) -> object:
        parse = h1.PARSERS[name]

        def parse_and_record(head: bytes) -> Head:
            used.append(name)
            return parse(head)

        return parse_and_record

    monkeypatch.setattr(h1, "PARSERS", {name: recording(name) for name in h1.PARSERS})
    assert len(DRIVERS) == 5 + 2 * (len(h1.PARSERS) - 1)
    for driver in DRIVERS:
        used.clear()
        run(ALL["framing/content-length/whole"], driver)
        expected = driver.partition("-")[2] or PARSER
        assert set(used) == {expected}, (driver, used)


def test_any_is_not_checked() -> None:
    assert Result().body is ANY
    assert check(_scenario(Expect(results=(Result(body=ANY),))), _outcome()) == []


def test_concurrent_calls_form_groups() -> None:
    calls = (Call(), Call(concurrent=True), Call(concurrent=True), Call(), Call(concurrent=True))
    scenario = Scenario(
        name="t/groups", calls=calls, peers=(Peer(),), expect=Expect(results=(Result(),) * 5)
    )
    assert scenario.groups == [[0], [1, 2], [3], [4]]
    assert scenario.concurrent
    with pytest.raises(ValueError, match="chunks"):
        Call(interrupt_after=1)


def test_a_group_is_checked_and_compared_in_any_order() -> None:
    one, two = _outcome().calls[0], dataclasses.replace(_outcome().calls[0], body=b"two")
    scenario = Scenario(
        name="t/any-order",
        calls=(Call(concurrent=True), Call(concurrent=True)),
        peers=(Peer(),),
        expect=Expect(results=(Result(body=b"two"), Result(body=b"ok"))),
    )
    outcome = _outcome(calls=(one, two))
    assert check(scenario, outcome) == []
    assert check(scenario, _outcome(calls=(one, one)))  # "two" is missing
    swapped = _outcome(calls=(dataclasses.replace(two, url="x"), one))
    assert comparable(outcome, scenario) == comparable(swapped, scenario)
    assert comparable(outcome) != comparable(swapped)  # in order, without the scenario


def test_selectors_example_fetches_urls_at_once_over_h2c() -> None:
    from .model import H2Reply

    peer = LoopbackPeer(
        Peer(h2=True, connections=((Recv(), Recv(), H2Reply(body=b"a"), H2Reply(body=b"b")),))
    )
    peer.start(Tokens([peer.authority]))
    try:
        done = subprocess.run(
            [sys.executable, str(ROOT / "examples" / "selectors_loop.py"), "--h2c",
             f"http://{peer.authority}/1", f"http://{peer.authority}/2"],
            capture_output=True, text=True, timeout=30, cwd=ROOT,
            env={"PYTHONPATH": str(ROOT)}, check=False,
        )  # fmt: skip
    finally:
        peer.finish()
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.split("\n")) == ["", "200 OK 1 bytes", "200 OK 1 bytes"]
    assert peer.accepted == 1  # both requests on one connection, at once
    assert sorted(r.target for r in peer.seen) == ["/1", "/2"]
