"""`Frozen` values behave as the frozen, slotted dataclasses they replace."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import typing

import pytest

from sansio import actions as act
from sansio import happy_eyeballs as he
from sansio._frozen import Frozen, NamedTuple, set_field
from sansio.deadline import Deadline
from sansio.engine import actions as ea
from sansio.exchange import EXPECT_CONTINUE_TIMEOUT, Route, Timeouts
from sansio.pool import PoolStatistics, Reuse
from sansio.tls import ALPN_H2_H1, TLSConfig
from sansio.wire import BodyChunk, EndOfBody, RequestHead, ResponseHead


class Point(Frozen):
    __slots__ = ("label", "x", "y")
    x: int
    y: int
    label: str

    def __init__(self, x: int, y: int, label: str = "") -> None:
        set_field(self, "x", x)
        set_field(self, "y", y)
        set_field(self, "label", label)


class Secret(Frozen, kw_only=True):
    __slots__ = ("name", "password")
    _hidden = frozenset({"password"})
    name: str
    password: str

    def __init__(self, *, name: str, password: str) -> None:
        set_field(self, "name", name)
        set_field(self, "password", password)


class Derived(Frozen, kw_only=True):
    __slots__ = ("_total", "parts")
    __match_args__ = ("parts",)
    parts: tuple[int, ...]
    _total: int

    def __init__(self, *, parts: tuple[int, ...]) -> None:
        set_field(self, "parts", parts)
        set_field(self, "_total", sum(parts))


@dataclasses.dataclass(frozen=True, slots=True)
class DataPoint:
    x: int
    y: int
    label: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DataSecret:
    name: str
    password: str = dataclasses.field(repr=False)


def test_repr_eq_hash_and_match_args_as_a_dataclass() -> None:
    point, data = Point(1, 2, "a"), DataPoint(1, 2, "a")
    assert repr(point) == repr(data).replace("DataPoint", "Point")
    assert point == Point(1, 2, "a")
    assert point != Point(1, 3, "a")
    assert point != data  # another class: never equal, as dataclasses
    assert point.__eq__(data) is NotImplemented
    assert hash(point) == hash(Point(1, 2, "a")) == hash(data)
    assert Point.__match_args__ == DataPoint.__match_args__ == ("x", "y", "label")
    match point:
        case Point(x, y):
            assert (x, y) == (1, 2)
    assert not hasattr(point, "__dict__")


def test_keyword_only_and_hidden_fields() -> None:
    secret = Secret(name="n", password="hunter2")
    assert repr(secret) == "Secret(name='n')" == repr(DataSecret(name="n", password="x"))[4:]
    assert Secret.__match_args__ == DataSecret.__match_args__ == ()
    assert secret == Secret(name="n", password="hunter2") != Secret(name="n", password="x")


def test_assigning_or_deleting_raises_frozen_instance_error() -> None:
    point = Point(1, 2)
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'x'"):
        point.x = 3  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'y'"):
        del point.y
    with pytest.raises(dataclasses.FrozenInstanceError):
        point.other = 3
    assert (point.x, point.y) == (1, 2)


def test_every_slot_must_be_annotated() -> None:
    with pytest.raises(TypeError, match="annotate every name in __slots__"):

        class Bad(Frozen):
            __slots__ = ("a", "b")
            a: int


def test_replace_builds_a_copy_through_init() -> None:
    point = Point(1, 2, "a")
    assert point.__replace__(y=5) == Point(1, 5, "a")
    assert point == Point(1, 2, "a")
    derived = Derived(parts=(1, 2)).__replace__(parts=(3, 4))
    assert (derived.parts, derived._total) == ((3, 4), 7)
    with pytest.raises(TypeError):
        point.__replace__(z=1)


def test_underscore_fields_are_derived_and_own_match_args_are_kept() -> None:
    assert repr(Derived(parts=(1,))) == "Derived(parts=(1,))"
    assert Derived.__match_args__ == ("parts",)
    match Derived(parts=(2,)):
        case Derived(parts):
            assert parts == (2,)


def test_pickle_and_copy_as_a_dataclass() -> None:
    point, derived = Point(1, 2, "a"), Derived(parts=(1, 2))
    for value in (point, derived):
        for clone in (pickle.loads(pickle.dumps(value)), copy.copy(value), copy.deepcopy(value)):
            assert clone == value
            assert clone is not value
    assert pickle.loads(pickle.dumps(derived))._total == 3
    head = ResponseHead(status_code=200, reason=b"OK", headers=[(b"a", b"b")], http_version="1")
    tls = TLSConfig(alpn=ALPN_H2_H1, server_hostname="example.org")
    for value in (
        head,
        tls,
        PoolStatistics(connections=1, connecting=0, active=1, idle=0, waiters=0),
    ):
        assert pickle.loads(pickle.dumps(value)) == value == copy.deepcopy(value)


# The actions and the routes are built for every request: values of the import path.
ACTIONS_AND_ROUTES = [
    ea.Resolve("example.org", 443, 5.0),
    ea.Connect("example.org", 443, None, 5.0),
    ea.StartTLS("stream", TLSConfig(server_hostname="example.org"), None),
    ea.Write("stream", b"GET / HTTP/1.1\r\n\r\n", 5.0),
    ea.Read("stream", None, True),
    ea.ReadReady("stream"),
    ea.CHECKPOINT,
    ea.PULL_FIRST,
    ea.Park("ticket", 1.0),
    ea.Sleep(0.5),
    ea.Effects(close=("stream",)),
    act.SendRequest(request="request"),  # type: ignore[arg-type]
    act.DrainResponse(response="response", limit=1024),  # type: ignore[arg-type]
    act.CallHooks(hooks=(), argument="request"),  # type: ignore[arg-type]
    he.Start(0, "::1"),
    he.Wait(None),
    he.Connected(1, (0,)),
    Route("key", "example.org", 443, None, None),
    Timeouts(read=5.0),
    Deadline(10.0, 5.0),
]


@pytest.mark.parametrize("value", ACTIONS_AND_ROUTES, ids=lambda v: type(v).__name__)
def test_actions_and_routes_are_frozen_values(value: object) -> None:
    assert not hasattr(value, "__dict__")
    for name in (*type(value).__slots__, "other"):
        # (A slotted frozen dataclass raised TypeError for a name that is not a field.)
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, name, None)
    clone = pickle.loads(pickle.dumps(value))
    assert clone == value == copy.copy(value)
    assert hash(clone) == hash(value)
    assert repr(clone) == repr(value)


# The wire's values, made on every request and set through their slots (`slot_setters`).
WIRE_VALUES = [
    RequestHead(method=b"GET", target=b"/", headers=[], authority=b"a", scheme=b"http"),
    ResponseHead(status_code=200, reason=b"OK", headers=[(b"a", b"b")], http_version="HTTP/1.1"),
    BodyChunk(b"x"),
    EndOfBody([]),
]


@pytest.mark.parametrize("value", WIRE_VALUES, ids=lambda v: type(v).__name__)
def test_wire_values_are_frozen_values(value: object) -> None:
    assert not hasattr(value, "__dict__")
    for name in (*type(value).__slots__, "other"):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, name, None)
    clone = pickle.loads(pickle.dumps(value))
    assert clone == value == copy.copy(value)
    assert repr(clone) == repr(value)
    assert type(value).__replace__(value) == value  # (lists inside: not hashable)


def test_wire_values_hold_each_field_where_it_was_given() -> None:
    head = ResponseHead(status_code=204, reason=b"R", headers=[], http_version="HTTP/1.0",
                        informational=((100, []),))  # fmt: skip
    assert (head.status_code, head.reason, head.headers, head.http_version) == (
        204, b"R", [], "HTTP/1.0"
    )  # fmt: skip
    assert head.informational == ((100, []),)
    request = RequestHead(method=b"M", target=b"/t", headers=[(b"h", b"v")], authority=b"a",
                          scheme=b"s")  # fmt: skip
    assert (request.method, request.target, request.headers, request.authority) == (
        b"M", b"/t", [(b"h", b"v")], b"a"
    )  # fmt: skip
    assert request.scheme == b"s"
    assert BodyChunk(b"d").data == b"d"
    assert EndOfBody([(b"t", b"v")]).trailers == [(b"t", b"v")]
    write = ea.Write("s", b"d", 1.0, True)
    assert (write.stream, write.data, write.timeout, write.shared) == ("s", b"d", 1.0, True)
    reuse = Reuse(7, "conn", (8,))  # type: ignore[arg-type]
    assert (reuse.conn_id, reuse.connection, reuse.close) == (7, "conn", (8,))
    assert reuse == Reuse(7, "conn", (8,)) != Reuse(7, "conn")  # type: ignore[arg-type]
    assert repr(reuse) == "Reuse(conn_id=7, connection='conn', close=(8,))"


def test_actions_keep_their_defaults_and_match_args() -> None:
    assert ea.Write("s", b"x", None) == ea.Write("s", b"x", None, shared=False)
    assert ea.Effects() == ea.NO_EFFECTS == ea.Effects((), ())
    assert Timeouts() == Timeouts(None, None, None, None, EXPECT_CONTINUE_TIMEOUT)
    assert repr(Route("k", "h", 80, None, None)) == (
        "Route(key='k', host='h', port=80, tls=None, uds=None, multiplex=False, proxy=None,"
        " host_key=None)"
    )
    match ea.Write("s", b"x", 1.0, True):
        case ea.Write(stream, data, timeout, shared):
            assert (stream, data, timeout, shared) == ("s", b"x", 1.0, True)
    assert act.DrainResponse.__match_args__ == ("response", "limit")
    with pytest.raises(TypeError):
        act.SendRequest("request")  # type: ignore[misc]


def test_a_trace_compares_by_identity() -> None:
    # Its ``info`` is a dict: a Trace is neither equal to a copy nor hashed by value.
    trace = ea.Trace(None, False, "connection.connect_tcp.started", {"host": "h"})
    assert trace == trace
    assert trace != ea.Trace(None, False, "connection.connect_tcp.started", {"host": "h"})
    assert hash(trace) == object.__hash__(trace)


def test_a_generic_start_can_be_subscripted() -> None:
    # `Start[T](...)` sets ``__orig_class__``: refused quietly, as on any frozen value.
    start = he.Start[str](0, "::1")
    assert start == he.Start(0, "::1")
    assert not hasattr(start, "__orig_class__")


class Span(NamedTuple):
    """From start to end."""

    start: int
    end: int | None

    @property
    def size(self) -> int | None:
        return None if self.end is None else self.end - self.start

    def __str__(self) -> str:
        return f"{self.start}-{self.end}"


class TypingSpan(typing.NamedTuple):
    start: int
    end: int | None


def test_a_named_tuple_is_the_one_typing_would_build() -> None:
    span = Span(1, end=4)
    assert span == (1, 4) == TypingSpan(1, 4)
    assert isinstance(span, tuple)
    assert Span._fields == TypingSpan._fields == ("start", "end")
    assert repr(span) == "Span(start=1, end=4)"
    assert (span.size, str(span), Span.__doc__) == (3, "1-4", "From start to end.")
    assert (Span.__module__, Span.__qualname__) == (__name__, "Span")
    assert span._replace(end=None).size is None
    assert pickle.loads(pickle.dumps(span)) == span
    assert copy.copy(span) == span
    with pytest.raises(AttributeError):
        span.start = 2  # type: ignore[misc]
    # The annotations stay as written: typing's NamedTuple compiles each into a
    # ForwardRef, which is what this one saves on the import path.
    assert Span.__annotations__ == {"start": "int", "end": "int | None"}
