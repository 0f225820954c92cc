"""Drop-in fidelity: what httpx programs and the libraries built on httpx observe.

Most tests here are differential: the same few lines run against installed httpx 0.28 (a
test dependency only) and against conch, and what a user would see (the value, the
exception's type and message, the warnings) must be the same.
"""

from __future__ import annotations

import asyncio
import datetime
import io
import logging
import warnings
from collections.abc import Callable, Coroutine
from types import ModuleType, TracebackType
from typing import Any, TypeVar

import httpx
import pytest
import trio

import conch
from sansio.mounts import MountTable

from .servers import Got, Reply, Server, http_handler

T = TypeVar("T")
Run = Callable[[Callable[[], Coroutine[Any, Any, T]]], T]

BOTH = pytest.mark.parametrize("lib", [httpx, conch], ids=["httpx", "conch"])


@pytest.fixture(params=["asyncio", "trio"])
def run(request: pytest.FixtureRequest) -> Run[Any]:
    def runner(fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
        if request.param == "trio":
            return trio.run(fn)
        return asyncio.run(fn())

    return runner


def outcome(fn: Callable[[], object]) -> tuple[str, str, list[tuple[str, str]]]:
    """What a caller sees: the result or the exception (type name and message), and the
    warnings raised on the way (category name and message)."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            result = ("ok", repr(fn()))
        except Exception as exc:
            result = (type(exc).__name__, str(exc))
    return (*result, [(w.category.__name__, str(w.message)) for w in seen])


def same(fn: Callable[[ModuleType], object]) -> tuple[str, str, list[tuple[str, str]]]:
    """Run ``fn(httpx)`` and ``fn(conch)``; both must look the same to the caller."""
    expected = outcome(lambda: fn(httpx))
    assert outcome(lambda: fn(conch)) == expected
    return expected


def ok(request: Any) -> Any:
    return (conch if isinstance(request, conch.Request) else httpx).Response(200, text="ok")


# -- the verb methods call request() with httpx's keywords ----------------------------------


def test_verbs_call_request_with_exactly_httpx_keywords() -> None:
    # A framework's test client overrides request() with httpx's signature (no
    # allow_redirects=): get/post/... must still work through it.
    calls: list[dict[str, Any]] = []

    class TestClient(conch.Client):
        def request(  # type: ignore[override]
            self,
            method: str,
            url: Any,
            *,
            content: Any = None,
            data: Any = None,
            files: Any = None,
            json: Any = None,
            params: Any = None,
            headers: Any = None,
            cookies: Any = None,
            auth: Any = conch.USE_CLIENT_DEFAULT,
            follow_redirects: Any = conch.USE_CLIENT_DEFAULT,
            timeout: Any = conch.USE_CLIENT_DEFAULT,
            extensions: Any = None,
        ) -> conch.Response:
            calls.append({"method": method, "follow_redirects": follow_redirects})
            return super().request(method, url, follow_redirects=follow_redirects)

    with TestClient(transport=conch.MockTransport(ok)) as client:
        for verb in ("get", "options", "head", "delete", "post", "put", "patch"):
            assert getattr(client, verb)("http://testserver/").status_code == 200
        client.get("http://testserver/", allow_redirects=True)
    assert [c["method"] for c in calls] == [
        *("GET", "OPTIONS", "HEAD", "DELETE", "POST", "PUT", "PATCH"),
        "GET",
    ]
    assert calls[-1]["follow_redirects"] is True
    assert all(c["follow_redirects"] is conch.USE_CLIENT_DEFAULT for c in calls[:-1])


def test_async_verbs_call_request_with_exactly_httpx_keywords(run: Run[Any]) -> None:
    calls: list[str] = []

    class TestClient(conch.AsyncClient):
        async def request(  # type: ignore[override]
            self, method: str, url: Any, *, follow_redirects: Any = None, **kwargs: Any
        ) -> conch.Response:
            assert "allow_redirects" not in kwargs
            calls.append(f"{method} {follow_redirects}")
            return await super().request(method, url)

    async def main() -> None:
        async with TestClient(transport=conch.MockTransport(ok)) as client:
            await client.post("http://testserver/")
            await client.get("http://testserver/", allow_redirects=False)

    run(main)
    assert calls == [f"POST {conch.USE_CLIENT_DEFAULT}", "GET False"]


def test_verbs_resolve_allow_redirects_only_when_given(
    monkeypatch: pytest.MonkeyPatch, run: Run[Any]
) -> None:
    def refuse(*args: Any) -> None:
        raise AssertionError("resolved without allow_redirects=")

    verbs = ("get", "options", "head", "delete", "post", "put", "patch")
    for module in ("sync_io.client", "async_io.client"):
        monkeypatch.setattr(f"{module}.resolve_follow_redirects", refuse)
    with conch.Client(transport=conch.MockTransport(ok)) as client:
        for verb in verbs:
            assert getattr(client, verb)("http://testserver/").status_code == 200

    async def main() -> None:
        async with conch.AsyncClient(transport=conch.MockTransport(ok)) as client:
            for verb in verbs:
                assert (await getattr(client, verb)("http://testserver/")).status_code == 200

    run(main)
    monkeypatch.undo()
    with conch.Client(transport=conch.MockTransport(ok)) as client:
        for verb in verbs:
            with pytest.raises(TypeError, match="disagree"):
                getattr(client, verb)(
                    "http://testserver/", follow_redirects=True, allow_redirects=False
                )


# -- requests' allow_redirects= on the top-level functions ----------------------------------


def redirecting(server: Server, got: Got) -> Reply:
    if got.target == "/start":
        return Reply(status=302, headers=[("Location", "/end")])
    return Reply(body=b"arrived")


@pytest.mark.parametrize("function", ["get", "request", "stream"])
def test_top_level_functions_accept_allow_redirects(function: str) -> None:
    with Server(http_handler(redirecting)) as server:
        url = server.url("/start")
        if function == "get":
            followed = conch.get(url, allow_redirects=True)
            stayed = conch.get(url, allow_redirects=False)
        elif function == "request":
            followed = conch.request("GET", url, allow_redirects=True)
            stayed = conch.request("GET", url)
        else:
            with conch.stream("GET", url, allow_redirects=True) as followed:
                followed.read()
            with conch.stream("GET", url, allow_redirects=False) as stayed:
                stayed.read()
    assert (followed.status_code, followed.text) == (200, "arrived")
    assert stayed.status_code == 302
    with pytest.raises(TypeError, match="disagree"):
        conch.get(url, follow_redirects=True, allow_redirects=False)


# -- a client as a context manager enters and exits its transports --------------------------


class Recording(conch.MockTransport):
    def __init__(self, log: list[str], name: str) -> None:
        super().__init__(ok)
        self.log = log
        self.name = name

    def __enter__(self) -> Recording:
        self.log.append(f"enter {self.name}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self.log.append(f"exit {self.name} {exc_type.__name__ if exc_type else None}")

    async def __aenter__(self) -> Recording:
        self.log.append(f"aenter {self.name}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self.log.append(f"aexit {self.name} {exc_type.__name__ if exc_type else None}")


def test_client_context_enters_and_exits_transport_and_mounts() -> None:
    log: list[str] = []
    mounts: dict[str, conch.BaseTransport | None] = {
        "http://other": Recording(log, "mount"),
        "http://none": None,
    }
    client = conch.Client(transport=Recording(log, "main"), mounts=mounts)

    def use() -> None:
        with client:
            assert client.get("http://testserver/").status_code == 200
            raise KeyError("the router's check sees this")

    with pytest.raises(KeyError):
        use()
    assert log == ["enter main", "enter mount", "exit main KeyError", "exit mount KeyError"]
    assert client.is_closed


def test_async_client_context_enters_and_exits_transport_and_mounts(run: Run[Any]) -> None:
    log: list[str] = []

    async def main() -> None:
        mounts: dict[str, conch.AsyncBaseTransport | None] = {
            "http://other": Recording(log, "mount")
        }
        async with conch.AsyncClient(transport=Recording(log, "main"), mounts=mounts) as c:
            assert (await c.get("http://testserver/")).status_code == 200
        assert c.is_closed

    run(main)
    assert log == ["aenter main", "aenter mount", "aexit main None", "aexit mount None"]


def test_a_client_without_mounts_sends_through_its_transport_without_a_lookup(
    monkeypatch: pytest.MonkeyPatch, run: Run[Any]
) -> None:
    def no_lookup(*args: Any) -> None:
        raise AssertionError("a client without mounts looked one up")

    monkeypatch.setattr(MountTable, "lookup", no_lookup)
    with conch.Client(transport=conch.MockTransport(ok)) as client:
        assert client.get("http://testserver/").text == "ok"

    async def main() -> None:
        async with conch.AsyncClient(transport=conch.MockTransport(ok)) as client:
            assert (await client.get("http://testserver/")).text == "ok"

    run(main)
    monkeypatch.undo()
    # With mounts, each request is routed as before; mocking libraries patch the method.
    mounted = conch.MockTransport(lambda request: conch.Response(201))
    patched = conch.MockTransport(lambda request: conch.Response(202))
    with conch.Client(transport=conch.MockTransport(ok), mounts={"http://m": mounted}) as client:
        assert client.get("http://m/").status_code == 201
        assert client.get("http://testserver/").status_code == 200
        monkeypatch.setattr(conch.Client, "_transport_for_url", lambda self, url: patched)
        assert client.get("http://testserver/").status_code == 202


def test_reopening_a_client_is_refused_as_httpx() -> None:
    def twice(lib: Any) -> None:
        with lib.Client() as client, client:
            pass

    def after_close(lib: Any) -> None:
        with lib.Client() as client:
            pass
        with client:
            pass

    def send_after_close(lib: Any) -> None:
        with lib.Client(transport=lib.MockTransport(ok)) as client:
            pass
        client.get("http://testserver/")

    for fn in (twice, after_close, send_after_close):
        assert same(fn)[0] == "RuntimeError"


# -- a body of the wrong kind for the client ------------------------------------------------


def test_async_body_with_sync_client_is_httpx_runtime_error() -> None:
    async def chunks() -> Any:
        yield b"data"

    def send(lib: Any) -> None:
        with lib.Client(transport=lib.MockTransport(ok)) as client:
            client.post("http://testserver/", content=chunks())

    assert same(send)[:2] == (
        "RuntimeError",
        "Attempted to send an async request with a sync Client instance.",
    )


def test_sync_body_with_async_client_is_httpx_runtime_error() -> None:
    def chunks() -> Any:
        yield b"data"

    def send(lib: Any) -> None:
        async def main() -> None:
            async with lib.AsyncClient(transport=lib.MockTransport(ok)) as client:
                await client.post("http://testserver/", content=chunks())

        asyncio.run(main())

    assert same(send)[:2] == (
        "RuntimeError",
        "Attempted to send an sync request with an AsyncClient instance.",
    )


# -- response.elapsed -------------------------------------------------------------------------


def elapsed_seen(response: Any) -> str:
    try:
        elapsed = response.elapsed
    except RuntimeError:
        return "unknown"
    assert elapsed == response.elapsed  # the same value on every look
    return f"{type(elapsed).__name__} {elapsed >= datetime.timedelta(0)}"


def streamed(request: Any) -> Any:
    # A body that is not in memory yet: the response closes when the client reads it.
    lib = conch if isinstance(request, conch.Request) else httpx
    return lib.Response(200, content=iter([b"ok"]))


def astreamed(request: Any) -> Any:
    async def body() -> Any:
        yield b"ok"

    lib = conch if isinstance(request, conch.Request) else httpx
    return lib.Response(200, content=body())


def test_elapsed_is_known_once_the_response_is_closed() -> None:
    def send(lib: Any) -> list[str]:
        with lib.Client(transport=lib.MockTransport(streamed)) as client:
            seen = [elapsed_seen(client.get("http://testserver/"))]
            with client.stream("GET", "http://testserver/") as response:
                seen.append(elapsed_seen(response))
                response.read()
                seen.append(elapsed_seen(response))
        return seen

    assert same(send)[:2] == ("ok", repr(["timedelta True", "unknown", "timedelta True"]))


def test_async_elapsed_is_known_once_the_response_is_closed(run: Run[Any]) -> None:
    def send(lib: Any) -> list[str]:
        async def main() -> list[str]:
            async with lib.AsyncClient(transport=lib.MockTransport(astreamed)) as client:
                seen = [elapsed_seen(await client.get("http://testserver/"))]
                async with client.stream("GET", "http://testserver/") as response:
                    seen.append(elapsed_seen(response))
                    await response.aread()
                    seen.append(elapsed_seen(response))
            return seen

        return list(run(main))

    assert same(send)[:2] == ("ok", repr(["timedelta True", "unknown", "timedelta True"]))


# -- deprecation warnings as httpx emits them -----------------------------------------------


def test_per_request_cookies_warn_as_httpx() -> None:
    def send(lib: Any) -> str:
        with lib.Client(transport=lib.MockTransport(ok)) as client:
            return str(client.get("http://testserver/", cookies={"a": "1"}).status_code)

    kind, _, seen = same(send)
    assert kind == "ok"
    assert [category for category, _ in seen] == ["DeprecationWarning"]


def test_per_request_cookies_warning_points_at_the_caller() -> None:
    with (
        conch.Client(transport=conch.MockTransport(ok)) as client,
        pytest.warns(DeprecationWarning, match="per-request cookies") as seen,
    ):
        client.request("GET", "http://testserver/", cookies={"a": "1"})
    assert seen[0].filename == __file__


# -- ASGITransport takes what httpx takes from an app ---------------------------------------


def test_asgi_header_names_and_values_may_be_str(run: Run[Any]) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [("content-type", "text/plain"), (b"x-bytes", "str value")],
            }
        )
        await send({"type": "http.response.body", "body": b"hi"})

    async def main() -> conch.Response:
        transport = conch.ASGITransport(app=app)
        async with conch.AsyncClient(transport=transport) as client:
            return await client.get("http://testserver/")

    response = run(main)
    assert response.headers["content-type"] == "text/plain"
    assert response.headers["x-bytes"] == "str value"
    assert response.text == "hi"


# -- multipart: httpx's type errors and its form encoding of names --------------------------


def multipart_body(lib: Any, **kwargs: Any) -> bytes:
    request = lib.Request("POST", "http://testserver/", **kwargs)
    boundary = request.headers["content-type"].partition("boundary=")[2].encode()
    return bytes(request.read().replace(boundary, b"BOUNDARY"))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": {1: "a"}, "files": {"f": b"x"}},
        {"data": {b"a": "1"}, "files": {"f": b"x"}},
        {"data": {"a": object}, "files": {"f": b"x"}},
        {"data": {"a": 1, "b": 1.5, "c": True, "d": None, "e": b"raw"}, "files": {"f": b"x"}},
        {"data": {"a": ["1", 2]}, "files": {"f": b"x"}},
        {"files": {"f": ('a"b\\c\nd\re%.txt', b"x")}},
        {"files": {"f": ("a\x00b\x1f\x1b\x7f.txt", b"x")}},
        {"files": {'f"\n': ("naïve€.txt", b"x")}},
        {"files": {"f": (None, b"x")}},
        {"files": {"f": ("x.txt", b"x", "text/plain", {"X-A": "1"})}},
        {"files": {"f": ("x.txt", io.StringIO("s"))}},
        {"files": {"f": ("x.txt", io.TextIOWrapper(io.BytesIO(b"s")))}},
        {"files": [("f", ("x.png", b"x")), ("f", ("y.json", b"y"))]},
    ],
)
def test_multipart_as_httpx(kwargs: dict[str, Any]) -> None:
    same(lambda lib: multipart_body(lib, **kwargs))


# -- responses ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [100, 101, 199, 200, 299, 301, 304, 399, 404, 500, 600])
@pytest.mark.parametrize("location", [None, "/elsewhere"])
def test_raise_for_status_messages_as_httpx(status: int, location: str | None) -> None:
    def check(lib: Any) -> int:
        headers = {} if location is None else {"Location": location}
        request = lib.Request("GET", "http://testserver/a?b=c")
        return int(
            lib.Response(status, headers=headers, request=request).raise_for_status().status_code
        )

    same(check)
    same(lambda lib: lib.Response(status).raise_for_status())


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({}, "héllo wörld".encode("latin-1")),
        ({"Content-Type": "text/plain"}, "héllo".encode("cp1252")),
        ({"Content-Type": "text/plain; charset=unknown-thing"}, "héllo".encode("latin-1")),
        ({"Content-Type": "text/plain; charset=utf-8"}, "héllo".encode()),
    ],
)
def test_default_encoding_callable_sees_what_httpx_gives_it(
    headers: dict[str, str], body: bytes
) -> None:
    def decode(lib: Any) -> list[Any]:
        seen: list[bytes] = []

        def detect(content: bytes) -> str:
            seen.append(content)
            return "latin-1"

        def app(request: Any) -> Any:
            return lib.Response(200, headers=headers, content=body)

        with lib.Client(transport=lib.MockTransport(app), default_encoding=detect) as client:
            response = client.get("http://testserver/")
            text, encoding = response.text, response.encoding
        return [text, encoding, seen]

    same(decode)


# -- logging as httpx does it ---------------------------------------------------------------


def test_one_info_line_per_response_as_httpx(caplog: pytest.LogCaptureFixture) -> None:
    def app(request: Any) -> Any:
        lib = conch if isinstance(request, conch.Request) else httpx
        if request.url.path == "/old":
            return lib.Response(301, headers={"Location": "/new?x=1"})
        return lib.Response(404 if request.url.path == "/missing" else 200)

    lines = {}
    for lib in (httpx, conch):
        caplog.clear()
        with (
            caplog.at_level("INFO", logger=lib.__name__),
            lib.Client(transport=lib.MockTransport(app), follow_redirects=True) as client,
        ):
            client.get("http://testserver/old")
            client.post("http://testserver/missing", content=b"x")
        lines[lib.__name__] = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    assert [(level, message) for _, level, message in lines["conch"]] == [
        (level, message) for _, level, message in lines["httpx"]
    ]
    assert {name for name, _, _ in lines["conch"]} == {"conch"}
    assert (
        lines["conch"][0][2]
        == 'HTTP Request: GET http://testserver/old "HTTP/1.1 301 Moved Permanently"'
    )


def test_async_client_logs_the_same_line(run: Run[Any], caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        async with conch.AsyncClient(transport=conch.MockTransport(ok)) as client:
            await client.get("http://testserver/a")

    with caplog.at_level("INFO", logger="conch"):
        run(main)
    assert [r.getMessage() for r in caplog.records] == [
        'HTTP Request: GET http://testserver/a "HTTP/1.1 200 OK"'
    ]


def test_no_log_record_is_made_when_info_is_off(caplog: pytest.LogCaptureFixture) -> None:
    with (
        caplog.at_level("WARNING", logger="conch"),
        conch.Client(transport=conch.MockTransport(ok)) as client,
    ):
        client.get("http://testserver/")
    assert caplog.records == []


def test_the_response_line_follows_logging_changes_between_requests() -> None:
    # The clients read logging's cached answer per response: a handler and level set,
    # logging.disable, or the level reset later must each show on the next request.
    logger = logging.getLogger("conch")
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler = Collect()
    with conch.Client(transport=conch.MockTransport(ok)) as client:
        client.get("http://testserver/off")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        try:
            client.get("http://testserver/on")
            logging.disable(logging.INFO)
            client.get("http://testserver/disabled")
            logging.disable(logging.NOTSET)
            client.get("http://testserver/again")
            logger.setLevel(logging.NOTSET)
            client.get("http://testserver/reset")
        finally:
            logger.removeHandler(handler)
            logger.setLevel(logging.NOTSET)
            logging.disable(logging.NOTSET)
    assert seen == [
        'HTTP Request: GET http://testserver/on "HTTP/1.1 200 OK"',
        'HTTP Request: GET http://testserver/again "HTTP/1.1 200 OK"',
    ]


# -- file:// ----------------------------------------------------------------------------------


def test_file_transport_mounted_as_the_readme_shows(tmp_path: Any, run: Run[Any]) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(b"<p>hi</p>")
    with conch.Client(mounts={"file://": conch.FileTransport()}) as client:
        response = client.get(page.as_uri())
    assert (response.status_code, response.text) == (200, "<p>hi</p>")
    assert response.headers["content-type"] == "text/html"

    async def main() -> conch.Response:
        async with conch.AsyncClient(mounts={"file://": conch.AsyncFileTransport()}) as client:
            return await client.get(page.as_uri())

    assert run(main).headers["content-length"] == "9"


# -- a live http.cookiejar jar ---------------------------------------------------------------


def cookie_app(request: Any) -> Any:
    path = request.url.path
    if path == "/login":
        return conch.Response(
            200,
            headers=[
                ("Set-Cookie", "sid=abc; Path=/; Max-Age=3600"),
                ("Set-Cookie", "theme=dark; Domain=example.com; Path=/"),
                ("Set-Cookie", "evil=1; Domain=com"),  # a public suffix: refused
            ],
        )
    if path == "/logout":
        return conch.Response(200, headers=[("Set-Cookie", "sid=; Max-Age=0; Path=/")])
    return conch.Response(200, text=request.headers.get("cookie", ""))


def test_a_mozilla_cookie_jar_stays_the_clients_jar(tmp_path: Any) -> None:
    import http.cookiejar

    path = str(tmp_path / "cookies.txt")
    jar = http.cookiejar.MozillaCookieJar(path)
    with conch.Client(cookies=jar, transport=conch.MockTransport(cookie_app)) as client:
        client.get("https://www.example.com/login")
        assert sorted(c.name for c in jar) == ["sid", "theme"]  # conch's rules decided
        with pytest.warns(DeprecationWarning, match="per-request cookies"):
            client.get("https://www.example.com/", cookies={"once": "1"})  # per request
        assert sorted(c.name for c in jar) == ["sid", "theme"]
        # (The tests' clock is fixed in 2023: the stdlib's own expiry check would drop them.)
        jar.save(ignore_discard=True, ignore_expires=True)

    reloaded = http.cookiejar.MozillaCookieJar(path)
    reloaded.load(ignore_discard=True, ignore_expires=True)
    with conch.Client(cookies=reloaded, transport=conch.MockTransport(cookie_app)) as client:
        assert client.get("https://www.example.com/").text == "sid=abc; theme=dark"
        client.get("https://www.example.com/logout")
    assert [c.name for c in reloaded] == ["theme"]


def test_cookies_loaded_into_the_jar_later_are_sent(tmp_path: Any) -> None:
    import http.cookiejar

    saved = http.cookiejar.MozillaCookieJar(str(tmp_path / "c.txt"))
    token = conch.Cookies()
    token.set("token", "t1", domain="www.example.com")
    saved.set_cookie(next(iter(token.jar)))
    saved.save(ignore_discard=True)

    jar = http.cookiejar.MozillaCookieJar(str(tmp_path / "c.txt"))
    with conch.Client(cookies=jar, transport=conch.MockTransport(cookie_app)) as client:
        assert client.get("https://www.example.com/").text == ""
        jar.load(ignore_discard=True)
        assert client.get("https://www.example.com/").text == "token=t1"
        jar.clear()
        assert client.get("https://www.example.com/").text == ""


def test_patching_os_urandom_gives_repeatable_boundaries_as_with_httpx(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    import sansio.env

    saved = sansio.env.current()
    sansio.env.install(sansio.env.Env())  # the shells' defaults, not the tests' fixed source
    try:
        import io_common.world

        io_common.world.install()
        monkeypatch.setattr(os, "urandom", lambda size: b"\x01" * size)
        for lib in (httpx, conch):
            request = lib.Request("POST", "http://testserver/", files={"f": b"x"})
            boundary = request.headers["content-type"].partition("boundary=")[2]
            assert boundary == "01" * 16, lib
    finally:
        sansio.env.install(saved)


@pytest.mark.parametrize("data", [b"raw", "text"])
def test_raw_data_warns_as_httpx(data: Any) -> None:
    kind, _, seen = same(lambda lib: lib.Request("POST", "http://testserver/", data=data).read())
    assert kind == "ok"
    assert seen == [("DeprecationWarning", "Use 'content=<...>' to upload raw bytes/text content.")]


# -- private attributes libraries built on httpx read -------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://foo.bar",
        "https://foo.bar/",
        "https://u:p@foo.bar:8080/a%20b?q=1#f",
        "/relative?x",
        "",
        "http://[::1]:8000/",
        "http://müller.de/ä?ü#ö",
        "https://foo.bar:443/",
        "HTTP://Foo.Bar/%7e",
    ],
)
def test_uri_reference_as_httpx(url: str) -> None:
    def parts(lib: Any) -> tuple[Any, ...]:
        ref = lib.URL(url)._uri_reference
        fields = ("scheme", "userinfo", "host", "port", "path", "query", "fragment")
        return (*(getattr(ref, f) for f in fields), ref.authority, ref.netloc, str(ref))

    same(parts)


@pytest.mark.parametrize("kind", ["request", "response"])
def test_content_attribute_as_httpx(kind: str) -> None:
    # A mocking plugin tests for `_content` and deletes it to make the body readable again.
    def play(lib: Any) -> list[Any]:
        if kind == "request":
            message = lib.Request("POST", "http://testserver/", content=iter([b"a", b"b"]))
        else:
            message = lib.Response(200, content=iter([b"a", b"b"]))
        seen = [hasattr(message, "_content")]
        seen.append(message.read())
        seen.append(message._content)
        if kind == "response":
            message.is_stream_consumed = False
            message.is_closed = False
            message.stream = lib.ByteStream(b"again")
        del message._content
        seen.append(hasattr(message, "_content"))
        seen.append(message.read())
        message._content = b"set"
        seen.append(message.read())
        return seen

    same(play)


@pytest.mark.parametrize("empty", ["", b"", (), [], {}])
def test_empty_header_inputs_as_httpx(empty: Any) -> None:
    same(lambda lib: list(lib.Headers(empty).items()))
    same(lambda lib: list(lib.Request("GET", "http://testserver/", headers=empty).headers.items()))


# -- errors name their request; max_decoded_size=None means no limit -------------------------


@pytest.mark.parametrize("error", ["ReadTimeout", "ConnectError", "RemoteProtocolError"])
def test_transport_errors_carry_the_request_as_httpx(error: str) -> None:
    def send(lib: Any) -> str:
        def app(request: Any) -> Any:
            raise getattr(lib, error)("boom")

        with lib.Client(transport=lib.MockTransport(app)) as client:
            try:
                client.get("http://testserver/path")
            except lib.TransportError as exc:
                return f"{exc.request.method} {exc.request.url}"
        return "no error"

    assert same(send)[:2] == ("ok", "'GET http://testserver/path'")


def test_async_transport_errors_carry_the_request(run: Run[Any]) -> None:
    def app(request: Any) -> Any:
        raise conch.WriteError("boom")

    async def main() -> conch.Request:
        async with conch.AsyncClient(transport=conch.MockTransport(app)) as client:
            try:
                await client.post("http://testserver/", content=b"x")
            except conch.WriteError as exc:
                return exc.request
        raise AssertionError("no error")

    assert run(main).method == "POST"


@pytest.mark.parametrize(
    ("given", "limit"),
    [({}, 256 * 1024 * 1024), ({"max_decoded_size": None}, None), ({"max_decoded_size": 7}, 7)],
)
def test_client_max_decoded_size_reaches_responses(
    given: dict[str, Any], limit: int | None
) -> None:
    with (
        conch.Client(transport=conch.MockTransport(ok), **given) as client,
        client.stream("GET", "http://testserver/") as response,
    ):
        assert response.max_decoded_size == limit


def test_uri_reference_of_more_urls_as_httpx() -> None:
    def parts(lib: Any) -> list[tuple[object, ...]]:
        found = []
        for url in (
            "http://us%40er:pw@[::1]:8080/p%20q?a=1#f",
            "https://example.com",
            "/relative?x",
            "mailto:someone@example.org",
        ):
            ref = lib.URL(url)._uri_reference
            found.append((str(ref), ref.authority, ref.netloc, ref.path, ref.query, ref.fragment))
        return found

    assert same(parts)[0] == "ok"


def test_content_attribute_set_and_deleted_as_httpx() -> None:
    # Mocking libraries test for `_content`, delete it to read again, or set it.
    def seen(lib: Any) -> list[object]:
        response = lib.Response(200, content=iter([b"ab"]))
        found: list[object] = [hasattr(response, "_content"), response.read()]
        found.append(response._content)
        del response._content
        found.append(hasattr(response, "_content"))
        response._content = b"zz"
        found.append(response.content)
        request = lib.Request("POST", "http://example.com/", content=iter([b"x"]))
        found += [hasattr(request, "_content"), request.read(), request._content]
        del request._content
        found.append(hasattr(request, "_content"))
        request._content = b"y"
        found.append(request.content)
        return found

    assert same(seen)[:2] == (
        "ok",
        repr([False, b"ab", b"ab", False, b"zz", False, b"x", b"x", False, b"y"]),
    )


def test_empty_string_headers_as_httpx() -> None:
    assert same(lambda lib: (len(lib.Headers("")), lib.Headers("") == {}))[:2] == (
        "ok",
        "(0, True)",
    )


@pytest.mark.parametrize(
    "make",
    ["Client", "AsyncClient", "HTTPTransport", "AsyncHTTPTransport"],
)
@pytest.mark.parametrize("given", ["verify", "cert", "both"])
def test_verify_str_and_cert_warn_as_httpx(tmp_path: Any, make: str, given: str) -> None:
    # httpx warns (DeprecationWarning, its own words) when the transport builds its SSL
    # context, for the clients and the transports alike (verify=<str> alone when both).
    import trustme

    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert_file = tmp_path / "client.pem"
    ca.issue_cert("client@example.org").private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    kwargs: dict[str, Any] = {}
    if given != "cert":
        kwargs["verify"] = str(ca_file)
    if given != "verify":
        kwargs["cert"] = str(cert_file)

    def build(lib: ModuleType) -> None:
        made = getattr(lib, make)(**kwargs)
        if hasattr(made, "close"):
            made.close()

    _, _, seen = same(build)
    assert [category for category, _ in seen] == ["DeprecationWarning"]
