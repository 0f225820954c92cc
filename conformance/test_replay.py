"""Record against real servers, replay through every driver (`sansio.replay`).

Each source is a real server reached one way: nginx over plain HTTP/1.1, HTTP/1.1 over
TLS and HTTP/2 over TLS (ALPN), hypercorn over plain HTTP/1.1 and HTTP/2 over TLS. The
sync client records a few requests against it; the recording then replays through the
five drivers of the conformance suite (core, sync, asyncio, trio, selectors) with no
server at all, and each must give the recorded responses, headers and bodies included.
The file helpers of the shells (``record=path``, ``replay=path``) are tested here too.
"""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

import conch
from conformance.core_driver import MemoryClient, MemoryNetwork
from conformance.test_real_servers import (  # noqa: F401  (fixtures)
    TIMEOUT,
    _trusting,
    certificates,
    hypercorn,
    hypercorn_h2,
    nginx,
    nginx_h2,
)
from examples.selectors_loop import Loop as SelectorsLoop
from examples.selectors_loop import SelectorsTransport
from sansio.replay import Recorder, Recording, ReplayError

Call = tuple[str, str, bytes]  # method, path, body
Outcome = list[tuple[int, str, list[tuple[str, str]], bytes]]

# source: (server fixture, URL kind, HTTP/2, the calls)
NGINX_CALLS: list[Call] = [("GET", "/hello.txt", b""), ("GET", "/hello.txt", b"")]
ECHO_CALLS: list[Call] = [("GET", "/echo?x=1", b""), ("POST", "/echo", b"payload")]
SOURCES = {
    "nginx-h1": ("nginx", "h1", False, NGINX_CALLS),
    "nginx-tls": ("nginx", "tls", False, NGINX_CALLS),
    "nginx-h2": ("nginx_h2", "tls", True, NGINX_CALLS),
    "hypercorn-h1": ("hypercorn", "h1", False, ECHO_CALLS),
    "hypercorn-h2": ("hypercorn_h2", "tls", True, ECHO_CALLS),
}


def _outcome(response: conch.Response) -> tuple[int, str, list[tuple[str, str]], bytes]:
    return (
        response.status_code,
        response.http_version,
        list(response.headers.multi_items()),
        response.content,
    )


async def _calls(client: Any, urls: list[tuple[str, str, bytes]]) -> Outcome:
    outcome = []
    for method, url, body in urls:
        request = client.build_request(method, url, content=body or None)
        outcome.append(_outcome(await client.send(request)))
    return outcome


def _sync_calls(client: conch.Client, urls: list[tuple[str, str, bytes]]) -> Outcome:
    return [_outcome(client.request(m, url, content=body or None)) for m, url, body in urls]


class Recorded:
    def __init__(self, recording: Recording, outcome: Outcome, urls: list[Any], h2: bool):
        self.recording = recording
        self.outcome = outcome
        self.urls = urls
        self.http2 = h2


@pytest.fixture(scope="module", params=list(SOURCES))
def recorded(request: pytest.FixtureRequest, certificates: Any) -> Recorded:  # noqa: F811
    fixture, kind, h2, calls = SOURCES[request.param]
    server = request.getfixturevalue(fixture)
    urls = [(method, server.url(path, kind), body) for method, path, body in calls]
    recorder = Recorder()
    verify = _trusting(certificates.ca_file)
    transport = conch.HTTPTransport(verify=verify, http2=h2, record=recorder)
    with conch.Client(transport=transport, timeout=TIMEOUT) as client:
        outcome = _sync_calls(client, urls)
    assert {o[1] for o in outcome} == {"HTTP/2" if h2 else "HTTP/1.1"}
    # Through the file format, as a user would keep it.
    return Recorded(Recording.loads(recorder.dumps()), outcome, urls, h2)


# -- the five drivers, replaying --------------------------------------------------------


def replay_core(rec: Recorded) -> Outcome:
    client = MemoryClient(MemoryNetwork([], []), http2=rec.http2, replay=rec.recording)

    async def main() -> Outcome:
        try:
            return await _calls(client, rec.urls)
        finally:
            await client.aclose()

    return client.loop.run(main())  # type: ignore[no-any-return]


def replay_sync(rec: Recorded) -> Outcome:
    transport = conch.HTTPTransport(http2=rec.http2, replay=rec.recording)
    with conch.Client(transport=transport) as client:
        return _sync_calls(client, rec.urls)


async def _async(rec: Recorded) -> Outcome:
    transport = conch.AsyncHTTPTransport(http2=rec.http2, replay=rec.recording)
    async with conch.AsyncClient(transport=transport) as client:
        return await _calls(client, rec.urls)


def replay_asyncio(rec: Recorded) -> Outcome:
    return asyncio.run(_async(rec))


def replay_trio(rec: Recorded) -> Outcome:
    return trio.run(_async, rec)


def replay_selectors(rec: Recorded) -> Outcome:
    loop = SelectorsLoop()
    transport = SelectorsTransport(http2=rec.http2, replay=rec.recording)

    async def main() -> Outcome:
        async with conch.AsyncClient(transport=transport) as client:
            return await _calls(client, rec.urls)

    return loop.run(main())  # type: ignore[no-any-return]


DRIVERS: dict[str, Callable[[Recorded], Outcome]] = {
    "core": replay_core,
    "sync": replay_sync,
    "asyncio": replay_asyncio,
    "trio": replay_trio,
    "selectors": replay_selectors,
}


@pytest.mark.parametrize("driver", list(DRIVERS))
def test_a_recording_replays_the_same_responses_through_every_driver(
    recorded: Recorded, driver: str
) -> None:
    assert DRIVERS[driver](recorded) == recorded.outcome


@pytest.mark.parametrize("driver", list(DRIVERS))
def test_a_different_request_fails_with_a_diff_in_every_driver(
    recorded: Recorded, driver: str
) -> None:
    method, url, body = recorded.urls[0]
    changed = Recorded(
        recorded.recording,
        [],
        [(method, url + "&y" if "?" in url else url + "?y", body)],
        recorded.http2,
    )
    with pytest.raises(ReplayError, match="the client wrote bytes the recording does not have"):
        DRIVERS[driver](changed)


# -- files ----------------------------------------------------------------------------


class _Hello(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b"hello " + self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hello_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_transport_records_to_a_path_at_close_and_replays_from_a_path(
    tmp_path: Path, hello_url: str
) -> None:
    synced, asynced = tmp_path / "sync.json", tmp_path / "async.json"
    with conch.Client(transport=conch.HTTPTransport(record=str(synced))) as client:
        assert client.get(f"{hello_url}/a").text == "hello /a"
        assert not synced.exists()  # written when the transport closes

    async def record() -> str:
        async with conch.AsyncClient(transport=conch.AsyncHTTPTransport(record=asynced)) as c:
            return (await c.get(f"{hello_url}/a")).text

    assert asyncio.run(record()) == "hello /a"
    for path in (synced, asynced):
        events = Recording.loads(path.read_text()).connections[0]["events"]
        assert events[0]["data"].startswith("GET /a HTTP/1.1\r\n")
        assert "".join(e["data"] for e in events if e["op"] == "read").endswith("hello /a")
        assert events[-1]["op"] == "close"

    async def replay(path: Path) -> str:
        async with conch.AsyncClient(transport=conch.AsyncHTTPTransport(replay=path)) as c:
            return (await c.get(f"{hello_url}/a")).text

    for path in (synced, asynced):
        with conch.Client(transport=conch.HTTPTransport(replay=str(path))) as client:
            assert client.get(f"{hello_url}/a").text == "hello /a"
        assert trio.run(replay, path) == "hello /a"
