"""Tests for `sansio.exceptions`: the httpx-compatible exception tree."""

from __future__ import annotations

from typing import Any, cast

import pytest

from sansio import exceptions as exc

# (class, its direct base), as in httpx 0.28 plus conch's DecompressionLimitExceeded and
# LineTooLong.
TREE: list[tuple[type[BaseException], type[BaseException]]] = [
    (exc.HTTPError, Exception),
    (exc.RequestError, exc.HTTPError),
    (exc.TransportError, exc.RequestError),
    (exc.TimeoutException, exc.TransportError),
    (exc.ConnectTimeout, exc.TimeoutException),
    (exc.ReadTimeout, exc.TimeoutException),
    (exc.WriteTimeout, exc.TimeoutException),
    (exc.PoolTimeout, exc.TimeoutException),
    (exc.NetworkError, exc.TransportError),
    (exc.ConnectError, exc.NetworkError),
    (exc.ReadError, exc.NetworkError),
    (exc.WriteError, exc.NetworkError),
    (exc.CloseError, exc.NetworkError),
    (exc.ProtocolError, exc.TransportError),
    (exc.LocalProtocolError, exc.ProtocolError),
    (exc.RemoteProtocolError, exc.ProtocolError),
    (exc.ProxyError, exc.TransportError),
    (exc.UnsupportedProtocol, exc.TransportError),
    (exc.DecodingError, exc.RequestError),
    (exc.DecompressionLimitExceeded, exc.DecodingError),
    (exc.LineTooLong, exc.DecodingError),
    (exc.TooManyRedirects, exc.RequestError),
    (exc.HTTPStatusError, exc.HTTPError),
    (exc.InvalidURL, Exception),
    (exc.CookieConflict, Exception),
    (exc.StreamError, RuntimeError),
    (exc.StreamConsumed, exc.StreamError),
    (exc.StreamClosed, exc.StreamError),
    (exc.ResponseNotRead, exc.StreamError),
    (exc.RequestNotRead, exc.StreamError),
]

REQUEST_ERRORS = [cls for cls, _ in TREE if issubclass(cls, exc.RequestError)]


class FakeRequest:
    """Stands in for a Request: the exceptions only store it."""


def _req() -> Any:
    return cast(Any, FakeRequest())


@pytest.mark.parametrize(("cls", "base"), TREE)
def test_direct_base(cls: type[BaseException], base: type[BaseException]) -> None:
    assert cls.__bases__ == (base,)


def test_all_lists_every_exception() -> None:
    assert sorted(exc.__all__) == sorted(cls.__name__ for cls, _ in TREE)
    for name in exc.__all__:
        # The conch facade re-labels public classes as "conch" once it is imported.
        assert getattr(exc, name).__module__ in {"sansio.exceptions", "conch"}


@pytest.mark.parametrize("cls", REQUEST_ERRORS)
def test_request_error_without_request(cls: type[exc.RequestError]) -> None:
    error = cls("boom")
    assert str(error) == "boom"
    with pytest.raises(RuntimeError, match=r"\.request property has not been set"):
        _ = error.request


@pytest.mark.parametrize("cls", REQUEST_ERRORS)
def test_request_error_with_request(cls: type[exc.RequestError]) -> None:
    request = _req()
    error = cls("boom", request=request)
    assert error.request is request


def test_request_can_be_attached_later() -> None:
    error = exc.ReadTimeout("slow")
    request = _req()
    error.request = request
    assert error.request is request
    other = _req()
    error.request = other
    assert error.request is other


def test_http_error_base_request_attribute() -> None:
    error = exc.HTTPError("generic")
    assert str(error) == "generic"
    with pytest.raises(RuntimeError):
        _ = error.request
    request = _req()
    error.request = request
    assert error.request is request


def test_http_status_error_carries_request_and_response() -> None:
    request, response = _req(), cast(Any, object())
    error = exc.HTTPStatusError("404", request=request, response=response)
    assert str(error) == "404"
    assert error.request is request
    assert error.response is response
    with pytest.raises(TypeError):
        exc.HTTPStatusError("no request")  # type: ignore[call-arg]


@pytest.mark.parametrize("cls", [exc.InvalidURL, exc.CookieConflict])
def test_plain_errors(cls: type[Exception]) -> None:
    error = cls("bad thing")
    assert str(error) == "bad thing"
    assert not isinstance(error, exc.HTTPError)


def test_stream_error_message() -> None:
    error = exc.StreamError("misuse")
    assert str(error) == "misuse"
    assert isinstance(error, RuntimeError)


@pytest.mark.parametrize(
    ("cls", "fragment"),
    [
        (exc.StreamConsumed, "already streamed"),
        (exc.StreamClosed, "stream is closed"),
        (exc.ResponseNotRead, "read()"),
        (exc.RequestNotRead, "read()"),
    ],
)
def test_stream_errors_take_no_arguments_and_explain(
    cls: type[exc.StreamError], fragment: str
) -> None:
    error = cls()  # type: ignore[call-arg]
    assert fragment in str(error)
    assert isinstance(error, RuntimeError)
    with pytest.raises(TypeError):
        cls("extra")


def test_catching_by_family() -> None:
    with pytest.raises(exc.TimeoutException):
        raise exc.PoolTimeout("pool")
    with pytest.raises(exc.TransportError):
        raise exc.RemoteProtocolError("bad peer")
    with pytest.raises(exc.DecodingError):
        raise exc.DecompressionLimitExceeded("too big")
    with pytest.raises(exc.HTTPError):
        raise exc.TooManyRedirects("loop")
