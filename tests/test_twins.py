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

TWINS = ["client.py", "transport.py", "sse.py", "ws.py"]

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
    (r"\baconnect_sse\b", "connect_sse"),
    (r"\bAbstractAsyncContextManager\b", "AbstractContextManager"),
    (r"\b_abind\b", "_bind"),
    (r"\baconnect_ws\b", "connect_ws"),
    (r"\bAsyncWebSocketSession\b", "WebSocketSession"),
    (r"\bAsyncNetworkStream\b", "NetworkStream"),
    (r"\bAsyncExitStack\b", "ExitStack"),
    (r"\benter_async_context\b", "enter_context"),
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
        '- "Attempted to send an async request with a sync Client instance."',
        '+ "Attempted to send an sync request with an Client instance."',
    },
    "transport.py": {
        '- """`HTTPTransport`: connections over socket/ssl, driven by the core\'s pool and wire '
        "machines.",
        '+ """`HTTPTransport`: asyncio or trio connections, driven by the core\'s pool and wire '
        "machines.",
        "- (what to send, what a response is). This module only moves bytes, waits and locks.",
        "+ (what to send, what a response is). This module only moves bytes and waits.",
        "+ It mirrors `sync_io.transport` line for line. The pool machine needs no lock here: every",
        "+ pool call runs between two awaits, so the event loop makes it atomic; `_NoLock` keeps",
        "- from collections.abc import Iterable, Iterator",
        "+ from collections.abc import Iterator, Iterable",
        "- import threading",
        "+ from types import TracebackType",
        "- from .backend import SocketOption, SyncStream, connect_tcp, connect_unix, sleep",
        "- from .tls import context_for, load_client_cert",
        "+ from sync_io.tls import context_for, load_client_cert",
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
        "- self._lock = threading.Lock()",
        "+ self._lock = _NoLock()",
        "- self._waiting: dict[int, threading.Event] = {}",
        "+ self._waiting: dict[int, AsyncEvent] = {}",
        "- event = self._waiting[decision.ticket] = threading.Event()",
        "+ event = self._waiting[decision.ticket] = create_event()",
        "- self, wait: Wait, event: threading.Event, deadline: float | None",
        "+ self, wait: Wait, event: AsyncEvent, deadline: float | None",
        # HTTP/2: the machine lock, write lock and events of `_Mux`, and the sync shell's
        # reads that never block in a socket call while another thread writes (ssl).
        '+ """A pooling HTTP/1.1 and HTTP/2 transport on asyncio or trio (as',
        "+ _Event = AsyncEvent  # what a request waiting on an HTTP/2 connection waits on",
        "+ calls (`_Mux`). A cancellation at any leaves the pool consistent: every path that",
        "+ can be cancelled reports to the pool in a ``finally`` or ``except BaseException`` before",
        "+ create_lock,",
        "+ re-raising.",
        "+ return self.stream.recv(RECEIVE_SIZE, timeout)",
        "+ self.io_lock = _NoLock()",
        "+ self.lock = _NoLock()",
        "+ self.write_lock = create_lock()",
        "+ the ``with self._lock:`` lines of the twin, and those of an HTTP/2 connection's machine",
        '- """A pooling HTTP/1.1 and HTTP/2 transport over TCP, TLS or a Unix socket (as',
        '- """Read from a stream that another thread may write to: each socket call under',
        '- """Wait until the stream\'s socket is readable, or ``timeout`` seconds have passed."""',
        "- A transport may be shared by many threads: the pool machine is guarded by one lock. An",
        "- HTTP/1.1 connection is used by one request at a time, with no lock of its own; an HTTP/2",
        "- _Event = threading.Event  # what a request waiting on an HTTP/2 connection waits on",
        "- _wait_readable(stream, remaining)",
        "- ``io_lock`` and never blocking in it (reading what `is_readable` reports), the wait",
        "- connection carries many, driven together by its `_Mux`.",
        "- deadline = None if timeout is None else time.monotonic() + timeout",
        "- def _read_exclusive(stream: SyncStream, io_lock: threading.Lock) -> bytes | None:",
        "- def _receive_exclusive(stream: SyncStream, io_lock: threading.Lock, timeout: float | None) -> bytes:",
        "- def _wait_readable(stream: SyncStream, timeout: float | None) -> None:",
        "- else:  # pragma: no cover - Windows",
        '- for bytes outside it, with ``timeout`` for the whole read."""',
        '- if hasattr(select, "poll"):',
        "- if remaining is not None and remaining <= 0:",
        "- if sock is None or sock.fileno() < 0:",
        "- import select",
        "- poller = select.poll()",
        "- poller.poll(None if timeout is None else max(timeout * 1000, 1))",
        "- poller.register(sock, select.POLLIN)",
        '- raise ReadTimeout("timed out")',
        "- remaining = None if deadline is None else deadline - time.monotonic()",
        "- return  # closed: the next read reports it",
        "- return HTTPTransport._read_ready(stream) if stream.is_readable() else None",
        "- return _receive_exclusive(self.stream, self.io_lock, timeout)",
        '- return data  # b"" at EOF',
        "- select.select([sock], [], [], timeout)",
        "- self.io_lock = threading.Lock()",
        "- self.lock = threading.Lock()",
        "- self.write_lock = threading.Lock()",
        '- sock = stream.get_extra_info("socket")',
        "- while (data := _read_exclusive(stream, io_lock)) is None:",
        "- with io_lock:",
        "+ sleep(0)",
        "- return  # threads are not cancelled between two calls",
    },
    "sse.py": {
        "- from time import sleep",
        "+ from .backend import sleep",
    },
    # The locks and events (threading's; the async backend's, and no lock at all for the
    # core's state, which no await interrupts), and the imports and names around them.
    "ws.py": {
        "- \"\"\"`connect_ws`: WebSockets over the `Client`, with httpx-ws's API (``pip install 'conch[ws]'``).",
        '+ """`connect_ws`: WebSockets over the `Client` (asyncio, trio), with httpx-ws\'s API.',
        "+ No task group is opened, so none wraps your exceptions. A cancelled read loses nothing; a",
        "+ cancelled write leaves the session failed (the frame may have been cut).",
        '- __all__ = ["READ_SIZE", "NetworkStream", "Pong", "WebSocketSession", "connect_ws"]',
        '+ __all__ = ["READ_SIZE", "NetworkStream", "WebSocketSession", "Pong", "connect_ws"]',
        "- import threading",
        "+ from .backend import create_event, create_lock",
        "- from collections.abc import Callable, Iterator",
        "+ from collections.abc import Iterator, Callable",
        "- from contextlib import ExitStack, contextmanager, suppress",
        "+ from contextlib import ExitStack, contextmanager, nullcontext, suppress",
        "- self._lock = threading.Lock()  # the core's state; never held during I/O",
        "+ self._lock = nullcontext()  # the core's state; no runs under it",
        "- self._write_lock = threading.Lock()  # frames go out whole and in order",
        "+ self._write_lock = create_lock()  # frames go out whole and in order",
        "- self._progress = threading.Event()  # set, and replaced, after each read",
        "+ self._progress = create_event()  # set, and replaced, after each read",
        "- self._progress = threading.Event()",
        "+ self._progress = create_event()",
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
