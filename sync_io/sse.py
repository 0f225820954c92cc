"""`connect_sse`: server-sent events over the `Client`, with httpx-sse's API.

The core (`sansio.sse`) parses the stream and makes every reconnection decision; this
module only opens the streamed response and sleeps when told to. `sync_io.sse` and
`async_io.sse` mirror each other line for line (tests/test_twins.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from time import sleep
from typing import Any

from sansio.models import Response
from sansio.sse import EventSource, event_stream_headers
from sansio.urls import URL

from .client import Client

__all__ = ["connect_sse"]


@contextmanager
def connect_sse(
    client: Client, method: str, url: URL | str, **kwargs: Any
) -> Iterator[EventSource]:
    """Send an event-stream request with ``client.stream()`` and yield its `EventSource`.

    Keyword arguments go to ``client.stream()``; the headers get ``Accept:
    text/event-stream`` and ``Cache-Control: no-store``.
    """
    headers = kwargs.pop("headers", None)

    def connect(last_event_id: str | None) -> AbstractContextManager[Response]:
        return client.stream(
            method, url, headers=event_stream_headers(headers, last_event_id), **kwargs
        )

    with connect(None) as response:
        source = EventSource(response)
        source._bind(connect, sleep)
        yield source
