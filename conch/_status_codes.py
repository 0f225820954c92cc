"""httpx's ``_status_codes`` module."""

from sansio.status import codes

__all__ = ["codes"]
