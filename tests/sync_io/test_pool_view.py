"""``HTTPTransport._pool``: httpcore's pool as httpx code reads it, on loopback servers.

``_requests`` holds every request not yet finished (waiting, sending, or with a
response not yet closed) and is empty once every response is closed, after retries and
errors too; ``connections`` mirrors the pool (HTTP/1.1 and HTTP/2)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sansio.config import Timeout
from sansio.exceptions import ConnectError, ReadTimeout
from sansio.retry import Retry
from sync_io import Client, HTTPTransport
from tests.servers import Server, http_handler
from tests.servers import default_app as app
from tests.sync_io.test_transport_h2 import H2Server

NO_WAIT = {"backoff_factor": 0.0, "backoff_jitter": 0.0}


@pytest.fixture
def server() -> Iterator[Server]:
    server = Server(http_handler(app))
    yield server
    server.close()


def client_with(**kwargs: Any) -> tuple[Client, HTTPTransport]:
    transport = HTTPTransport(**kwargs)
    return Client(transport=transport), transport


def test_a_request_in_flight_then_one_idle_connection(server: Server) -> None:
    client, transport = client_with()
    pool = transport._pool
    with client:
        assert (pool._requests, pool.connections) == ([], [])
        with client.stream("GET", server.url("/bytes/10")) as response:
            assert [r.url for r in pool._requests] == [response.request.url]
            (conn,) = pool.connections
            assert (conn.is_idle(), conn.is_available()) == (False, False)
            response.read()
        assert pool._requests == []
        client.get(server.url("/"))
        (conn,) = pool.connections
        origin = f"http://127.0.0.1:{server.port}"
        assert repr(conn) == f"<HTTPConnection [{origin!r}, HTTP/1.1, IDLE]>"
        assert (conn.is_idle(), conn.is_available(), conn.has_expired()) == (True, True, False)
        assert not conn.is_closed()
        assert repr(pool) == "<ConnectionPool [Requests: 0, Connections: 1 (0 active, 1 idle)]>"
    assert pool.connections == []


def test_empty_after_retried_status_responses(server: Server) -> None:
    client, transport = client_with(retries=Retry(2, status_forcelist={503}, **NO_WAIT))
    with client:
        assert client.get(server.url("/status/503")).status_code == 503
        assert transport._pool._requests == []


def test_empty_after_a_retried_read_timeout(server: Server) -> None:
    client, transport = client_with(retries=Retry(1, **NO_WAIT))
    with client, pytest.raises(ReadTimeout):
        client.get(server.url("/sleep/2"), timeout=Timeout(0.2))
    assert transport._pool._requests == []


def test_empty_after_a_connect_error() -> None:
    client, transport = client_with(retries=1)
    with client, pytest.raises(ConnectError):
        client.get("http://127.0.0.1:1/")
    assert transport._pool._requests == []


def test_close_through_the_view(server: Server) -> None:
    client, transport = client_with()
    client.get(server.url("/"))
    transport._pool.close()
    assert transport._pool.connections == []
    with pytest.raises(RuntimeError):
        client.get(server.url("/"))


def test_an_http2_connection() -> None:
    server = H2Server()
    try:
        client, transport = client_with(http1=False, http2=True)
        with client:
            with client.stream("GET", server.url("/")) as response:
                assert len(transport._pool._requests) == 1
                (conn,) = transport._pool.connections
                assert "HTTP/2, ACTIVE" in conn.info()
                assert conn.is_available()  # room for more streams
                response.read()
            assert transport._pool._requests == []
            (conn,) = transport._pool.connections
            assert "HTTP/2, IDLE" in conn.info()
    finally:
        server.close()
