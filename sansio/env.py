"""The outside world, injected.

The core never reads the clock, a random source, the environment or a file by
itself. Whatever it needs of them arrives here, from the caller. The shells
install process-wide defaults (``time.monotonic``, ``os.urandom``,
``os.environ``) by calling `install`; code embedding `sansio` directly does the
same, or passes an `Env` explicitly where an API takes one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ._frozen import Frozen, set_field

__all__ = ["Env", "current", "install", "install_defaults"]


def _no_clock() -> float:
    raise RuntimeError(
        "sansio has no clock: call sansio.env.install(clock=...) "
        "(the conch shells do this on import) or pass `now` explicitly"
    )


def _no_random(n: int) -> bytes:
    raise RuntimeError(
        "sansio has no random source: call sansio.env.install(random_bytes=...) "
        "(the conch shells install os.urandom on import) or pass the value explicitly"
    )


class Env(Frozen, kw_only=True):
    """What the core may know of the world: a clock, randomness, environment, netrc text.

    ``environ`` defaults to a new empty dict.
    """

    __slots__ = ("clock", "environ", "netrc_text", "random_bytes", "wall_clock")
    clock: Callable[[], float]
    wall_clock: Callable[[], float]
    random_bytes: Callable[[int], bytes]
    environ: Mapping[str, str]
    netrc_text: str | None

    def __init__(
        self,
        *,
        clock: Callable[[], float] = _no_clock,
        wall_clock: Callable[[], float] = _no_clock,
        random_bytes: Callable[[int], bytes] = _no_random,
        environ: Mapping[str, str] | None = None,
        netrc_text: str | None = None,
    ) -> None:
        set_field(self, "clock", clock)
        set_field(self, "wall_clock", wall_clock)
        set_field(self, "random_bytes", random_bytes)
        set_field(self, "environ", {} if environ is None else environ)
        set_field(self, "netrc_text", netrc_text)


_current = Env()


def current() -> Env:
    """The process-wide default `Env` installed by a shell (or an embedder)."""
    return _current


def install(env: Env | None = None, /, **changes: object) -> Env:
    """Replace the process-wide default `Env`; returns the previous one.

    ``install(random_bytes=os.urandom)`` changes one field and keeps the others;
    ``install(previous)`` restores a saved `Env`.
    """
    global _current
    previous = _current
    base = env if env is not None else _current
    # Without changes, install the given object itself, so that restoring a saved
    # `Env` gives back exactly that object.
    _current = base.__replace__(**changes) if changes else base
    return previous


_UNSET_FIELDS = {"clock": _no_clock, "wall_clock": _no_clock, "random_bytes": _no_random}


def install_defaults(
    *,
    clock: Callable[[], float],
    wall_clock: Callable[[], float],
    random_bytes: Callable[[int], bytes],
    environ: Mapping[str, str],
) -> None:
    """Fill in the fields nobody has installed yet; what an embedder set is kept.

    The shells call this on import with the real clock, entropy and environment.
    """
    given = {"clock": clock, "wall_clock": wall_clock, "random_bytes": random_bytes}
    changes: dict[str, object] = {
        name: value
        for name, value in given.items()
        if getattr(_current, name) is _UNSET_FIELDS[name]
    }
    if not _current.environ:
        changes["environ"] = environ
    if changes:
        install(**changes)
