"""What the exchange engine needs decided for one request: where it goes, what goes on
the wire, and what comes back. `sansio.engine` calls these; the shells only perform the
engine's actions.

`Planner` is built once per transport from its settings; `Planner.plan(request)` turns a
`Request` into a `Route` (the pool key and how to connect) and a `RequestHead` (bytes for
the wire machine), validating nothing twice: the models validated every header already,
and each origin's route is worked out once.

`Planner.new_connection` picks the wire machine for a connection from the protocol the
server chose: HTTP/2 when TLS's ALPN says "h2", or on every connection when HTTP/1.1 is
disabled (``http1=False``: prior knowledge, "h2c" on plain TCP); HTTP/1.1 otherwise. Over
plain ``http://`` with both versions enabled conch speaks HTTP/1.1, as httpx does (no
Upgrade dance). A route says whether its connections may turn out multiplexed
(`Route.multiplex`), so the pool makes a burst of requests wait for the first connection
instead of opening one each.

The rest answers the engine's questions after something went wrong: may this request go
once more (`may_retry`), on a fresh connection or on any (`retry_on_fresh_connection`),
does a failed read end the whole connection or only its stream (`ends_connection`), how
long to wait before another connect attempt (`connect_retry_delays`,
`is_connect_failure`), and how long to read for a response once a write failed
(`Timeouts.after_write_failure`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping

from ._frozen import Frozen, set_field
from ._typing_lite import Any
from .config import ProxyTypes
from .exceptions import (
    ConnectError,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    UnsupportedProtocol,
    WriteError,
    WriteTimeout,
)
from .h1 import MAX_HEADER_BYTES, MAX_HEADER_COUNT, H1Connection
from .h1_heads import LoweredFields
from .headers import Headers
from .models import Request, Response
from .pool import retry_safe
from .proxy import ProxyMode, ProxyPlan, ProxyPlanner, request_head
from .streams import ByteStream
from .tls import ALPN_H1, TLSConfig, alpn_for
from .wire import (
    FailurePhase,
    RequestHead,
    RequestNotProcessed,
    ResponseHead,
    WireConnection,
    planned_head,
)

__all__ = [
    "CONNECT_RETRY_BACKOFF",
    "EXPECT_CONTINUE_TIMEOUT",
    "MAX_RECEIVE_SIZE",
    "READY_READ_TIMEOUT",
    "RECEIVE_GROWTH",
    "RECEIVE_SIZE",
    "ROUTE_CACHE_SIZE",
    "Planner",
    "Route",
    "Timeouts",
    "connect_retry_delays",
    "ends_connection",
    "interim_response",
    "is_connect_failure",
    "may_retry",
    "next_receive_size",
    "replayable",
    "retry_on_fresh_connection",
]

# Bytes asked of the socket per read: large enough that a body arrives in few reads,
# small enough to stay in cache (httpcore reads 64 KiB too).
RECEIVE_SIZE = 64 * 1024

# A read that fills its buffer says more bytes are waiting (a body arriving faster than
# it is read): the stream's next read asks RECEIVE_GROWTH times as much, up to
# MAX_RECEIVE_SIZE. A read that comes back short starts over at RECEIVE_SIZE, unless it
# still brought RECEIVE_SIZE bytes or more: a body streaming in about as fast as it is
# read comes in such pieces, and starting over there made a 100 MiB download from a
# local nginx take ~1.7x the reads, half of them capped at 64 KiB with more waiting.
# Fewer, larger reads cut a big download's per-read cost (the engine's steps per chunk,
# and the poll() that a socket with a timeout makes before each recv). The
# cap bounds one read's allocation per connection, and is asyncio's own largest read.
# Measured on a streamed 100 MiB download from a local nginx: 256 KiB is as cheap as a
# raw socket's reads; a 1 MiB cap cost ~30 % more CPU, its buffers taking ~5,700 page
# faults per download against 34 (glibc maps and unmaps such large blocks afresh).
RECEIVE_GROWTH = 4
MAX_RECEIVE_SIZE = 256 * 1024

# How long a read may wait for bytes that should be there already: on a socket reported
# readable, or after a write timeout (only a response already received counts then). One
# millisecond: a backend that cannot read without a checkpoint (trio fails at once under
# an expired deadline) still gets what is buffered, and TLS records that carry no data
# (session tickets) make a readable socket cost at most this long.
READY_READ_TIMEOUT = 0.001

# Routes a planner remembers, by origin. Building one (with its TLSConfig) costs a few
# microseconds per request, and a client talks to a handful of origins; 256 covers a busy
# API gateway. Past it the memory starts over (a crawler of many hosts stays bounded).
ROUTE_CACHE_SIZE = 256

# Connect retries wait 0, 0.5, 1, 2, ... seconds (httpcore's schedule for `retries=`).
CONNECT_RETRY_BACKOFF = 0.5

# How long a request sent with "Expect: 100-continue" holds its body back for a 100 (or
# a final response) before sending it anyway: curl's default (--expect100-timeout), and
# RFC 9110 §10.1.1's advice not to wait for ever. Per request: the "expect_continue"
# key of the timeout extension.
EXPECT_CONTINUE_TIMEOUT = 1.0

_HTTP2 = "HTTP/2"
_SCHEMES = frozenset({"http", "https"})


class Route(Frozen):
    """How to reach the server for a request, and the pool key that names the route."""

    __slots__ = ("host", "host_key", "key", "multiplex", "port", "proxy", "tls", "uds")
    key: Hashable  # everything that makes two connections not interchangeable
    host: str  # what to connect to: an ASCII host name or an IP address (IPv6 unbracketed)
    port: int
    tls: TLSConfig | None  # None for plain TCP
    uds: str | None  # a Unix socket path replaces host and port when set
    multiplex: bool  # a new connection may be HTTP/2 (see `PoolMachine.checkout`)
    # Through a proxy: `host`, `port` and `tls` then name the proxy itself, and the
    # plan says what to tell it (`sansio.proxy.ProxyConnector`) and the origin's TLS.
    proxy: ProxyPlan | None
    # What the pool's per-host cap counts: the scheme, host and port asked for (a
    # forward proxy's connections serve every origin: they count as the proxy's).
    host_key: Hashable

    def __init__(
        self,
        key: Hashable,
        host: str,
        port: int,
        tls: TLSConfig | None,
        uds: str | None,
        multiplex: bool = False,
        proxy: ProxyPlan | None = None,
        host_key: Hashable = None,
    ) -> None:
        set_field(self, "key", key)
        set_field(self, "host", host)
        set_field(self, "port", port)
        set_field(self, "tls", tls)
        set_field(self, "uds", uds)
        set_field(self, "multiplex", multiplex)
        set_field(self, "proxy", proxy)
        set_field(self, "host_key", host_key)


class Timeouts(Frozen):
    """Per-request timeouts (seconds, None = wait forever) from ``extensions["timeout"]``."""

    __slots__ = ("connect", "expect_continue", "pool", "read", "write")
    connect: float | None
    read: float | None
    write: float | None
    pool: float | None
    expect_continue: float | None  # see EXPECT_CONTINUE_TIMEOUT

    def __init__(
        self,
        connect: float | None = None,
        read: float | None = None,
        write: float | None = None,
        pool: float | None = None,
        expect_continue: float | None = EXPECT_CONTINUE_TIMEOUT,
    ) -> None:
        set_field(self, "connect", connect)
        set_field(self, "read", read)
        set_field(self, "write", write)
        set_field(self, "pool", pool)
        set_field(self, "expect_continue", expect_continue)

    @classmethod
    def of(cls, request: Request) -> Timeouts:
        given: Mapping[str, Any] = request.extensions.get("timeout", {})
        if not given:
            return _NO_TIMEOUTS
        # A client sends the same four values with every request: the last answer, kept
        # with a copy of what it was made from, is reused while they are equal (one
        # tuple, swapped whole, so threads sharing it see a matching pair).
        last_given, last = _last_timeouts
        if given == last_given:
            return last
        timeouts = cls(
            given.get("connect"),
            given.get("read"),
            given.get("write"),
            given.get("pool"),
            given.get("expect_continue", EXPECT_CONTINUE_TIMEOUT),
        )
        _remember_timeouts(dict(given), timeouts)
        return timeouts

    def continue_wait(self) -> float | None:
        """How long a request body waits for a 100: `expect_continue`, but never past
        the read timeout (whichever is shorter; None: no limit)."""
        if self.read is None or self.expect_continue is None:
            return self.read if self.expect_continue is None else self.expect_continue
        return min(self.read, self.expect_continue)

    def pool_deadline(self, now: float) -> float | None:
        """When a request stops waiting for a connection from the pool (None: never).

        One deadline for the whole checkout: a waiter that checks out again (see
        `sansio.pool.Wait.timeout`) keeps it.
        """
        return None if self.pool is None else now + self.pool

    def after_write_failure(self, error: BaseException) -> float | None:
        """The read timeout once a request write has failed.

        The response may already be waiting (a server that answered 413 and closed, or
        stopped reading). After a write error the server has gone: reading ends at once
        either way. After a write timeout it may still be alive, so only what has
        already arrived is read, and the write timeout is not stretched by a read one.
        """
        return READY_READ_TIMEOUT if isinstance(error, WriteTimeout) else self.read

    def with_read(self, read: float | None) -> Timeouts:
        """These timeouts with another read timeout (a tunnel's read has its own)."""
        return self.__replace__(read=read)


_NO_TIMEOUTS = Timeouts()
_last_timeouts: tuple[Mapping[str, Any], Timeouts] = ({}, _NO_TIMEOUTS)


def _remember_timeouts(given: Mapping[str, Any], timeouts: Timeouts) -> None:
    global _last_timeouts
    _last_timeouts = (given, timeouts)


class Planner:
    """A transport's settings, turned into per-request decisions."""

    __slots__ = (
        "_h2c",
        "_http1",
        "_http2",
        "_max_header_bytes",
        "_max_header_count",
        "_proxy",
        "_route_cache_size",
        "_routes",
        "_tls",
        "_uds",
    )

    def __init__(
        self,
        *,
        verify: Any = True,
        cert: Any = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        uds: str | None = None,
        max_header_bytes: int = MAX_HEADER_BYTES,
        max_header_count: int = MAX_HEADER_COUNT,
        route_cache_size: int = ROUTE_CACHE_SIZE,
        proxy: ProxyTypes | None = None,
    ) -> None:
        if route_cache_size < 1:
            raise ValueError(f"route_cache_size must be at least 1, got {route_cache_size}")
        alpn = alpn_for(http1, http2)  # refuses neither version enabled
        self._tls = TLSConfig(verify=verify, cert=cert, trust_env=trust_env, alpn=alpn)
        self._http1 = http1
        self._http2 = http2
        self._h2c = not http1  # plain TCP speaks HTTP/2 only when HTTP/1.1 is off
        self._uds = uds
        self._max_header_bytes = max_header_bytes
        self._max_header_count = max_header_count
        self._route_cache_size = route_cache_size
        self._proxy = None if proxy is None else ProxyPlanner(proxy, trust_env=trust_env)
        # (scheme, raw host, port as written) -> (Route, authority, scheme as bytes): an
        # origin is planned once, so a request costs no Route or TLSConfig to build, nor a
        # scheme or host check, nor the bytes of its HTTP/2 pseudo-headers.
        self._routes: dict[tuple[str, bytes, int | None], tuple[Route, bytes, bytes]] = {}

    def plan(self, request: Request) -> tuple[Route, RequestHead, bool]:
        """The route, the wire head, and whether the request has a body to send."""
        url = request.url
        extensions = request.extensions
        sni = extensions.get("sni_hostname")
        key = (url.scheme, url.raw_host, url.port)
        planned = None if sni is not None else self._routes.get(key)
        if planned is None:
            route = self._route(request, sni=sni)
            authority, scheme = url.netloc, url.scheme.encode("ascii")
        else:
            route, authority, scheme = planned
        headers = request.headers
        target = extensions.get("target")
        head = planned_head(
            request.method.encode("ascii"),
            url.raw_path if target is None else _target(target),
            [(raw, value) for raw, _, value in headers._list],  # (Headers.raw, no property call)
            authority,
            scheme,
        )
        proxy = route.proxy
        if (
            (route.multiplex and self._http1 and "protocol" not in extensions)
            or (proxy is not None and proxy.mode is ProxyMode.FORWARD)
        ) and _upgrades(headers):
            # The connection becomes the caller's after a 101: an HTTP/1.1 one of its own
            # (no Upgrade over HTTP/2), tunnelled through a forwarding proxy. With the
            # ``protocol`` extension, HTTP/2 opens a tunnel on a stream instead (RFC
            # 8441, `sansio.engine.mux`); if HTTP/1.1 is negotiated, the Upgrade is sent.
            route = self._route(request, upgrade=True, sni=sni)
        if route.proxy is not None:
            head = request_head(head, route.proxy)
        return route, head, _has_body(headers)

    def fallback_route(self, request: Request) -> Route | None:
        """Where a WebSocket goes when its HTTP/2 connection cannot open a tunnel (the
        server did not allow extended CONNECT): an HTTP/1.1 connection of its own for
        its Upgrade; None if HTTP/1.1 is off or the request asks for no Upgrade."""
        if not self._http1 or not _upgrades(request.headers):
            return None
        return self._route(request, upgrade=True, sni=request.extensions.get("sni_hostname"))

    def _route(self, request: Request, upgrade: bool = False, sni: str | None = None) -> Route:
        url = request.url
        scheme = url.scheme
        if scheme not in _SCHEMES:
            if not scheme:
                raise UnsupportedProtocol(
                    "Request URL is missing an 'http://' or 'https://' protocol.",
                    request=request,
                )
            raise UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{scheme}://'.", request=request
            )
        raw_host = url.raw_host
        if not raw_host:
            raise UnsupportedProtocol(f"Request URL {str(url)!r} has no host.", request=request)
        host = raw_host.decode("ascii")
        port = url.origin[2]  # the scheme's default port, from URL's table
        tls = None
        if scheme == "https":
            tls = TLSConfig(
                verify=self._tls.verify,
                cert=self._tls.cert,
                trust_env=self._tls.trust_env,
                alpn=ALPN_H1 if upgrade else self._tls.alpn,
                server_hostname=host if sni is None else sni,  # TLSConfig checks it
            )
            # The ALPN list in `tls` (and so in the key) says it.
            multiplex = self._http2 and not upgrade
        else:
            multiplex = self._h2c
        # The key names the protocol choice for plain TCP too (h2c by prior knowledge).
        if self._proxy is not None:
            via = self._proxy.plan(url, tls, tunnel=upgrade)
            # A forward proxy speaks HTTP/1.1 for every origin; a tunnel or SOCKS
            # connection reaches one origin and negotiates with it like a direct one.
            forward = via.mode is ProxyMode.FORWARD
            route = Route(key=via.key, host=via.host, port=via.port, tls=via.proxy_tls, uds=None,
                          multiplex=multiplex and not forward, proxy=via,
                          host_key=via.key if forward else (scheme, host, port))  # fmt: skip
        else:
            route = Route(key=(scheme, host, port, tls, self._uds, self._h2c), host=host,
                          port=port, tls=tls, uds=self._uds, multiplex=multiplex,
                          host_key=(scheme, host, port))  # fmt: skip
        if upgrade or sni is not None:
            # Rare (a protocol switch, a TLS name of the caller's): not remembered; the
            # ALPN list and the TLS name are in the key, so pooling still works.
            return route
        routes = self._routes
        if len(routes) >= self._route_cache_size:
            routes.clear()  # a client of many origins (a crawler): start over, stay bounded
        routes[(scheme, raw_host, url.port)] = (route, url.netloc, scheme.encode("ascii"))
        return route

    def new_connection(
        self, alpn_protocol: str | None, route: Route | None = None
    ) -> WireConnection:
        """The wire machine for a freshly opened connection; ``alpn_protocol`` is what the
        server chose through ALPN (None without TLS or ALPN).

        HTTP/2 when the server chose "h2", and always when HTTP/1.1 is disabled (a server
        that ignores ALPN is then spoken to by prior knowledge, as httpcore does).
        """
        if alpn_protocol is not None and alpn_protocol not in self._tls.alpn:
            raise ConnectError(f"server chose {alpn_protocol!r} through ALPN, never offered")
        forward = (
            route is not None
            and route.proxy is not None
            and (route.proxy.mode is ProxyMode.FORWARD)
        )
        if not forward and (alpn_protocol == "h2" or not self._http1):
            # Imported here: the HTTP/2 machine (h2, hpack, logging) costs ~20 ms to load,
            # which a client that never meets an HTTP/2 server should not pay.
            from .h2 import H2Connection

            return H2Connection(
                max_header_bytes=self._max_header_bytes,
                max_header_count=self._max_header_count,
                validate_headers=False,
            )
        # Headers were validated once by the models: the machine need not re-check.
        return H1Connection(
            max_header_bytes=self._max_header_bytes,
            max_header_count=self._max_header_count,
            validate_headers=False,
        )

    @staticmethod
    def response(
        head: ResponseHead,
        request: Request,
        stream: Any,
        network_stream: Any,
        stream_id: int | None = None,
    ) -> Response:
        """The `Response` for a response head; its body will come from `stream`.

        An HTTP/2 response carries its ``stream_id`` and no reason phrase (the protocol
        has none: `Response.reason_phrase` gives the standard one), as in httpx.
        """
        if head.http_version == _HTTP2:
            extensions = {
                "http_version": b"HTTP/2",
                "network_stream": network_stream,
                "stream_id": stream_id,
            }
        else:
            extensions = {
                "http_version": head.http_version.encode("ascii"),
                "reason_phrase": head.reason,
                "network_stream": network_stream,
            }
        fields = head.headers
        headers = (
            # The llhttp head parser lowered each name already.
            Headers._from_full_items(fields.items.copy())
            if type(fields) is LoweredFields
            else Headers._from_validated(fields)
        )
        response = Response._from_transport(head.status_code, headers, stream, request, extensions)
        if head.informational:
            version = extensions["http_version"]
            response._informational = [
                interim_response(status, fields, request, version)
                for status, fields in head.informational
            ]
        return response


def interim_response(
    status: int, fields: list[tuple[bytes, bytes]], request: Request, http_version: bytes
) -> Response:
    """The body-less `Response` of a 1xx head (`Response.informational`)."""
    return Response(
        status,
        headers=Headers._from_validated(fields),
        request=request,
        extensions={"http_version": http_version},
    )


def _has_body(headers: Headers) -> bool:
    # The models put Content-Length or Transfer-Encoding on every request with a body
    # (never both: the wire machine refuses that). One pass, no list built.
    for _, name, value in headers._list:
        if name == b"content-length":
            return value != b"0"
        if name == b"transfer-encoding":
            return True
    return False


def _target(target: Any) -> bytes:
    """The ``target`` request extension: the request target sent as is (``*``, an
    absolute form); the wire machine refuses bytes that do not belong in one."""
    if isinstance(target, str) and target.isascii():
        target = target.encode("ascii")
    if not isinstance(target, bytes) or not target:
        raise TypeError(f"the 'target' extension must be non-empty ASCII bytes, not {target!r}")
    return target


def _upgrades(headers: Headers) -> bool:
    """Whether a request asks to switch protocols (an Upgrade header)."""
    return any(name == b"upgrade" for _, name, _ in headers._list)


def may_retry(request: Request, reused: bool, phase: FailurePhase, error: BaseException) -> bool:
    """Whether a request that failed on a connection may be sent once more.

    Two cases qualify, each only for a body that can be sent again. The keep-alive race:
    a reused connection that the server had closed (a read or write error, or EOF before
    any response byte), for an idempotent method. And a request the server promised it
    did not process (`RequestNotProcessed`: HTTP/2 GOAWAY above the stream, or
    REFUSED_STREAM), for any method (RFC 9113 §8.7).
    """
    if not isinstance(error, ReadError | WriteError | RemoteProtocolError):
        return False
    again = replayable(request)
    if isinstance(error, RequestNotProcessed):
        return again
    if isinstance(error, RemoteProtocolError) and phase is FailurePhase.RECEIVING:
        return False
    return again and retry_safe(request.method.encode("ascii"), reused, phase)


def replayable(request: Request) -> bool:
    """Whether the request's body can be sent again from its start (bytes in memory,
    multipart from files; not a user's iterator)."""
    stream = request.stream
    if isinstance(stream, ByteStream):
        return True
    from .multipart import MultipartStream  # not with conch: few requests upload files

    return isinstance(stream, MultipartStream)


def retry_on_fresh_connection(error: BaseException, *, multiplexed: bool = False) -> bool:
    """Whether the retry `may_retry` allowed must skip the pool's open connections.

    After the keep-alive race on an HTTP/1.1 connection other idle connections may be
    stale too: yes. A request the server did not process may go on any healthy
    connection, and so may the streams of a failed multiplexed connection (the engine
    checks an idle HTTP/2 connection before reusing it): no, so that they retry together
    on one new connection instead of opening one each.
    """
    return not multiplexed and not isinstance(error, RequestNotProcessed)


def ends_connection(error: BaseException) -> bool:
    """Whether a failed read takes its whole connection down, not just the stream that
    was reading.

    A read timeout or a cancellation loses no byte (the bytes stay in the socket or
    the TLS buffer for the next read), so on a multiplexed connection only the stream
    that gave up fails: the server may be slow on that stream alone, and the other
    streams keep their own timeouts. Any other failure (a reset, EOF errors, TLS
    errors) ends every stream. Writes are different: a write that failed or was cut
    off at any point may have left half a frame, so it always ends the connection.
    """
    return isinstance(error, Exception) and not isinstance(error, ReadTimeout)


def connect_retry_delays(retries: int) -> Iterator[float]:
    """Delays before each connect retry: 0, then 0.5, 1, 2, ... seconds."""
    for attempt in range(retries):
        yield 0.0 if attempt == 0 else CONNECT_RETRY_BACKOFF * 2 ** (attempt - 1)


def is_connect_failure(error: BaseException) -> bool:
    """Whether a failed connection attempt may be retried under ``retries=``."""
    return isinstance(error, ConnectError | ConnectTimeout)


def next_receive_size(size: int, received: int) -> int:
    """How many bytes a stream's next read asks for, after one that asked ``size`` got
    ``received`` (see `RECEIVE_GROWTH`)."""
    if received < size:
        return min(size, MAX_RECEIVE_SIZE) if received >= RECEIVE_SIZE else RECEIVE_SIZE
    return min(size * RECEIVE_GROWTH, MAX_RECEIVE_SIZE)
