"""The ``informational`` request extension: the engine hands each 1xx response to its
callback as soon as the head is parsed (HTTP/1.1 and HTTP/2), on the virtual clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sansio.models import Request, Response
from sansio.testing import Delay

from .test_engine import OK, REQUEST, H2Script, World, h2_world, scripted

HINTS = b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"

Seen = list[tuple[float, str, int, str | None]]


def watcher(world: World) -> tuple[Seen, Callable[[str, dict[str, Any]], Any]]:
    """The callback, and what it saw: (virtual time, name, status, Link)."""
    seen: Seen = []

    async def informational(name: str, info: dict[str, Any]) -> None:
        response: Response = info["response"]
        seen.append((world.clock.now, name, response.status_code, response.headers.get("link")))

    return seen, informational


def fetch(world: World, url: str = "http://example.org/", **extensions: Any) -> Response:
    async def main() -> Response:
        request = Request("GET", url, extensions=extensions)
        response = await world.transport.handle_async_request(request)
        await response.aread()
        return response

    return world.run(main())  # type: ignore[no-any-return]


def h1_world(*steps: Any) -> World:
    world = World()
    world.serve(scripted(steps))
    return world


def h2_hints_world() -> World:
    return h2_world(H2Script((1, ("hints", 0), Delay(5), ("reply", 0, b"ok"))))


@pytest.mark.parametrize("protocol", ["HTTP/1.1", "HTTP/2"])
def test_each_1xx_reaches_the_callback_before_the_final_head_is_read(protocol: str) -> None:
    if protocol == "HTTP/1.1":
        world = h1_world(REQUEST, HINTS, Delay(5), OK)
    else:
        world = h2_hints_world()
    start = world.clock.now
    seen, informational = watcher(world)
    response = fetch(world, informational=informational)
    # The 103 was seen at once, five virtual seconds before the final head came.
    assert seen == [(start, "informational", 103, "</a>")]
    assert world.clock.now == pytest.approx(start + 5)
    assert response.status_code == 200
    [early] = response.informational
    assert early.http_version == protocol
    assert response._informational_delivered == 1
    world.assert_clean()


def test_1xx_heads_in_the_same_read_as_the_final_one_come_first() -> None:
    world = h1_world(REQUEST, b"HTTP/1.1 100 Continue\r\n\r\n" + HINTS + OK)
    seen, informational = watcher(world)
    response = fetch(world, informational=informational)
    assert [status for _, _, status, _ in seen] == [100, 103]
    assert response._informational_delivered == 2
    # The final response lists the very responses the callback saw.
    assert [r.status_code for r in response.informational] == [100, 103]


def test_a_request_without_the_extension_delivers_nothing() -> None:
    world = h1_world(REQUEST, HINTS, OK)
    response = fetch(world)
    assert [r.status_code for r in response.informational] == [103]
    assert response._informational_delivered == 0


@pytest.mark.parametrize("protocol", ["HTTP/1.1", "HTTP/2"])
def test_a_failing_callback_fails_the_request_and_leaks_nothing(protocol: str) -> None:
    if protocol == "HTTP/1.1":
        world = World()
        world.serve(scripted((REQUEST, HINTS, Delay(5), OK), (REQUEST, OK)))
    else:
        world = h2_world(H2Script((1, ("hints", 0), 2, ("reply", 1, b"ok"))))
    start = world.clock.now

    async def informational(name: str, info: dict[str, Any]) -> None:
        raise LookupError("the hook failed")

    with pytest.raises(LookupError, match="the hook failed"):
        fetch(world, informational=informational)
    assert world.clock.now == start  # at once, not after the final head
    assert fetch(world, "http://example.org/2").status_code == 200  # the pool goes on
    world.assert_clean()
