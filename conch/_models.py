"""httpx's ``_models`` module: requests, responses, headers and cookies."""

from sansio.cookies import Cookies
from sansio.headers import Headers
from sansio.models import Request, Response
from sansio.status import codes

__all__ = ["Cookies", "Headers", "Request", "Response", "codes"]
