"""Conformance scenarios as plain data.

A `Scenario` says what a client is configured with (`Settings`), which requests it
makes one after another on the same client (`Call`), what each peer does on each
connection it accepts (`Peer`: a script of `Recv`, `Send`, `Pause`, `Close`, `Hold`,
`Stall`, `Reset`), and what must come out (`Expect`). A driver turns a scenario into an
`Outcome`; every driver must produce the same `Outcome` for the same scenario.

Origins. Peer *i* is reachable at ``http://<host>:<port>``; its port is only known when
a driver runs (a loopback listener, or a made-up port for in-memory drivers). Response
bytes therefore name origins with tokens: ``{o0}``, ``{o1}``, ... stand for the
``host:port`` of peer 0, 1, ...; drivers substitute them before sending and substitute
them back in everything they record (request heads, URLs), so outcomes never contain a
port and compare equal across drivers.
"""

from __future__ import annotations

import enum
import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeAlias

from sansio.retry import Retry

__all__ = [
    "ANY",
    "Call",
    "CallOutcome",
    "Close",
    "Credentials",
    "Expect",
    "H2GoAway",
    "H2Ping",
    "H2Reply",
    "H2Reset",
    "H2Settings",
    "Hold",
    "Interrupted",
    "Outcome",
    "Pause",
    "Peer",
    "Recv",
    "RequestSeen",
    "Reset",
    "Result",
    "Scenario",
    "Seen",
    "Send",
    "Settings",
    "Stall",
    "Step",
    "check",
    "comparable",
    "differences",
]


class _Any(enum.Enum):
    ANY = "ANY"

    def __repr__(self) -> str:
        return "ANY"


ANY: Any = _Any.ANY
"""In an expectation: whatever the outcome holds is fine (the field is not checked)."""


# -- the peer's script ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recv:
    """Read one whole request (head and body) and record it. With ``head_only`` the
    peer answers as soon as the head is in: the rest of the body is thrown away, and
    the connection should end with `Close` (the request never finished on the wire)."""

    head_only: bool = False


@dataclass(frozen=True, slots=True)
class Send:
    """Write ``data`` (origin tokens substituted) in pieces cut at the ``cuts`` offsets.

    In-memory drivers hand each piece over as one read; socket peers write each piece
    separately (with a short pause between the first few), so reads usually see them
    apart, but TCP may join them: outcomes must not depend on it either way.
    """

    data: bytes
    cuts: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.cuts and b"{o" in self.data:
            raise ValueError("cuts are offsets into the rendered bytes: no origin tokens")
        if list(self.cuts) != sorted(set(self.cuts)) or any(
            not 0 < cut < len(self.data) for cut in self.cuts
        ):
            raise ValueError(f"cuts must be increasing offsets inside the data: {self.cuts}")

    def pieces(self, data: bytes) -> list[bytes]:
        bounds = (0, *self.cuts, len(data))
        return [data[start:end] for start, end in itertools.pairwise(bounds)]


@dataclass(frozen=True, slots=True)
class Pause:
    """Stay silent for ``seconds`` (real time on sockets, a virtual clock in memory)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Close:
    """Half-close (FIN), then read and discard until the client closes: a lingering
    close as servers do it, so that unread client bytes never turn into a reset."""


@dataclass(frozen=True, slots=True)
class Hold:
    """Say nothing more and keep the connection open until the client closes it."""


@dataclass(frozen=True, slots=True)
class Stall:
    """Stop reading (and say nothing) until the run ends: the client's writes back up
    until they time out. In memory, the peer's receive buffer holds `STALL_BUFFER`
    bytes; over sockets, whatever the kernel buffers (a few MiB on loopback), so an
    upload meant to time out must be larger than that."""


@dataclass(frozen=True, slots=True)
class Reset:
    """Abort the connection (TCP RST)."""


# -- HTTP/2 peers (``Peer(h2=True)``): `Recv` reads one whole request stream -----------


@dataclass(frozen=True, slots=True, kw_only=True)
class H2Reply:
    """Answer the oldest request read and not answered yet (``newest``: the newest one):
    ``informational`` 1xx heads, the head, the body in DATA frames within the client's
    windows (``ping``: a PING in the middle of it), then ``trailers`` or END_STREAM."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    trailers: tuple[tuple[str, str], ...] = ()
    informational: tuple[int, ...] = ()
    ping: bool = False
    newest: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class H2Reset:
    """RST_STREAM on the oldest unanswered request (after its head with ``after_head``,
    after these 1xx heads with ``informational``)."""

    error_code: int = 2  # INTERNAL_ERROR
    after_head: bool = False
    informational: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class H2GoAway:
    """GOAWAY naming the last request read as the last stream processed."""

    error_code: int = 0  # NO_ERROR: a graceful shutdown


@dataclass(frozen=True, slots=True)
class H2Ping:
    """A PING from the server (the client must acknowledge it)."""


@dataclass(frozen=True, slots=True)
class H2Settings:
    """A SETTINGS frame from the server: ``settings`` holds (code, value) pairs, such as
    ``((SettingCodes.MAX_CONCURRENT_STREAMS, 0),)``."""

    settings: tuple[tuple[int, int], ...]


Step: TypeAlias = (
    Recv
    | Send
    | Pause
    | Close
    | Hold
    | Stall
    | Reset
    | H2Reply
    | H2Reset
    | H2GoAway
    | H2Ping
    | H2Settings
)
Script: TypeAlias = tuple[Step, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Peer:
    """One origin. ``connections[k]`` is the script for the k-th connection accepted.

    A connection beyond the scripts, or a request after a script ran out (without a
    `Close`), is recorded and then closed without an answer. ``listening=False``
    makes an origin that refuses connections.
    """

    connections: tuple[Script, ...] = ()
    host: str = "127.0.0.1"
    listening: bool = True
    h2: bool = False  # speak HTTP/2 (h2c by prior knowledge), `conformance.h2peer`
    h2_settings: tuple[tuple[int, int], ...] = ()  # SETTINGS the HTTP/2 peer announces


# -- what the client does ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Credentials:
    scheme: Literal["basic", "digest"]
    username: str
    password: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Client construction arguments (a subset of httpx's `Client`)."""

    follow_redirects: bool = False
    max_redirects: int = 20
    auth: Credentials | None = None
    headers: tuple[tuple[str, str], ...] = ()
    cookies: tuple[tuple[str, str], ...] = ()
    # Connect, write and pool timeout: generous, only there to end a broken run.
    timeout: float = 5.0
    read_timeout: float | None = 5.0
    pool_timeout: float | None = 5.0
    total_timeout: float | None = None  # Timeout(total=...): the whole send()
    keepalive_expiry: float | None = 5.0
    max_keepalive_connections: int | None = 20
    max_connections: int | None = 100
    max_connections_per_host: int | None = None
    # The wire machines' own bounds (`sansio.h1.MAX_HEADER_BYTES`, `MAX_HEADER_COUNT`),
    # not `Limits`' larger defaults: the limit scenarios stay small, and every driver
    # shows that the setting reaches the machines.
    max_header_bytes: int = 64 * 1024
    max_header_count: int = 100
    max_decoded_size: int | None = None
    http2_prior_knowledge: bool = False  # http1=False, http2=True: h2c on plain http
    retries: int | Retry = 0  # the transport's retry policy (`sansio.retry.Retry`)


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    """One request made with the client, after those before it.

    ``chunks`` makes the body a generator (async generator on async drivers), sent
    with chunked framing. ``read`` says how the body is read: ``"read"`` (the client
    reads it, as `client.request` does), ``"stream"`` (`iter_bytes` of a streamed
    response), ``"raw"`` (`iter_raw`), ``"peek"`` (the first 5 decoded bytes, then
    the response is closed unread) or ``"sse"`` (server-sent events: the request gets
    the event-stream headers, and the body is the events of ``iter_sse``, one
    ``repr`` per line). ``pause_before`` waits before the call; ``target`` is sent as the
    request target instead of the URL's (the ``target`` request extension).
    """

    method: str = "GET"
    path: str = "/"
    origin: int = 0
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    chunks: tuple[bytes, ...] | None = None
    read: Literal["read", "stream", "raw", "peek", "sse"] = "read"
    follow_redirects: bool | None = None  # None: the client's setting
    auth: Credentials | None = None
    pause_before: float = 0.0
    concurrent: bool = False
    interrupt_after: int | None = None
    target: str | None = None  # the ``target`` request extension: sent as is
    # The ``protocol`` request extension: an extended CONNECT over HTTP/2 (RFC 8441).
    protocol: str | None = None

    def __post_init__(self) -> None:
        if self.body is not None and self.chunks is not None:
            raise ValueError("a call has either body or chunks")
        if self.interrupt_after is not None and self.chunks is None:
            raise ValueError("only a body of chunks can be interrupted")


class Interrupted(BaseException):
    """What a request body raises for ``Call(interrupt_after=...)``: it stands for a
    cancellation, so it is a BaseException that no client turns into its own error."""


# -- what must come out -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    """What one call must give. ``error`` is an exception type name; `ANY` skips a field."""

    status: int | None = 200
    reason: str = ANY
    body: bytes | None = ANY
    headers: tuple[tuple[str, str], ...] = ()  # present with these values (names lower-case)
    absent_headers: tuple[str, ...] = ()
    error: str | None = None
    message: str = ANY  # a part of the error message
    history: tuple[int, ...] = ANY
    url: str = ANY  # final URL with origin tokens, such as "http://{o1}/landing"
    trailers: tuple[tuple[str, str], ...] = ANY  # all of them, in order (names lower-case)
    informational: tuple[int, ...] = ANY  # the 1xx statuses before the final response
    # The statuses the client's "informational" event hook saw during the call, in order
    # (every driver's client has one); sequential calls only.
    hooked: tuple[int, ...] = ANY


@dataclass(frozen=True, slots=True, kw_only=True)
class Seen:
    """A request a peer must have received (selected parts only)."""

    method: str = "GET"
    target: str = "/"
    headers: tuple[tuple[str, str], ...] = ()  # present with these values (names lower-case)
    absent: tuple[str, ...] = ()  # header names that must not be there
    body: bytes = ANY
    connection: int = ANY
    complete: bool = True  # the whole request arrived


@dataclass(frozen=True, slots=True, kw_only=True)
class Expect:
    results: tuple[Result, ...]  # one per call
    seen: tuple[tuple[Seen, ...], ...] = ANY  # per peer, every request it received, in order
    connections: tuple[int, ...] = ANY  # per peer, connections it accepted
    cookies: tuple[tuple[str, str], ...] = ANY  # (name, value) in the jar afterwards, sorted


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    name: str
    calls: tuple[Call, ...]
    peers: tuple[Peer, ...]
    expect: Expect
    settings: Settings = field(default_factory=Settings)
    doc: str = ""

    def __post_init__(self) -> None:
        if len(self.expect.results) != len(self.calls):
            raise ValueError(f"{self.name}: one Result per Call")

    @property
    def groups(self) -> list[list[int]]:
        """The calls by the order they run in: a group of several starts together."""
        groups: list[list[int]] = []
        for index, call in enumerate(self.calls):
            if call.concurrent and groups and self.calls[groups[-1][-1]].concurrent:
                groups[-1].append(index)
            else:
                groups.append([index])
        return groups

    @property
    def concurrent(self) -> bool:
        """Whether some calls run at once (then orders within a group do not count)."""
        return any(len(group) > 1 for group in self.groups)

    @property
    def uses_time(self) -> bool:
        """Whether the scenario waits on a timeout or a pause (slow on real clocks)."""
        return any(
            isinstance(step, Pause | Hold | Stall)
            for peer in self.peers
            for script in peer.connections
            for step in script
        ) or any(call.pause_before for call in self.calls)


# -- what came out ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CallOutcome:
    status: int | None
    reason: str | None
    http_version: str | None
    headers: tuple[tuple[str, str], ...]  # names lower-case, in order, repeats kept
    body: bytes | None  # None when the body was not (completely) read
    error: str | None  # conch exception type name; others are module-qualified
    message: str | None  # the error's message when the core raised it (not the OS)
    history: tuple[int, ...]
    url: str | None
    trailers: tuple[tuple[str, str], ...] = ()  # `Response.trailers`, as headers are
    informational: tuple[int, ...] = ()  # `Response.informational`, their statuses
    hooked: tuple[int, ...] = ()  # what the "informational" hook saw, in order


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestSeen:
    connection: int
    method: str
    target: str
    headers: tuple[tuple[str, str], ...]  # names lower-case, in order
    body: bytes  # decoded from its framing
    raw: bytes  # exactly as received, origin tokens substituted back
    answered: bool = True  # False: it came after the script ran out, or was cut short
    complete: bool = True  # False: the client hung up before the end of the body


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    calls: tuple[CallOutcome, ...]
    seen: tuple[tuple[RequestSeen, ...], ...]  # per peer
    connections: tuple[int, ...]  # per peer
    cookies: tuple[tuple[str, str, str, str], ...]  # (name, value, domain, path), sorted
    peer_errors: tuple[str, ...] = ()  # problems on the peer's side (bad request bytes...)


# Bodies longer than this are compared by digest (outcomes are kept for every driver).
_DIGEST_OVER = 4096


def _small(data: bytes) -> bytes:
    if len(data) <= _DIGEST_OVER:
        return data
    return b"<%d bytes, sha256 %s>" % (len(data), hashlib.sha256(data).hexdigest().encode())


def comparable(outcome: Outcome, scenario: Scenario | None = None) -> Outcome:
    """`outcome` as drivers must agree on it, and small enough to keep.

    Error messages are cut to their first clause: h11 quotes the bytes it had when it
    failed, and how many it had depends on how the network split them. Long bodies
    become their digest. In a ``scenario`` with concurrent calls, each group's results
    (without their URL) and each peer's requests are put in one canonical order.
    """
    calls = tuple(
        replace(
            call,
            message=call.message.split(":", 1)[0] if call.message else call.message,
            body=call.body if call.body is None else _small(call.body),
        )
        for call in outcome.calls
    )
    seen = tuple(
        tuple(
            replace(request, body=_small(request.body), raw=_small(request.raw)) for request in peer
        )
        for peer in outcome.seen
    )
    if scenario is not None and scenario.concurrent:
        ordered = list(calls)
        for group in scenario.groups:
            if len(group) == 1:
                continue
            # Which call got which answer depends on which went first: only the set of
            # answers counts, so the URL that ties one to its call is left out.
            answers = sorted((replace(calls[i], url=None) for i in group), key=repr)
            for index, call in zip(group, answers, strict=True):
                ordered[index] = call
        calls = tuple(ordered)
        seen = tuple(tuple(sorted(peer, key=repr)) for peer in seen)
    return replace(outcome, calls=calls, seen=seen)


def _field_differences(where: str, one: object, two: object) -> list[str]:
    return [
        f"{where} {name}: {getattr(one, name)!r} vs {getattr(two, name)!r}"
        for name in one.__dataclass_fields__  # type: ignore[attr-defined]
        if getattr(one, name) != getattr(two, name)
    ]


def differences(a: Outcome, b: Outcome) -> list[str]:
    """Where two outcomes differ, field by field (empty when equal)."""
    out = []
    if len(a.calls) != len(b.calls):
        out.append(f"calls: {len(a.calls)} vs {len(b.calls)}")
    for index, (call_a, call_b) in enumerate(zip(a.calls, b.calls, strict=False)):
        out += _field_differences(f"call {index}", call_a, call_b)
    out += [
        f"{name}: {getattr(a, name)!r} vs {getattr(b, name)!r}"
        for name in ("connections", "cookies", "peer_errors")
        if getattr(a, name) != getattr(b, name)
    ]
    for peer, (one_seen, two_seen) in enumerate(zip(a.seen, b.seen, strict=False)):
        if len(one_seen) != len(two_seen):
            out.append(f"peer {peer}: {len(one_seen)} requests vs {len(two_seen)}")
        for index, (one, two) in enumerate(zip(one_seen, two_seen, strict=False)):
            out += _field_differences(f"peer {peer} request {index}", one, two)
    return out


# -- checking -------------------------------------------------------------------------------


def _check_headers(
    where: str,
    got: Sequence[tuple[str, str]],
    present: Sequence[tuple[str, str]],
    absent: Sequence[str],
) -> list[str]:
    problems = []
    for name, value in present:
        values = [v for n, v in got if n == name]
        if value not in values:
            problems.append(f"{where}: header {name}: {value!r} expected, got {values!r}")
    names = {n for n, _ in got}
    problems += [f"{where}: header {name} must be absent" for name in absent if name in names]
    return problems


def _field(where: str, name: str, want: object, got: object) -> list[str]:
    if want is ANY or want == got:
        return []
    return [f"{where}: {name} {want!r} expected, got {got!r}"]


def _check_result(where: str, want: Result, got: CallOutcome) -> list[str]:
    problems = _field(where, "error", want.error, got.error)
    if want.message is not ANY and want.message not in (got.message or ""):
        problems.append(f"{where}: message with {want.message!r} expected, got {got.message!r}")
    problems += _field(where, "status", want.status, got.status)
    problems += _field(where, "reason", want.reason, got.reason)
    problems += _field(where, "body", want.body, got.body)
    problems += _field(where, "history", want.history, got.history)
    problems += _field(where, "url", want.url, got.url)
    problems += _field(where, "trailers", want.trailers, got.trailers)
    problems += _field(where, "informational", want.informational, got.informational)
    problems += _field(where, "hooked", want.hooked, got.hooked)
    problems += _check_headers(where, got.headers, want.headers, want.absent_headers)
    return problems


def _check_seen(where: str, want: Seen, got: RequestSeen) -> list[str]:
    problems = _field(where, "method", want.method, got.method)
    problems += _field(where, "target", want.target, got.target)
    problems += _field(where, "body", want.body, got.body)
    problems += _field(where, "connection", want.connection, got.connection)
    problems += _field(where, "complete", want.complete, got.complete)
    problems += _check_headers(where, got.headers, want.headers, want.absent)
    return problems


def _matched(
    wheres: Sequence[str],
    wants: Sequence[Any],
    gots: Sequence[Any],
    check_one: Any,
    any_order: bool,
) -> list[str]:
    """Check ``gots`` against ``wants`` in order, or in the order that fits best."""
    orders = itertools.permutations(range(len(gots))) if any_order else [range(len(gots))]
    best: list[str] | None = None
    for order in orders:
        problems = [
            problem
            for where, want, got_index in zip(wheres, wants, order, strict=True)
            for problem in check_one(where, want, gots[got_index])
        ]
        if best is None or len(problems) < len(best):
            best = problems
        if not best:
            break
    return best or []


def check(scenario: Scenario, outcome: Outcome) -> list[str]:
    """Every way `outcome` differs from what `scenario` expects (empty: it conforms).
    The results of a group of concurrent calls, and what peers see in a scenario with
    such groups, may come in any order."""
    expect = scenario.expect
    problems = [f"peer: {error}" for error in outcome.peer_errors]
    for group in scenario.groups:
        wants = [expect.results[index] for index in group]
        gots = [outcome.calls[index] for index in group]
        wheres = [f"call {index}" for index in group]
        problems += _matched(wheres, wants, gots, _check_result, len(group) > 1)
    problems += _field("peers", "connections", expect.connections, outcome.connections)
    if expect.seen is not ANY:
        for peer, (wants, gots) in enumerate(zip(expect.seen, outcome.seen, strict=True)):
            if len(wants) != len(gots):
                summary = [f"{g.method} {g.target}" for g in gots]
                problems.append(f"peer {peer}: {len(wants)} requests expected, got {summary}")
                continue
            wheres = [f"peer {peer} request {index}" for index in range(len(wants))]
            problems += _matched(wheres, wants, gots, _check_seen, scenario.concurrent)
    if expect.cookies is not ANY:
        jar = tuple(sorted((name, value) for name, value, _, _ in outcome.cookies))
        problems += _field("jar", "cookies", tuple(sorted(expect.cookies)), jar)
    return problems
