"""What each shell must do, tested the same way in both: the test_shell_twin.py files
of tests/sync_io and tests/async_io mirror each other line for line (tests/test_twins.py
keeps them in step), so a behaviour tested on one shell is tested on the other.
"""

from __future__ import annotations

import contextlib
import gc
import socket
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import h11
import pytest

from sansio.config import Timeout
from sansio.exceptions import ConnectError, ConnectTimeout, ReadError
from sansio.models import Response
from sansio.pool import PoolStatistics
from sansio.streams import ByteStream
from sync_io import Client, HTTPTransport
from sync_io.transports import MockTransport
from tests.servers import Server, default_app, http_handler

Run = Callable[[Callable[[], Any]], Any]


class Interrupted(BaseException):
    """Stands for a cancellation: a cancelled task, Ctrl-C in a thread."""


@pytest.fixture
def run() -> Run:
    return lambda main: main()


def hangs_up_too(server: Server, conn: socket.socket, index: int) -> None:
    """The default server, for clients that may hang up in the middle of a request."""
    with contextlib.suppress(h11.RemoteProtocolError):
        http_handler(default_app)(server, conn, index)


@pytest.fixture
def server() -> Iterator[Server]:
    with Server(hangs_up_too) as server:
        yield server


def pool_of(client: Client) -> PoolStatistics:
    transport = client._transport
    assert isinstance(transport, HTTPTransport)
    return transport._engine.statistics()


def interrupted_upload() -> Iterator[bytes]:
    yield b"a" * 10
    raise Interrupted


def test_a_cancelled_upload_leaves_nothing_behind(run: Run, server: Server) -> None:
    def main() -> None:
        with Client() as client:
            with pytest.raises(Interrupted):
                client.post(server.url("/echo"), content=interrupted_upload())
            stats = pool_of(client)
            assert (stats.connecting, stats.active, stats.idle) == (0, 0, 0)
            response = client.get(server.url("/"))
            assert response.text == "Hello, world!"
            assert server.accepted == 2  # the cut connection was not reused

    run(main)


def test_a_response_outliving_its_client_fails_cleanly(run: Run, server: Server) -> None:
    def main() -> None:
        client = Client()
        with client.stream("GET", server.url("/bytes/1000000")) as response:
            client.close()  # its connections close under the open response
            with pytest.raises(ReadError):
                response.read()

    run(main)


def test_a_read_response_is_freed_once_dropped(run: Run) -> None:
    # What the client keeps to time the body (`elapsed`) ties nothing into a reference
    # cycle: a response goes with its last reference, not at the collector's next run.
    body = b"Hello, world!"
    transport = MockTransport(lambda request: Response(200, stream=ByteStream(body)))

    def main() -> None:
        with Client(transport=transport) as client:
            response = client.get("http://example.org/")
            assert response.content == body
            assert response.elapsed.total_seconds() >= 0
            gone = weakref.ref(response)
            del response
            assert gone() is None

    gc.disable()
    try:
        run(main)
    finally:
        gc.enable()


def answers_the_head(final: bytes | None) -> Callable[[Server, socket.socket, int], None]:
    """Reads a request head, records the body bytes that came with it, then answers
    ``final`` at once, or a 100 Continue and, once the 5-byte body is in, a 200 echo."""

    def handle(server: Server, conn: socket.socket, index: int) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        body = data.partition(b"\r\n\r\n")[2]
        with server.lock:
            server.requests.append(body)
        if final is not None:
            conn.sendall(final)
            return
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        while len(body) < 5:
            body += conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n" + body)

    return handle


EXPECT = {"Expect": "100-continue"}
REFUSED = b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize(("final", "status"), [(None, 200), (REFUSED, 417)], ids=["100", "417"])
def test_expect_continue_holds_the_body_for_the_answer(
    run: Run, final: bytes | None, status: int
) -> None:
    with Server(answers_the_head(final)) as server:

        def main() -> None:
            with Client() as client:
                response = client.post(server.url("/"), content=b"hello", headers=EXPECT)
                assert response.status_code == status
                assert response.content == (b"hello" if final is None else b"")
                assert server.requests == [b""]  # the head went alone

        run(main)


EARLY_HINTS = (
    b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
)


def test_informational_responses_reach_their_hook_and_the_final_response(run: Run) -> None:
    seen: list[tuple[int, str | None]] = []

    def informational(response: Response) -> None:
        seen.append((response.status_code, response.headers.get("link")))

    def final(response: Response) -> None:
        seen.append((response.status_code, None))

    hooks = {"informational": [informational], "response": [final]}
    with Server(answers_the_head(EARLY_HINTS)) as server:

        def main() -> None:
            with Client(event_hooks=hooks) as client:
                response = client.get(server.url("/"))
                assert [r.status_code for r in response.informational] == [103]
                assert response.text == "ok"

        run(main)
    assert seen == [(103, "</a.css>"), (200, None)]


def hints_then_waits(hinted: threading.Event) -> Callable[[Server, socket.socket, int], None]:
    """Reads a request head, sends a 103, then, once ``hinted`` is set (5 s at most), a
    200 whose body says whether it was; records "answered" when it answers."""

    def handle(server: Server, conn: socket.socket, index: int) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        conn.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n")
        body = b"hinted" if hinted.wait(5) else b"late"
        with server.lock:
            server.requests.append(b"answered")
        with contextlib.suppress(OSError):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    return handle


def test_the_informational_hook_runs_as_the_1xx_arrives(run: Run) -> None:
    hinted = threading.Event()

    def informational(response: Response) -> None:
        hinted.set()  # the server answers only then

    with Server(hints_then_waits(hinted)) as server:

        def main() -> None:
            with Client(event_hooks={"informational": [informational]}) as client:
                response = client.get(server.url("/"))
                assert response.text == "hinted"
                assert [r.status_code for r in response.informational] == [103]

        run(main)


def test_a_failing_informational_hook_fails_the_send_at_once(run: Run) -> None:
    hinted = threading.Event()

    def informational(response: Response) -> None:
        raise LookupError("the hook failed")

    with Server(hints_then_waits(hinted)) as server:

        def main() -> None:
            with Client(event_hooks={"informational": [informational]}) as client:
                with pytest.raises(LookupError, match="the hook failed"):
                    client.get(server.url("/"))
                assert server.requests == []  # before the final head came
                hinted.set()
                stats = pool_of(client)
                assert (stats.connecting, stats.active, stats.idle) == (0, 0, 0)
                client.event_hooks = {}
                again = client.get(server.url("/"))
                assert again.text == "hinted"

        run(main)


@contextlib.contextmanager
def silent_address() -> Iterator[tuple[str, int]]:
    """An address that drops every connection attempt (no answer, no refusal): a
    listener on ::1 whose accept queue (of one) is full."""
    listener = socket.socket(socket.AF_INET6)
    filler = socket.socket(socket.AF_INET6)
    try:
        listener.bind(("::1", 0))
        listener.listen(0)
        address = listener.getsockname()[:2]
        filler.connect(address)  # accepted by the kernel, never by us: the queue is full
        yield address
    finally:
        filler.close()
        listener.close()


def resolves(monkeypatch: pytest.MonkeyPatch, *addresses: tuple[str, int]) -> None:
    """Make "dual.test" resolve to ``addresses``, in this order (IPv6 ones first)."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "dual.test":
            return real(host, port, *args, **kwargs)
        return [
            (socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, at))
            for ip, at in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_happy_eyeballs_a_silent_first_address_does_not_hold_the_request(
    run: Run, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    with silent_address() as silent:
        resolves(monkeypatch, silent, ("127.0.0.1", server.port))

        def main() -> None:
            # The whole race must end within the connect timeout: the silent address
            # is given up for the next one after 250 ms, not after the timeout.
            with Client(timeout=Timeout(5.0, connect=2.0)) as client:
                response = client.get(f"http://dual.test:{server.port}/")
                assert response.text == "Hello, world!"

        run(main)


def test_happy_eyeballs_when_every_address_fails_the_error_names_each(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Server(hangs_up_too) as closed:
        port = closed.port
    resolves(monkeypatch, ("::1", port), ("127.0.0.1", port))

    def main() -> None:
        client = Client()
        with pytest.raises(ConnectError, match=r"all 2 addresses failed: ::1: .*127\.0\.0\.1: "):
            client.get(f"http://dual.test:{port}/")
        client.close()

    run(main)


def test_happy_eyeballs_the_attempt_delay_is_the_transports(
    run: Run, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    with silent_address() as silent:
        resolves(monkeypatch, silent, ("127.0.0.1", server.port))
        # 2 s between attempts, under a connect timeout of 0.5 s: the second address
        # is never tried.
        transport = HTTPTransport(happy_eyeballs_delay=2.0)

        def main() -> None:
            client = Client(transport=transport, timeout=Timeout(5.0, connect=0.5))
            with pytest.raises(ConnectTimeout):
                client.get(f"http://dual.test:{server.port}/")
            client.close()

        run(main)


@pytest.mark.parametrize(
    ("delay", "error"), [(0.001, ValueError), (3, ValueError), ("1", TypeError)]
)
def test_happy_eyeballs_delay_is_checked_when_the_transport_is_made(
    delay: Any, error: type[Exception]
) -> None:
    with pytest.raises(error, match="attempt_delay"):
        HTTPTransport(happy_eyeballs_delay=delay)
