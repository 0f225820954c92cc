"""One function per (scenario, client). Each returns a `Sample` for one timed run.

Every function builds its client, warms it up (so connection setup is not timed, except
where a scenario says so), times the work with `perf_counter` and `process_time`, and
closes the client. Bodies are read in full and thrown away, so memory stays flat.
Peers are imported lazily: a missing optional peer only removes its rows.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit

WARMUP_REQUESTS = 20  # sequential requests before timing: warms caches, pools, branch predictors
WARMUP_SHARE = 0.2  # ...or fewer, if they take longer than this share of the timed run
STREAM_CHUNK = 64 * 1024  # chunk size asked of peers whose API needs one (requests, urllib3)
RAW_BUFFER = 256 * 1024  # the raw socket's reusable receive buffer
RECV_SIZE = 64 * 1024  # the raw socket's read size for small responses


@dataclass(frozen=True)
class Sample:
    """One timed run: `units` is requests or bytes."""

    units: int
    wall: float
    cpu: float

    @property
    def rate(self) -> float:
        return self.units / self.wall


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


FACADE_ERROR: str | None = None  # why `import conch` failed, if it did


def _conch() -> Any:
    """The facade if it imports, else the shells it re-exports (same classes)."""
    global FACADE_ERROR
    try:
        import conch

        return conch
    except ImportError as exc:
        FACADE_ERROR = f"{type(exc).__name__}: {exc}"
        import types

        import async_io
        import sansio
        import sync_io

        return types.SimpleNamespace(
            Client=sync_io.Client,
            AsyncClient=async_io.AsyncClient,
            Limits=sansio.Limits,
            Timeout=sansio.Timeout,
        )


def _check_small(body: bytes, status: int) -> None:
    if status != 200 or len(body) != 1024:
        raise RuntimeError(f"unexpected response: status {status}, {len(body)} bytes")


# --------------------------------------------------------------------------------------
# Scenario 1: sequential sync GETs over one keep-alive connection.


def _timed_loop(get: Callable[[], object], duration: float) -> Sample:
    warm_until = time.perf_counter() + duration * WARMUP_SHARE
    for _ in range(WARMUP_REQUESTS):
        get()
        if time.perf_counter() >= warm_until:
            break
    gc.collect()
    count = 0
    cpu0 = time.process_time()
    start = time.perf_counter()
    deadline = start + duration
    while True:
        get()
        count += 1
        # One clock read per request: ~0.1 µs, under 1% of the fastest (raw) request.
        if (now := time.perf_counter()) >= deadline:
            break
    cpu = time.process_time() - cpu0
    return Sample(count, now - start, cpu)


def seq_conch(url: str, duration: float, **client_kw: Any) -> Sample:
    conch = _conch()
    with conch.Client(**client_kw) as client:
        response = client.get(url)
        _check_small(response.content, response.status_code)
        return _timed_loop(lambda: client.get(url), duration)


def seq_httpx(url: str, duration: float, **client_kw: Any) -> Sample:
    import httpx

    with httpx.Client(**client_kw) as client:
        response = client.get(url)
        _check_small(response.content, response.status_code)
        return _timed_loop(lambda: client.get(url), duration)


def seq_requests(url: str, duration: float) -> Sample:
    import requests

    with requests.Session() as session:
        response = session.get(url)
        _check_small(response.content, response.status_code)
        return _timed_loop(lambda: session.get(url), duration)


def seq_urllib3(url: str, duration: float) -> Sample:
    import urllib3

    with urllib3.PoolManager() as pool:
        response = pool.request("GET", url)
        _check_small(response.data, response.status)
        return _timed_loop(lambda: pool.request("GET", url), duration)


def seq_pycurl(url: str, duration: float) -> Sample:
    import io

    import pycurl

    curl = pycurl.Curl()
    try:
        curl.setopt(pycurl.URL, url)
        buffer = io.BytesIO()
        curl.setopt(pycurl.WRITEFUNCTION, buffer.write)
        curl.perform()
        _check_small(buffer.getvalue(), curl.getinfo(pycurl.RESPONSE_CODE))

        def get() -> None:
            buffer.seek(0)
            buffer.truncate()
            curl.perform()

        return _timed_loop(get, duration)
    finally:
        curl.close()


class _RawHTTP:
    """The lower bound: pre-built request bytes, framing by Content-Length only."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.netloc = parts.netloc
        self.sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pending = b""

    def build(self, url: str) -> bytes:
        path = urlsplit(url).path
        return f"GET {path} HTTP/1.1\r\nHost: {self.netloc}\r\nAccept: */*\r\n\r\n".encode()

    def head(self, request: bytes) -> tuple[int, int, bytes]:
        """Send `request`; return (status, content length, body bytes already read)."""
        self.sock.sendall(request)
        data = self.pending
        while (end := data.find(b"\r\n\r\n")) < 0:
            chunk = self.sock.recv(RECV_SIZE)
            if not chunk:
                raise ConnectionError("server closed the connection")
            data += chunk
        start = data.find(b"Content-Length: ", 0, end) + 16
        length = int(data[start : data.find(b"\r", start)])
        self.pending = b""
        return int(data[9:12]), length, data[end + 4 :]

    def get(self, request: bytes) -> bytes:
        _, length, body = self.head(request)
        while len(body) < length:
            chunk = self.sock.recv(RECV_SIZE)
            if not chunk:
                raise ConnectionError("server closed the connection")
            body += chunk
        self.pending = body[length:]
        return body[:length]

    def close(self) -> None:
        self.sock.close()


def seq_raw(url: str, duration: float) -> Sample:
    raw = _RawHTTP(url)
    try:
        request = raw.build(url)
        _check_small(raw.get(request), 200)
        return _timed_loop(partial(raw.get, request), duration)
    finally:
        raw.close()


# --------------------------------------------------------------------------------------
# Scenario 2 (and 3, async): `concurrency` workers share up to `total` requests on one
# client, and stop taking new ones after `max_seconds` so a slow client cannot stall the run.


class _Budget:
    __slots__ = ("deadline", "left", "total")

    def __init__(self, total: int, max_seconds: float) -> None:
        self.total = self.left = total
        self.deadline = time.perf_counter() + max_seconds

    def take(self) -> bool:
        if self.left <= 0 or time.perf_counter() >= self.deadline:
            return False
        self.left -= 1
        return True

    @property
    def done(self) -> int:
        return self.total - self.left


async def _asyncio_run(
    get: Callable[[], Any], total: int, concurrency: int, max_seconds: float, warm_all: bool
) -> Sample:
    # Warm-up opens the connections (or the one HTTP/2 connection) before timing.
    if warm_all:
        await asyncio.gather(*(get() for _ in range(concurrency)))
    else:
        await get()
    gc.collect()
    budget = _Budget(total, max_seconds)

    async def worker() -> None:
        while budget.take():
            await get()

    cpu0 = time.process_time()
    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - start
    return Sample(budget.done, wall, time.process_time() - cpu0)


def conc_conch_asyncio(
    url: str,
    total: int,
    concurrency: int,
    max_seconds: float,
    connections: int | None = None,
    **client_kw: Any,
) -> Sample:
    conch = _conch()
    conns = connections or concurrency

    async def main() -> Sample:
        limits = conch.Limits(max_connections=conns, max_keepalive_connections=conns)
        async with conch.AsyncClient(limits=limits, **client_kw) as client:

            async def get() -> None:
                response = await client.get(url)
                _check_small(response.content, response.status_code)

            return await _asyncio_run(get, total, concurrency, max_seconds, connections is None)

    return asyncio.run(main())


def conc_conch_trio(
    url: str,
    total: int,
    concurrency: int,
    max_seconds: float,
    connections: int | None = None,
    **client_kw: Any,
) -> Sample:
    import trio

    conch = _conch()
    conns = connections or concurrency

    async def main() -> Sample:
        limits = conch.Limits(max_connections=conns, max_keepalive_connections=conns)
        async with conch.AsyncClient(limits=limits, **client_kw) as client:

            async def get() -> None:
                response = await client.get(url)
                _check_small(response.content, response.status_code)

            async with trio.open_nursery() as nursery:
                for _ in range(concurrency if connections is None else 1):
                    nursery.start_soon(get)
            gc.collect()
            budget = _Budget(total, max_seconds)

            async def worker() -> None:
                while budget.take():
                    await get()

            cpu0 = time.process_time()
            start = time.perf_counter()
            async with trio.open_nursery() as nursery:
                for _ in range(concurrency):
                    nursery.start_soon(worker)
            wall = time.perf_counter() - start
            return Sample(budget.done, wall, time.process_time() - cpu0)

    return trio.run(main)


def conc_httpx(
    url: str,
    total: int,
    concurrency: int,
    max_seconds: float,
    connections: int | None = None,
    **client_kw: Any,
) -> Sample:
    import httpx

    conns = connections or concurrency

    async def main() -> Sample:
        limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)
        async with httpx.AsyncClient(limits=limits, **client_kw) as client:

            async def get() -> None:
                response = await client.get(url)
                _check_small(response.content, response.status_code)

            return await _asyncio_run(get, total, concurrency, max_seconds, connections is None)

    return asyncio.run(main())


def conc_aiohttp(url: str, total: int, concurrency: int, max_seconds: float) -> Sample:
    import aiohttp

    async def main() -> Sample:
        connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def get() -> None:
                async with session.get(url) as response:
                    _check_small(await response.read(), response.status)

            return await _asyncio_run(get, total, concurrency, max_seconds, True)

    return asyncio.run(main())


# --------------------------------------------------------------------------------------
# Scenario 4: one streamed download of the big file (connection opened before timing).


def _timed_download(warm: Callable[[], object], download: Callable[[], int]) -> Sample:
    warm()
    gc.collect()
    cpu0 = time.process_time()
    start = time.perf_counter()
    received = download()
    wall = time.perf_counter() - start
    return Sample(received, wall, time.process_time() - cpu0)


def _small_of(url: str) -> str:
    return url.rsplit("/", 1)[0] + "/small"


def dl_conch(url: str) -> Sample:
    conch = _conch()
    with conch.Client() as client:

        def download() -> int:
            received = 0
            with client.stream("GET", url) as response:
                for chunk in response.iter_bytes():
                    received += len(chunk)
            return received

        return _timed_download(lambda: client.get(_small_of(url)), download)


def dl_httpx(url: str) -> Sample:
    import httpx

    with httpx.Client() as client:

        def download() -> int:
            received = 0
            with client.stream("GET", url) as response:
                for chunk in response.iter_bytes():
                    received += len(chunk)
            return received

        return _timed_download(lambda: client.get(_small_of(url)), download)


def dl_requests(url: str) -> Sample:
    import requests

    with requests.Session() as session:

        def download() -> int:
            received = 0
            with session.get(url, stream=True) as response:
                for chunk in response.iter_content(chunk_size=STREAM_CHUNK):
                    received += len(chunk)
            return received

        return _timed_download(lambda: session.get(_small_of(url)), download)


def dl_urllib3(url: str) -> Sample:
    import urllib3

    with urllib3.PoolManager() as pool:

        def download() -> int:
            received = 0
            response = pool.request("GET", url, preload_content=False)
            for chunk in response.stream(STREAM_CHUNK):
                received += len(chunk)
            response.release_conn()
            return received

        return _timed_download(lambda: pool.request("GET", _small_of(url)), download)


def dl_pycurl(url: str) -> Sample:
    import pycurl

    curl = pycurl.Curl()
    received = 0

    def sink(chunk: bytes) -> None:
        nonlocal received
        received += len(chunk)

    try:
        curl.setopt(pycurl.WRITEFUNCTION, sink)

        def warm() -> None:
            curl.setopt(pycurl.URL, _small_of(url))
            curl.perform()

        def download() -> int:
            nonlocal received
            received = 0
            curl.setopt(pycurl.URL, url)
            curl.perform()
            return received

        return _timed_download(warm, download)
    finally:
        curl.close()


def dl_raw(url: str) -> Sample:
    raw = _RawHTTP(url)

    def download() -> int:
        _, length, body = raw.head(raw.build(url))
        received = len(body)
        buffer = memoryview(bytearray(RAW_BUFFER))
        recv_into = raw.sock.recv_into
        while received < length:
            n = recv_into(buffer)
            if not n:
                raise ConnectionError("server closed the connection")
            received += n
        return received

    try:
        return _timed_download(partial(raw.get, raw.build(_small_of(url))), download)
    finally:
        raw.close()


# --------------------------------------------------------------------------------------
# HTTP/2 support probes: conch's rows print "n/a" until these pass.


def probe_conch_sync(url: str, **client_kw: Any) -> str | None:
    """None if conch's sync client speaks HTTP/2 here, else why not."""
    try:
        conch = _conch()
        with conch.Client(timeout=5.0, **client_kw) as client:
            version = client.get(url).http_version
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:120]
    return None if version == "HTTP/2" else f"negotiated {version}"


def probe_conch_async(url: str, **client_kw: Any) -> str | None:
    """None if conch's async client speaks HTTP/2 here (on asyncio), else why not."""

    async def main() -> str:
        conch = _conch()
        async with conch.AsyncClient(timeout=5.0, **client_kw) as client:
            return str((await client.get(url)).http_version)

    try:
        version = asyncio.run(main())
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:120]
    return None if version == "HTTP/2" else f"negotiated {version}"


def tls_context(ca_file: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file)
