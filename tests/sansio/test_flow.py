"""The client flow, driven with scripted results and no transport at all.

`play(flow, script)` is the whole harness: for each action the flow yields it
checks the action's type against the script and sends back the scripted result
(or throws the scripted exception in). Other test files import it from here.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import FrozenInstanceError
from typing import Any

import pytest

from sansio import actions as act
from sansio.auth import Auth, BasicAuth
from sansio.config import Timeout
from sansio.cookies import Cookies
from sansio.deadline import DEADLINE_EXTENSION, Deadline
from sansio.env import Env
from sansio.exceptions import (
    ReadTimeout,
    RemoteProtocolError,
    StreamConsumed,
    TooManyRedirects,
    UnsupportedProtocol,
)
from sansio.flow import (
    DEFAULT_REDIRECT_DRAIN_LIMIT,
    SendOptions,
    send_flow,
    uses_user_auth_flow,
)
from sansio.models import Request, Response
from sansio.streams import SyncByteStream

# -- the harness ---------------------------------------------------------------------

Reply = Any  # a Response, a Request, None, an exception, or a callable(action) -> one of those
Step = type | tuple[type, Reply]


def play(
    flow: Generator[act.Action, Any, Response],
    script: Sequence[Step],
    log: list[act.Action] | None = None,
) -> Response:
    """Drive `flow` through `script` and return its final response.

    Each step is an action type (reply None) or ``(type, reply)``. A callable reply
    is called with the action (to assert on it, or to build a response for its
    request); an exception reply is thrown into the flow. The flow must end exactly
    when the script does. Every action seen is appended to `log`.
    """
    steps: Iterator[Step] = iter(script)
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            action = flow.send(value) if error is None else flow.throw(error)
        except StopIteration as done:
            left = list(steps)
            assert not left, f"the flow finished with script steps left: {left!r}"
            response: Response = done.value
            return response
        if log is not None:
            log.append(action)
        step = next(steps, None)
        assert step is not None, f"the flow yielded {action!r} past the end of the script"
        kind, reply = step if isinstance(step, tuple) else (step, None)
        assert type(action) is kind, f"expected {kind.__name__}, the flow yielded {action!r}"
        if callable(reply) and not isinstance(reply, type):
            reply = reply(action)
        value, error = (None, reply) if isinstance(reply, BaseException) else (reply, None)


def respond(
    status: int = 200,
    headers: Any = None,
    content: bytes = b"",
    check: Callable[[Request], None] | None = None,
) -> Callable[[act.SendRequest], Response]:
    """A SendRequest reply: a response to the action's request, after `check`."""

    def reply(action: act.SendRequest) -> Response:
        if check is not None:
            check(action.request)
        return Response(status, headers=headers, content=content, request=action.request)

    return reply


def redirect(location: str, status: int = 302, **headers: str) -> Callable[..., Response]:
    return respond(status, {"Location": location, **headers})


def options(**changes: Any) -> SendOptions:
    settings: dict[str, Any] = {
        "auth": None,
        "follow_redirects": True,
        "max_redirects": 20,
        "cookies": Cookies(),
    }
    settings.update(changes)
    return SendOptions(**settings)


class Unread(SyncByteStream):
    """A response body that records whether anyone read or closed it."""

    def __init__(self, body: bytes = b"body") -> None:
        self.body = body
        self.read = False
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        self.read = True
        yield self.body

    def close(self) -> None:
        self.closed = True


def get(url: str = "https://example.com/", **kwargs: Any) -> Request:
    return Request("GET", url, **kwargs)


# -- the simple exchange -------------------------------------------------------------


def test_a_plain_request_is_sent_then_read() -> None:
    request = get()
    log: list[act.Action] = []
    final = play(
        send_flow(request, options()),
        [(act.SendRequest, respond(200, content=b"hi")), act.ReadResponse],
        log,
    )
    assert final.status_code == 200
    assert final.request is request
    assert final.history == []
    assert final.next_request is None
    assert log == [act.SendRequest(request=request), act.ReadResponse(response=final)]


def test_a_streamed_request_is_not_read() -> None:
    stream = Unread()
    final = play(
        send_flow(get(), options(stream=True)),
        [(act.SendRequest, lambda a: Response(200, stream=stream))],
    )
    assert not stream.read
    assert not stream.closed
    assert not final.is_stream_consumed


def test_the_request_is_attached_when_the_transport_did_not() -> None:
    request = get()
    final = play(
        send_flow(request, options(stream=True)),
        [(act.SendRequest, Response(200, headers={"Set-Cookie": "a=1"}))],
    )
    assert final.request is request
    assert final.cookies["a"] == "1"


def test_encoding_and_decoded_size_settings_reach_the_response() -> None:
    def detect(content: bytes) -> str:
        return "latin-1"

    final = play(
        send_flow(get(), options(default_encoding=detect, max_decoded_size=123)),
        [(act.SendRequest, respond(200, content=b"\xe9")), act.ReadResponse],
    )
    assert final.default_encoding is detect
    assert final.max_decoded_size == 123
    assert final.text == "é"


def test_max_decoded_size_none_keeps_the_response_default() -> None:
    default = Response(200).max_decoded_size
    final = play(send_flow(get(), options(stream=True)), [(act.SendRequest, respond(200))])
    assert final.max_decoded_size == default


# -- actions ---------------------------------------------------------------------------


def test_actions_are_frozen_keyword_only_and_match_positionally() -> None:
    request = get()
    response = Response(200, request=request)
    action: act.Action = act.DrainResponse(response=response, limit=5)
    with pytest.raises(FrozenInstanceError):
        action.limit = 6  # type: ignore[misc]
    with pytest.raises(TypeError):
        act.SendRequest(request)  # type: ignore[misc]
    match action:
        case act.DrainResponse(drained, limit):
            assert drained is response
            assert limit == 5
        case _:  # pragma: no cover - the case above matches
            pytest.fail("no match")
    auth = Auth()
    matched = []
    for each in (
        act.SendRequest(request=request),
        act.ReadResponse(response=response),
        act.CloseResponse(response=response),
        act.ReadRequest(request=request),
        act.CallHooks(hooks=(print,), argument=request),
        act.StartUserAuth(auth=auth, request=request),
        act.StepUserAuth(response=response),
    ):
        match each:
            case act.SendRequest(r) | act.ReadRequest(r):
                matched.append(r is request)
            case act.ReadResponse(r) | act.CloseResponse(r) | act.StepUserAuth(r):
                matched.append(r is response)
            case act.CallHooks(hooks, argument):
                matched.append(hooks == (print,) and argument is request)
            case act.StartUserAuth(a, r):
                matched.append(a is auth and r is request)
    assert matched == [True] * 7


# -- hooks ---------------------------------------------------------------------------


def test_hooks_are_asked_for_every_request_and_response_including_redirects() -> None:
    def on_request(request: Request) -> None: ...
    def on_response(response: Response) -> None: ...

    log: list[act.Action] = []
    final = play(
        send_flow(
            get("https://example.com/a"),
            options(request_hooks=[on_request], response_hooks=(on_response,)),
        ),
        [
            act.CallHooks,
            (act.SendRequest, redirect("/b")),
            act.CallHooks,
            act.DrainResponse,
            act.CallHooks,
            (act.SendRequest, respond(200)),
            act.CallHooks,
            act.ReadResponse,
        ],
        log,
    )
    hooks = [a for a in log if isinstance(a, act.CallHooks)]
    assert [h.hooks for h in hooks] == [[on_request], (on_response,)] * 2
    assert [str(h.argument.url) for h in hooks[::2]] == [
        "https://example.com/a",
        "https://example.com/b",
    ]
    assert hooks[3].argument is final
    assert hooks[1].argument is final.history[0]


def test_hooks_run_for_auth_sub_requests() -> None:
    class TwoStep(Auth):
        def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
            response = yield request
            if response.status_code == 401:
                request.headers["Authorization"] = "second"
                yield request

    def hook(arg: object) -> None: ...

    log: list[act.Action] = []
    play(
        send_flow(get(), options(auth=TwoStep(), request_hooks=[hook], response_hooks=[hook])),
        [
            act.CallHooks,
            (act.SendRequest, respond(401)),
            act.CallHooks,
            act.ReadResponse,
            act.CallHooks,
            (act.SendRequest, respond(200)),
            act.CallHooks,
            act.ReadResponse,
        ],
        log,
    )
    requests = [
        a.argument for a in log if isinstance(a, act.CallHooks) and a.argument.__class__ is Request
    ]
    assert len(requests) == 2
    assert requests[1].headers["Authorization"] == "second"


# -- cookies -------------------------------------------------------------------------


def test_cookies_from_every_response_reach_the_jar_including_redirects() -> None:
    jar = Cookies()
    final = play(
        send_flow(get("https://a.example.com/"), options(cookies=jar)),
        [
            (act.SendRequest, redirect("/next", **{"Set-Cookie": "first=1"})),
            act.DrainResponse,
            (
                act.SendRequest,
                respond(
                    200,
                    [("Set-Cookie", "second=2"), ("Set-Cookie", "third=3")],
                    check=lambda r: assert_header(r, "cookie", "first=1"),
                ),
            ),
            act.ReadResponse,
        ],
    )
    assert dict(jar) == {"first": "1", "second": "2", "third": "3"}
    assert final.status_code == 200


def assert_header(request: Request, name: str, value: str | None) -> None:
    assert request.headers.get(name) == value, request.headers


def test_a_domain_cookie_from_the_first_response_follows_to_a_sibling_host() -> None:
    jar = Cookies()
    play(
        send_flow(get("https://a.example.com/"), options(cookies=jar)),
        [
            (
                act.SendRequest,
                redirect(
                    "https://b.example.com/",
                    **{"Set-Cookie": "wide=1; Domain=example.com"},
                ),
            ),
            act.DrainResponse,
            (act.SendRequest, respond(check=lambda r: assert_header(r, "cookie", "wide=1"))),
            act.ReadResponse,
        ],
    )


def test_a_host_only_cookie_does_not_follow_to_a_sibling_host() -> None:
    jar = Cookies()
    play(
        send_flow(get("https://a.example.com/"), options(cookies=jar)),
        [
            (act.SendRequest, redirect("https://b.example.com/", **{"Set-Cookie": "narrow=1"})),
            act.DrainResponse,
            (act.SendRequest, respond(check=lambda r: assert_header(r, "cookie", None))),
            act.ReadResponse,
        ],
    )


# -- redirects -------------------------------------------------------------------------


def test_a_followed_redirect_is_drained_not_read_and_kept_in_history() -> None:
    body = Unread(b"moved")
    log: list[act.Action] = []
    final = play(
        send_flow(get("https://example.com/a#frag"), options(redirect_drain_limit=10)),
        [
            (
                act.SendRequest,
                lambda a: Response(301, headers={"Location": "/b"}, stream=body),
            ),
            act.DrainResponse,
            (act.SendRequest, respond(200)),
            act.ReadResponse,
        ],
        log,
    )
    drain = log[1]
    assert isinstance(drain, act.DrainResponse)
    assert drain.limit == 10
    assert drain.response is final.history[0]
    assert not body.read  # the shell drains; the core never reads a redirect's body
    assert str(final.url) == "https://example.com/b#frag"
    assert [r.status_code for r in final.history] == [301]
    assert final.history[0].history == []


def test_the_default_drain_limit() -> None:
    log: list[act.Action] = []
    play(
        send_flow(get(), options()),
        [
            (act.SendRequest, redirect("/b")),
            act.DrainResponse,
            (act.SendRequest, respond()),
            act.ReadResponse,
        ],
        log,
    )
    assert log[1] == act.DrainResponse(response=log[1].response, limit=DEFAULT_REDIRECT_DRAIN_LIMIT)  # type: ignore[union-attr]


def test_history_grows_hop_by_hop() -> None:
    final = play(
        send_flow(get("https://example.com/0"), options()),
        [
            (act.SendRequest, redirect("/1")),
            act.DrainResponse,
            (act.SendRequest, redirect("/2", 307)),
            act.DrainResponse,
            (act.SendRequest, respond(200)),
            act.ReadResponse,
        ],
    )
    assert [str(r.url) for r in final.history] == [
        "https://example.com/0",
        "https://example.com/1",
    ]
    assert [len(r.history) for r in final.history] == [0, 1]


def test_a_redirect_not_followed_is_returned_with_next_request() -> None:
    body = Unread()
    final = play(
        send_flow(get("https://example.com/a"), options(follow_redirects=False, stream=True)),
        [(act.SendRequest, lambda a: Response(303, headers={"Location": "/b"}, stream=body))],
    )
    assert final.status_code == 303
    assert not body.read
    assert not body.closed
    assert final.next_request is not None
    assert final.next_request.method == "GET"
    assert str(final.next_request.url) == "https://example.com/b"


def test_a_redirect_not_followed_is_read_like_any_final_response() -> None:
    final = play(
        send_flow(get(), options(follow_redirects=False)),
        [(act.SendRequest, redirect("/b")), act.ReadResponse],
    )
    assert final.next_request is not None


def test_a_redirect_not_followed_may_point_anywhere() -> None:
    final = play(
        send_flow(get(), options(follow_redirects=False, stream=True)),
        [(act.SendRequest, redirect("myapp://callback?code=1"))],
    )
    assert final.next_request is not None
    assert str(final.next_request.url) == "myapp://callback?code=1"


def test_a_redirect_not_followed_with_a_bad_location_has_no_next_request() -> None:
    final = play(
        send_flow(get(), options(follow_redirects=False, stream=True)),
        [(act.SendRequest, redirect("https://bad host/"))],
    )
    assert final.status_code == 302
    assert final.next_request is None


def test_a_3xx_without_location_is_final() -> None:
    final = play(
        send_flow(get(), options()),
        [(act.SendRequest, respond(304)), act.ReadResponse],
    )
    assert final.status_code == 304
    assert final.next_request is None


@pytest.mark.parametrize("limit", [0, 1, 3])
def test_max_redirects_exactly_at_the_limit_is_fine(limit: int) -> None:
    script: list[Step] = []
    for hop in range(limit):
        script += [(act.SendRequest, redirect(f"/{hop + 1}")), act.DrainResponse]
    script += [(act.SendRequest, respond(200)), act.ReadResponse]
    final = play(send_flow(get("https://example.com/0"), options(max_redirects=limit)), script)
    assert len(final.history) == limit


@pytest.mark.parametrize("limit", [0, 1, 3])
def test_max_redirects_one_past_the_limit_fails(limit: int) -> None:
    script: list[Step] = []
    for hop in range(limit + 1):
        script += [(act.SendRequest, redirect(f"/{hop + 1}")), act.DrainResponse]
    log: list[act.Action] = []
    with pytest.raises(TooManyRedirects) as info:
        play(send_flow(get("https://example.com/0"), options(max_redirects=limit)), script, log)
    assert str(info.value.request.url) == f"https://example.com/{limit + 1}"
    # Every redirect response was drained (closed): nothing is left open.
    assert sum(isinstance(a, act.DrainResponse) for a in log) == limit + 1


def test_an_invalid_location_while_following_closes_the_response() -> None:
    log: list[act.Action] = []
    with pytest.raises(RemoteProtocolError) as info:
        play(
            send_flow(get(), options()),
            [(act.SendRequest, redirect("https://example.com:99999/")), act.CloseResponse],
            log,
        )
    assert info.value.request.url == get().url
    assert isinstance(log[-1], act.CloseResponse)


def test_a_non_http_location_while_following_is_refused() -> None:
    with pytest.raises(UnsupportedProtocol):
        play(
            send_flow(get(), options()),
            [(act.SendRequest, redirect("file:///etc/passwd")), act.CloseResponse],
        )


def test_a_generator_body_cannot_be_sent_again_on_a_307() -> None:
    def body() -> Iterator[bytes]:
        yield b"once"

    def send_body(action: act.SendRequest) -> Response | BaseException:
        stream = action.request.stream
        assert isinstance(stream, SyncByteStream)
        try:
            assert b"".join(stream) == b"once"
        except StreamConsumed as exc:  # what a transport sending it again would meet
            return exc
        return Response(307, headers={"Location": "/again"}, request=action.request)

    with pytest.raises(StreamConsumed):
        play(
            send_flow(Request("POST", "https://example.com/", content=body()), options()),
            [(act.SendRequest, send_body), act.DrainResponse, (act.SendRequest, send_body)],
        )


# -- cleanup ---------------------------------------------------------------------------


def test_an_error_while_sending_closes_nothing() -> None:
    with pytest.raises(ReadTimeout):
        play(send_flow(get(), options()), [(act.SendRequest, ReadTimeout("slow"))])


@pytest.mark.parametrize(
    "where",
    ["response hook", "drain", "final read", "final read after auth"],
)
def test_an_error_after_a_response_was_handed_out_closes_it(where: str) -> None:
    boom = ReadTimeout("boom")
    hooks: dict[str, Any] = {"response_hooks": [print]} if where == "response hook" else {}
    if where == "final read after auth":
        hooks["auth"] = BasicAuth("user", "pass")
    script: list[Step] = [(act.SendRequest, redirect("/b") if where == "drain" else respond(200))]
    if where == "response hook":
        script += [(act.CallHooks, boom)]
    elif where == "drain":
        script += [(act.DrainResponse, boom)]
    else:
        script += [(act.ReadResponse, boom)]
    script += [act.CloseResponse]
    log: list[act.Action] = []
    with pytest.raises(ReadTimeout) as info:
        play(send_flow(get(), options(**hooks)), script, log)
    assert info.value is boom
    sent = log[0]
    assert isinstance(sent, act.SendRequest)
    closed = log[-1]
    assert isinstance(closed, act.CloseResponse)
    assert closed.response.request is sent.request


def test_a_cancellation_is_handled_like_any_error() -> None:
    class Cancelled(BaseException):
        pass

    with pytest.raises(Cancelled):
        play(
            send_flow(get(), options()),
            [(act.SendRequest, respond(200)), (act.ReadResponse, Cancelled()), act.CloseResponse],
        )


def test_closing_the_flow_yields_nothing() -> None:
    flow = send_flow(get(), options())
    assert isinstance(next(flow), act.SendRequest)
    assert isinstance(flow.send(Response(200)), act.ReadResponse)
    flow.close()  # would raise RuntimeError if the flow yielded a CloseResponse
    with pytest.raises(StopIteration):
        next(flow)


def test_closing_the_flow_during_a_drain_yields_nothing() -> None:
    flow = send_flow(get(), options(response_hooks=[print]))
    next(flow)
    assert isinstance(flow.send(Response(302, headers={"Location": "/x"})), act.CallHooks)
    assert isinstance(flow.send(None), act.DrainResponse)
    flow.close()


# -- auth through the flow -------------------------------------------------------------


def test_basic_auth_goes_out_with_the_first_request() -> None:
    play(
        send_flow(get(), options(auth=BasicAuth("user", "pass"))),
        [
            (
                act.SendRequest,
                respond(check=lambda r: assert_header(r, "authorization", "Basic dXNlcjpwYXNz")),
            ),
            act.ReadResponse,
        ],
    )


class Challenged(Auth):
    """A two-step scheme: answers a 401 once with a token taken from its body."""

    def __init__(self, *, request_body: bool = False, response_body: bool = False) -> None:
        self.requires_request_body = request_body
        self.requires_response_body = response_body
        self.closed = False
        self.seen: list[int] = []

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        try:
            response = yield request
            self.seen.append(response.status_code)
            if response.status_code == 401:
                request.headers["Authorization"] = "Token " + response.text
                response = yield request
                self.seen.append(response.status_code)
        finally:
            self.closed = True


def test_a_multi_step_auth_flow_answers_a_challenge() -> None:
    auth = Challenged()
    log: list[act.Action] = []
    final = play(
        send_flow(get(), options(auth=auth)),
        [
            (act.SendRequest, respond(401, content=b"abc")),
            act.ReadResponse,  # the 401 is read before it goes into history
            (
                act.SendRequest,
                respond(200, check=lambda r: assert_header(r, "authorization", "Token abc")),
            ),
            act.ReadResponse,
        ],
        log,
    )
    assert auth.seen == [401, 200]
    assert auth.closed
    assert [r.status_code for r in final.history] == [401]
    assert final.history[0].history == []
    assert not any(isinstance(a, (act.ReadRequest, act.StartUserAuth)) for a in log)


def test_auth_body_requirements_become_read_actions() -> None:
    auth = Challenged(request_body=True, response_body=True)
    log: list[act.Action] = []
    request = Request("POST", "https://example.com/", content=b"data")
    play(
        send_flow(request, options(auth=auth, stream=True)),
        [
            act.ReadRequest,
            (act.SendRequest, respond(401, content=b"t")),
            act.ReadResponse,  # requires_response_body, before the flow sees it
            act.ReadResponse,  # then read for history
            (act.SendRequest, respond(200)),
            act.ReadResponse,  # requires_response_body; streaming, so no final read
        ],
        log,
    )
    assert log[0] == act.ReadRequest(request=request)


def test_redirects_inside_an_auth_round_are_followed() -> None:
    auth = Challenged()
    final = play(
        send_flow(get("https://example.com/a"), options(auth=auth)),
        [
            (act.SendRequest, redirect("/b")),
            act.DrainResponse,
            (act.SendRequest, respond(401, content=b"x")),
            act.ReadResponse,
            (act.SendRequest, respond(200)),
            act.ReadResponse,
        ],
    )
    # The auth flow retries its own request. As in httpx, history lists the auth
    # rounds; the redirect inside the first round is not in it.
    assert str(final.url) == "https://example.com/a"
    assert str(final.history[0].url) == "https://example.com/b"
    assert [r.status_code for r in final.history] == [401]
    assert final.history[0].history == []


def test_auth_rounds_count_towards_max_redirects() -> None:
    with pytest.raises(TooManyRedirects):
        play(
            send_flow(get(), options(auth=Challenged(), max_redirects=0)),
            [(act.SendRequest, respond(401, content=b"x")), act.ReadResponse],
        )


def test_an_error_in_the_auth_flow_closes_the_response() -> None:
    class Broken(Auth):
        def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
            yield request
            raise RemoteProtocolError("bad challenge")

    with pytest.raises(RemoteProtocolError, match="bad challenge"):
        play(
            send_flow(get(), options(auth=Broken())),
            [(act.SendRequest, respond(401)), act.CloseResponse],
        )


def test_an_auth_flow_that_yields_nothing_is_a_clear_error() -> None:
    class Silent(Auth):
        def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
            return
            yield request  # pragma: no cover - makes this a generator

    with pytest.raises(RuntimeError, match=r"Silent\.auth_flow"):
        play(send_flow(get(), options(auth=Silent())), [])


def test_closing_the_flow_closes_the_auth_flow() -> None:
    auth = Challenged()
    flow = send_flow(get(), options(auth=auth))
    next(flow)
    flow.close()
    assert auth.closed


# -- user-driven auth flows ------------------------------------------------------------


class OwnIO(Auth):
    def sync_auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        yield request  # pragma: no cover - run by a shell, never by the core


class OwnAsyncIO(Auth):
    async def async_auth_flow(  # type: ignore[override]
        self, request: Request
    ) -> Any:  # pragma: no cover - run by a shell, never by the core
        yield request


def test_overridden_sync_or_async_auth_flows_are_the_shells_to_run() -> None:
    assert uses_user_auth_flow(OwnIO())
    assert uses_user_auth_flow(OwnAsyncIO())
    assert not uses_user_auth_flow(Auth())
    assert not uses_user_auth_flow(BasicAuth("a", "b"))
    assert not uses_user_auth_flow(Challenged())


def test_a_user_auth_flow_is_driven_through_actions() -> None:
    auth = OwnIO()
    request = get()
    retry = get("https://example.com/retry")
    log: list[act.Action] = []
    final = play(
        send_flow(request, options(auth=auth)),
        [
            (act.StartUserAuth, request),
            (act.SendRequest, respond(401)),
            (act.StepUserAuth, retry),
            act.ReadResponse,
            (act.SendRequest, respond(200)),
            (act.StepUserAuth, None),
            act.ReadResponse,
        ],
        log,
    )
    assert log[0] == act.StartUserAuth(auth=auth, request=request)
    sent = [a.request for a in log if isinstance(a, act.SendRequest)]
    assert sent == [request, retry]
    assert final.request is retry
    assert [r.status_code for r in final.history] == [401]


def test_an_error_in_a_user_auth_flow_closes_the_response() -> None:
    with pytest.raises(ValueError, match="user code"):
        play(
            send_flow(get(), options(auth=OwnIO())),
            [
                (act.StartUserAuth, lambda a: a.request),
                (act.SendRequest, respond(401)),
                (act.StepUserAuth, ValueError("user code")),
                act.CloseResponse,
            ],
        )


def test_play_rejects_a_script_that_does_not_fit() -> None:
    with pytest.raises(AssertionError, match="expected ReadResponse"):
        play(send_flow(get(), options()), [act.ReadResponse])
    with pytest.raises(AssertionError, match="past the end"):
        play(send_flow(get(), options()), [(act.SendRequest, respond())])
    with pytest.raises(AssertionError, match="steps left"):
        play(
            send_flow(get(), options(stream=True)),
            [(act.SendRequest, respond()), act.ReadResponse],
        )


def test_credentials_dropped_on_one_hop_stay_dropped() -> None:
    request = get("https://a.example/", headers={"Authorization": "secret", "Cookie": "mine=1"})
    gone = lambda r: assert_header(r, "authorization", None) or assert_header(r, "cookie", None)  # noqa: E731
    play(
        send_flow(request, options()),
        [
            (act.SendRequest, redirect("https://b.example/")),
            act.DrainResponse,
            (act.SendRequest, respond(302, {"Location": "https://a.example/back"}, check=gone)),
            act.DrainResponse,
            (act.SendRequest, respond(200, check=gone)),
            act.ReadResponse,
        ],
    )


def test_a_supplied_cookie_stays_on_same_origin_hops() -> None:
    request = get("https://a.example/", headers={"Cookie": "mine=1"})
    jar = Cookies()
    play(
        send_flow(request, options(cookies=jar)),
        [
            (act.SendRequest, redirect("/one", **{"Set-Cookie": "session=s"})),
            act.DrainResponse,
            (
                act.SendRequest,
                respond(
                    302,
                    {"Location": "/two"},
                    check=lambda r: assert_header(r, "cookie", "mine=1; session=s"),
                ),
            ),
            act.DrainResponse,
            (
                act.SendRequest,
                respond(check=lambda r: assert_header(r, "cookie", "mine=1; session=s")),
            ),
            act.ReadResponse,
        ],
    )


# -- the client's world ------------------------------------------------------------------


def _world(step: float, byte: int) -> Any:
    """A world whose wall clock moves ``step`` seconds at each look, with entropy of
    ``byte`` bytes."""
    import itertools

    from sansio.env import Env

    ticks = itertools.count(1_000_000.0, step)
    return Env(wall_clock=lambda: next(ticks), random_bytes=lambda n: bytes([byte]) * n)


def test_each_client_flow_uses_its_own_clock_and_randomness() -> None:
    # Two flows in one process with different worlds: a cookie set for 100 seconds is
    # sent after a redirect by the one whose clock moves slowly, not by the one whose
    # clock moves fast; each Digest answer carries a cnonce from its own entropy. The
    # process-wide default (no clock, no entropy at all) is never used.
    from sansio import env
    from sansio.auth import DigestAuth

    challenge = 'Digest realm="r", nonce="n", qop="auth"'
    seen: dict[str, tuple[str | None, str]] = {}

    def run(name: str, world: Any) -> None:
        def check(request: Request) -> None:
            seen[name] = (request.headers.get("cookie"), request.headers["authorization"])

        auth = DigestAuth("user", "secret")
        flow = send_flow(get(), options(auth=auth, env=world))
        play(
            flow,
            [
                (act.SendRequest, respond(401, {"WWW-Authenticate": challenge})),
                act.ReadResponse,
                (act.SendRequest, redirect("/next", **{"Set-Cookie": "s=1; Max-Age=100"})),
                act.DrainResponse,
                (act.SendRequest, respond(200, check=check)),
                act.ReadResponse,
            ],
        )

    previous = env.install(env.Env())  # no clock, no randomness at all: never used
    try:
        run("slow", _world(1.0, 0xAA))
        run("fast", _world(1000.0, 0xBB))
    finally:
        env.install(previous)
    assert seen["slow"][0] == "s=1"
    assert seen["fast"][0] is None  # expired by its clock
    assert 'cnonce="aaaa' in seen["slow"][1]
    assert 'cnonce="bbbb' in seen["fast"][1]


# -- the total deadline ------------------------------------------------------------------


def test_a_total_timeout_starts_one_deadline_for_every_request_of_the_send() -> None:
    clock = iter([100.0])  # read once, when the send starts
    world = Env(clock=lambda: next(clock), wall_clock=lambda: 1.7e9)
    seen: list[Any] = []

    def check(request: Request) -> None:
        seen.append(request.extensions.get(DEADLINE_EXTENSION))

    request = get(extensions={"timeout": Timeout(5.0, total=30.0).as_dict()})
    final = play(
        send_flow(request, options(env=world, auth=BasicAuth("u", "p"))),
        [
            (act.SendRequest, respond(302, {"Location": "/b"}, check=check)),
            act.DrainResponse,
            (act.SendRequest, respond(401, {"WWW-Authenticate": 'Basic realm="x"'}, check=check)),
            act.ReadResponse,
        ],
    )
    assert final.status_code == 401
    assert seen == [Deadline(130.0, 30.0, world.clock)] * 2  # measured on the client's clock
    # Only while each request was sent: the requests are left as they came.
    assert DEADLINE_EXTENSION not in request.extensions
    assert DEADLINE_EXTENSION not in final.request.extensions


def test_the_same_request_sent_again_gets_a_new_deadline() -> None:
    clock = iter([100.0, 200.0])
    world = Env(clock=lambda: next(clock))
    seen: list[Any] = []
    request = get(extensions={"timeout": Timeout(None, total=1.0).as_dict()})
    for _ in range(2):
        play(
            send_flow(request, options(env=world)),
            [
                (
                    act.SendRequest,
                    respond(check=lambda r: seen.append(r.extensions[DEADLINE_EXTENSION])),
                ),
                act.ReadResponse,
            ],
        )
    assert seen == [Deadline(101.0, 1.0, world.clock), Deadline(201.0, 1.0, world.clock)]


def test_a_deadline_given_by_the_caller_is_used_and_kept() -> None:
    shared = Deadline(50.0, 10.0)
    request = get(extensions={DEADLINE_EXTENSION: shared})
    seen: list[Any] = []
    play(
        send_flow(request, options(env=Env(wall_clock=lambda: 1.7e9))),  # no clock: none needed
        [
            (act.SendRequest, redirect("/b")),
            act.DrainResponse,
            (
                act.SendRequest,
                respond(check=lambda r: seen.append(r.extensions[DEADLINE_EXTENSION])),
            ),
            act.ReadResponse,
        ],
    )
    assert seen == [shared]
    assert request.extensions[DEADLINE_EXTENSION] is shared


def test_without_a_total_no_clock_is_read_and_nothing_is_carried() -> None:
    request = get(extensions={"timeout": Timeout(5.0).as_dict()})
    play(
        send_flow(request, options(env=Env())),  # its clock raises if read
        [
            (act.SendRequest, respond(check=lambda r: assert_no_deadline(r))),
            act.ReadResponse,
        ],
    )


def assert_no_deadline(request: Request) -> None:
    assert DEADLINE_EXTENSION not in request.extensions


def test_a_failed_send_leaves_no_deadline_on_the_request() -> None:
    request = get(extensions={"timeout": Timeout(5.0, total=1.0).as_dict()})
    with pytest.raises(ReadTimeout):
        play(
            send_flow(request, options(env=Env(clock=lambda: 0.0))),
            [(act.SendRequest, ReadTimeout("the total timeout of 1 s for the request passed"))],
        )
    assert DEADLINE_EXTENSION not in request.extensions


# -- informational (1xx) hooks ---------------------------------------------------------------


def early(request: Request, delivered: int) -> Response:
    """A final response after a 100 and a 103, the first ``delivered`` of them handed to
    the ``informational`` callback by the transport."""
    response = Response(200, request=request)
    response.informational.extend(Response(status, request=request) for status in (100, 103))
    response._informational_delivered = delivered
    return response


def callback(name: str, info: dict[str, Any]) -> None:
    raise AssertionError("the flow never calls it: the transport does")


@pytest.mark.parametrize("delivered", [0, 1, 2])
def test_informational_hooks_see_only_what_the_transport_did_not_deliver(delivered: int) -> None:
    request = Request("GET", "https://example.com/")

    def send(action: act.SendRequest) -> Response:
        # The callback travels with the request while it is sent, and only then.
        assert action.request.extensions["informational"] is callback
        return early(action.request, delivered)

    log: list[act.Action] = []
    flow = send_flow(
        request, options(informational_hooks=(print,), informational_callback=callback, stream=True)
    )
    response = play(flow, [(act.SendRequest, send), *[act.CallHooks] * (2 - delivered)], log)
    hooked = [a.argument for a in log if isinstance(a, act.CallHooks)]
    assert hooked == response.informational[delivered:]
    assert "informational" not in request.extensions


def test_a_request_with_its_own_informational_callback_keeps_it() -> None:
    def own(name: str, info: dict[str, Any]) -> None:
        raise AssertionError("not called here")

    request = Request("GET", "https://example.com/", extensions={"informational": own})

    def send(action: act.SendRequest) -> Response:
        assert action.request.extensions["informational"] is own
        return early(action.request, 2)  # delivered to `own`: the hooks have seen none

    flow = send_flow(
        request, options(informational_hooks=(print,), informational_callback=callback, stream=True)
    )
    play(flow, [(act.SendRequest, send), act.CallHooks, act.CallHooks])
    assert request.extensions["informational"] is own
