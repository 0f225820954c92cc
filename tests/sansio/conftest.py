"""Fixtures for the core's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sansio import h1
from sansio.h1_heads import PARSERS


@pytest.fixture(scope="module", params=list(PARSERS))
def every_parser(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run a module's tests once per response-head parser (llhttp and h11 where
    httptools is installed): `H1Connection()` takes the one set here."""
    previous = h1.DEFAULT_PARSER
    h1.DEFAULT_PARSER = request.param
    try:
        yield request.param
    finally:
        h1.DEFAULT_PARSER = previous
