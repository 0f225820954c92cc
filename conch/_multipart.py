"""httpx's ``_multipart`` module."""

from sansio.multipart import MultipartStream

__all__ = ["MultipartStream"]
