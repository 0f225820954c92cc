"""`conch.alias_httpx`: programs and libraries written for httpx, run on conch unchanged.

The alias changes ``sys.modules`` for the whole process, and this test process has the
real httpx loaded (other tests compare against it), so each case runs in a fresh
interpreter: the way a user turns the alias on (``import conch.httpx_alias`` first, or
``pytest -p conch.httpx_alias``), then the library's own API, used as its documentation
shows. The libraries (starlette, respx, pytest-httpx, httpx-sse) are real, installed
from the package index by the test extra.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import conch

ROOT = Path(__file__).resolve().parent.parent


def run(code: str, *args: str, cwd: Path = ROOT) -> str:
    """Run ``code`` (or, with ``args``, ``python -m ...``) in a fresh interpreter that
    imports this checkout's conch; return its output, failing on a non-zero exit."""
    command = [sys.executable, *args] if args else [sys.executable, "-c", textwrap.dedent(code)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_httpx_and_httpx2_are_conch_with_its_private_modules() -> None:
    out = run(
        """
        import conch.httpx_alias
        import conch, httpx, httpx2
        assert httpx is conch and httpx2 is conch
        # Attribute access with no import, as frameworks write default arguments.
        assert httpx._client.USE_CLIENT_DEFAULT is conch.USE_CLIENT_DEFAULT
        import httpx._client, httpx._transports.default, httpx2._content
        from httpx._types import HeaderTypes
        from httpx._config import DEFAULT_TIMEOUT_CONFIG
        assert httpx._client is conch._client and httpx2._content is conch._content
        assert httpx._client.Client is conch.Client
        assert httpx._transports.default.HTTPTransport is conch.HTTPTransport
        assert DEFAULT_TIMEOUT_CONFIG == conch.Timeout(5.0)
        try:
            import httpx._no_such_module
        except ModuleNotFoundError as exc:
            print("missing:", exc.name)
        conch.alias_httpx()  # idempotent
        print("ok")
        """
    )
    assert out.splitlines() == ["missing: conch._no_such_module", "ok"]


def test_alias_refuses_once_the_real_httpx_is_loaded() -> None:
    out = run(
        """
        import httpx
        import conch
        try:
            conch.alias_httpx()
        except RuntimeError as exc:
            print("refused:", "before conch.alias_httpx()" in str(exc))
        """
    )
    assert out == "refused: True\n"


def test_private_modules_hold_conchs_own_objects() -> None:
    assert conch._client.Client is conch.Client
    assert conch._client.AsyncClient is conch.AsyncClient
    assert conch._models.Response is conch.Response
    assert conch._urls.URL is conch.URL
    assert conch._exceptions.ReadTimeout is conch.ReadTimeout
    assert conch._transports.mock.MockTransport is conch.MockTransport
    assert conch._transports.asgi.ASGITransport is conch.ASGITransport
    assert conch._transports.wsgi.WSGITransport is conch.WSGITransport
    assert conch._content.ByteStream is conch.ByteStream
    assert conch._api.get is conch.get
    assert conch._status_codes.codes is conch.codes
    with pytest.raises(AttributeError, match="_nope"):
        conch._nope  # noqa: B018


def test_iterator_streams_combine_as_a_mocking_plugin_derives_them() -> None:
    # pytest-httpx derives one stream class from both, and calls both __init__s.
    from conch._content import AsyncIteratorByteStream, IteratorByteStream

    class Chunks:
        def __iter__(self):  # type: ignore[no-untyped-def]
            yield from (b"a", b"b")

        async def __aiter__(self):  # type: ignore[no-untyped-def]
            for chunk in (b"a", b"b"):
                yield chunk

    class Both(AsyncIteratorByteStream, IteratorByteStream):
        def __init__(self) -> None:
            AsyncIteratorByteStream.__init__(self, stream=Chunks())  # type: ignore[arg-type]
            IteratorByteStream.__init__(self, stream=Chunks())

    stream = Both()
    assert b"".join(stream) == b"ab" == b"".join(stream)  # re-iterable

    async def collect() -> bytes:
        return b"".join([chunk async for chunk in stream])

    import asyncio

    assert asyncio.run(collect()) == b"ab"


def test_starlette_test_client() -> None:
    out = run(
        """
        import conch.httpx_alias
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse
        from starlette.responses import StreamingResponse
        from starlette.routing import Route
        from starlette.testclient import TestClient

        async def home(request):
            response = JSONResponse({"q": request.query_params.get("q"),
                                     "cookie": request.cookies.get("sid")})
            response.set_cookie("sid", "abc")
            return response

        async def form(request):
            data = await request.form()
            return PlainTextResponse(f"{data['a']}:{(await data['f'].read()).decode()}")

        async def chunks(request):
            async def body():
                for part in (b"one ", b"two"):
                    yield part
            return StreamingResponse(body())

        app = Starlette(routes=[
            Route("/", home),
            Route("/form", form, methods=["POST"]),
            Route("/old", lambda request: RedirectResponse("/?q=moved")),
            Route("/chunks", chunks),
        ])
        with TestClient(app) as client:
            print(client.get("/", params={"q": "1"}).json())
            print(client.get("/").json())  # the cookie came back (host "testserver")
            print(client.get("/old").json())
            print(client.get("/old", follow_redirects=False).status_code)
            print(client.post("/form", data={"a": "x"}, files={"f": ("f.txt", b"y")}).text)
            with client.stream("GET", "/chunks") as response:
                print(b"".join(response.iter_bytes()))
        """
    )
    assert out.splitlines() == [
        "{'q': '1', 'cookie': None}",
        "{'q': None, 'cookie': 'abc'}",
        "{'q': 'moved', 'cookie': 'abc'}",
        "307",
        "x:y",
        "b'one two'",
    ]


def test_respx_with_its_httpx_mocker() -> None:
    # respx's default mocker patches httpcore, which conch does not use; its "httpx"
    # mocker patches Client._transport_for_url, which conch has.
    out = run(
        """
        import conch.httpx_alias
        import asyncio
        import httpx, respx, respx.mocks

        with respx.mock(using="httpx", base_url="https://api.example.com") as router:
            route = router.get("/users/1").respond(200, json={"id": 1})
            print(httpx.get("https://api.example.com/users/1").json(), route.call_count)

            async def main():
                async with httpx.AsyncClient() as client:
                    return (await client.get("https://api.example.com/users/1")).json()

            print(asyncio.run(main()), route.call_count)

        respx.mocks.DEFAULT_MOCKER = "httpx"  # once, e.g. in conftest.py

        @respx.mock
        def created():
            respx.post("https://x.example/items").respond(201, text="made")
            response = httpx.post("https://x.example/items", json={"a": 1})
            return response.status_code, response.text, respx.calls.last.request.content

        print(created())
        """
    )
    assert out.splitlines() == [
        "{'id': 1} 1",
        "{'id': 1} 2",
        "(201, 'made', b'{\"a\":1}')",
    ]


def test_pytest_httpx_fixture(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_uses_httpx_mock.py").write_text(
        textwrap.dedent(
            """
            import httpx
            import pytest


            def test_sync(httpx_mock):
                httpx_mock.add_response(url="https://test.example/a", json={"ok": True})
                with httpx.Client() as client:
                    assert client.get("https://test.example/a").json() == {"ok": True}
                assert httpx_mock.get_request().url == "https://test.example/a"


            @pytest.mark.anyio
            async def test_async(httpx_mock):
                httpx_mock.add_response(method="POST", match_json={"a": 1}, status_code=201)
                async with httpx.AsyncClient() as client:
                    response = await client.post("https://test.example/b", json={"a": 1})
                assert response.status_code == 201


            def test_unexpected_request_is_a_timeout(httpx_mock):
                with pytest.raises(httpx.TimeoutException):
                    httpx.get("https://test.example/none")
                httpx_mock.reset()


            @pytest.fixture
            def anyio_backend():
                return "asyncio"
            """
        )
    )
    out = run(
        "",
        "-m",
        "pytest",
        "-q",
        "-p",
        "conch.httpx_alias",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:respx",
        str(tmp_path),
        cwd=tmp_path,
    )
    assert "3 passed" in out


def test_httpx_sse() -> None:
    out = run(
        """
        import conch.httpx_alias
        import httpx
        from httpx_sse import connect_sse

        def app(request):
            body = b"event: greet\\ndata: hello\\n\\ndata: {\\"n\\": 2}\\n\\n"
            return httpx.Response(200, headers={"content-type": "text/event-stream"},
                                  content=body)

        with httpx.Client(transport=httpx.MockTransport(app)) as client:
            with connect_sse(client, "GET", "http://sse.example/") as source:
                for event in source.iter_sse():
                    print(event.event, event.data)
        """
    )
    assert out.splitlines() == ["greet hello", 'message {"n": 2}']


def test_logging_under_the_alias_goes_to_the_httpx_logger() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import conch.httpx_alias, logging, httpx\n"
            "logging.basicConfig(format='%(name)s|%(message)s', level=logging.INFO)\n"
            "t = httpx.MockTransport(lambda r: httpx.Response(204))\n"
            "httpx.Client(transport=t).delete('http://testserver/item')\n",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert (
        result.stderr
        == 'httpx|HTTP Request: DELETE http://testserver/item "HTTP/1.1 204 No Content"\n'
    )


def test_user_agent_under_the_alias_is_httpxs_rule() -> None:
    out = run(
        """
        import conch.httpx_alias
        import httpx
        print(httpx.Client().headers["user-agent"] == f"python-httpx/{httpx.__version__}")
        """
    )
    assert out == "True\n"


def test_tracebacks_name_httpxs_exceptions_under_the_alias() -> None:
    # pytest-httpx's own suite matches "*httpx.TimeoutException: ..." in pytest's output.
    out = run(
        """
        import conch.httpx_alias
        import traceback
        import httpx
        try:
            httpx.get("http://127.0.0.1:1/", timeout=5)
        except httpx.ConnectError:
            print(traceback.format_exc().splitlines()[-1].split(":")[0])
        print(httpx.TimeoutException.__module__, httpx.HTTPStatusError.__module__)
        """
    )
    assert out == "httpx.ConnectError\nhttpx httpx\n"
