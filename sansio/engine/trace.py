"""`Tracer`: the ``trace`` request extension and DEBUG logging, from one source.

An exchange with a tracer yields `Trace` actions at each phase httpcore names, with its
event names and info keys: ``connection.connect_tcp`` (``connect_unix_socket`` for a
Unix socket), ``connection.start_tls``; ``http11.send_request_headers``,
``http11.send_request_body``, ``http11.receive_response_headers`` (complete's
``return_value``: ``(http_version, status, reason, headers)``),
``http11.receive_response_body``, ``http11.response_closed``; on HTTP/2
``http2.send_connection_init`` (with a connection's first stream), then the same
phases as ``http2.*`` with ``stream_id`` in their info (``receive_response_headers``
returns ``(status, headers)``). Each comes as ``.started`` (info: the phase's
arguments, ``{"request": request}`` for HTTP), ``.complete`` (``{"return_value": ...}``)
or ``.failed`` (``{"exception": exc}``). The interpreter performs a `Trace`: it calls
the user's callback (awaits it, in async) and logs the event when ``log`` says so
(`log_event`, httpcore's message shapes).

Rules
-----
1. No tracer, no cost: an exchange gets one only when the request carries a ``trace``
   callback or a trace logger takes DEBUG records (`debug_logging`); every hook in the
   exchange is behind one ``is not None`` test.
2. The info of ``connect_tcp.started`` and ``start_tls.started`` holds what the engine
   knows (host, port, timeout; server_hostname, timeout): the socket details and the
   SSL context are the interpreter's.
3. `logging` is never imported by conch itself: until the program imports it, no logger
   can take DEBUG records (it is then imported when a request is next planned).
"""

from __future__ import annotations

from collections.abc import Iterator
from types import CoroutineType

from sansio._logcache import loggers
from sansio._typing_lite import TYPE_CHECKING, Any

from .actions import Trace

if TYPE_CHECKING:  # pragma: no cover
    import logging

    from sansio.models import Request

__all__ = [
    "LOGGER_PREFIX",
    "Trace",
    "Tracer",
    "async_result",
    "debug_logging",
    "log_event",
    "sync_result",
]

# The loggers are LOGGER_PREFIX + ".connection", ".http11", ".http2" (httpcore's, under
# `conch.alias_httpx()`, which sets "httpcore").
LOGGER_PREFIX = "conch"
_SUFFIXES = ("connection", "http11", "http2")
_DEBUG = 10  # `logging.DEBUG`, without importing logging to read it
_loggers: dict[str, logging.Logger] = {}
# By prefix: the three loggers (typed Any: their ``_cache`` is not in logging's stubs),
# and whether logging's cache holds their answers.
_groups: dict[str, tuple[Any, Any, Any, bool]] = {}


class Tracer:
    """The trace events of one exchange; at most one phase is open at a time."""

    __slots__ = ("_callback", "_info", "_log", "_phase", "_request")

    def __init__(self, callback: Any, log: bool, request: Request) -> None:
        self._callback = callback
        self._log = log
        self._request = request
        self._phase: str | None = None
        self._info: dict[str, Any] = {}

    @property
    def request(self) -> Request:
        return self._request

    def started(self, phase: str, info: dict[str, Any] | None = None) -> Trace:
        """``phase`` begins (info: ``{"request": request}`` unless given)."""
        self._phase = phase
        if info is None:
            info = {"request": self._request}
        self._info = info
        return Trace(self._callback, self._log, phase + ".started", info)

    def advance(self, phase: str) -> Iterator[Trace]:
        """The open phase completes and ``phase`` begins, with the same info."""
        info = self._info
        yield self.complete()
        yield self.started(phase, info)

    def complete(self, return_value: Any = None) -> Trace:
        """The open phase ends well."""
        phase, self._phase = self._phase, None
        return Trace(self._callback, self._log, f"{phase}.complete", {"return_value": return_value})

    def failed(self, exc: BaseException) -> Iterator[Trace]:
        """The open phase ends with ``exc`` (no event if none is open: the callback
        itself failed at a phase's end)."""
        phase, self._phase = self._phase, None
        if phase is not None:
            yield Trace(self._callback, self._log, f"{phase}.failed", {"exception": exc})

    @property
    def phase(self) -> str | None:
        return self._phase


def _logger(name: str) -> logging.Logger:
    logger = _loggers.get(name)
    if logger is None:
        import logging

        logger = _loggers[name] = logging.getLogger(name)
    return logger


def debug_logging() -> bool:
    """Whether one of the trace loggers takes DEBUG records.

    Asked for every request: it reads the answers logging keeps in each logger's
    ``_cache`` (which logging empties whenever a level or `logging.disable` changes)
    without calling `Logger.isEnabledFor` three times, and asks logging itself when one
    is missing, a logger is disabled (logging caches no answer for that), or a logger
    class answers in its own way.
    """
    group = _groups.get(LOGGER_PREFIX)
    if group is None:
        group = _group(LOGGER_PREFIX)
        if group is None:  # logging is not imported: no logger takes DEBUG records
            return False
        _groups[LOGGER_PREFIX] = group
    connection, http11, http2, cached = group  # (unrolled: this runs for every request)
    if cached and not (connection.disabled or http11.disabled or http2.disabled):
        try:
            answer: bool = (
                connection._cache[_DEBUG] or http11._cache[_DEBUG] or http2._cache[_DEBUG]
            )
        except KeyError:  # emptied by a configuration change: logging answers again
            pass
        else:
            return answer
    asked: bool = (
        connection.isEnabledFor(_DEBUG) or http11.isEnabledFor(_DEBUG) or http2.isEnabledFor(_DEBUG)
    )
    return asked


def _group(prefix: str) -> tuple[Any, Any, Any, bool] | None:
    """The three trace loggers under ``prefix``, and whether their answers may be read
    from logging's cache (`sansio._logcache`); None before logging is imported."""
    group = loggers(tuple(f"{prefix}.{suffix}" for suffix in _SUFFIXES))
    if group is None:
        return None
    (connection, http11, http2), cached = group
    return connection, http11, http2, cached


def log_event(name: str, info: dict[str, Any]) -> None:
    """Log a trace event as httpcore does: ``connect_tcp.started host='x' port=443``
    on the logger of its first part (``connection`` -> ``conch.connection``)."""
    group, _, event = name.partition(".")
    logger = _logger(f"{LOGGER_PREFIX}.{group}")
    if not logger.isEnabledFor(_DEBUG):
        return
    if not info or ("return_value" in info and info["return_value"] is None):
        logger.debug(event)
    else:
        logger.debug("%s %s", event, " ".join(f"{key}={value!r}" for key, value in info.items()))


def sync_result(result: Any) -> None:
    """What a sync client's trace callback returned: a plain function's (httpcore's rule)."""
    if isinstance(result, CoroutineType):
        result.close()
        raise TypeError(
            "If you are using a synchronous interface, the callback of the `trace` extension"
            " should be a normal function instead of an asynchronous function."
        )


def async_result(result: Any) -> Any:
    """What an async client's trace callback returned: a coroutine, to await."""
    if not isinstance(result, CoroutineType):
        raise TypeError(
            "If you're using an asynchronous interface, the callback of the `trace` extension"
            " should be an asynchronous function rather than a normal function."
        )
    return result
