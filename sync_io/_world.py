"""The real world for the core: installed once, when a shell is imported."""

from __future__ import annotations

import os
import time

from sansio import env


def install() -> None:
    """Give `sansio` the monotonic clock, wall clock, OS entropy and environment,
    unless an embedder installed its own first."""
    env.install_defaults(
        clock=time.monotonic, wall_clock=time.time, random_bytes=os.urandom, environ=os.environ
    )
