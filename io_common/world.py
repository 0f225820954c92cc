"""The real world for the core: installed once, when a shell is imported."""

from __future__ import annotations

import os
import time

from sansio import env


def install() -> None:
    """Give `sansio` the monotonic clock, wall clock, OS entropy and environment,
    unless an embedder installed its own first."""
    env.install_defaults(
        clock=time.monotonic,
        # Looked up at each call, not bound now: tests patch os.urandom (for repeatable
        # multipart boundaries, as they do with httpx) and time.time (freezegun).
        wall_clock=lambda: time.time(),
        random_bytes=lambda size: os.urandom(size),
        environ=os.environ,
    )
