"""Client settings and their merge with per-request arguments (what both shells share)."""

from __future__ import annotations

import logging
import sys
from importlib.util import find_spec
from typing import Any

import pytest

from sansio import client as client_module
from sansio._version import __version__
from sansio.auth import Auth, BasicAuth, FunctionAuth, basic_auth_header
from sansio.client import (
    ACCEPT_ENCODING,
    USER_AGENT,
    BaseClient,
    ClientState,
    build_auth,
    resolve_follow_redirects,
)
from sansio.config import DEFAULT_MAX_REDIRECTS, USE_CLIENT_DEFAULT, Timeout
from sansio.cookies import CookieJar, Cookies
from sansio.exceptions import LocalProtocolError
from sansio.models import Request
from sansio.urls import URL


def send_options(client: BaseClient, request: Request, **kwargs: Any) -> Any:
    settings: dict[str, Any] = {
        "stream": False,
        "auth": USE_CLIENT_DEFAULT,
        "follow_redirects": USE_CLIENT_DEFAULT,
    }
    settings.update(kwargs)
    return client._send_options(request, **settings)


# -- headers -------------------------------------------------------------------------------


def test_default_headers() -> None:
    request = BaseClient().build_request("GET", "https://example.com/")
    assert request.headers.multi_items() == [
        ("host", "example.com"),
        ("accept", "*/*"),
        ("accept-encoding", ACCEPT_ENCODING),
        ("connection", "keep-alive"),
        ("user-agent", f"python-conch/{__version__}"),
    ]
    assert f"python-conch/{__version__}" == USER_AGENT


def test_accept_encoding_lists_only_installed_decoders() -> None:
    expected = ["gzip", "deflate"]
    if find_spec("brotli") or find_spec("brotlicffi"):
        expected.append("br")
    if find_spec("zstandard"):
        expected.append("zstd")
    assert ACCEPT_ENCODING.split(", ") == expected


def test_client_and_request_headers_merge_case_insensitively() -> None:
    client = BaseClient(headers={"user-agent": "mine/1", "X-Client": "c"})
    assert client.headers["User-Agent"] == "mine/1"
    request = client.build_request(
        "GET", "https://example.com/", headers={"x-client": "r", "X-Request": "q"}
    )
    assert request.headers["user-agent"] == "mine/1"
    assert request.headers.get_list("x-client") == ["r"]
    assert request.headers["x-request"] == "q"
    assert "x-request" not in client.headers  # the client's headers are left alone


def test_a_request_never_changes_the_client_headers() -> None:
    client = BaseClient(headers={"X-Client": "c"})
    before = client.headers.multi_items()
    request = client.build_request("GET", "https://example.com/")
    request.headers["X-Client"] = "changed"
    request.headers["X-More"] = "m"
    assert request.headers["host"] == "example.com"
    assert client.headers.multi_items() == before


def state(request: Request) -> dict[str, Any]:
    """What a request holds, its headers as their entries."""
    found = dict(vars(request))
    found["headers"] = (request.headers._list, request.headers._encoding)
    return found


def test_a_request_built_again_holds_what_the_first_one_held() -> None:
    # The second body-less request from the same headers reuses the first one's header
    # entries (`build_request`'s last head): it must be the request __init__ builds.
    client = BaseClient(headers={"X-Client": "c"})
    first = client.build_request("GET", "https://example.com/a")
    again = client.build_request("get", "https://example.com/b", extensions={"x": 1})
    built = Request(
        "GET",
        "https://example.com/b",
        headers=client.headers,
        extensions={"x": 1, "timeout": client.timeout.as_dict()},
    )
    assert state(again) == state(built)
    assert state(first)["headers"] == state(again)["headers"]
    assert again.headers._list is not first.headers._list
    assert type(again) is Request


def header_items(client: BaseClient, method: str = "GET", url: str = "http://a.test/") -> Any:
    return client.build_request(method, url).headers.multi_items()


def test_a_request_sees_every_change_to_the_client_headers_since_the_last() -> None:
    client = BaseClient(headers={"X-Client": "c"})
    header_items(client)
    client.headers["X-Client"] = "changed"  # in place
    assert ("x-client", "changed") in header_items(client)
    del client.headers["User-Agent"]
    client.headers.update({"X-Two": "2"})
    items = header_items(client)
    assert "user-agent" not in dict(items)
    assert items[-1] == ("x-two", "2")
    client.headers = {"Accept": "text/plain"}  # replaced
    assert ("accept", "text/plain") in header_items(client)
    assert ("x-client", "changed") not in header_items(client)


def test_a_request_has_its_own_host_method_and_headers_not_the_last_ones() -> None:
    client = BaseClient()
    for _ in range(3):  # the first built afresh, the others from the last head
        request = client.build_request("GET", "http://a.test/")
        assert "x-mine" not in request.headers
        assert request.headers["accept"] == "*/*"
        request.headers["X-Mine"] = "this request's only"
        del request.headers["Accept"]
    assert header_items(client, url="http://b.test/")[0] == ("host", "b.test")
    assert header_items(client, url="http://b.test:8080/")[0] == ("host", "b.test:8080")
    assert header_items(client, url="http://b.test:80/")[0] == ("host", "b.test")
    posted = header_items(client, "POST", url="http://b.test/")
    assert posted[:2] == [("host", "b.test"), ("content-length", "0")]
    assert "content-length" not in dict(header_items(client, url="http://b.test/"))
    assert client.build_request("HEAD", "http://b.test/").method == "HEAD"
    client.cookies.set("k", "v", domain="b.test")
    assert header_items(client, url="http://b.test/")[-1] == ("cookie", "k=v")


def test_headers_can_be_replaced() -> None:
    client = BaseClient()
    client.headers = {"Accept": "application/json"}
    assert client.headers["accept"] == "application/json"
    assert client.headers["connection"] == "keep-alive"


@pytest.mark.parametrize("bad", ["\x0b", "\x1b", "\x01", "\x7f"])
def test_client_headers_with_control_characters_are_refused(bad: str) -> None:
    with pytest.raises(LocalProtocolError, match=r"^header 'X-Default' value contains"):
        BaseClient(headers={"X-Default": f"a{bad}b"})
    client = BaseClient()
    before = client.headers.raw
    with pytest.raises(LocalProtocolError, match=r"^header 'X-Default' value contains"):
        client.headers = {"X-Default": f"a{bad}b"}
    with pytest.raises(LocalProtocolError, match=r"^header 'X-Default' value contains"):
        client.headers["X-Default"] = f"a{bad}b"
    with pytest.raises(LocalProtocolError, match=r"^header 'X-Call' value contains"):
        client.build_request("GET", "https://example.com/", headers={"X-Call": bad})
    assert client.headers.raw == before


# -- URLs and params -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://example.com", "https://example.com"),
        ("https://example.com/", "https://example.com/"),
        ("https://example.com/api", "https://example.com/api/"),
        ("https://example.com/api/", "https://example.com/api/"),
        ("", ""),
    ],
)
def test_base_url_always_ends_with_a_slash(base_url: str, expected: str) -> None:
    client = BaseClient(base_url=base_url)
    assert str(client.base_url) == expected
    assert client.base_url.raw_path.endswith(b"/")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("users", "https://example.com/api/users"),
        ("/users", "https://example.com/api/users"),
        ("users/1?full=1", "https://example.com/api/users/1?full=1"),
        ("", "https://example.com/api/"),
        ("https://other.example/x", "https://other.example/x"),
    ],
)
def test_relative_urls_are_appended_to_the_base_path(url: str, expected: str) -> None:
    client = BaseClient(base_url=URL("https://example.com/api"))
    assert str(client.build_request("GET", url).url) == expected


def test_without_a_base_url_urls_are_taken_as_given() -> None:
    assert str(BaseClient().build_request("GET", URL("https://a.example/b")).url) == (
        "https://a.example/b"
    )


def test_params_merge_with_the_url_query() -> None:
    client = BaseClient(params={"client": "1", "shared": "client"})
    request = client.build_request(
        "GET", "https://example.com/?own=0", params={"shared": "request", "req": "2"}
    )
    assert request.url.params.multi_items() == [
        ("own", "0"),
        ("client", "1"),
        ("shared", "request"),
        ("req", "2"),
    ]
    assert dict(client.params) == {"client": "1", "shared": "client"}


def test_params_from_the_request_alone() -> None:
    request = BaseClient().build_request("GET", "https://example.com/?a=1", params="b=2")
    assert str(request.url) == "https://example.com/?a=1&b=2"


def test_no_params_leave_the_url_alone() -> None:
    request = BaseClient().build_request("GET", "https://example.com/p?x=1", params={})
    assert str(request.url) == "https://example.com/p?x=1"


# -- cookies ---------------------------------------------------------------------------


def test_client_cookies_are_sent() -> None:
    client = BaseClient(cookies={"session": "abc"})
    request = client.build_request("GET", "https://example.com/")
    assert request.headers["cookie"] == "session=abc"


def test_request_cookies_merge_over_client_cookies_without_changing_them() -> None:
    client = BaseClient(cookies={"session": "abc", "theme": "dark"})
    request = client.build_request(
        "GET", "https://example.com/", cookies={"theme": "light", "extra": "1"}
    )
    assert request.headers["cookie"] == "session=abc; theme=light; extra=1"
    assert dict(client.cookies) == {"session": "abc", "theme": "dark"}


def test_request_cookies_alone() -> None:
    request = BaseClient().build_request("GET", "https://example.com/", cookies=[("a", "1")])
    assert request.headers["cookie"] == "a=1"


def test_no_cookies_no_header() -> None:
    assert "cookie" not in BaseClient().build_request("GET", "https://example.com/").headers


def test_the_jar_is_asked_for_its_length_only_when_it_mirrors_a_stdlib_jar(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import http.cookiejar

    lengths: list[int] = []
    real_len = CookieJar.__len__

    def counted(jar: CookieJar) -> int:
        lengths.append(1)
        return real_len(jar)

    monkeypatch.setattr(CookieJar, "__len__", counted)
    client = BaseClient()
    assert "cookie" not in client.build_request("GET", "https://example.com/").headers
    assert lengths == []  # no Python call per request without a mirror
    client.cookies.set("a", "1", domain="example.com")
    assert client.build_request("GET", "https://example.com/").headers["cookie"] == "a=1"
    # A cookie set through a mirrored stdlib jar after the client was made still counts.
    stdlib = http.cookiejar.CookieJar()
    client = BaseClient(cookies=stdlib)
    assert "cookie" not in client.build_request("GET", "https://example.com/").headers
    stdlib.set_cookie(next(iter(Cookies({"b": "2"}).jar)))
    assert client.build_request("GET", "https://example.com/").headers["cookie"] == "b=2"
    stdlib.clear()
    assert "cookie" not in client.build_request("GET", "https://example.com/").headers
    assert lengths


def test_the_cookie_jar_is_shared_with_the_flow() -> None:
    client = BaseClient()
    jar = Cookies({"a": "1"})
    client.cookies = jar
    assert dict(client.cookies) == {"a": "1"}
    options = send_options(client, Request("GET", "https://example.com/"))
    assert options.cookies is client.cookies


# -- auth ------------------------------------------------------------------------------


def test_build_auth_accepts_the_httpx_forms() -> None:
    assert build_auth(None) is None
    basic = build_auth(("user", "pass"))
    assert isinstance(basic, BasicAuth)
    custom = Auth()
    assert build_auth(custom) is custom

    def sign(request: Request) -> Request:
        return request

    assert isinstance(build_auth(sign), FunctionAuth)


@pytest.mark.parametrize("bad", [("only-user",), ("a", "b", "c"), "user:pass", 42])
def test_build_auth_rejects_other_values(bad: Any) -> None:
    with pytest.raises(TypeError):
        build_auth(bad)


def authorization(auth: Auth | None, request: Request) -> str | None:
    assert auth is not None
    flow = auth.auth_flow(request)
    value: str | None = next(flow).headers.get("authorization")
    return value


def test_client_auth_per_request_auth_and_none() -> None:
    client = BaseClient(auth=("client", "pw"))
    assert isinstance(client.auth, BasicAuth)
    request = Request("GET", "https://example.com/")
    options = send_options(client, request)
    assert options.auth is client.auth
    options = send_options(client, request, auth=("req", "pw"))
    assert authorization(options.auth, request) == basic_auth_header("req", "pw")
    assert send_options(client, request, auth=None).auth is None


def test_url_userinfo_becomes_basic_auth_when_no_other_auth_is_set() -> None:
    request = BaseClient().build_request("GET", "https://us%40er:p%3Ass@example.com/")
    options = send_options(BaseClient(), request)
    assert authorization(options.auth, request) == basic_auth_header("us@er", "p:ss")
    # Only a username is enough; any configured auth wins over the URL.
    only_user = Request("GET", "https://user@example.com/")
    assert authorization(send_options(BaseClient(), only_user).auth, only_user) == (
        basic_auth_header("user", "")
    )
    client = BaseClient(auth=("client", "pw"))
    assert send_options(client, request).auth is client.auth
    assert send_options(BaseClient(), Request("GET", "https://example.com/")).auth is None
    # An empty username and password, as with httpx, is no auth at all.
    empty = Request("GET", "https://:@example.com/")
    assert empty.url.userinfo == b":"
    assert send_options(BaseClient(), empty).auth is None


# -- timeout and extensions ---------------------------------------------------------------


def test_timeout_goes_into_the_extensions() -> None:
    client = BaseClient()
    assert client.timeout == Timeout(5.0)
    request = client.build_request("GET", "https://example.com/")
    assert request.extensions == {"timeout": Timeout(5.0).as_dict()}
    request = client.build_request("GET", "https://example.com/", timeout=None)
    assert request.extensions["timeout"] == Timeout(None).as_dict()
    request = client.build_request("GET", "https://example.com/", timeout=(1.0, 2.0, 3.0, 4.0))
    assert request.extensions["timeout"] == {"connect": 1.0, "read": 2.0, "write": 3.0, "pool": 4.0}
    client.timeout = Timeout(1.0, connect=0.5)
    request = client.build_request("GET", "https://example.com/", timeout=USE_CLIENT_DEFAULT)
    assert request.extensions["timeout"] == {"connect": 0.5, "read": 1.0, "write": 1.0, "pool": 1.0}


def test_the_timeout_extension_follows_a_timeout_changed_in_place() -> None:
    expected = [Timeout(5.0).as_dict(), Timeout(1.0, total=9.0).as_dict()]
    client = BaseClient()
    first = client.build_request("GET", "https://example.com/").extensions["timeout"]
    assert first == expected[0]
    second = client.build_request("GET", "https://example.com/").extensions["timeout"]
    assert second == first
    assert second is not first  # each request its own dict
    client.timeout.connect = client.timeout.read = 1.0
    client.timeout.write = client.timeout.pool = 1.0
    client.timeout.total = 9.0
    changed = client.build_request("GET", "https://example.com/").extensions["timeout"]
    assert changed == expected[1]
    request = client.build_request("GET", "https://example.com/", timeout=Timeout(1.0, total=9.0))
    assert request.extensions["timeout"] == expected[1]
    client.timeout.total = None
    assert client.build_request("GET", "https://example.com/").extensions["timeout"] == {
        "connect": 1.0,
        "read": 1.0,
        "write": 1.0,
        "pool": 1.0,
    }


def test_an_explicit_timeout_extension_wins() -> None:
    request = BaseClient().build_request(
        "GET",
        "https://example.com/",
        timeout=9.0,
        extensions={"timeout": {"read": 1.0}, "trace": print},
    )
    assert request.extensions == {"timeout": {"read": 1.0}, "trace": print}


def test_bodies_are_encoded() -> None:
    request = BaseClient().build_request("POST", "https://example.com/", json={"a": 1})
    assert request.content == b'{"a":1}'
    assert request.headers["content-type"] == "application/json"
    request = BaseClient().build_request("POST", "https://example.com/", data={"a": "1"})
    assert request.content == b"a=1"
    request = BaseClient().build_request("PUT", "https://example.com/", content=b"raw")
    assert request.content == b"raw"
    request = BaseClient().build_request(
        "POST", "https://example.com/", files={"f": ("f.txt", b"x", "text/plain")}
    )
    assert b'filename="f.txt"' in request.read()


# -- redirects and the send options --------------------------------------------------------


def test_send_options_carry_the_client_settings() -> None:
    def hook(value: object) -> None: ...

    client = BaseClient(
        follow_redirects=True,
        max_redirects=3,
        event_hooks={"request": [hook], "response": [hook, hook]},
        default_encoding="latin-1",
        max_decoded_size=10,
    )
    options = send_options(client, Request("GET", "https://example.com/"), stream=True)
    assert options.follow_redirects is True
    assert options.max_redirects == 3
    assert options.stream is True
    assert options.request_hooks == (hook,)
    assert options.response_hooks == (hook, hook)
    assert options.default_encoding == "latin-1"
    assert options.max_decoded_size == 10
    assert options.auth is None
    options = send_options(client, Request("GET", "https://example.com/"), follow_redirects=False)
    assert options.follow_redirects is False


def test_send_options_follow_every_change_to_the_client_settings() -> None:
    # A send reuses the last one's options when nothing changed; every change shows.
    def hook(value: object) -> None: ...

    def other(value: object) -> None: ...

    client = BaseClient()
    request = Request("GET", "https://example.com/")
    first = send_options(client, request)
    assert send_options(client, request) is first
    client.event_hooks["request"].append(hook)  # in place
    assert send_options(client, request).request_hooks == (hook,)
    client.event_hooks["response"].append(other)
    assert send_options(client, request).response_hooks == (other,)
    client.event_hooks["request"][0] = other
    assert send_options(client, request).request_hooks == (other,)
    client.event_hooks["informational"] = [hook]  # a name added to the dict in place
    assert send_options(client, request).informational_hooks == (hook,)
    client.event_hooks = {}
    assert send_options(client, request).response_hooks == ()
    client.follow_redirects = True
    assert send_options(client, request).follow_redirects is True
    assert send_options(client, request, follow_redirects=False).follow_redirects is False
    assert send_options(client, request, stream=True).stream is True
    assert send_options(client, request).stream is False
    client.max_redirects = 2
    assert send_options(client, request).max_redirects == 2
    client.max_decoded_size = 5
    assert send_options(client, request).max_decoded_size == 5
    client.cookies = {"a": "b"}
    assert send_options(client, request).cookies is client.cookies
    client._default_encoding = "latin-1"
    assert send_options(client, request).default_encoding == "latin-1"
    client.auth = ("user", "pass")
    assert send_options(client, request).auth is client.auth
    assert send_options(client, request, auth=None).auth is None


def test_defaults() -> None:
    client = BaseClient()
    assert client.follow_redirects is False
    assert client.max_redirects == DEFAULT_MAX_REDIRECTS
    assert client.trust_env is True
    assert BaseClient(trust_env=False).trust_env is False
    assert client.event_hooks == {"request": [], "response": []}
    assert not client.is_closed


@pytest.mark.parametrize(
    ("follow", "allow", "expected"),
    [
        (USE_CLIENT_DEFAULT, None, USE_CLIENT_DEFAULT),
        (True, None, True),
        (False, None, False),
        (USE_CLIENT_DEFAULT, True, True),
        (USE_CLIENT_DEFAULT, False, False),
        (True, True, True),
        (False, False, False),
    ],
)
def test_allow_redirects_is_an_alias(follow: Any, allow: bool | None, expected: Any) -> None:
    assert resolve_follow_redirects(follow, allow) is expected


@pytest.mark.parametrize(("follow", "allow"), [(True, False), (False, True)])
def test_allow_redirects_may_not_contradict_follow_redirects(follow: bool, allow: bool) -> None:
    with pytest.raises(TypeError, match="disagree"):
        resolve_follow_redirects(follow, allow)


@pytest.mark.parametrize(
    ("value", "error"), [(-1, ValueError), (1.5, TypeError), (True, TypeError)]
)
def test_max_redirects_must_be_a_non_negative_int(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        BaseClient(max_redirects=value)
    assert BaseClient(max_redirects=0).max_redirects == 0


# -- event hooks -----------------------------------------------------------------------------


def test_event_hooks_are_copied_and_can_be_extended_in_place() -> None:
    def hook(value: object) -> None: ...

    given = {"request": [hook]}
    client = BaseClient(event_hooks=given)
    given["request"].append(print)
    assert client.event_hooks == {"request": [hook], "response": []}
    client.event_hooks["response"].append(hook)
    options = send_options(client, Request("GET", "https://example.com/"))
    assert options.response_hooks == (hook,)
    client.event_hooks = {"response": (hook,)}  # type: ignore[dict-item]
    assert client.event_hooks == {"request": [], "response": [hook]}


@pytest.mark.parametrize(
    ("hooks", "error", "message"),
    [
        ({"requests": []}, ValueError, "Unknown event hook names"),
        ({"request": print}, TypeError, "must be a list of callables"),
        ({"request": "print"}, TypeError, "must be a list of callables"),
        ({"response": 3}, TypeError, "must be a list of callables"),
        ({"response": [print, "not callable"]}, TypeError, "not callable"),
        ({"informational": print}, TypeError, "must be a list of callables"),
    ],
)
def test_event_hooks_are_checked(hooks: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        BaseClient(event_hooks=hooks)


# -- lifecycle -----------------------------------------------------------------------------


def test_a_closed_client_cannot_send() -> None:
    client = BaseClient()
    client._state = ClientState.CLOSED
    assert client.is_closed
    with pytest.raises(RuntimeError, match="closed"):
        send_options(client, Request("GET", "https://example.com/"))


def test_url_with_scheme_and_no_host_is_not_joined_to_base_url() -> None:
    client = BaseClient(base_url="https://example.com/api/")
    url = client.build_request("GET", "file:///etc/hosts").url
    assert (url.scheme, url.host, url.path) == ("file", "", "/etc/hosts")
    assert str(client.build_request("GET", "/x").url) == "https://example.com/api/x"


def test_proxy_routes_from_arguments_and_environment() -> None:
    from sansio import env

    client = BaseClient()
    routes = client._proxy_routes("http://proxy:3128", None, transport_given=False)
    assert [(p, str(r.url) if r else None) for p, r in routes] == [("all://", "http://proxy:3128")]
    previous = env.install(environ={"HTTPS_PROXY": "http://envproxy:8080", "NO_PROXY": "local"})
    try:
        # A client takes its world (environment included) when it is made.
        before = client._proxy_routes(None, None, transport_given=False)
        assert all(route is None or "envproxy" not in str(route.url) for _, route in before)
        client = BaseClient()
        from_env = dict(client._proxy_routes(None, None, transport_given=False))
        assert str(from_env["https://"].url) == "http://envproxy:8080"  # type: ignore[union-attr]
        assert from_env["all://*local"] is None
        # A transport of the user's own means no proxies from the environment (httpx rule).
        assert client._proxy_routes(None, None, transport_given=True) == []
        assert BaseClient(trust_env=False)._proxy_routes(None, None, transport_given=False) == []
    finally:
        env.install(previous)


def test_a_client_keeps_the_world_it_was_made_with() -> None:
    from sansio import env

    mine = env.Env(wall_clock=lambda: 1.0)
    given = BaseClient(env=mine)
    default = BaseClient()
    previous = env.install(env.Env(wall_clock=lambda: 2.0))
    try:
        request = given.build_request("GET", "https://example.com/")
        options = given._send_options(request, stream=False, auth=None, follow_redirects=False)
        assert options.env is mine
        later = default._send_options(request, stream=False, auth=None, follow_redirects=False)
        assert later.env is previous  # what was installed when it was made, not now
    finally:
        env.install(previous)


def test_a_clients_requests_take_its_world_for_cookies_and_boundaries() -> None:
    # The multipart boundary and the cookies' clock are the client's, not the installed
    # ones: two clients in one process with their own Env do not interfere.
    from sansio import env
    from sansio.cookies import Cookie

    def client(now: float, byte: bytes) -> BaseClient:
        made = BaseClient(env=env.Env(wall_clock=lambda: now, random_bytes=lambda n: byte * n))
        made.cookies.jar.set_cookie(Cookie("a", "1", expires=1500))
        return made

    before, after = client(1000.0, b"\x01"), client(2000.0, b"\x02")
    previous = env.install(env.Env(wall_clock=lambda: 3000.0, random_bytes=lambda n: b"\xff" * n))
    try:
        sent = before.build_request("POST", "https://example.com/", files={"f": b"x"})
        late = after.build_request("POST", "https://example.com/", files={"f": b"x"})
    finally:
        env.install(previous)
    assert sent.headers["cookie"] == "a=1"  # not expired at the client's time
    assert "cookie" not in late.headers
    assert sent.headers["content-type"] == "multipart/form-data; boundary=" + "01" * 16
    assert late.headers["content-type"] == "multipart/form-data; boundary=" + "02" * 16


def test_informational_hooks_are_listed_only_when_given() -> None:
    def hook(value: object) -> None: ...

    client = BaseClient(event_hooks={"informational": [hook]})
    assert client.event_hooks == {"request": [], "response": [], "informational": [hook]}
    options = send_options(client, Request("GET", "https://example.com/"))
    assert options.informational_hooks == (hook,)
    assert (
        send_options(BaseClient(), Request("GET", "https://example.com/")).informational_hooks == ()
    )


def test_response_logger_follows_every_logging_change_without_asking_each_response(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Answers come from logging's own cache, which logging empties at every level or
    # disable() change; a disabled logger (not cached by logging) is asked again.
    monkeypatch.setattr(client_module, "LOGGER_NAME", "conch-test-response-cache")
    logger = logging.getLogger("conch-test-response-cache")
    asked: list[str] = []
    is_enabled_for = logging.Logger.isEnabledFor

    def counting(self: logging.Logger, level: int) -> bool:
        asked.append(self.name)
        return is_enabled_for(self, level)

    monkeypatch.setattr(logging.Logger, "isEnabledFor", counting)
    assert client_module.response_logger() is None
    asked.clear()
    assert client_module.response_logger() is None
    assert asked == []  # once logging has answered, every response reads its cache
    root_level = logging.getLogger().level
    try:
        logger.setLevel(logging.INFO)
        assert client_module.response_logger() is logger
        asked.clear()
        assert client_module.response_logger() is logger
        assert asked == []
        logger.disabled = True  # (logging.config does this without emptying the cache)
        assert client_module.response_logger() is None
        logger.disabled = False
        assert client_module.response_logger() is logger
        logging.disable(logging.INFO)
        assert client_module.response_logger() is None
        logging.disable(logging.NOTSET)
        assert client_module.response_logger() is logger
        logger.setLevel(logging.WARNING)
        assert client_module.response_logger() is None
        logger.setLevel(logging.NOTSET)
        logging.getLogger().setLevel(logging.INFO)  # an ancestor's level counts too
        assert client_module.response_logger() is logger
    finally:
        logging.getLogger().setLevel(root_level)
        logger.setLevel(logging.NOTSET)
        logger.disabled = False
        logging.disable(logging.NOTSET)


def test_response_logger_asks_a_logger_class_with_its_own_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = [False]

    class Own(logging.Logger):
        def isEnabledFor(self, level: int) -> bool:
            return answers[-1]

    monkeypatch.setattr(client_module, "LOGGER_NAME", "conch-test-response-own")
    monkeypatch.setattr(logging.Logger.manager, "loggerClass", Own)
    assert client_module.response_logger() is None
    answers.append(True)  # no level changed: logging's cache would still say False
    assert client_module.response_logger() is logging.getLogger("conch-test-response-own")


def test_no_response_logger_before_the_program_imports_logging(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # No logger takes INFO records until logging is imported: a program that never logs
    # never loads it (~7 ms on its first request).
    monkeypatch.setattr(client_module, "_loggers", {})
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "logging", None)  # importing it now raises
        assert client_module.response_logger() is None
    with caplog.at_level(logging.INFO, logger="conch"):
        assert client_module.response_logger() is logging.getLogger("conch")
