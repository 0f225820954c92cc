"""The clients under test and the timed loops; runs inside one fresh worker process.

Each client is a small adapter over the library's public API, as a user would write it:
`check()` makes one request and returns what the harness verifies (status, body size, the
protocol nginx says it spoke), `get()` is the request that is timed, `download()` streams a
body and drops it, `upload()` streams a generator of 64 KiB chunks. Peers are imported
lazily: a missing peer only makes its rows "n/a".

The timed part is wrapped by `Meter.timed()`, which reads the client process's CPU time,
nginx's worker CPU time and the wall clock around it; `Meter` also reads nginx's accepted
connection counter (stub_status) before the client is built and after the timed part, so a
client that reuses its connection shows 1 (or 100 for 100 connections).
"""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

WARMUP_REQUESTS = 20  # requests before timing: warms caches, pools and the connection
WARMUP_SHARE = 0.2  # ...or fewer, if they take longer than this share of the timed run
CHUNK = 64 * 1024  # stream chunk size asked of peers whose API takes one; upload chunks
RAW_BUFFER = 256 * 1024  # the raw socket's reusable receive buffer for downloads
RECV_SIZE = 64 * 1024  # the raw socket's read size for small responses
_UPLOAD_CHUNK = bytes(CHUNK)  # one shared 64 KiB piece: the generator allocates nothing


class Missing(Exception):
    """The peer is not installed: its row prints n/a."""


def _import(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise Missing(f"{module} not installed ({exc})") from None


# --------------------------------------------------------------------------------------
# Measuring: the client's CPU, nginx's CPU and accepted connections, the wall clock.


def _nginx_cpu_ns(pid: int) -> int:
    """CPU time of nginx's worker: /proc/PID/schedstat (ns), else utime+stime (ticks)."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def _accepted(port: int) -> int:
    """nginx's "server accepts" counter; this read is itself one accepted connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /status HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    lines = data.split(b"\r\n\r\n", 1)[1].decode().splitlines()
    return int(lines[2].split()[0])


class Meter:
    """Reads the numbers of one worker's run; `result()` is what the worker reports."""

    def __init__(self, nginx_pid: int, status_port: int) -> None:
        self.nginx_pid = nginx_pid
        self.status_port = status_port
        self.accepts0 = 0
        self.conns = 0
        self.protocol = ""
        self.units = 0
        self.wall = self.cpu = self.nginx_cpu = 0.0

    def begin(self) -> None:
        """Before the client exists: the start of the connection count."""
        self.accepts0 = _accepted(self.status_port)

    def end(self) -> None:
        # The second read counts itself: one accepted connection that is not the client's.
        self.conns = _accepted(self.status_port) - self.accepts0 - 1

    def saw(self, status: int, size: int, protocol: str, want_size: int | None) -> None:
        """Verify the check response; remember the protocol nginx says it spoke."""
        if status not in (200, 201, 204) or (want_size is not None and size != want_size):
            raise RuntimeError(f"unexpected response: status {status}, {size} bytes")
        self.protocol = protocol

    @contextmanager
    def timed(self) -> Iterator[None]:
        gc.collect()
        nginx0 = _nginx_cpu_ns(self.nginx_pid)
        cpu0 = time.process_time()
        wall0 = time.perf_counter()
        yield
        self.wall = time.perf_counter() - wall0
        self.cpu = time.process_time() - cpu0
        self.nginx_cpu = (_nginx_cpu_ns(self.nginx_pid) - nginx0) / 1e9

    def result(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "wall": self.wall,
            "cpu": self.cpu,
            "nginx_cpu": self.nginx_cpu,
            "conns": self.conns,
            "protocol": self.protocol,
        }


def _warm_deadline(seconds: float) -> float:
    return time.perf_counter() + max(seconds, 0.05) * WARMUP_SHARE


def timed_loop(m: Meter, call: Callable[[], object], seconds: float) -> int:
    """Warm up, then call back to back for `seconds`; returns the number of calls."""
    warm_until = _warm_deadline(seconds)
    for _ in range(WARMUP_REQUESTS):
        call()
        if time.perf_counter() >= warm_until:
            break
    count = 0
    with m.timed():
        deadline = time.perf_counter() + seconds
        while True:
            call()
            count += 1
            # One clock read per call: ~0.1 µs, under 1% of the fastest (raw) request.
            if time.perf_counter() >= deadline:
                break
    return count


async def async_timed_loop(m: Meter, call: Callable[[], Awaitable[object]], seconds: float) -> int:
    warm_until = _warm_deadline(seconds)
    for _ in range(WARMUP_REQUESTS):
        await call()
        if time.perf_counter() >= warm_until:
            break
    count = 0
    with m.timed():
        deadline = time.perf_counter() + seconds
        while True:
            await call()
            count += 1
            if time.perf_counter() >= deadline:
                break
    return count


class _Budget:
    """`total` requests shared by the workers, none taken after `max_seconds`."""

    __slots__ = ("deadline", "left", "total")

    def __init__(self, total: int, max_seconds: float) -> None:
        self.total = self.left = total
        self.deadline = time.perf_counter() + max_seconds

    def take(self) -> bool:
        if self.left <= 0 or time.perf_counter() >= self.deadline:
            return False
        self.left -= 1
        return True


async def _gather(lib: str, calls: list[Callable[[], Awaitable[object]]]) -> None:
    if lib == "trio":
        import trio

        async with trio.open_nursery() as nursery:
            for call in calls:
                nursery.start_soon(call)
    else:
        await asyncio.gather(*(call() for call in calls))


async def concurrent_run(
    m: Meter,
    lib: str,
    call: Callable[[], Awaitable[object]],
    total: int,
    concurrency: int,
    max_seconds: float,
) -> int:
    """`concurrency` tasks share `total` requests; a warm-up burst opens the connections."""
    await _gather(lib, [call] * concurrency)
    budget = _Budget(total, max_seconds)

    async def worker() -> None:
        while budget.take():
            await call()

    with m.timed():
        budget.deadline = time.perf_counter() + max_seconds
        await _gather(lib, [worker] * concurrency)
    return budget.total - budget.left


def upload_chunks(size: int) -> Iterator[bytes]:
    for _ in range(size // CHUNK):
        yield _UPLOAD_CHUNK


def tls_context(ca_file: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file)


# --------------------------------------------------------------------------------------
# Sync clients. `http` is "1" (HTTP/1.1, plain or TLS), "2" (HTTP/2 via ALPN) or "2c"
# (HTTP/2 with prior knowledge over plain TCP).


def _httpx_like_kw(http: str, ca: str | None) -> dict[str, Any]:
    kw: dict[str, Any] = {}
    if ca:
        kw["verify"] = tls_context(ca)
    if http == "2":
        kw["http2"] = True
    elif http == "2c":
        kw.update(http1=False, http2=True)
    return kw


class SyncClient:
    def __init__(self, url: str, http: str, ca: str | None) -> None:
        self.url = url

    def check(self) -> tuple[int, int, str]:
        raise NotImplementedError

    def get(self) -> object:
        raise NotImplementedError

    def download(self, url: str) -> int:
        raise NotImplementedError

    def upload(self, url: str, size: int) -> int:
        raise NotImplementedError

    def close(self) -> None:
        pass


class ConchSync(SyncClient):
    def __init__(self, url: str, http: str, ca: str | None) -> None:
        conch = _import("conch")
        self.url = url
        self.client = conch.Client(**_httpx_like_kw(http, ca))
        self.get = partial_get(self.client.get, url)

    def check(self) -> tuple[int, int, str]:
        r = self.client.get(self.url)
        return r.status_code, len(r.content), r.headers.get("x-protocol", "")

    def download(self, url: str) -> int:
        received = 0
        with self.client.stream("GET", url) as response:
            for chunk in response.iter_bytes():
                received += len(chunk)
        return received

    def upload(self, url: str, size: int) -> int:
        return int(self.client.put(url, content=upload_chunks(size)).status_code)

    def close(self) -> None:
        self.client.close()


class HttpxSync(ConchSync):
    def __init__(self, url: str, http: str, ca: str | None) -> None:
        httpx = _import("httpx")
        if http in ("2", "2c"):
            _import("h2")
        self.url = url
        self.client = httpx.Client(**_httpx_like_kw(http, ca))
        self.get = partial_get(self.client.get, url)


def partial_get(get: Callable[[str], object], url: str) -> Callable[[], object]:
    # A closure, like a user's loop body: `lambda: client.get(url)`.
    return lambda: get(url)


class RequestsSync(SyncClient):
    module = "requests"

    def __init__(self, url: str, http: str, ca: str | None) -> None:
        lib = _import(self.module)
        self.url = url
        self.session = self._session(lib, http)
        # Per request, as the docs show: a session's `verify` loses to REQUESTS_CA_BUNDLE.
        self.kw = {"verify": ca} if ca else {}
        get, kw = self.session.get, self.kw
        self.get = lambda: get(url, **kw)

    def _session(self, lib: Any, http: str) -> Any:
        return lib.Session()

    def check(self) -> tuple[int, int, str]:
        r = self.session.get(self.url, **self.kw)
        return r.status_code, len(r.content), r.headers.get("x-protocol", "")

    def download(self, url: str) -> int:
        received = 0
        with self.session.get(url, stream=True) as response:
            for chunk in response.iter_content(chunk_size=CHUNK):
                received += len(chunk)
        return received

    def upload(self, url: str, size: int) -> int:
        return int(self.session.put(url, data=upload_chunks(size)).status_code)

    def close(self) -> None:
        self.session.close()


class NiquestsSync(RequestsSync):
    module = "niquests"

    def _session(self, lib: Any, http: str) -> Any:
        # HTTP/3 off: nginx here has none, and niquests would probe for it.
        return lib.Session(
            disable_http3=True, disable_http2=http == "1", disable_http1=http == "2c"
        )


class Urllib3Sync(SyncClient):
    def __init__(self, url: str, http: str, ca: str | None) -> None:
        urllib3 = _import("urllib3")
        self.url = url
        self.pool = urllib3.PoolManager(ca_certs=ca) if ca else urllib3.PoolManager()
        request = self.pool.request
        self.get = lambda: request("GET", url)

    def check(self) -> tuple[int, int, str]:
        r = self.pool.request("GET", self.url)
        return r.status, len(r.data), r.headers.get("x-protocol", "")

    def download(self, url: str) -> int:
        received = 0
        response = self.pool.request("GET", url, preload_content=False)
        for chunk in response.stream(CHUNK):
            received += len(chunk)
        response.release_conn()
        return received

    def upload(self, url: str, size: int) -> int:
        return int(self.pool.request("PUT", url, body=upload_chunks(size)).status)

    def close(self) -> None:
        self.pool.clear()


class PycurlSync(SyncClient):
    def __init__(self, url: str, http: str, ca: str | None) -> None:
        pycurl = _import("pycurl")
        self.pycurl = pycurl
        self.url = url
        self.curl = curl = pycurl.Curl()
        self.received = 0
        curl.setopt(pycurl.WRITEFUNCTION, self._sink)
        version = {
            "1": pycurl.CURL_HTTP_VERSION_1_1,
            "2": pycurl.CURL_HTTP_VERSION_2TLS,
            "2c": pycurl.CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE,
        }[http]
        curl.setopt(pycurl.HTTP_VERSION, version)
        if ca:
            curl.setopt(pycurl.CAINFO, ca)
        curl.setopt(pycurl.URL, url)
        perform = curl.perform
        self.get = perform

    def _sink(self, chunk: bytes) -> None:
        self.received += len(chunk)

    def check(self) -> tuple[int, int, str]:
        self.received = 0
        self.curl.perform()
        version = self.curl.getinfo(self.pycurl.INFO_HTTP_VERSION)
        protocol = {
            self.pycurl.CURL_HTTP_VERSION_1_1: "HTTP/1.1",
            self.pycurl.CURL_HTTP_VERSION_2_0: "HTTP/2.0",
        }.get(version, f"curl version {version}")
        return self.curl.getinfo(self.pycurl.RESPONSE_CODE), self.received, protocol

    def download(self, url: str) -> int:
        self.received = 0
        self.curl.setopt(self.pycurl.URL, url)
        self.curl.perform()
        return self.received

    def upload(self, url: str, size: int) -> int:
        pycurl = self.pycurl
        chunks = upload_chunks(size)
        pending = b""

        def read(most: int) -> bytes:
            # libcurl asks for at most `most` bytes (a little under its buffer when chunked).
            nonlocal pending
            if not pending:
                pending = next(chunks, b"")
            if len(pending) <= most:
                out, pending = pending, b""
            else:
                out, pending = pending[:most], pending[most:]
            return out

        curl = self.curl
        curl.setopt(pycurl.URL, url)
        curl.setopt(pycurl.UPLOAD, 1)  # PUT, chunked: the size is not given
        curl.setopt(pycurl.UPLOAD_BUFFERSIZE, 4 * CHUNK)  # room for a whole chunk per call
        curl.setopt(pycurl.READFUNCTION, read)
        curl.perform()
        curl.setopt(pycurl.UPLOAD, 0)
        return int(curl.getinfo(pycurl.RESPONSE_CODE))

    def close(self) -> None:
        self.curl.close()


class RawSync(SyncClient):
    """The lower bound: pre-built request bytes, framing by Content-Length only."""

    def __init__(self, url: str, http: str, ca: str | None) -> None:
        parts = urlsplit(url)
        self.netloc = parts.netloc
        sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if ca:
            sock = tls_context(ca).wrap_socket(sock, server_hostname=parts.hostname)
        self.sock = sock
        self.pending = b""
        request = self.build("GET", url)
        self.get = lambda: self.fetch(request)
        self.url = url

    def build(self, method: str, url: str, length: int | None = None) -> bytes:
        extra = "" if length is None else f"Content-Length: {length}\r\n"
        path = urlsplit(url).path
        return f"{method} {path} HTTP/1.1\r\nHost: {self.netloc}\r\n{extra}\r\n".encode()

    def head(self, request: bytes | None) -> tuple[int, int, bytes]:
        """Send `request`; return (status, content length, body bytes already read)."""
        if request is not None:
            self.sock.sendall(request)
        data = self.pending
        while (end := data.find(b"\r\n\r\n")) < 0:
            chunk = self.sock.recv(RECV_SIZE)
            if not chunk:
                raise ConnectionError("server closed the connection")
            data += chunk
        start = data.find(b"Content-Length: ", 0, end)
        length = 0 if start < 0 else int(data[start + 16 : data.find(b"\r", start)])
        self.pending = b""
        return int(data[9:12]), length, data[end + 4 :]

    def fetch(self, request: bytes) -> bytes:
        _, length, body = self.head(request)
        while len(body) < length:
            chunk = self.sock.recv(RECV_SIZE)
            if not chunk:
                raise ConnectionError("server closed the connection")
            body += chunk
        self.pending = body[length:]
        return body[:length]

    def check(self) -> tuple[int, int, str]:
        return 200, len(self.fetch(self.build("GET", self.url))), "HTTP/1.1"

    def download(self, url: str) -> int:
        _, length, body = self.head(self.build("GET", url))
        received = len(body)
        buffer = memoryview(bytearray(RAW_BUFFER))
        recv_into = self.sock.recv_into
        while received < length:
            n = recv_into(buffer)
            if not n:
                raise ConnectionError("server closed the connection")
            received += n
        return received

    def upload(self, url: str, size: int) -> int:
        self.sock.sendall(self.build("PUT", url, size))
        sendall = self.sock.sendall
        for chunk in upload_chunks(size):
            sendall(chunk)
        status, length, body = self.head(None)
        self.pending = body[length:]
        return status

    def close(self) -> None:
        self.sock.close()


SYNC: dict[str, type[SyncClient]] = {
    "conch": ConchSync,
    "httpx": HttpxSync,
    "requests": RequestsSync,
    "urllib3": Urllib3Sync,
    "niquests": NiquestsSync,
    "pycurl": PycurlSync,
    "raw": RawSync,
}


# --------------------------------------------------------------------------------------
# Async clients; `conns` is the connection limit (1 for HTTP/2 and sequential runs).


class AsyncClient:
    async def check(self) -> tuple[int, int, str]:
        raise NotImplementedError

    async def get(self) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError


class ConchAsync(AsyncClient):
    module = "conch"

    def __init__(self, url: str, http: str, ca: str | None, conns: int) -> None:
        lib = _import(self.module)
        if self.module == "httpx" and http != "1":
            _import("h2")
        self.url = url
        limits = lib.Limits(max_connections=conns, max_keepalive_connections=conns)
        self.client = lib.AsyncClient(limits=limits, **_httpx_like_kw(http, ca))

    async def check(self) -> tuple[int, int, str]:
        r = await self.client.get(self.url)
        return r.status_code, len(r.content), r.headers.get("x-protocol", "")

    async def get(self) -> None:
        await self.client.get(self.url)

    async def aclose(self) -> None:
        await self.client.aclose()


class HttpxAsync(ConchAsync):
    module = "httpx"


class AiohttpAsync(AsyncClient):
    def __init__(self, url: str, http: str, ca: str | None, conns: int) -> None:
        aiohttp = _import("aiohttp")
        if http != "1":
            raise Missing("aiohttp has no HTTP/2")
        self.url = url
        connector = aiohttp.TCPConnector(
            limit=conns, limit_per_host=conns, ssl=tls_context(ca) if ca else True
        )
        self.session = aiohttp.ClientSession(connector=connector)

    async def check(self) -> tuple[int, int, str]:
        async with self.session.get(self.url) as r:
            return r.status, len(await r.read()), r.headers.get("x-protocol", "")

    async def get(self) -> None:
        async with self.session.get(self.url) as r:
            await r.read()

    async def aclose(self) -> None:
        await self.session.close()


class AiosonicAsync(AsyncClient):
    def __init__(self, url: str, http: str, ca: str | None, conns: int) -> None:
        aiosonic = _import("aiosonic")
        from aiosonic.connectors import TCPConnector
        from aiosonic.pools import PoolConfig

        if http == "2c":
            raise Missing("aiosonic has no h2c")
        self.url = url
        self.http2 = http == "2"
        self.ssl = tls_context(ca) if ca else None
        # No recycling after 1,000 requests: every client keeps its connections.
        config = PoolConfig(size=conns, max_conn_requests=None)
        connector = TCPConnector(pool_configs={":default": config}, http2=self.http2)
        self.client = aiosonic.HTTPClient(connector=connector, http2=self.http2)

    async def check(self) -> tuple[int, int, str]:
        r = await self.client.get(self.url, ssl=self.ssl, http2=self.http2)
        body = await r.content()
        return r.status_code, len(body), r.headers.get("x-protocol", "")

    async def get(self) -> None:
        r = await self.client.get(self.url, ssl=self.ssl, http2=self.http2)
        await r.content()

    async def aclose(self) -> None:
        await self.client.aclose()


class NiquestsAsync(AsyncClient):
    def __init__(self, url: str, http: str, ca: str | None, conns: int) -> None:
        niquests = _import("niquests")
        self.url = url
        self.session = niquests.AsyncSession(
            pool_maxsize=conns,
            disable_http3=True,
            disable_http2=http == "1",
            disable_http1=http == "2c",
        )
        self.kw = {"verify": ca} if ca else {}  # per request: see RequestsSync

    async def check(self) -> tuple[int, int, str]:
        r = await self.session.get(self.url, **self.kw)
        return r.status_code, len(r.content), r.headers.get("x-protocol", "")

    async def get(self) -> None:
        r = await self.session.get(self.url, **self.kw)
        r.content  # noqa: B018 - read the body, as a user would

    async def aclose(self) -> None:
        await self.session.close()


ASYNC: dict[str, tuple[type[AsyncClient], str]] = {
    "conch": (ConchAsync, "asyncio"),
    "conch-trio": (ConchAsync, "trio"),
    "httpx": (HttpxAsync, "asyncio"),
    "aiohttp": (AiohttpAsync, "asyncio"),
    "niquests": (NiquestsAsync, "asyncio"),
    "aiosonic": (AiosonicAsync, "asyncio"),
}


# --------------------------------------------------------------------------------------
# Scenarios: each takes the Meter and returns the units done (requests or bytes).


def _sync(client: str, url: str, http: str, ca: str | None) -> SyncClient:
    try:
        cls = SYNC[client]
    except KeyError:
        raise Missing(f"{client} has no sync client here") from None
    return cls(url, http, ca)


def sequential(
    m: Meter, client: str, url: str, seconds: float, http: str = "1", ca: str | None = None
) -> int:
    c = _sync(client, url, http, ca)
    try:
        m.saw(*c.check(), want_size=1024)
        return timed_loop(m, c.get, seconds)
    finally:
        c.close()


def download(m: Meter, client: str, url: str, small_url: str, size: int, seconds: float) -> int:
    """Downloads of `url` back to back for `seconds` (at least one); returns bytes."""
    c = _sync(client, small_url, "1", None)
    try:
        m.saw(*c.check(), want_size=1024)  # opens the connection before timing
        if seconds:
            c.download(url)  # a warm-up download: buffers and caches at their steady size
        received = 0
        with m.timed():
            deadline = time.perf_counter() + seconds
            while True:
                got = c.download(url)
                if got != size:
                    raise RuntimeError(f"downloaded {got} bytes, expected {size}")
                received += got
                if time.perf_counter() >= deadline:
                    break
        return received
    finally:
        c.close()


def upload(m: Meter, client: str, url: str, small_url: str, size: int) -> int:
    """One streamed upload of `size` bytes in 64 KiB chunks; returns bytes."""
    c = _sync(client, small_url, "1", None)
    try:
        m.saw(*c.check(), want_size=1024)
        with m.timed():
            status = c.upload(url, size)
        if status not in (201, 204):
            raise RuntimeError(f"upload answered {status}")
        return size
    finally:
        c.close()


def _run_async(client: str, body: Callable[[AsyncClient, str], Awaitable[int]], *args: Any) -> int:
    try:
        cls, lib = ASYNC[client]
    except KeyError:
        raise Missing(f"{client} has no async client here") from None

    async def main() -> int:
        c = cls(*args)
        try:
            return await body(c, lib)
        finally:
            await c.aclose()

    if lib == "trio":
        trio = _import("trio")
        return int(trio.run(main))
    return asyncio.run(main())


def async_sequential(
    m: Meter, client: str, url: str, seconds: float, http: str = "1", ca: str | None = None
) -> int:
    async def body(c: AsyncClient, lib: str) -> int:
        m.saw(*await c.check(), want_size=1024)
        return await async_timed_loop(m, c.get, seconds)

    return _run_async(client, body, url, http, ca, 1)


def async_concurrent(
    m: Meter,
    client: str,
    url: str,
    total: int,
    concurrency: int,
    max_seconds: float,
    connections: int,
    http: str = "1",
    ca: str | None = None,
) -> int:
    async def body(c: AsyncClient, lib: str) -> int:
        m.saw(*await c.check(), want_size=1024)
        return await concurrent_run(m, lib, c.get, total, concurrency, max_seconds)

    return _run_async(client, body, url, http, ca, connections)


SCENARIOS: dict[str, Callable[..., int]] = {
    "sequential": sequential,
    "download": download,
    "upload": upload,
    "async_sequential": async_sequential,
    "async_concurrent": async_concurrent,
}


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """One measurement, as described by `spec` (from run.py); the worker's whole job."""
    m = Meter(spec["nginx_pid"], spec["status_port"])
    fn = SCENARIOS[spec["scenario"]]
    m.begin()
    m.units = fn(m, spec["client"], **spec["params"])
    m.end()
    return m.result()
