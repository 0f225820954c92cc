"""httpx's ``_api`` module: the top-level request functions."""

from sync_io.api import delete, get, head, options, patch, post, put, request, stream

__all__ = ["delete", "get", "head", "options", "patch", "post", "put", "request", "stream"]
