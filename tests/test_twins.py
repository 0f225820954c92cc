"""The sync and async shells mirror each other line for line.

Each async module is normalised (``async``/``await`` dropped, ``Async*`` names and
async dunders renamed) and diffed against its sync twin. Every remaining difference
must be listed in ALLOWED below, on purpose: a shell growing logic on one side only
fails here.
"""

# ruff: noqa: E501  (the allowlist holds whole source lines)
from __future__ import annotations

import difflib
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

TWINS = ["client.py", "transport.py"]

RENAMES = [
    (r"\basync def\b", "def"),
    (r"\basync for\b", "for"),
    (r"\basync with\b", "with"),
    (r"\bawait ", ""),
    (r"\bAsyncHTTPTransport\b", "HTTPTransport"),
    (r"\bAsyncClient\b", "Client"),
    (r"\bAsyncBaseTransport\b", "BaseTransport"),
    (r"\bAsyncByteStream\b", "SyncByteStream"),
    (r"\bAsyncStream\b", "SyncStream"),
    (r"\bAsyncIterator\b", "Iterator"),
    (r"\basynccontextmanager\b", "contextmanager"),
    (r"\bhandle_async_request\b", "handle_request"),
    (r"\basync_auth_flow\b", "sync_auth_flow"),
    (r"\bStopAsyncIteration\b", "StopIteration"),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\b__aiter__\b", "__iter__"),
    (r"\b__anext__\b", "__next__"),
    (r"\baclose\b", "close"),
    (r"\baread\b", "read"),
    (r"\badrain\b", "drain"),
    (r"\baiter\(", "iter("),
    (r"\banext\(", "next("),
]

# Differences that are meant to be there: (file, "-" sync line or "+" async line).
ALLOWED = {
    "client.py": {
        '- """`Client`: the blocking client. It performs what `sansio.flow` decides."""',
        '+ """`Client`: the async client (asyncio, trio). It performs what `sansio.flow` decides."""',
        "- from collections.abc import Generator, Iterator, Mapping",
        "+ from collections.abc import AsyncGenerator, Iterator, Mapping",
        "+ import inspect",
        "- trust_env: bool = True,",
        "+ trust_env: bool = True,",
        '- """A blocking HTTP client with connection pooling, as `httpx.Client`.',
        '+ """An async HTTP client with connection pooling, as `httpx.Client`.',
        "- Safe to share between threads.",
        "+ Runs on asyncio and trio (detected with sniffio at each call).",
        "- yield from self._stream",
        "+ for chunk in self._stream:",
        "+ yield chunk",
        "- user_auth: list[Generator[Request, Response, None]] = []",
        "+ user_auth: list[AsyncGenerator[Request, Response]] = []",
        "- self, action: act.Action, user_auth: list[Generator[Request, Response, None]]",
        "+ self, action: act.Action, user_auth: list[AsyncGenerator[Request, Response]]",
        "- response = self._transport_for_url(request.url).handle_request(request)",
        "+ transport = self._transport_for_url(request.url)",
        "+ response = transport.handle_request(request)",
        "- hook(argument)",
        "+ outcome = hook(argument)",
        "+ if inspect.isawaitable(outcome):",
        "+ outcome",
        "- return next(user_auth[-1])",
        "+ return user_auth[-1].__next__()",
        "- return user_auth[-1].send(response)",
        "+ return user_auth[-1].asend(response)",
        '- "A Client can be opened only once; it cannot be reopened after closing."',
        '+ "An Client can be opened only once; it cannot be reopened after closing."',
    },
    "transport.py": {
        '- """`HTTPTransport`: connections over socket/ssl, driven by the core\'s pool and wire '
        "machines.",
        '+ """`HTTPTransport`: asyncio or trio connections, driven by the core\'s pool and wire '
        "machines.",
        "- (what to send, what a response is). This module only moves bytes, waits and locks.",
        "- A transport may be shared by many threads: the pool machine is guarded by one lock, and",
        "- a connection is used by one request at a time.",
        "+ (what to send, what a response is). This module only moves bytes and waits.",
        "+ It mirrors `sync_io.transport` line for line. The pool machine needs no lock here: every",
        "+ pool call runs between two awaits, so the event loop makes it atomic; `_NoLock` keeps",
        "+ the ``with self._lock:`` lines of the twin. A cancellation at any leaves the pool",
        "- from collections.abc import Iterable, Iterator",
        "+ from collections.abc import Iterator, Iterable",
        "+ consistent: every path that can be cancelled reports to the pool in a ``finally`` or",
        "+ ``except BaseException`` before re-raising.",
        "- import threading",
        "+ from types import TracebackType",
        "- from .backend import SocketOption, SyncStream, connect_tcp, connect_unix, sleep",
        "- from .tls import context_for",
        "+ from sync_io.tls import context_for",
        "+ from .backend import (",
        "+ AsyncEvent,",
        "+ SyncStream,",
        "+ SocketOption,",
        "+ connect_tcp,",
        "+ connect_unix,",
        "+ create_event,",
        "+ sleep,",
        "+ )",
        "+ class _NoLock:",
        '+ """Stands in for the sync twin\'s lock: the event loop already serialises pool calls."""',
        "+ __slots__ = ()",
        "+ def __enter__(self) -> None:",
        "+ return None",
        "+ def __exit__(",
        "+ self,",
        "+ exc_type: type[BaseException] | None,",
        "+ exc: BaseException | None,",
        "+ tb: TracebackType | None,",
        "+ ) -> None:",
        '- """A pooling HTTP/1.1 transport over TCP, TLS or a Unix socket (as `httpx.HTTPTransport`)."""',
        '+ """A pooling HTTP/1.1 transport on asyncio or trio (as `httpx.HTTPTransport`)."""',
        "- self._lock = threading.Lock()",
        "+ self._lock = _NoLock()",
        "- self._waiting: dict[int, threading.Event] = {}",
        "+ self._waiting: dict[int, AsyncEvent] = {}",
        "- event = self._waiting[decision.ticket] = threading.Event()",
        "+ event = self._waiting[decision.ticket] = create_event()",
        "- def _wait(self, ticket: int, event: threading.Event, timeout: float | None) -> Reuse | Open:",
        "+ def _wait(self, ticket: int, event: AsyncEvent, timeout: float | None) -> Reuse | Open:",
    },
}


def normalise(text: str) -> list[str]:
    for pattern, replacement in RENAMES:
        text = re.sub(pattern, replacement, text)
    return [line.strip() for line in text.splitlines() if line.strip()]


def differences(name: str) -> set[str]:
    sync = normalise((ROOT / "sync_io" / name).read_text())
    async_ = normalise((ROOT / "async_io" / name).read_text())
    diff = difflib.unified_diff(sync, async_, lineterm="", n=0)
    return {
        f"{line[0]} {line[1:]}"
        for line in diff
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    }


@pytest.mark.parametrize("name", TWINS)
def test_async_shell_mirrors_sync_shell(name: str) -> None:
    unexpected = differences(name) - ALLOWED[name]
    assert not unexpected, "\n".join(sorted(unexpected))


@pytest.mark.parametrize("name", TWINS)
def test_allowlist_has_no_stale_entries(name: str) -> None:
    stale = ALLOWED[name] - differences(name)
    assert not stale, "\n".join(sorted(stale))
