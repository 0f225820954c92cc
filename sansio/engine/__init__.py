"""The exchange engine: every request's choreography, once, for every interpreter.

`Engine` (one per transport) owns the pool, the planner, the open connections and
the HTTP/2 scheduling; `Engine.exchange` gives one `Exchange` per request, a pull
machine that yields the I/O `actions` its interpreter performs. The shells'
transports, the conformance core driver, `sansio.testing` and
`examples/selectors_loop.py` are interpreters of it.
"""

from __future__ import annotations

from .actions import (
    CHECKPOINT,
    END,
    NO_EFFECTS,
    PULL_FIRST,
    PULL_NEXT,
    Action,
    BodyChunk,
    BodyEvent,
    Checkpoint,
    Connect,
    Effects,
    EndOfBody,
    IOAction,
    Park,
    PullBody,
    Read,
    ReadReady,
    Resolve,
    ResponseHead,
    Sleep,
    StartTLS,
    Ticket,
    Trace,
    Write,
)
from .engine import Engine
from .exchange import Exchange

__all__ = [
    "CHECKPOINT",
    "END",
    "NO_EFFECTS",
    "PULL_FIRST",
    "PULL_NEXT",
    "Action",
    "BodyChunk",
    "BodyEvent",
    "Checkpoint",
    "Connect",
    "Effects",
    "EndOfBody",
    "Engine",
    "Exchange",
    "IOAction",
    "Park",
    "PullBody",
    "Read",
    "ReadReady",
    "Resolve",
    "ResponseHead",
    "Sleep",
    "StartTLS",
    "Ticket",
    "Trace",
    "Write",
]
