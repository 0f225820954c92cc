"""httpx's ``_urls`` module."""

from sansio.urls import URL, QueryParams

__all__ = ["URL", "QueryParams"]
