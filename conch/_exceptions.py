"""httpx's ``_exceptions`` module: the exception tree."""

from sansio.exceptions import *  # noqa: F403 (the whole tree, as httpx's module has it)
from sansio.exceptions import __all__ as __all__
