"""One runner, five drivers: each plays a `Scenario` and returns the same `Outcome` type.

=============  ==========================================================================
driver         what carries the bytes
=============  ==========================================================================
``core``       the core alone (`conformance.core_driver.MemoryClient`) and in-memory
               peers; a virtual clock, so timeouts and pauses cost no real time
``sync``       `sync_io.Client` over loopback sockets to threaded scripted peers
``asyncio``    `async_io.AsyncClient` under ``asyncio.run``, same peers
``trio``       `async_io.AsyncClient` under ``trio.run``, same peers
``selectors``  `examples/selectors_loop.py` (the core in a plain selectors loop), same peers
=============  ==========================================================================

Every driver runs every scenario, timeouts included: the socket drivers wait in real
time (scenarios keep each wait to at most a tenth of a second), the core driver on its
virtual clock. Every driver installs the same deterministic `sansio.env` (fixed clocks,
predictable random bytes), so Digest cnonces and multipart boundaries agree.

HTTP/1.1 response heads have two parsers (`sansio.h1_heads`). The five drivers use
`PARSER`: ``sansio.h1.DEFAULT_PARSER`` (llhttp where httptools is installed), or the one
the ``CONCH_H1_PARSER`` environment variable names (``CONCH_H1_PARSER=h11 pytest
conformance`` runs all five on h11). The core and the sync driver run every scenario on
the other parser too, as ``core-h11`` and ``sync-h11`` (or ``-llhttp``), so the
agreement test compares the parsers on the whole corpus.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from typing import Any

import trio

from async_io import AsyncClient
from sansio import env, h1
from sansio.auth import Auth, BasicAuth, DigestAuth
from sansio.config import Limits, Timeout
from sansio.exceptions import (
    CookieConflict,
    DecodingError,
    HTTPError,
    InvalidURL,
    ProtocolError,
    StreamError,
    TimeoutException,
    TooManyRedirects,
    UnsupportedProtocol,
)
from sansio.h1_heads import PARSERS
from sansio.models import Response
from sansio.sse import EventSource, ServerSentEvent, SSEError, event_stream_headers
from sync_io import Client

from .core_driver import MemoryClient, MemoryNetwork
from .model import Call, CallOutcome, Credentials, Interrupted, Outcome, Scenario, Settings
from .peers import LoopbackPeer, Tokens

__all__ = ["DRIVERS", "PARSER", "deterministic_env", "h1_parser", "run"]

Driver = Callable[[Scenario], Outcome]

# Ports the in-memory network pretends its peers listen on: five digits, like the
# ephemeral ports of loopback listeners, so that byte offsets agree between drivers.
MEMORY_PORTS = (40001, 40002, 40003, 40004)

# The HTTP/1.1 response-head parser of the five drivers.
PARSER = os.environ.get("CONCH_H1_PARSER") or h1.DEFAULT_PARSER
if PARSER not in PARSERS:
    raise ValueError(f"CONCH_H1_PARSER={PARSER!r}: the parsers here are {list(PARSERS)}")

# How many decoded bytes a "peek" call reads before closing the response.
PEEK_SIZE = 5

# A thread of a concurrent call that runs longer than this means a broken run.
THREAD_TIMEOUT = 30.0


def _fixed_random(n: int) -> bytes:
    return bytes(i % 256 for i in range(n))


@contextmanager
def h1_parser(name: str) -> Iterator[None]:
    """HTTP/1.1 connections made meanwhile parse response heads with ``name``."""
    previous = h1.DEFAULT_PARSER
    h1.DEFAULT_PARSER = name
    try:
        yield
    finally:
        h1.DEFAULT_PARSER = previous


@contextmanager
def deterministic_env(clock: Callable[[], float] = time.monotonic) -> Iterator[env.Env]:
    """The world the core sees during a run: a fixed wall clock, predictable randomness.

    ``clock`` is the engine's own (a total deadline started by the flow is measured by
    the engine): the socket drivers' `time.monotonic`, the core driver's virtual clock.
    """
    previous = env.install(
        env.Env(clock=clock, wall_clock=lambda: 1_700_000_000.0, random_bytes=_fixed_random)
    )
    try:
        yield env.current()
    finally:
        env.install(previous)


# -- settings into client arguments ---------------------------------------------------------


def _auth(credentials: Credentials) -> Auth:
    if credentials.scheme == "basic":
        return BasicAuth(credentials.username, credentials.password)
    return DigestAuth(credentials.username, credentials.password)


# What the "informational" hook saw during the current call (`Result.hooked`).
_HOOKED: ContextVar[list[int]] = ContextVar("hooked")


def _hook(response: Response) -> None:
    _HOOKED.get([]).append(response.status_code)


def _client_kwargs(settings: Settings) -> dict[str, Any]:
    return {
        "event_hooks": {"informational": [_hook]},
        "auth": _auth(settings.auth) if settings.auth else None,
        "headers": list(settings.headers),
        "cookies": dict(settings.cookies),
        "timeout": Timeout(
            settings.timeout,
            read=settings.read_timeout,
            pool=settings.pool_timeout,
            total=settings.total_timeout,
        ),
        "follow_redirects": settings.follow_redirects,
        "max_redirects": settings.max_redirects,
        "max_decoded_size": settings.max_decoded_size,
    }


def _versions(settings: Settings) -> dict[str, Any]:
    """The transport's protocol choice (h2c by prior knowledge, or HTTP/1.1) and its
    retry policy."""
    versions: dict[str, Any] = {"retries": settings.retries} if settings.retries else {}
    if settings.http2_prior_knowledge:
        versions.update(http1=False, http2=True)
    return versions


def _limits(settings: Settings) -> Limits:
    return Limits(
        max_connections=settings.max_connections,
        max_keepalive_connections=settings.max_keepalive_connections,
        keepalive_expiry=settings.keepalive_expiry,
        max_connections_per_host=settings.max_connections_per_host,
        max_header_bytes=settings.max_header_bytes,
        max_header_count=settings.max_header_count,
    )


def _send_kwargs(call: Call) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if call.auth is not None:
        kwargs["auth"] = _auth(call.auth)
    if call.follow_redirects is not None:
        kwargs["follow_redirects"] = call.follow_redirects
    return kwargs


def _extensions(call: Call) -> dict[str, Any] | None:
    extensions = {} if call.target is None else {"target": call.target}
    if call.protocol is not None:
        extensions["protocol"] = call.protocol
    return extensions or None


def _chunks(call: Call) -> Iterator[bytes]:
    assert call.chunks is not None
    for index, chunk in enumerate(call.chunks):
        if index == call.interrupt_after:
            raise Interrupted
        yield chunk
    if call.interrupt_after == len(call.chunks):
        raise Interrupted


async def _achunks(call: Call) -> AsyncIterator[bytes]:
    for chunk in _chunks(call):
        yield chunk


# -- responses into outcomes -----------------------------------------------------------------


def error_name(exc: BaseException) -> str:
    """conch's exceptions by name; anything else module-qualified (it is a bug)."""
    kind = type(exc)
    if isinstance(exc, HTTPError | StreamError | CookieConflict | InvalidURL):
        return kind.__name__
    return f"{kind.__module__}.{kind.__qualname__}"


# Errors whose message comes from the core, the same whatever the shell; the messages
# of network errors and timeouts come from each I/O library and are not compared.
_CORE_ERRORS = (
    ProtocolError,
    SSEError,
    DecodingError,
    TooManyRedirects,
    StreamError,
    UnsupportedProtocol,
    InvalidURL,
    ValueError,
    TypeError,
)


def _message(error: BaseException | None, tokens: Tokens) -> str | None:
    if error is None or not (isinstance(error, _CORE_ERRORS) or _total_timeout(error)):
        return None
    return tokens.normalize_text(str(error))


def _total_timeout(error: BaseException) -> bool:
    """Whether ``error`` is the core's total timeout (`sansio.deadline`): its message
    is the core's, whatever the shell."""
    return isinstance(error, TimeoutException) and str(error).startswith("the total timeout")


def _call_outcome(
    response: Response | None, body: bytes | None, error: BaseException | None, tokens: Tokens
) -> CallOutcome:
    name = None if error is None else error_name(error)
    message = _message(error, tokens)
    hooked = tuple(_HOOKED.get([]))
    if response is None:
        return CallOutcome(
            status=None,
            reason=None,
            http_version=None,
            headers=(),
            body=None,
            error=name,
            message=message,
            history=(),
            url=None,
            hooked=hooked,
        )
    norm = tokens.normalize_text
    return CallOutcome(
        status=response.status_code,
        reason=response.reason_phrase,
        http_version=response.http_version,
        headers=tuple(
            (name.decode("latin-1").lower(), norm(value.decode("latin-1")))
            for name, value in response.headers.raw
        ),
        body=body,
        error=name,
        message=message,
        history=tuple(r.status_code for r in response.history),
        url=norm(str(response.url)),
        trailers=tuple(
            (name.decode("latin-1").lower(), norm(value.decode("latin-1")))
            for name, value in response.trailers.raw
        ),
        informational=tuple(r.status_code for r in response.informational),
        hooked=hooked,
    )


def _jar(cookies: Any) -> tuple[tuple[str, str, str, str], ...]:
    return tuple(sorted((c.name, c.value, c.domain, c.path) for c in cookies.jar))


def _url(tokens: Tokens, call: Call) -> str:
    return f"http://{tokens.authorities[call.origin]}{call.path}"


SyncClient = Client | Any


def _chunk_size(call: Call) -> int | None:
    return PEEK_SIZE if call.read == "peek" else None


def _headers(call: Call) -> Any:
    # An event-stream call sends what connect_sse sends.
    return event_stream_headers(call.headers) if call.read == "sse" else list(call.headers)


def _events(events: list[ServerSentEvent]) -> bytes:
    return b"".join(repr(event).encode() + b"\n" for event in events)


def _perform_sync(client: SyncClient, call: Call, tokens: Tokens) -> CallOutcome:
    _HOOKED.set([])
    content: Any = call.body if call.chunks is None else _chunks(call)
    response: Response | None = None
    try:
        request = client.build_request(
            call.method, _url(tokens, call), headers=_headers(call), content=content,
            extensions=_extensions(call),
        )  # fmt: skip
        response = client.send(request, stream=call.read != "read", **_send_kwargs(call))
        if call.read == "read":
            return _call_outcome(response, response.content, None, tokens)
        if call.read == "sse":
            try:
                events = list(EventSource(response).iter_sse())
            finally:
                response.close()
            return _call_outcome(response, _events(events), None, tokens)
        parts: Any = (
            response.iter_raw() if call.read == "raw" else response.iter_bytes(_chunk_size(call))
        )
        try:
            body = next(parts, b"") if call.read == "peek" else b"".join(parts)
        finally:
            parts.close()  # the generator, in case it stopped early (peek)
            response.close()
        return _call_outcome(response, body, None, tokens)
    except (Exception, Interrupted) as exc:
        return _call_outcome(response, None, exc, tokens)


async def _perform_async(client: AsyncClient | Any, call: Call, tokens: Tokens) -> CallOutcome:
    _HOOKED.set([])
    content: Any = call.body if call.chunks is None else _achunks(call)
    response: Response | None = None
    try:
        request = client.build_request(
            call.method, _url(tokens, call), headers=_headers(call), content=content,
            extensions=_extensions(call),
        )  # fmt: skip
        response = await client.send(request, stream=call.read != "read", **_send_kwargs(call))
        if call.read == "read":
            return _call_outcome(response, response.content, None, tokens)
        if call.read == "sse":
            try:
                events = [event async for event in EventSource(response).aiter_sse()]
            finally:
                await response.aclose()
            return _call_outcome(response, _events(events), None, tokens)
        parts: Any = (
            response.aiter_raw() if call.read == "raw" else response.aiter_bytes(_chunk_size(call))
        )
        try:
            if call.read == "peek":
                body = await anext(parts, b"")
            else:
                body = b"".join([part async for part in parts])
        finally:
            await parts.aclose()  # the generator, in case it stopped early (peek)
            await response.aclose()
        return _call_outcome(response, body, None, tokens)
    except (Exception, Interrupted) as exc:
        return _call_outcome(response, None, exc, tokens)


# -- the drivers ------------------------------------------------------------------------------


def run_core(scenario: Scenario) -> Outcome:
    """The core alone, in memory, on a virtual clock."""
    network = MemoryNetwork(scenario.peers, MEMORY_PORTS[: len(scenario.peers)])
    settings = scenario.settings
    with deterministic_env(network.clock):  # the client keeps the world it is made in
        client = MemoryClient(
            network, limits=_limits(settings), **_versions(settings), **_client_kwargs(settings)
        )

    async def one(call: Call) -> CallOutcome:
        if call.pause_before:
            await client.loop.sleep(call.pause_before)
        return await _perform_async(client, call, network.tokens)

    async def main() -> list[CallOutcome]:
        calls = []
        for group in scenario.groups:
            calls += await client.loop.gather(*(one(scenario.calls[i]) for i in group))
        await client.aclose()
        return calls

    with deterministic_env(network.clock):
        calls = client.loop.run(main())
    return Outcome(
        calls=tuple(calls),
        seen=tuple(tuple(seen) for seen in network.seen),
        connections=tuple(network.accepted),
        cookies=_jar(client.cookies),
        peer_errors=tuple(network.errors),
    )


class _Loopback:
    """The scenario's peers on loopback sockets, for one run."""

    def __init__(self, scenario: Scenario) -> None:
        self.peers = [LoopbackPeer(peer) for peer in scenario.peers]
        self.tokens = Tokens([peer.authority for peer in self.peers])
        for peer in self.peers:
            peer.start(self.tokens)

    def outcome(self, calls: list[CallOutcome], cookies: Any) -> Outcome:
        for peer in self.peers:
            peer.finish()
        return Outcome(
            calls=tuple(calls),
            seen=tuple(tuple(peer.seen) for peer in self.peers),
            connections=tuple(peer.accepted for peer in self.peers),
            cookies=_jar(cookies),
            peer_errors=tuple(error for peer in self.peers for error in peer.errors),
        )

    def abort(self) -> None:
        for peer in self.peers:
            peer.finish()


def _one_sync(client: Any, call: Call, tokens: Tokens) -> CallOutcome:
    if call.pause_before:
        time.sleep(call.pause_before)
    return _perform_sync(client, call, tokens)


def _in_threads(work: list[Callable[[], CallOutcome]]) -> list[CallOutcome]:
    """Run the calls of a group: one here, several in threads started together."""
    if len(work) == 1:
        return [work[0]()]
    results: list[Any] = [None] * len(work)
    barrier = threading.Barrier(len(work))

    def run(index: int) -> None:
        barrier.wait()
        results[index] = work[index]()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(THREAD_TIMEOUT)
        if thread.is_alive():
            raise RuntimeError("a concurrent call never ended")
    return results


def _run_sync_client(scenario: Scenario, make: Callable[[], Any]) -> Outcome:
    net = _Loopback(scenario)
    try:
        with deterministic_env():
            client = make()
            try:
                calls = []
                for group in scenario.groups:
                    work = [
                        partial(_one_sync, client, scenario.calls[i], net.tokens) for i in group
                    ]
                    calls += _in_threads(work)
            finally:
                client.close()
    except BaseException:
        net.abort()
        raise
    return net.outcome(calls, client.cookies)


def run_sync(scenario: Scenario) -> Outcome:
    """`sync_io.Client` over loopback sockets."""
    settings = scenario.settings
    return _run_sync_client(
        scenario,
        lambda: Client(limits=_limits(settings), **_versions(settings), **_client_kwargs(settings)),
    )


def run_selectors(scenario: Scenario) -> Outcome:
    """The selectors-loop example client over loopback sockets."""
    from examples.selectors_loop import SelectorsClient, Wait

    net = _Loopback(scenario)
    settings = scenario.settings
    try:
        with deterministic_env():
            client = SelectorsClient(
                limits=_limits(settings), **_versions(settings), **_client_kwargs(settings)
            )

            async def one(call: Call) -> CallOutcome:
                if call.pause_before:
                    await Wait(timeout=call.pause_before)
                return await _perform_async(client, call, net.tokens)

            async def main() -> list[CallOutcome]:
                calls = []
                for group in scenario.groups:
                    calls += await client.loop.gather(*(one(scenario.calls[i]) for i in group))
                return calls

            try:
                calls = client.loop.run(main())
            finally:
                client.close()
    except BaseException:
        net.abort()
        raise
    return net.outcome(calls, client.cookies)


def _run_async(
    scenario: Scenario,
    runner: Callable[[Callable[[], Awaitable[list[CallOutcome]]]], list[CallOutcome]],
    sleep: Callable[[float], Awaitable[object]],
    gather: Callable[..., Awaitable[list[CallOutcome]]],
) -> Outcome:
    net = _Loopback(scenario)
    settings = scenario.settings
    with deterministic_env():  # the client keeps the world it is made in
        client = AsyncClient(
            limits=_limits(settings), **_versions(settings), **_client_kwargs(settings)
        )

    async def one(call: Call) -> CallOutcome:
        if call.pause_before:
            await sleep(call.pause_before)
        return await _perform_async(client, call, net.tokens)

    async def main() -> list[CallOutcome]:
        calls = []
        async with client:
            for group in scenario.groups:
                calls += await gather(*(one(scenario.calls[i]) for i in group))
        return calls

    try:
        with deterministic_env():
            calls = runner(main)
    except BaseException:
        net.abort()
        raise
    return net.outcome(calls, client.cookies)


def run_asyncio(scenario: Scenario) -> Outcome:
    """`async_io.AsyncClient` on asyncio over loopback sockets."""
    return _run_async(scenario, lambda main: asyncio.run(main()), asyncio.sleep, asyncio.gather)  # type: ignore[arg-type]


def run_trio(scenario: Scenario) -> Outcome:
    """`async_io.AsyncClient` on trio over loopback sockets."""
    return _run_async(scenario, trio.run, trio.sleep, _trio_gather)


async def _trio_gather(*coros: Awaitable[CallOutcome]) -> list[CallOutcome]:
    results: list[Any] = [None] * len(coros)

    async def run(index: int) -> None:
        results[index] = await coros[index]

    async with trio.open_nursery() as nursery:
        for index in range(len(coros)):
            nursery.start_soon(run, index)
    return results


def _on_parser(driver: Driver, parser: str) -> Driver:
    def run(scenario: Scenario) -> Outcome:
        with h1_parser(parser):
            return driver(scenario)

    return run


DRIVERS: dict[str, Driver] = {
    name: _on_parser(driver, PARSER)
    for name, driver in {
        "core": run_core,
        "sync": run_sync,
        "asyncio": run_asyncio,
        "trio": run_trio,
        "selectors": run_selectors,
    }.items()
}
# The other parser, on the core and on one socket driver.
DRIVERS.update(
    {
        f"{name}-{parser}": _on_parser(driver, parser)
        for parser in PARSERS
        if parser != PARSER
        for name, driver in (("core", run_core), ("sync", run_sync))
    }
)


def run(scenario: Scenario, driver: str) -> Outcome:
    return DRIVERS[driver](scenario)
