"""Record and replay files for the transports of both shells (`sansio.replay`).

The core records and replays; this module only reads a recording file when a transport
starts and writes one when it closes (in `async_io` too: a small blocking file write at
``aclose``). `sansio.replay` and JSON are loaded only for a transport that records or
replays.
"""

from __future__ import annotations

import os

from sansio._typing_lite import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from sansio.replay import Recorder, Recording

__all__ = ["open_tape", "save_tape"]


def open_tape(record: Any, replay: Any) -> tuple[Recorder | None, Recording | None, Any]:
    """The engine's ``record`` and ``replay`` for a transport's arguments: a `Recorder`
    or a path to write the recording to at close (the third item); a `Recording` or
    the path of a recording file."""
    path = None
    if isinstance(record, str | os.PathLike):
        from sansio.replay import Recorder

        path, record = record, Recorder()
    if isinstance(replay, str | os.PathLike):
        from sansio.replay import Recording

        with open(replay, "rb") as file:
            replay = Recording.loads(file.read())
    return record, replay, path


def save_tape(path: Any, recorder: Recorder | None) -> None:
    """Write what ``recorder`` has to ``path``, if the transport was given a path."""
    if path is not None and recorder is not None:
        with open(path, "w", encoding="ascii") as file:
            file.write(recorder.dumps())
