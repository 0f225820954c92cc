"""conch's clients against real servers on loopback: nginx, hypercorn and uvicorn.

Every scenario is one async function run three ways: by `conch.Client` (sync), and by
`conch.AsyncClient` under asyncio and under trio. The sync flavour goes through `Driver`,
whose coroutines never suspend, so the scenario runs to completion on one ``send(None)``
without any event loop. Connections are counted on the server's side: nginx numbers its
connections (``X-Connection``), and the ASGI app reports the client's port.

A test skips only when its server cannot be installed or started (the reason names the
server) or, for the HTTP/2 tests, when `conch.Client(http2=True)` does not yet negotiate
HTTP/2 with the server (probed once per server per session).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import ssl
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
)
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import trio

import conch
from conformance.asgi_app import GZIP_TEXT, pattern, stream_piece
from conformance.servers import (
    BIG_SIZE,
    HUGE_SIZE,
    SMALL_TEXT,
    AsgiServer,
    Certificates,
    Nginx,
    ServerUnavailable,
    make_certificates,
    start_hypercorn,
    start_nginx,
    start_retrying,
    start_uvicorn,
)

T = TypeVar("T")
H2_MISSING = "conch HTTP/2 not available yet"
TIMEOUT = 10.0  # seconds: generous for loopback, short enough to fail a hang quickly
CONCURRENT = 100  # HTTP/2 requests in flight at once (hypercorn allows 100 streams)


# -- one scenario, three clients -------------------------------------------------------


def _drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (the sync flavour) to its end."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise AssertionError("a sync scenario suspended: it awaited something real")


class Driver:
    """A client behind one async surface, so each scenario is written once."""

    def __init__(self, flavour: str, client: Any) -> None:
        self.flavour = flavour
        self.client = client
        self.sync = flavour == "sync"

    @property
    def cookies(self) -> conch.Cookies:
        return self.client.cookies  # type: ignore[no-any-return]

    async def request(self, method: str, url: str, **kwargs: Any) -> conch.Response:
        if self.sync:
            return self.client.request(method, url, **kwargs)  # type: ignore[no-any-return]
        return await self.client.request(method, url, **kwargs)  # type: ignore[no-any-return]

    async def get(self, url: str, **kwargs: Any) -> conch.Response:
        return await self.request("GET", url, **kwargs)

    @asynccontextmanager
    async def stream(self, method: str, url: str, **kwargs: Any) -> AsyncIterator[conch.Response]:
        if self.sync:
            with self.client.stream(method, url, **kwargs) as response:
                yield response
        else:
            async with self.client.stream(method, url, **kwargs) as response:
                yield response

    async def chunks(self, response: conch.Response, *, raw: bool = False) -> list[bytes]:
        """The rest of the body, chunk by chunk (decoded unless ``raw``)."""
        if self.sync:
            return list(response.iter_raw() if raw else response.iter_bytes())
        iterator = response.aiter_raw() if raw else response.aiter_bytes()
        return [chunk async for chunk in iterator]

    def body(self, pieces: list[bytes]) -> Iterable[bytes] | AsyncIterable[bytes]:
        """A streaming request body of the kind this client takes."""
        if self.sync:
            return (piece for piece in pieces)

        async def produce() -> AsyncIterator[bytes]:
            for piece in pieces:
                yield piece

        return produce()

    async def gather(self, count: int, job: Callable[[], Coroutine[Any, Any, T]]) -> list[T]:
        """Run ``count`` copies of ``job`` at once: threads sharing the sync client, tasks
        sharing the async one."""
        if self.flavour == "sync":
            with ThreadPoolExecutor(max_workers=count) as pool:
                futures = [pool.submit(_drive, job()) for _ in range(count)]
                return [future.result() for future in futures]
        if self.flavour == "asyncio":
            return list(await asyncio.gather(*(job() for _ in range(count))))
        results: list[T] = []

        async def one() -> None:
            results.append(await job())

        async with trio.open_nursery() as nursery:
            for _ in range(count):
                nursery.start_soon(one)
        return results


Scenario = Callable[[Driver], Coroutine[Any, Any, None]]
Run = Callable[..., None]


@pytest.fixture(params=["sync", "asyncio", "trio"])
def run(request: pytest.FixtureRequest) -> Run:
    """``run(scenario, **client_options)``: the scenario with a fresh client of the flavour."""
    flavour = request.param

    def run(scenario: Scenario, **options: Any) -> None:
        options.setdefault("timeout", TIMEOUT)
        if flavour == "sync":
            with conch.Client(**options) as client:
                _drive(scenario(Driver(flavour, client)))
            return

        async def main() -> None:
            async with conch.AsyncClient(**options) as client:
                await scenario(Driver(flavour, client))

        if flavour == "asyncio":
            asyncio.run(main())
        else:
            trio.run(main)

    return run


# -- servers ---------------------------------------------------------------------------


def _launch(factory: pytest.TempPathFactory, name: str, start: Callable[[Path], T]) -> T:
    try:
        return start_retrying(start, lambda: factory.mktemp(name))
    except ServerUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def nginx(tmp_path_factory: pytest.TempPathFactory, certificates: Certificates) -> Iterator[Nginx]:
    server = _launch(tmp_path_factory, "nginx", lambda root: start_nginx(root, certificates))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def hypercorn(
    tmp_path_factory: pytest.TempPathFactory, certificates: Certificates
) -> Iterator[AsgiServer]:
    server = _launch(
        tmp_path_factory, "hypercorn", lambda root: start_hypercorn(root, certificates)
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def uvicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsgiServer]:
    server = _launch(tmp_path_factory, "uvicorn", start_uvicorn)
    yield server
    server.stop()


def _trusting(ca_file: Path) -> ssl.SSLContext:
    """A fresh client context trusting the session's CA (conch sets ALPN on it)."""
    return ssl.create_default_context(cafile=str(ca_file))


def _require_http2(url: str, ca_file: Path) -> None:
    with conch.Client(http2=True, verify=_trusting(ca_file), timeout=TIMEOUT) as client:
        version = client.get(url).http_version
    if version != "HTTP/2":
        pytest.skip(H2_MISSING)


@pytest.fixture(scope="session")
def nginx_h2(nginx: Nginx) -> Nginx:
    """nginx, once `conch.Client(http2=True)` negotiates HTTP/2 with it."""
    _require_http2(nginx.url("/hello.txt", "tls"), nginx.certificates.ca_file)
    return nginx


@pytest.fixture(scope="session")
def hypercorn_h2(hypercorn: AsgiServer, certificates: Certificates) -> AsgiServer:
    """hypercorn, once `conch.Client(http2=True)` negotiates HTTP/2 with it."""
    _require_http2(hypercorn.url("/echo", "tls"), certificates.ca_file)
    return hypercorn


# -- nginx over HTTP/1.1, plain and TLS ------------------------------------------------


@dataclass(frozen=True)
class Site:
    """A server reached one way: how to build URLs and which client options it needs."""

    server: Any
    kind: str  # "h1", "tls" or "h2c"
    options: dict[str, Any]

    def url(self, path: str) -> str:
        return self.server.url(path, self.kind)  # type: ignore[no-any-return]


@pytest.fixture(params=["h1", "tls"])
def nginx_site(request: pytest.FixtureRequest, nginx: Nginx) -> Site:
    options = {"verify": _trusting(nginx.certificates.ca_file)} if request.param == "tls" else {}
    return Site(nginx, request.param, options)


def test_nginx_text_is_gzipped_and_decoded(run: Run, nginx_site: Site) -> None:
    async def scenario(d: Driver) -> None:
        response = await d.get(nginx_site.url("/hello.txt"))
        assert response.status_code == 200
        assert response.http_version == "HTTP/1.1"
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["content-type"] == "text/plain"
        assert response.text == SMALL_TEXT
        async with d.stream("GET", nginx_site.url("/hello.txt")) as streamed:
            raw = b"".join(await d.chunks(streamed, raw=True))
        assert len(raw) < len(SMALL_TEXT)
        assert gzip.decompress(raw) == SMALL_TEXT.encode()

    run(scenario, **nginx_site.options)


def test_nginx_large_download_streams(run: Run, nginx_site: Site) -> None:
    async def scenario(d: Driver) -> None:
        async with d.stream("GET", nginx_site.url("/big.bin")) as response:
            assert response.status_code == 200
            assert response.headers["content-length"] == str(BIG_SIZE)
            assert "content-encoding" not in response.headers
            digest = hashlib.sha256()
            pieces = await d.chunks(response)
            for piece in pieces:
                digest.update(piece)
        assert len(pieces) > 1
        assert response.num_bytes_downloaded == BIG_SIZE
        assert digest.hexdigest() == nginx_site.server.sha256("/big.bin")

    run(scenario, **nginx_site.options)


def test_nginx_redirects(run: Run, nginx_site: Site) -> None:
    target = nginx_site.url("/target.txt")

    async def scenario(d: Driver) -> None:
        for path, status in (("/redirect-302", 302), ("/redirect-301", 301)):
            response = await d.get(nginx_site.url(path), follow_redirects=True)
            assert response.status_code == 200
            assert str(response.url) == target
            assert response.content == nginx_site.server.files["/target.txt"]
            assert [r.status_code for r in response.history] == [status]

        unfollowed = await d.get(nginx_site.url("/redirect-302"))
        assert unfollowed.status_code == 302
        assert unfollowed.is_redirect
        assert unfollowed.headers["location"] == "/target.txt"  # relative, as configured
        assert unfollowed.next_request is not None
        assert str(unfollowed.next_request.url) == target

        with pytest.raises(conch.TooManyRedirects):
            await d.get(nginx_site.url("/redirect-loop"), follow_redirects=True)

    run(scenario, **nginx_site.options)


def test_nginx_refuses_post_to_a_static_file(run: Run, nginx_site: Site) -> None:
    async def scenario(d: Driver) -> None:
        refused = await d.request("POST", nginx_site.url("/hello.txt"), content=b"x" * 65536)
        assert refused.status_code == 405
        assert refused.reason_phrase == "Not Allowed"
        with pytest.raises(conch.HTTPStatusError):
            refused.raise_for_status()
        # nginx discards the unread body; the client carries on either way.
        after = await d.get(nginx_site.url("/hello.txt"))
        assert after.status_code == 200
        assert after.text == SMALL_TEXT

    run(scenario, **nginx_site.options)


def test_nginx_webdav_put_get_delete(run: Run, nginx_site: Site) -> None:
    body = pattern(1_000_000)

    async def scenario(d: Driver) -> None:
        url = nginx_site.url(f"/dav/h1/{d.flavour}-{nginx_site.kind}.bin")
        created = await d.request("PUT", url, content=body)
        assert created.status_code == 201
        assert (await d.get(url)).content == body
        replaced = await d.request("PUT", url, content=d.body([b"new ", b"content"]))
        assert replaced.status_code == 204
        assert (await d.get(url)).content == b"new content"
        assert (await d.request("DELETE", url)).status_code == 204
        assert (await d.get(url)).status_code == 404

    run(scenario, **nginx_site.options)


def test_nginx_keeps_the_connection_alive(run: Run, nginx_site: Site) -> None:
    async def scenario(d: Driver) -> None:
        connections, counts = set(), []
        for path in ("/hello.txt", "/target.txt", "/big.bin", "/hello.txt", "/missing"):
            response = await d.get(nginx_site.url(path))
            connections.add(response.headers["x-connection"])
            counts.append(int(response.headers["x-connection-requests"]))
        assert response.status_code == 404
        assert len(connections) == 1
        assert counts == [1, 2, 3, 4, 5]

    run(scenario, **nginx_site.options)


def test_nginx_head(run: Run, nginx_site: Site) -> None:
    async def scenario(d: Driver) -> None:
        response = await d.request("HEAD", nginx_site.url("/big.bin"))
        assert response.status_code == 200
        assert response.headers["content-length"] == str(BIG_SIZE)
        assert response.content == b""
        after = await d.get(nginx_site.url("/target.txt"))
        assert after.headers["x-connection"] == response.headers["x-connection"]

    run(scenario, **nginx_site.options)


def test_tls_fails_closed_without_the_ca(run: Run, nginx: Nginx) -> None:
    async def scenario(d: Driver) -> None:
        with pytest.raises(conch.ConnectError):
            await d.get(nginx.url("/hello.txt", "tls"))

    run(scenario)  # the default trust store does not hold the session's CA


def test_tls_unverified_when_asked(run: Run, nginx: Nginx) -> None:
    async def scenario(d: Driver) -> None:
        response = await d.get(nginx.url("/hello.txt", "tls"))
        assert response.text == SMALL_TEXT

    run(scenario, verify=False)


# -- hypercorn and uvicorn over HTTP/1.1 ------------------------------------------------


@pytest.fixture(params=["hypercorn-h1", "hypercorn-tls", "uvicorn-h1"])
def asgi_site(request: pytest.FixtureRequest, certificates: Certificates) -> Site:
    name, kind = request.param.split("-")
    server = request.getfixturevalue(name)
    options = {"verify": _trusting(certificates.ca_file)} if kind == "tls" else {}
    return Site(server, kind, options)


def _headers(echo: dict[str, Any]) -> dict[str, str]:
    return dict(echo["headers"])


def test_asgi_get_echo(run: Run, asgi_site: Site) -> None:
    async def scenario(d: Driver) -> None:
        response = await d.get(
            asgi_site.url("/echo"), params={"q": "a b", "n": "1"}, headers={"X-Test": "yes"}
        )
        assert response.status_code == 200
        assert response.http_version == "HTTP/1.1"
        assert response.headers["content-type"] == "application/json"
        echo = response.json()
        assert echo["method"] == "GET"
        assert echo["path"] == "/echo"
        assert echo["query"] == "q=a+b&n=1"
        assert echo["http_version"] == "1.1"
        assert echo["scheme"] == ("https" if asgi_site.kind == "tls" else "http")
        headers = _headers(echo)
        assert headers["x-test"] == "yes"
        assert headers["host"] == asgi_site.url("").split("://")[1]
        assert headers["user-agent"].startswith("python-conch/")
        assert echo["body"] == ""

    run(scenario, **asgi_site.options)


def test_asgi_post_bodies(run: Run, asgi_site: Site) -> None:
    async def scenario(d: Driver) -> None:
        url = asgi_site.url("/echo")
        sent_json = await d.request("POST", url, json={"name": "conch", "n": [1, 2]})
        echo = sent_json.json()
        assert echo["method"] == "POST"
        assert json.loads(echo["body"]) == {"name": "conch", "n": [1, 2]}
        assert _headers(echo)["content-type"] == "application/json"

        form = (await d.request("POST", url, data={"a": "1", "b": "x y"})).json()
        assert form["body"] == "a=1&b=x+y"
        assert _headers(form)["content-type"] == "application/x-www-form-urlencoded"

        files = {"upload": ("notes.txt", b"file body\n", "text/plain")}
        multipart = (await d.request("POST", url, files=files, data={"k": "v"})).json()
        content_type = _headers(multipart)["content-type"]
        assert content_type.startswith("multipart/form-data; boundary=")
        assert 'filename="notes.txt"' in multipart["body"]
        assert "file body\n" in multipart["body"]

        raw = bytes(range(256)) * 400
        echoed = (await d.request("PUT", url, content=raw)).json()
        assert echoed["method"] == "PUT"
        assert echoed["body"].encode("latin-1") == raw
        assert _headers(echoed)["content-length"] == str(len(raw))

    run(scenario, **asgi_site.options)


def test_asgi_streaming_upload_and_response(run: Run, asgi_site: Site) -> None:
    pieces = [bytes([i]) * 10_000 for i in range(20)]
    whole = b"".join(pieces)

    async def scenario(d: Driver) -> None:
        uploaded = await d.request("POST", asgi_site.url("/upload"), content=d.body(pieces))
        assert uploaded.json() == {
            "length": len(whole),
            "sha256": hashlib.sha256(whole).hexdigest(),
        }

        async with d.stream("GET", asgi_site.url("/stream?n=8&size=4096")) as response:
            assert response.status_code == 200
            assert "content-length" not in response.headers
            assert response.headers["transfer-encoding"] == "chunked"
            received = b"".join(await d.chunks(response))
        assert received == b"".join(stream_piece(i, 4096) for i in range(8))

    run(scenario, **asgi_site.options)


def test_asgi_large_download(run: Run, asgi_site: Site) -> None:
    async def scenario(d: Driver) -> None:
        async with d.stream("GET", asgi_site.url(f"/bytes?n={BIG_SIZE}")) as response:
            assert response.headers["content-length"] == str(BIG_SIZE)
            digest = hashlib.sha256()
            for piece in await d.chunks(response):
                digest.update(piece)
        assert digest.hexdigest() == hashlib.sha256(pattern(BIG_SIZE)).hexdigest()

    run(scenario, **asgi_site.options)


def test_asgi_redirects_keep_or_drop_the_body(run: Run, asgi_site: Site) -> None:
    async def scenario(d: Driver) -> None:
        url = asgi_site.url("/redirect")
        seen = await d.request(
            "POST", url, params={"status": "303"}, content=b"payload", follow_redirects=True
        )
        echo = seen.json()
        assert (echo["method"], echo["body"]) == ("GET", "")
        assert "content-length" not in _headers(echo)
        assert [r.status_code for r in seen.history] == [303]

        for status in ("307", "308"):
            kept = await d.request(
                "POST", url, params={"status": status}, content=b"payload", follow_redirects=True
            )
            echo = kept.json()
            assert (echo["method"], echo["body"]) == ("POST", "payload")

        absolute = asgi_site.url("/echo?from=absolute")
        moved = await d.get(url, params={"location": absolute}, follow_redirects=True)
        assert moved.json()["query"] == "from=absolute"
        assert str(moved.url) == absolute

    run(scenario, **asgi_site.options)


def test_asgi_cookies(run: Run, asgi_site: Site) -> None:
    def cookie_header(echo: dict[str, Any]) -> set[str]:
        return set(_headers(echo)["cookie"].split("; "))

    async def scenario(d: Driver) -> None:
        # Set on a redirect response and sent on the request that follows it.
        response = await d.get(
            asgi_site.url("/cookies/set"),
            params={"flavour": "mint", "size": "large"},
            follow_redirects=True,
        )
        assert response.history[0].headers.get_list("set-cookie") == [
            "flavour=mint; Path=/",
            "size=large; Path=/",
        ]
        assert cookie_header(response.json()) == {"flavour=mint", "size=large"}
        assert d.cookies["flavour"] == "mint"
        again = await d.get(asgi_site.url("/echo"))
        assert cookie_header(again.json()) == {"flavour=mint", "size=large"}

    run(scenario, **asgi_site.options)


def test_asgi_gzip(run: Run, asgi_site: Site) -> None:
    async def scenario(d: Driver) -> None:
        response = await d.get(asgi_site.url("/gzip"))
        assert response.headers["content-encoding"] == "gzip"
        assert response.text == GZIP_TEXT

    run(scenario, **asgi_site.options)


def test_asgi_keeps_the_connection_alive(run: Run, asgi_site: Site) -> None:
    async def scenario(d: Driver) -> None:
        ports = set()
        for _ in range(5):
            ports.add((await d.get(asgi_site.url("/echo"))).json()["client_port"])
        assert len(ports) == 1

    run(scenario, **asgi_site.options)


def test_asgi_slow_responses_and_read_timeout(run: Run, asgi_site: Site) -> None:
    async def scenario(d: Driver) -> None:
        slow = await d.get(asgi_site.url("/slow?delay=0.2"))
        assert slow.text == "done"
        with pytest.raises(conch.ReadTimeout):
            await d.get(asgi_site.url("/slow?delay=1"), timeout=0.3)
        # The timed-out connection is dropped, not reused; the client still works.
        after = await d.get(asgi_site.url("/echo"))
        assert after.status_code == 200

    run(scenario, **asgi_site.options)


# -- HTTP/2: TLS with ALPN and h2c by prior knowledge ---------------------------------


@dataclass(frozen=True)
class H2Site(Site):
    """An HTTP/2 site, how to tell its connections apart from the server's side, and how
    to upload to it and learn what the server received."""

    small: str  # a small resource's path
    huge: str  # the path of a HUGE_SIZE download
    huge_sha256: str

    async def connection_of(self, d: Driver) -> str:
        response = await d.get(self.url(self.small))
        assert response.status_code == 200
        assert response.http_version == "HTTP/2"
        if isinstance(self.server, AsgiServer):
            return str(response.json()["client_port"])
        return response.headers["x-connection"]

    async def upload(self, d: Driver, body: bytes, name: str) -> str:
        """Upload ``body``; the SHA-256 of what the server got."""
        if isinstance(self.server, AsgiServer):
            answer = (await d.request("POST", self.url("/upload"), content=body)).json()
            assert answer["length"] == len(body)
            return str(answer["sha256"])
        url = self.url(f"/dav/h2/{self.kind}-{name}")
        stored = await d.request("PUT", url, content=body)
        assert stored.status_code in (201, 204)
        assert stored.http_version == "HTTP/2"
        return hashlib.sha256((await d.get(url)).content).hexdigest()


@pytest.fixture(params=["nginx-tls", "nginx-h2c", "hypercorn-tls", "hypercorn-h2c"])
def h2_site(request: pytest.FixtureRequest, certificates: Certificates) -> H2Site:
    name, kind = request.param.split("-")
    server = request.getfixturevalue(f"{name}_h2")
    if kind == "tls":
        options: dict[str, Any] = {"http2": True, "verify": _trusting(certificates.ca_file)}
    else:
        options = {"http1": False, "http2": True}
    if isinstance(server, Nginx):
        return H2Site(server, kind, options, "/hello.txt", "/huge.bin", server.sha256("/huge.bin"))
    huge_sha256 = hashlib.sha256(pattern(HUGE_SIZE)).hexdigest()
    return H2Site(server, kind, options, "/echo", f"/bytes?n={HUGE_SIZE}", huge_sha256)


def test_h2_get(run: Run, h2_site: H2Site) -> None:
    async def scenario(d: Driver) -> None:
        response = await d.get(h2_site.url(h2_site.small), headers={"X-Test": "yes"})
        assert response.status_code == 200
        assert response.http_version == "HTTP/2"
        if isinstance(h2_site.server, AsgiServer):
            echo = response.json()
            assert echo["http_version"] == "2"
            assert _headers(echo)["x-test"] == "yes"
        else:
            assert response.text == SMALL_TEXT

    run(scenario, **h2_site.options)


def test_h2_concurrent_requests_share_one_connection(run: Run, h2_site: H2Site) -> None:
    async def scenario(d: Driver) -> None:
        connections = await d.gather(CONCURRENT, lambda: h2_site.connection_of(d))
        assert len(connections) == CONCURRENT
        assert len(set(connections)) == 1

    run(scenario, **h2_site.options)


def test_h2_large_download(run: Run, h2_site: H2Site) -> None:
    async def scenario(d: Driver) -> None:
        async with d.stream("GET", h2_site.url(h2_site.huge)) as response:
            assert response.http_version == "HTTP/2"
            digest = hashlib.sha256()
            for piece in await d.chunks(response):
                digest.update(piece)
        assert response.num_bytes_downloaded == HUGE_SIZE
        assert digest.hexdigest() == h2_site.huge_sha256

    run(scenario, **h2_site.options)


def test_h2_large_upload(run: Run, h2_site: H2Site) -> None:
    body = pattern(HUGE_SIZE)

    async def scenario(d: Driver) -> None:
        received = await h2_site.upload(d, body, f"{d.flavour}.bin")
        assert received == hashlib.sha256(body).hexdigest()

    run(scenario, **h2_site.options)


def test_h2_sync_client_shared_by_threads(h2_site: H2Site) -> None:
    """Threads mixing small requests, streamed downloads and uploads on one sync client."""
    body = pattern(1_000_000)
    expected = hashlib.sha256(body).hexdigest()
    with conch.Client(timeout=TIMEOUT, **h2_site.options) as client:
        driver = Driver("sync", client)

        def work(index: int) -> str:
            connection = _drive(h2_site.connection_of(driver))
            if index % 3 == 0:
                with client.stream("GET", h2_site.url(h2_site.huge)) as response:
                    assert sum(len(piece) for piece in response.iter_bytes()) == HUGE_SIZE
            elif index % 3 == 1:
                assert _drive(h2_site.upload(driver, body, f"thread-{index}.bin")) == expected
            else:
                assert client.get(h2_site.url(h2_site.small)).status_code == 200
            return connection

        with ThreadPoolExecutor(max_workers=12) as pool:
            connections = list(pool.map(work, range(24)))
    assert len(set(connections)) == 1
