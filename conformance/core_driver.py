"""The pure core, embedded with no sockets at all: a guide for library authors.

`MemoryClient` is a complete HTTP client built only from `sansio` pieces:

- `sansio.client.BaseClient` merges settings and builds requests;
- `sansio.flow.send_flow` decides auth, redirects, cookies and hooks, yielding actions;
- `sansio.exchange.Planner` turns a request into a route (pool key) and wire head;
- `sansio.pool.PoolMachine` says which connection to use, open or close;
- `sansio.h1.H1Connection` (via ``Planner.new_connection``) frames the bytes.

The "network" is a `MemoryNetwork` of scripted peers on a virtual clock, so every run is
deterministic and instant: a peer that stays silent past the read timeout costs no real
time. Swap `MemoryNetwork.connect` and the three `MemoryPeer` calls (`send`, `recv`,
`readable`) for your own I/O and this is a client for your event loop; the only rule
is to report every failure to the core (``io_failed``/``release``/``checkin``) before
raising, as `_handle` does.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from typing import Any

from sansio import actions as act
from sansio.client import BaseClient
from sansio.config import USE_CLIENT_DEFAULT, UseClientDefault
from sansio.exceptions import (
    ConnectError,
    NetworkError,
    PoolTimeout,
    ReadError,
    ReadTimeout,
    WriteError,
    WriteTimeout,
)
from sansio.exchange import Planner, Route, Timeouts, may_retry
from sansio.flow import send_flow
from sansio.models import Request, Response
from sansio.pool import Changes, Open, PoolMachine, Wait
from sansio.streams import SyncByteStream
from sansio.wire import (
    NEED_BODY,
    RECEIVE,
    SEND,
    BodyChunk,
    EndOfBody,
    FailurePhase,
    ResponseHead,
    WireConnection,
)

from .model import Peer, RequestSeen
from .peers import MemoryPeer, Tokens, VirtualClock, make_program

__all__ = ["MemoryClient", "MemoryNetwork", "VirtualClock", "fails_connection"]


class MemoryNetwork:
    """Peers reachable at ``host:port`` addresses; `connect` starts a peer's next script."""

    def __init__(self, peers: Sequence[Peer], ports: Sequence[int]) -> None:
        self.clock = VirtualClock()
        self.peers = tuple(peers)
        self.tokens = Tokens([f"{p.host}:{port}" for p, port in zip(peers, ports, strict=True)])
        self._index = {
            (p.host, port): i for i, (p, port) in enumerate(zip(peers, ports, strict=True))
        }
        self.seen: list[list[RequestSeen]] = [[] for _ in peers]
        self.accepted = [0] * len(peers)
        self.errors: list[str] = []
        self.connections: list[MemoryPeer] = []

    def advance(self, seconds: float) -> None:
        """Let time pass on the virtual clock (the client sleeps; peers' pauses run down)."""
        self.clock.now += seconds
        for connection in self.connections:
            connection.elapse(seconds)

    def connect(self, host: str, port: int) -> MemoryPeer:
        index = self._index.get((host, port))
        # "localhost" and "127.0.0.1" reach the same listener, as on a real host.
        if index is None and host == "localhost":
            index = self._index.get(("127.0.0.1", port))
        if index is None or not self.peers[index].listening:
            raise ConnectError("[Errno 111] Connection refused")
        peer = self.peers[index]
        number = self.accepted[index]
        self.accepted[index] += 1
        script = peer.connections[number] if number < len(peer.connections) else ()
        program = make_program(
            peer, script, number, self.tokens, self.seen[index].append, self.errors.append
        )
        connection = MemoryPeer(program, self.clock)
        self.connections.append(connection)
        return connection


def fails_connection(wire: WireConnection, error: BaseException) -> bool:
    """Whether a request's failure ends its connection. HTTP/1.1: always (the response
    was cut short). HTTP/2: only a failed write or read (not a read timeout), as the
    shells do; a stream the server reset, or a bad response on it, fails alone."""
    if wire.max_streams <= 1:
        return True
    return isinstance(error, NetworkError | WriteTimeout)


def _recv(peer: MemoryPeer, timeout: float | None) -> bytes:
    # What a shell backend does: map the I/O errors to conch's exception types.
    try:
        return peer.recv(timeout)
    except TimeoutError as exc:
        raise ReadTimeout(str(exc)) from exc
    except OSError as exc:
        raise ReadError(str(exc)) from exc


def _send(peer: MemoryPeer, data: bytes, timeout: float | None) -> None:
    try:
        peer.send(data, timeout)
    except TimeoutError as exc:
        raise WriteTimeout(str(exc)) from exc
    except OSError as exc:
        raise WriteError(str(exc)) from exc


class MemoryClient(BaseClient):
    """An httpx-style client over a `MemoryNetwork`: `send` plus `BaseClient`'s settings."""

    def __init__(
        self,
        network: MemoryNetwork,
        *,
        max_connections: int | None = 100,
        max_keepalive_connections: int | None = 20,
        keepalive_expiry: float | None = 5.0,
        http1: bool = True,
        http2: bool = False,
        **settings: Any,
    ) -> None:
        super().__init__(**settings)
        self._network = network
        self._clock = network.clock
        self._planner = Planner(http1=http1, http2=http2)
        self._pool = PoolMachine(
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive_connections,
            keepalive_expiry=keepalive_expiry,
        )
        self._peers: dict[int, MemoryPeer] = {}

    # -- the client flow: perform what the core asks ----------------------------------------

    def send(
        self,
        request: Request,
        *,
        stream: bool = False,
        auth: Any = USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> Response:
        options = self._send_options(
            request, stream=stream, auth=auth, follow_redirects=follow_redirects
        )
        flow = send_flow(request, options)
        user_auth: list[Generator[Request, Response, None]] = []
        result: Any = None
        error: BaseException | None = None
        while True:
            try:
                action = flow.send(result) if error is None else flow.throw(error)
            except StopIteration as done:
                response: Response = done.value
                return response
            try:
                result, error = self._perform(action, user_auth), None
            except Exception as exc:  # the core decides what to close, then re-raises
                result, error = None, exc

    def _perform(self, action: act.Action, user_auth: list[Any]) -> Any:
        match action:
            case act.SendRequest(request):
                return self._handle(request)
            case act.ReadResponse(response):
                return response.read()
            case act.DrainResponse(response, limit):
                return response.drain(limit)
            case act.CloseResponse(response):
                return response.close()
            case act.ReadRequest(request):
                return request.read()
            case act.CallHooks(hooks, argument):
                for hook in hooks:
                    hook(argument)
                return None
            case act.StartUserAuth(auth, request):
                user_auth.append(auth.sync_auth_flow(request))
                return next(user_auth[-1])
            case act.StepUserAuth(response):
                try:
                    return user_auth[-1].send(response)
                except StopIteration:
                    return None
        raise AssertionError(f"unknown action {action!r}")

    # -- one request on a pooled connection --------------------------------------------------

    def _handle(self, request: Request) -> Response:
        route, head, has_body = self._planner.plan(request)
        timeouts = Timeouts.of(request)
        fresh = False
        while True:
            conn_id, wire, peer, reused = self._checkout(route, timeouts, fresh)
            sid: int | None = None
            try:
                sid = wire.start_request(head, has_body=has_body)
                response_head = self._exchange(wire, sid, peer, request, timeouts)
            except BaseException as exc:
                phase = wire.failure_phase(sid) if sid is not None else FailurePhase.SENDING
                if sid is not None:
                    if fails_connection(wire, exc):
                        wire.io_failed(sid)
                    wire.release(sid)
                self._checkin(conn_id)
                if not fresh and may_retry(request, reused, phase, exc):
                    fresh = True  # the keep-alive race: once more, on a new connection
                    continue
                raise
            body = _MemoryBody(self, conn_id, wire, sid, peer, timeouts)
            return self._planner.response(response_head, request, body, None)

    def _exchange(
        self,
        wire: WireConnection,
        sid: int,
        peer: MemoryPeer,
        request: Request,
        timeouts: Timeouts,
    ) -> ResponseHead:
        body: Iterator[bytes] | None = None
        write_error: WriteError | WriteTimeout | None = None
        read_timeout = timeouts.read
        while True:
            step = wire.next_step(sid)
            if step is SEND:
                try:
                    _send(peer, wire.data_to_send(), timeouts.write)
                except (WriteError, WriteTimeout) as exc:
                    # The peer may have answered before it went away: read on.
                    wire.send_failed(sid)
                    write_error = exc
                    read_timeout = timeouts.after_write_failure(exc)
            elif step is RECEIVE:
                try:
                    wire.receive_data(_recv(peer, read_timeout))
                except Exception as exc:
                    if write_error is not None:
                        raise write_error from exc
                    raise
            elif step is NEED_BODY:
                if body is None:
                    body = iter(request.stream)  # type: ignore[arg-type]
                chunk = next(body, None)
                if chunk is not None and peer.readable():
                    # An early answer (413, 401) while uploading: the machine drops the rest.
                    wire.receive_data(_recv(peer, 0))
                wire.send_body(sid, chunk)
            else:
                assert isinstance(step, ResponseHead)
                return step

    # -- the pool ------------------------------------------------------------------------------

    def _checkout(
        self, route: Route, timeouts: Timeouts, fresh: bool
    ) -> tuple[int, WireConnection, MemoryPeer, bool]:
        deadline = timeouts.pool_deadline(self._clock())
        while True:
            decision = self._pool.checkout(route.key, self._clock(), fresh=fresh)
            self._close(decision.close)
            if isinstance(decision, Wait):
                # One request at a time: nobody frees a slot while we wait, but time may
                # bring another look at a connection whose server allowed no stream.
                now = self._clock()
                self._apply(self._pool.cancel_wait(decision.ticket, now))
                timeout, again = decision.timeout(deadline, now)
                if not again:
                    raise PoolTimeout("Timed out waiting for a connection from the pool")
                self._network.advance(timeout or 0.0)
                continue
            if isinstance(decision, Open):
                try:
                    peer = self._network.connect(route.host, route.port)
                except BaseException:
                    self._apply(self._pool.open_failed(decision.conn_id))
                    raise
                wire = self._planner.new_connection(None)
                self._peers[decision.conn_id] = peer
                self._apply(self._pool.opened(decision.conn_id, wire, self._clock()))
                return decision.conn_id, wire, peer, False
            peer = self._peers[decision.conn_id]
            wire = decision.connection
            if peer.readable():
                # Bytes or EOF on an idle connection: the wire machine decides (RFC 9112 §9.3).
                try:
                    data = _recv(peer, 0)
                except Exception:
                    data = b""
                wire.receive_data(data)
            if wire.can_start_request:
                return decision.conn_id, wire, peer, True
            # Closed, or an HTTP/2 connection that allows no stream now: back to the pool.
            self._checkin(decision.conn_id)

    def _checkin(self, conn_id: int) -> None:
        self._apply(self._pool.checkin(conn_id, self._clock()))

    def _apply(self, changes: Changes) -> None:
        self._close(changes.close)

    def _close(self, conn_ids: tuple[int, ...]) -> None:
        for conn_id in conn_ids:
            peer = self._peers.pop(conn_id, None)
            if peer is not None:
                peer.close()

    def close(self) -> None:
        for peer in self._peers.values():
            peer.close()
        self._peers.clear()


class _MemoryBody(SyncByteStream):
    """A response body pulled through the wire machine; closing it returns the connection."""

    def __init__(
        self,
        client: MemoryClient,
        conn_id: int,
        wire: WireConnection,
        sid: int,
        peer: MemoryPeer,
        timeouts: Timeouts,
    ) -> None:
        self._client = client
        self._conn_id = conn_id
        self._wire = wire
        self._sid = sid
        self._peer = peer
        self._timeouts = timeouts
        self._ended = False
        self._closed = False

    def __iter__(self) -> _MemoryBody:
        return self

    def __next__(self) -> bytes:
        if self._ended:
            raise StopIteration
        wire, sid = self._wire, self._sid
        try:
            while True:
                step = wire.next_step(sid)
                if type(step) is BodyChunk:
                    return step.data
                if step is RECEIVE:
                    wire.receive_data(_recv(self._peer, self._timeouts.read))
                elif type(step) is EndOfBody:
                    break
                else:
                    assert step is SEND
                    _send(self._peer, wire.data_to_send(), self._timeouts.write)
        except Exception as exc:
            if not self._closed and fails_connection(wire, exc):
                wire.io_failed(sid)
            raise
        self._ended = True
        raise StopIteration

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._wire.release(self._sid)
        self._client._checkin(self._conn_id)
