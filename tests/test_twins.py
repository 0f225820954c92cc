"""The sync and async shells mirror each other line for line, in order.

Each async file is normalised (``async``/``await`` dropped, ``Async*`` names and async
dunders renamed) and compared with its sync twin position by position (`difflib`
opcodes). Every difference that remains is a hunk (the sync lines, the async lines)
that must be listed in ALLOWED below, in the order it appears: a line added on one side
only (an extra ``await sleep(0)``, a new cancel point, a rule of its own) fails here,
wherever it is added. To update the list after an intended change, run this file:
``python tests/test_twins.py`` prints the hunks as they are.
"""

# ruff: noqa: E501  (the allowlist holds whole source lines)
from __future__ import annotations

import difflib
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

# (sync file, async file): every twinned module of the shells, and the twinned tests.
TWINS = {
    "client.py": ("sync_io/client.py", "async_io/client.py"),
    "transport.py": ("sync_io/transport.py", "async_io/transport.py"),
    "sse.py": ("sync_io/sse.py", "async_io/sse.py"),
    "ws.py": ("sync_io/ws.py", "async_io/ws.py"),
    "network.py": ("sync_io/network.py", "async_io/network.py"),
    "tunnel.py": ("sync_io/tunnel.py", "async_io/tunnel.py"),
    "test_shell_twin.py": ("tests/sync_io/test_shell_twin.py", "tests/async_io/test_shell_twin.py"),
}

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
    (r"\badrive\b", "drive"),
    (r"\barespond\b", "respond"),
    (r"\bAsyncHandlers\b", "Handlers"),
    (r"\bAsyncBody\b", "Body"),
    (r"\bAbstractAsyncContextManager\b", "AbstractContextManager"),
    (r"\b_abind\b", "_bind"),
    (r"\baconnect_ws\b", "connect_ws"),
    (r"\bAsyncWebSocketSession\b", "WebSocketSession"),
    (r"\bAsyncWebSocketClient\b", "WebSocketClient"),
    (r"\bAsyncNetworkStream\b", "NetworkStream"),
    (r"\bAsyncTunnelStream\b", "TunnelStream"),
    (r"\bAsyncExitStack\b", "ExitStack"),
    (r"\benter_async_context\b", "enter_context"),
]

Hunk = tuple[tuple[str, ...], tuple[str, ...]]

# The intended differences, in order: (sync lines, async lines).
ALLOWED: dict[str, list[Hunk]] = {
    "client.py": [
        (
            ('"""`Client`: the blocking client. It performs what `sansio.flow` decides."""',),
            (
                '"""`Client`: the async client (asyncio, trio). It performs what `sansio.flow` decides."""',
            ),
        ),
        ((), ("import inspect",)),
        (
            ("from collections.abc import Generator, Iterator, Mapping",),
            ("from collections.abc import AsyncGenerator, Iterator, Mapping",),
        ),
        (
            (
                '"""A blocking HTTP client with connection pooling, as `httpx.Client`.',
                "Safe to share between threads.",
            ),
            (
                '"""An async HTTP client with connection pooling, as `httpx.Client`.',
                "Runs on asyncio and trio (detected with sniffio at each call).",
            ),
        ),
        (("trust_env: bool = True,",), ()),
        ((), ("trust_env: bool = True,",)),
        (
            ("user_auth: list[Generator[Request, Response, None]] = []",),
            ("user_auth: list[AsyncGenerator[Request, Response]] = []",),
        ),
        (
            ('"Attempted to send an async request with a sync Client instance."',),
            ('"Attempted to send an sync request with an Client instance."',),
        ),
        (
            ("response = self._transport_for_url(request.url).handle_request(request)",),
            (
                "transport = self._transport_for_url(request.url)",
                "response = transport.handle_request(request)",
            ),
        ),
        (
            ("hook(argument)",),
            ("outcome = hook(argument)", "if inspect.isawaitable(outcome):", "outcome"),
        ),
        (("result = next(user_auth[-1])",), ("result = user_auth[-1].__next__()",)),
        (
            ("result = user_auth[-1].send(action.response)",),
            ("result = user_auth[-1].asend(action.response)",),
        ),
        (
            ('hook(info["response"])',),
            ('outcome = hook(info["response"])', "if inspect.isawaitable(outcome):", "outcome"),
        ),
    ],
    "transport.py": [
        (
            ('"""`HTTPTransport`: the core\'s exchange engine, performed over sockets and ssl.',),
            ('"""`HTTPTransport`: the core\'s exchange engine, performed on asyncio or trio.',),
        ),
        (
            (
                "hands the engine each result or error. A transport may be shared by many threads: the",
                "engine guards its shared state with the lock it is given (never held during I/O), and",
                "an exchange that must wait parks on a `threading.Event`. A BaseException raised while",
                "an action is performed (KeyboardInterrupt) gets the engine's cleanup before it goes on.",
            ),
            (
                "hands the engine each result or error. It mirrors `sync_io.transport` line for line.",
                "The engine needs no lock here (every engine call runs between two awaits), and an",
                "exchange that must wait parks on an event of the running library. A cancellation while",
                "an action is awaited gets the engine's cleanup (which never waits) before it goes on.",
            ),
        ),
        (
            ("from collections.abc import Iterable",),
            ("from collections.abc import Awaitable, Iterable",),
        ),
        (
            ("from sansio.engine.trace import debug_logging, log_event, sync_result",),
            ("from sansio.engine.trace import async_result, debug_logging, log_event",),
        ),
        ((), ("SyncStream,",)),
        (("SyncStream,",), ()),
        (("create_lock,",), ()),
        (
            (),
            (
                "def _write_now(stream: SyncStream, data: bytes) -> int:",
                '"""The engine writes a request\'s bytes at once where the stream can take them',
                'without waiting (asyncio): no Write action then."""',
                "return stream.write_now(data)",
            ),
        ),
        (
            ('"""A pooling HTTP/1.1 and HTTP/2 transport over TCP, TLS or a Unix socket (as',),
            ('"""A pooling HTTP/1.1 and HTTP/2 transport on asyncio or trio (as',),
        ),
        (
            ("clock=time.monotonic, lock=create_lock(), new_ticket=create_event,",),
            ("clock=time.monotonic, lock=None, new_ticket=create_event,",),
        ),
        # asyncio's transport takes a request's bytes without a wait: the engine writes
        # them at once (a blocking socket has no such write).
        ((), ("write_now=_write_now,",)),
        # The read and write handlers hand back their stream's coroutine (none of their own).
        (
            ("def _read(act: Read) -> bytes:",),
            (
                "def _read(act: Read) -> Awaitable[bytes]:  # (no coroutine of its own: the hot path)",
            ),
        ),
        (
            (
                "def _write(act: Write) -> None:",
                "act.stream.send_all(act.data, act.timeout, act.shared)",
            ),
            (
                "def _write(act: Write) -> Awaitable[None]:  # (no coroutine of its own: the hot path)",
                "return act.stream.send_all(act.data, act.timeout, act.shared)  # type: ignore[no-any-return]",
            ),
        ),
        (
            ("pass  # threads are not cancelled between two calls",),
            ("sleep(0)  # a pending cancellation lands here",),
        ),
        # A trace callback is a plain function in sync, a coroutine function in async.
        (
            ("sync_result(act.callback(act.name, act.info))",),
            ("async_result(act.callback(act.name, act.info))",),
        ),
    ],
    "sse.py": [
        (("from time import sleep",), ()),
        ((), ("from .backend import sleep",)),
    ],
    "ws.py": [
        (
            (
                "\"\"\"`connect_ws`: WebSockets over the `Client`, with httpx-ws's API (``pip install 'conch[ws]'``).",
            ),
            (
                '"""`connect_ws`: WebSockets over the `Client` (asyncio, trio), with httpx-ws\'s API.',
            ),
        ),
        (
            (),
            (
                "No task group is opened, so none wraps your exceptions. A cancelled read loses nothing; a",
                "cancelled write leaves the session failed (the frame may have been cut).",
            ),
        ),
        (
            ("import threading", "from collections.abc import Callable, Iterator"),
            ("from collections.abc import Iterator, Callable",),
        ),
        ((), ("nullcontext,",)),
        ((), ("from .backend import create_event, create_lock",)),
        (('"Pong",',), ()),
        ((), ('"Pong",',)),
        (
            (
                "self._lock = threading.Lock()  # the core's state; never held during I/O",
                "self._write_lock = threading.Lock()  # frames go out whole and in order",
            ),
            (
                "self._lock = nullcontext()  # the core's state; no runs under it",
                "self._write_lock = create_lock()  # frames go out whole and in order",
            ),
        ),
        (
            ("self._progress = threading.Event()  # set, and replaced, after each read",),
            ("self._progress = create_event()  # set, and replaced, after each read",),
        ),
        (("self._progress = threading.Event()",), ("self._progress = create_event()",)),
    ],
    "network.py": [
        (
            (
                "3. One thread may read while another writes (each socket call is serialised, as for an",
                "HTTP/2 connection: see `sync_io.backend`).",
                "4. `close` is idempotent and ends a read blocked in another thread.",
            ),
            (
                "3. One task may read while another writes.",
                "4. `close` is idempotent, never waits, and ends a read waiting in another task.",
                "It mirrors `sync_io.network` line for line.",
            ),
        ),
        (("import contextlib", "import socket"), ()),
        (
            (
                '"""Close the connection; a read blocked in another thread returns (or fails)."""',
                'sock = self._stream.get_extra_info("socket")',
                "if sock is not None:",
                "# close() alone does not wake a thread blocked on the descriptor: shutdown does.",
                "with contextlib.suppress(OSError):",
                "sock.shutdown(socket.SHUT_RDWR)",
            ),
            ('"""Close the connection; a read waiting in another task fails."""',),
        ),
    ],
    "tunnel.py": [
        (
            (
                "It keeps `sync_io.network`'s rules 1-3 (a read's `ReadTimeout` takes no byte and leaves",
            ),
            (
                "It keeps `async_io.network`'s rules 1-3 (a read's `ReadTimeout` takes no byte and leaves",
            ),
        ),
        (
            (
                "ended. A read or write under way in another thread is not cut short: the last one closes",
            ),
            (
                "ended. A read or write under way in another task is not cut short: the last one closes",
            ),
        ),
        ((), ("from contextlib import nullcontext",)),
        (
            ("self._lock = create_lock()  # the state below; never held during I/O",),
            ("self._lock = nullcontext()  # the state below; no runs under it",),
        ),
    ],
    "test_shell_twin.py": [
        ((), ("import asyncio",)),
        (
            ("from collections.abc import Callable, Iterator",),
            ("from collections.abc import Iterator, Awaitable, Callable, Iterator",),
        ),
        ((), ("import trio", "from async_io import Client, HTTPTransport")),
        (("from sync_io import Client, HTTPTransport",), ()),
        (
            ("Run = Callable[[Callable[[], Any]], Any]",),
            ("Run = Callable[[Callable[[], Awaitable[Any]]], Any]",),
        ),
        (
            ("@pytest.fixture", "def run() -> Run:", "return lambda main: main()"),
            (
                '@pytest.fixture(params=["asyncio", "trio"])',
                "def run(request: pytest.FixtureRequest) -> Run:",
                'if request.param == "asyncio":',
                "return lambda main: asyncio.run(main())  # type: ignore[arg-type]",
                "return lambda main: trio.run(main)",
            ),
        ),
    ],
}


def normalise(text: str) -> list[str]:
    for pattern, replacement in RENAMES:
        text = re.sub(pattern, replacement, text)
    return [line.strip() for line in text.splitlines() if line.strip()]


def hunks(sync_text: str, async_text: str) -> list[Hunk]:
    """The differences between two twins, in order."""
    sync, async_ = normalise(sync_text), normalise(async_text)
    matcher = difflib.SequenceMatcher(None, sync, async_, autojunk=False)
    return [
        (tuple(sync[i1:i2]), tuple(async_[j1:j2]))
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    ]


def _texts(name: str) -> tuple[str, str]:
    sync_path, async_path = TWINS[name]
    return (ROOT / sync_path).read_text(), (ROOT / async_path).read_text()


@pytest.mark.parametrize("name", list(TWINS))
def test_async_shell_mirrors_sync_shell(name: str) -> None:
    found = hunks(*_texts(name))
    assert found == ALLOWED[name], "\n".join(repr(hunk) for hunk in found)


def test_an_extra_cancel_point_in_one_twin_fails() -> None:
    sync_text, async_text = _texts("transport.py")
    # The same line, once more, anywhere in the async twin: a new cancel point.
    marker = "            return await act.stream.read_ready(act.shared)  # type: ignore[no-any-return]\n"
    assert marker in async_text
    changed = async_text.replace(marker, "        await sleep(0)\n" + marker, 1)
    assert hunks(sync_text, changed) != ALLOWED["transport.py"]
    # Moved rather than added: the lines are all there, in another order.
    lines = async_text.splitlines(keepends=True)
    index = lines.index(marker)
    moved = (
        lines[: index - 2]
        + lines[index : index + 2]
        + lines[index - 2 : index]
        + lines[index + 2 :]
    )
    assert hunks(sync_text, "".join(moved)) != ALLOWED["transport.py"]


if __name__ == "__main__":
    for twin in TWINS:
        print(f"== {twin}")
        for hunk in hunks(*_texts(twin)):
            print(f"    {hunk!r},")
