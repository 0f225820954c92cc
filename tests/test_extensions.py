"""Request extensions as httpx and httpcore honour them, over loopback, from the sync
client, asyncio and trio: ``sni_hostname`` (the TLS name differs from the URL's host,
and the pool keeps such connections apart), ``target`` (the request target sent as
is) and ``trace`` (httpcore's events; DEBUG logs of the same events)."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest
import trio
import trustme

import conch

from .servers import READ, Server, default_app, http_handler, response, scripted, tls_contexts

MODES = ["sync", "asyncio", "trio"]


def run_async(mode: str, fn: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return trio.run(fn) if mode == "trio" else asyncio.run(fn())


def fetch_all(mode: str, calls: list[tuple[str, str, dict[str, Any]]], **client: Any) -> list[Any]:
    """Each call's status code, or its exception's type name, on one client."""
    results: list[Any] = []
    if mode == "sync":
        with conch.Client(**client) as c:
            for method, url, extensions in calls:
                try:
                    results.append(c.request(method, url, extensions=extensions).status_code)
                except conch.HTTPError as exc:
                    results.append(type(exc).__name__)
        return results

    async def main() -> None:
        async with conch.AsyncClient(**client) as c:
            for method, url, extensions in calls:
                try:
                    response = await c.request(method, url, extensions=extensions)
                    results.append(response.status_code)
                except conch.HTTPError as exc:
                    results.append(type(exc).__name__)

    run_async(mode, main)
    return results


@pytest.fixture
def sni_server() -> Iterator[tuple[Server, list[str | None], ssl.SSLContext]]:
    """A TLS server whose certificate names only ``sni.example``; it records the SNI of
    each handshake."""
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("sni.example").configure_cert(server_ctx)
    names: list[str | None] = []
    server_ctx.sni_callback = lambda _sock, name, _ctx: names.append(name)  # type: ignore[assignment, func-returns-value]
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    with Server(http_handler(default_app), tls=server_ctx) as server:
        yield server, names, client_ctx


@pytest.mark.parametrize("mode", MODES)
def test_sni_hostname_names_the_tls_server_and_keys_the_pool(
    sni_server: tuple[Server, list[str | None], ssl.SSLContext], mode: str
) -> None:
    server, names, client_ctx = sni_server
    url = server.url(scheme="https")  # https://127.0.0.1:port/: not the certificate's name
    sni = {"sni_hostname": "sni.example"}
    results = fetch_all(mode, [("GET", url, sni), ("GET", url, sni), ("GET", url, {})],
                        verify=client_ctx)  # fmt: skip
    # Twice on one connection named sni.example; without the extension, a connection of
    # its own (no SNI for an IP address) whose certificate does not match.
    assert results == [200, 200, "ConnectError"]
    assert names == ["sni.example", None]
    assert server.accepted == 2


@pytest.mark.parametrize("mode", MODES)
def test_target_is_sent_as_is(mode: str) -> None:
    ok = response(b"")
    with Server(scripted([READ, ok, READ, ok, READ, ok])) as server:
        url = server.url("/ignored?x=1")
        calls = [
            ("OPTIONS", url, {"target": b"*"}),
            ("GET", url, {"target": "http://example.org/absolute"}),
            ("GET", url, {}),
        ]
        assert fetch_all(mode, calls) == [200, 200, 200]
    lines = [head.split(b"\r\n", 1)[0] for head in server.requests]
    assert lines == [
        b"OPTIONS * HTTP/1.1",
        b"GET http://example.org/absolute HTTP/1.1",
        b"GET /ignored?x=1 HTTP/1.1",
    ]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("target", [b"", "caf\u00e9", 42, b"/a b"])
def test_a_bad_target_is_refused_before_anything_is_sent(mode: str, target: Any) -> None:
    with Server(scripted([READ, response()])) as server:
        calls = [("GET", server.url(), {"target": target}), ("GET", server.url(), {})]
        if isinstance(target, bytes) and target:
            # Bytes that do not belong in a request line: the wire machine's error.
            assert fetch_all(mode, calls) == ["LocalProtocolError", 200]
        else:
            with pytest.raises(TypeError, match="'target' extension"):
                fetch_all(mode, calls)


def traced_get(mode: str, url: str, **client: Any) -> tuple[list[tuple[str, Any]], Any]:
    """GET ``url`` with a ``trace`` callback (a coroutine function in async): the events
    and the status code (or the exception's type name)."""
    events: list[tuple[str, Any]] = []

    def trace(name: str, info: dict[str, Any]) -> None:
        stream = info.get("return_value")
        if hasattr(stream, "get_extra_info"):  # what the stream tells now, while open
            ssl_object = stream.get_extra_info("ssl_object")
            tls = None if ssl_object is None else ssl_object.version()
            info = {**info, "server_addr": stream.get_extra_info("server_addr"), "tls": tls}
        events.append((name, info))

    async def atrace(name: str, info: dict[str, Any]) -> None:
        trace(name, info)

    callback = trace if mode == "sync" else atrace
    return events, fetch_all(mode, [("GET", url, {"trace": callback})], **client)[0]


@pytest.mark.parametrize("mode", MODES)
def test_trace_over_tls(mode: str) -> None:
    tls = tls_contexts()
    with Server(http_handler(default_app), tls=tls.server) as server:
        url = server.url(scheme="https", host="localhost")
        events, status = traced_get(mode, url, verify=tls.client)
    assert status == 200
    assert [name for name, _ in events] == [
        "connection.connect_tcp.started",
        "connection.connect_tcp.complete",
        "connection.start_tls.started",
        "connection.start_tls.complete",
        "http11.send_request_headers.started",
        "http11.send_request_headers.complete",
        "http11.send_request_body.started",
        "http11.send_request_body.complete",
        "http11.receive_response_headers.started",
        "http11.receive_response_headers.complete",
        "http11.receive_response_body.started",
        "http11.receive_response_body.complete",
        "http11.response_closed.started",
        "http11.response_closed.complete",
    ]
    info = dict(events)
    assert info["connection.connect_tcp.started"]["host"] == "localhost"
    assert info["connection.connect_tcp.complete"]["server_addr"][1] == server.port
    assert info["connection.connect_tcp.complete"]["tls"] is None
    assert info["connection.start_tls.started"]["server_hostname"] == "localhost"
    assert info["connection.start_tls.complete"]["tls"].startswith("TLSv1.")
    status_line = info["http11.receive_response_headers.complete"]["return_value"][:3]
    assert status_line == (b"HTTP/1.1", 200, b"OK")


@pytest.mark.parametrize("mode", MODES)
def test_trace_of_a_failed_handshake(mode: str) -> None:
    tls = tls_contexts()
    with Server(http_handler(default_app), tls=tls.server) as server:
        events, status = traced_get(mode, server.url(scheme="https"))  # not trusted
    assert status == "ConnectError"
    assert [name for name, _ in events][-2:] == [
        "connection.start_tls.started",
        "connection.start_tls.failed",
    ]
    assert isinstance(events[-1][1]["exception"], conch.ConnectError)


@pytest.mark.parametrize("mode", MODES)
def test_debug_logs_of_connection_events(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    with Server(http_handler(default_app)) as server, caplog.at_level(logging.DEBUG, "conch"):
        assert fetch_all(mode, [("GET", server.url(), {}), ("GET", server.url(), {})]) == [
            200,
            200,
        ]
    lines = [(r.name, r.getMessage()) for r in caplog.records if r.name != "conch"]
    assert lines[0] == (
        "conch.connection",
        f"connect_tcp.started host='127.0.0.1' port={server.port} timeout=5.0",
    )
    assert lines[1][1].startswith("connect_tcp.complete return_value=<")
    # The second request reuses the connection: HTTP events only; closing the client
    # closes the connection.
    assert [message for name, message in lines if name == "conch.connection"][2:] == [
        "close.started",
        "close.complete",
    ]
    assert lines.count(("conch.http11", "response_closed.complete")) == 2


@pytest.mark.parametrize("mode", MODES)
def test_a_trace_callback_of_the_wrong_kind_is_refused_as_httpcore_does(mode: str) -> None:
    async def coroutine_function(name: str, info: dict[str, Any]) -> None:
        pass

    def function(name: str, info: dict[str, Any]) -> None:
        pass

    wrong = coroutine_function if mode == "sync" else function
    with Server(http_handler(default_app)) as server:
        calls = [("GET", server.url(), {"trace": wrong})]
        expected = "normal function" if mode == "sync" else "asynchronous function rather"
        with pytest.raises(TypeError, match=expected):
            fetch_all(mode, calls)
