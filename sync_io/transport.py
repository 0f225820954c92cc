"""`HTTPTransport`: the core's exchange engine, performed over sockets and ssl.

Every decision is the engine's (`sansio.engine`): which connection, what to write and
read and when, retries, HTTP/2 scheduling, what a failure takes down. This module is
its interpreter: it connects, runs TLS handshakes, writes, reads, waits and wakes, and
hands the engine each result or error. A transport may be shared by many threads: the
engine guards its shared state with the lock it is given (never held during I/O), and
an exchange that must wait parks on a `threading.Event`. A BaseException raised while
an action is performed (KeyboardInterrupt) gets the engine's cleanup before it goes on.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from sansio.config import DEFAULT_LIMITS, Limits
from sansio.engine import (
    BodyChunk,
    BodyEvent,
    Connect,
    Effects,
    EndOfBody,
    Engine,
    Exchange,
    Park,
    PullBody,
    Read,
    ReadReady,
    Resolve,
    ResponseHead,
    Sleep,
    StartTLS,
    Trace,
    Write,
)
from sansio.engine.trace import debug_logging, log_event, sync_result
from sansio.exchange import next_receive_size
from sansio.happy_eyeballs import DEFAULT_ATTEMPT_DELAY, check_attempt_delay
from sansio.models import Request, Response
from sansio.streams import SyncByteStream
from sansio.transports import BaseTransport
from sync_io._tape import open_tape, save_tape

from .backend import SocketOption, SyncStream, connect_tcp, connect_unix, resolve, sleep
from .network import NetworkStream
from .tls import context_for, load_client_cert
from .tunnel import TunnelStream

if TYPE_CHECKING:  # a policy loads sansio.retry; an int does not
    from sansio.retry import Retry

__all__ = ["HTTPTransport"]


class HTTPTransport(BaseTransport):
    """A pooling HTTP/1.1 and HTTP/2 transport over TCP, TLS or a Unix socket (as
    `httpx.HTTPTransport`)."""

    def __init__(
        self,
        verify: Any = True,
        cert: Any = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: Limits = DEFAULT_LIMITS,
        proxy: Any = None,
        uds: str | None = None,
        local_address: str | None = None,
        retries: int | Retry = 0,
        socket_options: Iterable[SocketOption] | None = None,
        *,
        happy_eyeballs_delay: float = DEFAULT_ATTEMPT_DELAY,
        record: Any = None,
        replay: Any = None,
    ) -> None:
        # record=/replay=: a Recorder or Recording, or a file path (`sansio.replay`).
        recorder, recording, self._record_path = open_tape(record, replay)
        self._recorder = recorder
        self._engine = Engine(
            verify=verify, cert=cert, trust_env=trust_env, http1=http1, http2=http2,
            limits=limits, proxy=proxy, uds=uds, retries=retries, record=recorder,
            replay=recording,
            clock=time.monotonic, lock=threading.Lock(), new_ticket=threading.Event,
        )  # fmt: skip
        # verify=<SSLContext> with cert=: into that context now, as httpx does.
        load_client_cert(verify, cert)
        self._local_address = local_address
        self._socket_options = list(socket_options) if socket_options is not None else None
        # Between two connection attempts to a host with several addresses (RFC 8305).
        self._attempt_delay = check_attempt_delay(happy_eyeballs_delay)

    def handle_request(self, request: Request) -> Response:
        ex = self._engine.exchange(request)
        head = self._drive(ex, ex.send(None), request)
        network: Any = NetworkStream(ex.network, ex.take_leftover())
        if ex.tunnel:  # (RFC 8441: a stream of a shared HTTP/2 connection)
            network = TunnelStream(self, ex)
        return ex.response(head, _Body(self, ex), network)  # type: ignore[arg-type]

    def _drive(self, ex: Exchange, act: Any, request: Request | None = None) -> BodyEvent:
        """Perform ``act`` and what follows until the exchange hands out a body event.
        The request body's iterator is closed then, or when the exchange raises."""
        body: Iterator[bytes] | None = None
        try:
            while True:
                kind = type(act)
                if kind is ResponseHead or kind is BodyChunk or kind is EndOfBody:
                    return act  # type: ignore[no-any-return]
                result: Any = None
                error: Exception | None = None
                try:
                    if kind is Read:
                        stream = act.stream
                        size = stream.read_size
                        result = stream.recv(size, act.timeout, act.shared)
                        stream.read_size = next_receive_size(size, len(result))
                    elif kind is Write:
                        act.stream.send_all(act.data, act.timeout, act.shared)
                    elif kind is ReadReady:  # (nothing there, the common case, costs no call)
                        if act.shared or act.stream.is_readable():
                            result = act.stream.read_ready(act.shared)
                    elif kind is Effects:
                        self._apply(act)
                    elif kind is PullBody:
                        if act.first:  # from the start (again, for a retry)
                            if body is not None:
                                _close_body(body)
                            body = iter(request.stream)  # type: ignore[union-attr, arg-type]
                        result = next(body, None)  # type: ignore[arg-type]
                    elif kind is Park:
                        result = act.ticket.wait(act.timeout)
                    elif kind is Connect:
                        result = self._connect(act)
                    elif kind is StartTLS:
                        result = self._start_tls(act)
                    elif kind is Resolve:  # (a SOCKS4 proxy's target)
                        result = resolve(act.host, act.port, act.timeout)
                    elif kind is Sleep:
                        sleep(act.seconds)
                    elif kind is Trace:
                        self._trace(act)
                    else:  # Checkpoint: threads are not cancelled between two calls
                        pass
                except Exception as exc:
                    result, error = None, exc
                except BaseException:
                    self._apply(ex.cancel())
                    raise
                act = ex.send(result) if error is None else ex.throw(error)
        finally:
            if body is not None:
                _close_body(body)

    def _connect(self, act: Connect) -> SyncStream:
        options = self._socket_options
        if act.uds is not None:
            return connect_unix(act.uds, timeout=act.timeout, socket_options=options)
        return connect_tcp(
            act.host,
            act.port,
            timeout=act.timeout,
            local_address=self._local_address,
            socket_options=options,
            attempt_delay=self._attempt_delay,
        )

    @staticmethod
    def _start_tls(act: StartTLS) -> tuple[SyncStream, str | None]:
        ctx = context_for(act.tls, os.environ)
        stream: SyncStream = act.stream.start_tls(ctx, act.tls.server_hostname, act.timeout)
        return stream, stream.alpn_protocol

    @staticmethod
    def _trace(act: Trace) -> None:
        if act.callback is not None:
            sync_result(act.callback(act.name, act.info))
        if act.log:
            log_event(act.name, act.info)

    @staticmethod
    def _apply(effects: Effects) -> None:
        # Closing never waits (the async backends promise it), so no cancellation can
        # land between an engine call and the closes it asked for.
        log = bool(effects.close) and debug_logging()  # (a close is rare: ask then)
        for stream in effects.close:
            if log:
                log_event("connection.close.started", {})
            stream.close()
            if log:
                log_event("connection.close.complete", {})
        for ticket in effects.wake:
            ticket.set()

    def close(self) -> None:
        """Close every connection; requests in flight fail, new ones are refused."""
        self._apply(self._engine.close())
        save_tape(self._record_path, self._recorder)


def _close_body(body: Iterator[bytes]) -> None:
    # An upload cut short (early response, error, cancellation) leaves the body's
    # generator suspended: finish it now, not at garbage collection.
    close = getattr(body, "close", None)
    if close is not None:
        close()


class _Body(SyncByteStream):
    """A response body read through its exchange; closing it ends the exchange."""

    __slots__ = ("_ex", "_transport")

    def __init__(self, transport: HTTPTransport, ex: Exchange) -> None:
        self._transport = transport
        self._ex = ex

    def __iter__(self) -> _Body:
        return self

    def __next__(self) -> bytes:
        # A plain iterator, not a generator: nothing is left suspended when a reader
        # stops early (trio warns about such generators).
        ex = self._ex
        event = ex.send(None)
        if type(event) is not BodyChunk and type(event) is not EndOfBody:
            event = self._transport._drive(ex, event)  # I/O first
        if type(event) is BodyChunk:
            return event.data
        raise StopIteration

    def close(self) -> None:
        act = self._ex.close()
        if type(act) is not EndOfBody:  # (HTTP/1.1 ends with no action at all)
            self._transport._drive(self._ex, act)
