"""Python function calls and CPU time per request on conch's sequential path.

    python benchmarks/calls.py          # MockTransport, then a local nginx (see run.py)
    python benchmarks/calls.py --mock   # MockTransport only: no nginx needed

For `Client.get` and `AsyncClient.get` (asyncio and trio): the calls cProfile counts per
request (Python functions, built-ins and generator resumptions alike: a count, not a
time, so it barely moves with the machine's load), and the CPU time per request without
the profiler (`time.process_time`, the best of 5 runs). MockTransport hands back a 1 KiB
body that is not in memory yet, so the client reads it as it would from a network: its
figures are the client's own cost plus the handler's; nginx's add the transport, the
HTTP/1.1 machine and the socket calls. A harness, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import conch

BODY = b"x" * 1024
WARM_UP = 300
RUNS = 5


def _handler(request: conch.Request) -> conch.Response:
    return conch.Response(200, headers={"Content-Type": "text/plain"}, content=iter([BODY]))


def _async_handler(request: conch.Request) -> conch.Response:
    async def body() -> AsyncIterator[bytes]:
        yield BODY

    return conch.Response(200, headers={"Content-Type": "text/plain"}, content=body())


def measure_sync(get: Callable[[], object], requests: int) -> tuple[float, float]:
    """(calls, CPU µs) per request."""
    for _ in range(WARM_UP):
        get()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        get()
    profiler.disable()
    calls = pstats.Stats(profiler).total_calls / requests  # type: ignore[attr-defined]
    best = float("inf")
    for _ in range(RUNS):
        start = time.process_time()
        for _ in range(requests):
            get()
        best = min(best, time.process_time() - start)
    return calls, best / requests * 1e6


async def measure_async(get: Callable[[], Awaitable[object]], requests: int) -> tuple[float, float]:
    """`measure_sync` for an async client, inside its event loop."""
    for _ in range(WARM_UP):
        await get()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        await get()
    profiler.disable()
    calls = pstats.Stats(profiler).total_calls / requests  # type: ignore[attr-defined]
    best = float("inf")
    for _ in range(RUNS):
        start = time.process_time()
        for _ in range(requests):
            await get()
        best = min(best, time.process_time() - start)
    return calls, best / requests * 1e6


def run_async(loop: str, url: str, transport: Any, requests: int) -> tuple[float, float]:
    async def main() -> tuple[float, float]:
        kwargs = {} if transport is None else {"transport": transport}
        async with conch.AsyncClient(**kwargs) as client:
            return await measure_async(lambda: client.get(url), requests)

    if loop == "trio":
        import trio

        return trio.run(main)  # type: ignore[no-any-return]
    return asyncio.run(main())


def report(label: str, figures: tuple[float, float]) -> None:
    print(f"| {label} | {figures[0]:.0f} | {figures[1]:.1f} |", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mock", action="store_true", help="MockTransport only")
    parser.add_argument("--requests", type=int, default=2000, help="per measurement")
    args = parser.parse_args(argv)
    n = args.requests
    print("| client, transport | calls per request | CPU µs per request |")
    print("|---|--:|--:|")
    mock_url = "http://example.org/small"
    with conch.Client(transport=conch.MockTransport(_handler)) as client:
        report("Client, MockTransport", measure_sync(lambda: client.get(mock_url), n))
    for loop in ("asyncio", "trio"):
        mock = conch.MockTransport(_async_handler)
        report(f"AsyncClient ({loop}), MockTransport", run_async(loop, mock_url, mock, n))
    if args.mock:
        return 0
    import _server

    binary = _server.find_nginx()
    if binary is None:
        print("nginx not found: only MockTransport was measured")
        return 2
    server = _server.start_nginx(binary)
    try:
        url = server.url("h1", "small")
        with conch.Client() as client:
            report("Client, nginx (HTTP/1.1)", measure_sync(lambda: client.get(url), n))
        for loop in ("asyncio", "trio"):
            report(f"AsyncClient ({loop}), nginx (HTTP/1.1)", run_async(loop, url, None, n))
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
