"""The pure core, embedded with no sockets at all: a guide for library authors.

`MemoryClient` is a complete HTTP client built only from `sansio` pieces:

- `sansio.client.BaseClient` merges settings and builds requests;
- `sansio.flow.send_flow` decides auth, redirects, cookies and hooks, yielding actions;
- `sansio.testing.MemoryTransport` runs each request through a `sansio.engine.Engine`
  (pool, wire machines, retries), interpreted by `sansio.testing.Loop`.

The "network" is a `MemoryNetwork` of scripted peers on a virtual clock, so every run is
deterministic and instant: a peer that stays silent past the read timeout costs no real
time. Requests run as coroutines on the loop, one after another or several at once.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Any

from sansio import actions as act
from sansio.client import BaseClient
from sansio.config import USE_CLIENT_DEFAULT, Limits, UseClientDefault
from sansio.flow import send_flow
from sansio.models import Request, Response
from sansio.testing import Loop, MemoryTransport, Program, VirtualClock
from sansio.testing import MemoryNetwork as _Network

from .model import Peer, RequestSeen
from .peers import Tokens, make_program

__all__ = ["MemoryClient", "MemoryNetwork"]


class MemoryNetwork(_Network):
    """The scenario's peers at ``host:port`` addresses; each connection plays the next
    script of its peer, and what the peers see is recorded."""

    def __init__(self, peers: Sequence[Peer], ports: Sequence[int]) -> None:
        super().__init__(VirtualClock())
        self.peers = tuple(peers)
        self.tokens = Tokens([f"{p.host}:{port}" for p, port in zip(peers, ports, strict=True)])
        self.seen: list[list[RequestSeen]] = [[] for _ in peers]
        self.accepted = [0] * len(peers)
        self.errors: list[str] = []
        for index, (peer, port) in enumerate(zip(peers, ports, strict=True)):
            if peer.listening:
                self.listen(peer.host, port, lambda index=index: self._accept(index))  # type: ignore[misc]
                if peer.host == "127.0.0.1":
                    # "localhost" reaches the same listener, as on a real host.
                    self.listen("localhost", port, lambda index=index: self._accept(index))  # type: ignore[misc]

    def _accept(self, index: int) -> Program:
        peer = self.peers[index]
        number = self.accepted[index]
        self.accepted[index] += 1
        script = peer.connections[number] if number < len(peer.connections) else ()
        return make_program(
            peer, script, number, self.tokens, self.seen[index].append, self.errors.append
        )


class MemoryClient(BaseClient):
    """An httpx-style async client over a `MemoryNetwork`: `send` plus `BaseClient`'s
    settings. Run it with ``client.loop.run(...)``."""

    def __init__(
        self,
        network: MemoryNetwork,
        *,
        limits: Limits | None = None,
        http1: bool = True,
        http2: bool = False,
        retries: Any = 0,
        replay: Any = None,
        **settings: Any,
    ) -> None:
        super().__init__(**settings)
        self.loop = Loop(network)
        engine: dict[str, Any] = {"http1": http1, "http2": http2, "retries": retries}
        if replay is not None:  # a `sansio.replay.Recording` served instead of the peers
            engine["replay"] = replay
        if limits is not None:
            engine["limits"] = limits
        self._transport = MemoryTransport(self.loop, **engine)

    async def send(
        self,
        request: Request,
        *,
        stream: bool = False,
        auth: Any = USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> Response:
        options = self._send_options(
            request, stream=stream, auth=auth, follow_redirects=follow_redirects
        )
        flow = send_flow(request, options)
        user_auth: list[AsyncGenerator[Request, Response]] = []
        result: Any = None
        error: BaseException | None = None
        while True:
            try:
                action = flow.send(result) if error is None else flow.throw(error)
            except StopIteration as done:
                response: Response = done.value
                return response
            try:
                result, error = await self._perform(action, user_auth), None
            except BaseException as exc:  # the core decides what to close, then re-raises
                result, error = None, exc

    async def _on_informational(self, name: str, info: dict[str, Any]) -> None:
        """The ``informational`` extension's callback (awaited by the reference
        interpreter): the hooks see each 1xx as it is parsed."""
        for hook in self._event_hooks["informational"]:
            hook(info["response"])

    async def _perform(self, action: act.Action, user_auth: list[Any]) -> Any:
        match action:
            case act.SendRequest(request):
                return await self._transport.handle_async_request(request)
            case act.ReadResponse(response):
                return await response.aread()
            case act.DrainResponse(response, limit):
                return await response.adrain(limit)
            case act.CloseResponse(response):
                return await response.aclose()
            case act.ReadRequest(request):
                return await request.aread()
            case act.CallHooks(hooks, argument):
                for hook in hooks:
                    hook(argument)
                return None
            case act.StartUserAuth(auth, request):
                user_auth.append(auth.async_auth_flow(request))
                return await user_auth[-1].__anext__()
            case act.StepUserAuth(response):
                try:
                    return await user_auth[-1].asend(response)
                except StopAsyncIteration:
                    return None
        raise AssertionError(f"unknown action {action!r}")

    async def aclose(self) -> None:
        await self._transport.aclose()
