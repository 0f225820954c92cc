"""httpx's ``_auth`` module."""

from sansio.auth import Auth, BasicAuth, DigestAuth, FunctionAuth
from sync_io.netrc import NetRCAuth

__all__ = ["Auth", "BasicAuth", "DigestAuth", "FunctionAuth", "NetRCAuth"]
