"""Proxies: which one a URL takes, and how a request goes through it.

Rules
-----
1. Proxy credentials go only to the proxy. ``Proxy(auth=...)`` and ``Proxy(headers=...)``
   travel on the CONNECT request or on a forwarded request (which the proxy itself
   reads), never inside a tunnel; a ``Proxy-Authorization`` header the caller put on a
   request is removed from a tunnelled request, so the origin never sees it. They live
   in the transport's proxy settings, not on the request, so a redirect to another
   origin cannot carry them either (and `redirects` strips a caller's own copy).
2. Connections are pooled by everything that makes them different: the proxy's URL,
   the TLS settings to the proxy, the credentials and headers it was given and, for a
   tunnel or SOCKS, the target origin and its TLS settings. Forwarded (``http://``)
   requests share connections to the proxy whatever their origin.
3. The environment comes in as a mapping; nothing here reads ``os.environ``.

Theory of operation
-------------------
A client turns ``proxy=``, ``proxies=`` or the environment into a `MountTable` of
`Proxy` values with `build_proxy_map`, and gives each distinct proxy a transport.
That transport builds one `ProxyPlanner` and asks it, per request, for a `ProxyPlan`:

* FORWARD (``http://`` target, ``http(s)://`` proxy): the request goes to the proxy
  with an absolute-form target and the proxy's headers (`forward_head`).
* TUNNEL (``https://`` target, ``http(s)://`` proxy): a new connection first sends
  `connect_head` through an `H1Connection`; `check_connect_response` accepts a 2xx
  (the machine then ends the stream as "switched") and turns anything else into a
  `ProxyError`. TLS to the origin follows inside the tunnel, and requests on it are
  `inner_head` (origin-form, no Proxy-Authorization).
* SOCKS5 (``socks5://`` or ``socks5h://`` proxy, either target): a new connection runs
  `socks_handshake`; then TLS for an ``https://`` target, and `inner_head` requests.
* SOCKS4 (``socks4://`` or ``socks4a://`` proxy): the same, with the SOCKS4 handshake.
  The proxy URL's user name is the SOCKS4 user id (there is no password).

Like httpx and httpcore, ``socks5://`` and ``socks5h://`` both send the host name to
the proxy, which resolves it (curl resolves locally for ``socks5://``); names are
never looked up on this machine, which is also the private choice. So does
``socks4a://``. ``socks4://`` cannot carry a name: the client resolves the target to
an IPv4 address first (`ProxyPlan.resolve_target` says when) and hands the address
to `ProxyConnector`. Neither SOCKS4 form can reach an IPv6 address (`ProxyError`).
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Hashable, Mapping

from . import env as _env
from ._frozen import Frozen, set_field
from ._typing_lite import TYPE_CHECKING
from .config import Proxy, ProxyTypes
from .exceptions import ProxyError, RemoteProtocolError, UnsupportedProtocol
from .h1 import H1Connection
from .mounts import MountTable, URLPattern
from .tls import ALPN_H1, TLSConfig
from .urls import URL
from .wire import SEND as _WIRE_SEND
from .wire import HandshakeStep, RequestHead, ResponseHead

if TYPE_CHECKING:  # pragma: no cover
    from .socks import Socks4Handshake, Socks5Handshake

# The steps of a handshake, a CONNECT's or SOCKS's: `sansio.socks` is imported for the
# first SOCKS proxy, not with conch.
SEND = HandshakeStep.SEND
RECEIVE = HandshakeStep.RECEIVE
DONE = HandshakeStep.DONE

__all__ = [
    "ProxyConnector",
    "ProxyMode",
    "ProxyPlan",
    "ProxyPlanner",
    "build_proxy_map",
    "check_connect_response",
    "connect_head",
    "forward_head",
    "inner_head",
    "plan_proxy",
    "proxies_from_environ",
    "request_head",
    "socks_handshake",
]

# SOCKS's port (RFC 1928 §3); http(s) ports come from URL's table (`URL.origin`).
_SOCKS_PORT = 1080
_SOCKS_SCHEMES = frozenset({"socks4", "socks4a", "socks5", "socks5h"})
_TARGET_SCHEMES = frozenset({"http", "https"})
_PROXY_AUTHORIZATION = b"proxy-authorization"


# -- which proxy ----------------------------------------------------------------------


def _environ_proxies(environ: Mapping[str, str]) -> dict[str, str]:
    """``<scheme>_proxy`` variables by scheme, as `urllib.request.getproxies_environment`."""
    found: dict[str, str] = {}
    # Any case first, then the lower-case names again, so that those win; an empty
    # lower-case variable removes the entry ("http_proxy=" switches HTTP_PROXY off).
    for name, value in environ.items():
        lower = name.lower()
        if value and lower.endswith("_proxy"):
            found[lower[:-6]] = value
    if "REQUEST_METHOD" in environ:
        # A CGI script gets HTTP_PROXY from the client's "Proxy:" request header
        # (httpoxy, CVE-2016-1000110): only the lower-case name is trusted there.
        found.pop("http", None)
    for name, value in environ.items():
        if name.endswith("_proxy"):
            if value:
                found[name.lower()[:-6]] = value
            else:
                found.pop(name.lower()[:-6], None)
    return found


def _no_proxy_key(entry: str) -> str:
    """The mount pattern for one NO_PROXY entry (see `proxies_from_environ`)."""
    if "://" in entry:
        return entry
    import ipaddress  # already loaded by the URL parser in practice

    address, slash, prefix = entry.partition("/")
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        pass
    else:
        return f"all://{entry}" if ip.version == 4 else f"all://[{address}]{slash}{prefix}"
    if entry.startswith("["):
        return f"all://{entry}"
    host = entry.partition(":")[0]
    if host.lower() == "localhost" or host.replace(".", "").isdigit():
        # A name or address with a port ("localhost:8080", "10.0.0.1:8080"): exact.
        return f"all://{entry}"
    if entry.startswith("*."):
        entry = entry[1:]
    return f"all://*{entry}"


def proxies_from_environ(environ: Mapping[str, str]) -> dict[str, str | None]:
    """Proxy patterns from HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY, as httpx reads them.

    Names are matched in any case, and a lower-case variable wins over its upper-case
    twin (urllib's rule; an empty lower-case one removes the proxy). Under CGI
    (``REQUEST_METHOD`` set) upper-case HTTP_PROXY is ignored. A proxy without a
    scheme gets ``http://``. Returns ``{"http://": url, "https://": url, "all://":
    url}`` plus a ``None`` (no proxy) entry per NO_PROXY item:

    * ``*`` anywhere in NO_PROXY: no proxies at all (the result is empty);
    * ``example.com``: ``"all://*example.com"`` (the domain and its subdomains);
    * ``.example.com`` or ``*.example.com``: ``"all://*.example.com"`` (subdomains only);
    * ``localhost``: ``"all://localhost"``; ``192.168.1.1``: ``"all://192.168.1.1"``;
      ``::1``: ``"all://[::1]"``; ``example.com:8080`` only that port;
    * ``10.0.0.0/8``, ``fd00::/8``: ``"all://10.0.0.0/8"``, ``"all://[fd00::]/8"``,
      every address in the range, as requests matches them (httpx exempts the one
      address); host names are not resolved to be compared with a range;
    * ``http://example.com`` and other patterns with a scheme are used as they are.

    A trailing dot on either side is ignored (``example.com`` covers
    ``example.com.``), as curl does. Entries that do not form a valid pattern
    (``10.0.0.0/33``) are skipped (so the proxy stays in use for them), rather than
    failing the client.
    """
    found = _environ_proxies(environ)
    result: dict[str, str | None] = {}
    for scheme in ("http", "https", "all"):
        url = found.get(scheme)
        if url:
            result[f"{scheme}://"] = url if "://" in url else f"http://{url}"
    for item in found.get("no", "").split(","):
        entry = item.strip()
        if entry == "*":
            return {}
        if not entry:
            continue
        key = _no_proxy_key(entry)
        try:
            URLPattern(key)
        except ValueError:
            continue
        result[key] = None
    return result


def _as_proxy(value: object) -> Proxy:
    if isinstance(value, Proxy):
        return value
    if isinstance(value, str | URL):
        return Proxy(value)
    raise TypeError(f"a proxy is a URL, a str or a Proxy, not {type(value).__name__}")


def build_proxy_map(
    proxy: ProxyTypes | None = None,
    proxies: ProxyTypes | Mapping[str, ProxyTypes | None] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    trust_env: bool = True,
) -> MountTable[Proxy | None]:
    """Which proxy each URL takes: mount patterns mapped to a `Proxy`, or ``None`` (direct).

    ``proxy`` routes everything (``{"all://": proxy}``). ``proxies`` is the older
    httpx/requests-style argument: a single proxy, or a mapping of patterns such as
    ``"http://"``, ``"all://"`` or ``"all://*example.com"`` to a proxy or ``None``.
    With neither, the environment (``environ``, by default `sansio.env.current`'s) is
    used when ``trust_env``; httpx passes ``trust_env and transport is None`` here. An
    explicit ``proxy``/``proxies`` (even ``{}``) ignores the environment, NO_PROXY
    included, as httpx does. Look a URL up with ``table.lookup(url, None)``.
    """
    if proxy is not None and proxies is not None:
        raise ValueError("give either proxy= or proxies=, not both")
    if proxy is not None:
        return MountTable({"all://": _as_proxy(proxy)})
    if proxies is not None:
        if isinstance(proxies, Mapping):
            return MountTable(
                {key: None if value is None else _as_proxy(value) for key, value in proxies.items()}
            )
        return MountTable({"all://": _as_proxy(proxies)})
    if not trust_env:
        return MountTable({})
    if environ is None:
        environ = _env.current().environ
    return MountTable(
        {
            key: None if value is None else Proxy(value)
            for key, value in proxies_from_environ(environ).items()
        }
    )


# -- how a request goes through it ----------------------------------------------------


class ProxyMode(enum.Enum):
    """How a request travels through its proxy."""

    FORWARD = "forward"
    """An ``http://`` target: the request goes to the proxy in absolute form."""
    TUNNEL = "tunnel"
    """An ``https://`` target: CONNECT, then TLS to the origin through the tunnel."""
    SOCKS5 = "socks5"
    """A SOCKS5 handshake, then (TLS and) the request as if connected directly."""
    SOCKS4 = "socks4"
    """A SOCKS4 or SOCKS4a handshake, then (TLS and) the request as if connected directly."""


_SOCKS_MODES = {
    "socks4": ProxyMode.SOCKS4,
    "socks4a": ProxyMode.SOCKS4,
    "socks5": ProxyMode.SOCKS5,
    "socks5h": ProxyMode.SOCKS5,
}


class ProxyPlan(Frozen, kw_only=True):
    """One request's way through a proxy: where to connect and what to say there."""

    __slots__ = (
        "has_credentials",
        "headers",
        "host",
        "key",
        "mode",
        "origin_tls",
        "port",
        "proxy_tls",
        "proxy_url",
        "remote_dns",
        "resolve_target",
        "socks_auth",
        "target_host",
        "target_port",
    )
    _hidden = frozenset({"key", "headers", "socks_auth"})  # they hold the credentials

    mode: ProxyMode
    key: Hashable
    """The pool key: connections with equal keys are interchangeable."""
    host: str
    """The proxy's host to connect to (ASCII or an IP address, IPv6 unbracketed)."""
    port: int
    proxy_tls: TLSConfig | None
    """TLS to the proxy itself (an ``https://`` proxy), HTTP/1.1 only; else None."""
    target_host: str
    """The origin's host (ASCII, IDNA-encoded; IPv6 unbracketed)."""
    target_port: int
    origin_tls: TLSConfig | None
    """TLS to the origin, inside the tunnel or over SOCKS; None for ``http://``."""
    proxy_url: URL
    """The proxy's URL, without credentials (for messages)."""
    headers: tuple[tuple[bytes, bytes], ...]
    """Headers for the proxy: Proxy-Authorization first, then ``Proxy.headers``."""
    has_credentials: bool
    socks_auth: tuple[bytes, bytes] | None
    """SOCKS5 username and password; for SOCKS4, the user id and ``b""``."""
    remote_dns: bool
    resolve_target: bool
    """The client must resolve `target_host` to an IPv4 address before the handshake
    and pass it as ``ProxyConnector(plan, target_address=...)`` (``socks4://`` to a
    host name: SOCKS4 carries only an address)."""

    def __init__(
        self,
        *,
        mode: ProxyMode,
        key: Hashable,
        host: str,
        port: int,
        proxy_tls: TLSConfig | None,
        target_host: str,
        target_port: int,
        origin_tls: TLSConfig | None,
        proxy_url: URL,
        headers: tuple[tuple[bytes, bytes], ...] = (),
        has_credentials: bool = False,
        socks_auth: tuple[bytes, bytes] | None = None,
        remote_dns: bool = True,
        resolve_target: bool = False,
    ) -> None:
        set_field(self, "mode", mode)
        set_field(self, "key", key)
        set_field(self, "host", host)
        set_field(self, "port", port)
        set_field(self, "proxy_tls", proxy_tls)
        set_field(self, "target_host", target_host)
        set_field(self, "target_port", target_port)
        set_field(self, "origin_tls", origin_tls)
        set_field(self, "proxy_url", proxy_url)
        set_field(self, "headers", headers)
        set_field(self, "has_credentials", has_credentials)
        set_field(self, "socks_auth", socks_auth)
        set_field(self, "remote_dns", remote_dns)
        set_field(self, "resolve_target", resolve_target)

    @property
    def target(self) -> bytes:
        """``host:port`` of the origin, as a CONNECT request names it."""
        host = self.target_host
        text = f"[{host}]:{self.target_port}" if ":" in host else f"{host}:{self.target_port}"
        return text.encode("ascii")


class ProxyPlanner:
    """One proxy's settings, checked and encoded once; `plan` runs per request.

    ``trust_env`` lets SSL_CERT_FILE/SSL_CERT_DIR apply to the TLS connection to an
    ``https://`` proxy. That connection is verified with ``Proxy(ssl_context=...)``
    when given, else with the default trust store, as in httpx: the transport's own
    ``verify``/``cert`` are for origins only.
    """

    __slots__ = (
        "_base_key",
        "_forward_key",
        "_has_credentials",
        "_headers",
        "_host",
        "_port",
        "_proxy_tls",
        "_remote_dns",
        "_socks",
        "_socks_auth",
        "_url",
    )

    def __init__(self, proxy: ProxyTypes, *, trust_env: bool = True) -> None:
        proxy = _as_proxy(proxy)
        url = proxy.url
        scheme = url.scheme
        host = url.raw_host.decode("ascii")
        if not host:
            raise ValueError(f"the proxy URL {str(url)!r} has no host")
        port = url.port or (_SOCKS_PORT if scheme in _SOCKS_SCHEMES else url.origin[2])
        self._url = url
        self._host = host
        self._port = port
        # The mode of every plan, for SOCKS proxies; None for HTTP(S) ones.
        self._socks: ProxyMode | None = _SOCKS_MODES.get(scheme)
        self._remote_dns = scheme != "socks4"
        self._proxy_tls: TLSConfig | None = None
        self._headers: tuple[tuple[bytes, bytes], ...] = ()
        self._socks_auth: tuple[bytes, bytes] | None = None
        if scheme != "https" and proxy.ssl_context is not None:
            # Ignoring it would leave the user believing the proxy link is encrypted.
            raise ValueError(
                f"Proxy(ssl_context=...) is for https:// proxies; {str(url)!r} is not one"
            )
        if self._socks is not None:
            from .socks import socks4_user_id, socks5_credentials

            # SOCKS carries no HTTP headers: Proxy.headers have nowhere to go.
            raw_auth = proxy.raw_auth
            # Checked now, so that a bad setting fails when the client is built.
            if raw_auth is not None and self._socks is ProxyMode.SOCKS4:
                if raw_auth[1]:
                    raise ValueError(
                        "SOCKS4 has no password, only a user id: give it as "
                        f"{scheme}://user@host:port"
                    )
                self._socks_auth = (socks4_user_id(raw_auth[0]), b"")
            elif raw_auth is not None:
                self._socks_auth = socks5_credentials(raw_auth)
            self._has_credentials = raw_auth is not None
            self._base_key: tuple[object, ...] = (scheme, host, port, self._socks_auth)
            self._forward_key: tuple[object, ...] = ()
            return
        if scheme == "https":
            self._proxy_tls = TLSConfig(
                verify=proxy.ssl_context if proxy.ssl_context is not None else True,
                trust_env=trust_env,
                alpn=ALPN_H1,
                server_hostname=host,
            )
        headers = proxy.headers.raw
        raw_auth = proxy.raw_auth
        if raw_auth is not None:
            user, password = raw_auth
            if b":" in user:
                raise ValueError("a proxy username cannot contain ':' (RFC 7617 Basic)")
            token = base64.b64encode(user + b":" + password)
            # Explicit auth wins over a Proxy-Authorization among the proxy's headers.
            headers = [
                (b"Proxy-Authorization", b"Basic " + token),
                *(pair for pair in headers if pair[0].lower() != _PROXY_AUTHORIZATION),
            ]
        self._headers = tuple(headers)
        self._has_credentials = any(n.lower() == _PROXY_AUTHORIZATION for n, _ in headers)
        self._base_key = (scheme, host, port, self._proxy_tls, self._headers)
        # Every forwarded request shares one key: built once, not per request.
        self._forward_key = ("forward", self._base_key)

    def plan(
        self, url: URL, origin_tls: TLSConfig | None = None, *, tunnel: bool = False
    ) -> ProxyPlan:
        """How a request to `url` goes through this proxy.

        ``origin_tls`` is the TLS to the origin of an ``https://`` URL (by default
        verified with the default trust store, server name = host); it must be None
        for ``http://``. ``tunnel``: an ``http://`` request goes through a CONNECT tunnel
        of its own, not forwarded (an Upgrade, such as a WebSocket's: the connection
        will be the caller's, and a forwarding proxy would not pass the new protocol).
        """
        scheme = url.scheme
        if scheme not in _TARGET_SCHEMES:
            raise UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{scheme}://'."
                if scheme
                else "Request URL is missing an 'http://' or 'https://' protocol."
            )
        raw_host = url.raw_host
        if not raw_host:
            raise UnsupportedProtocol(f"Request URL {str(url)!r} has no host.")
        host = raw_host.decode("ascii")
        port = url.origin[2]
        if scheme == "https":
            if origin_tls is None:
                origin_tls = TLSConfig(server_hostname=host)
        elif origin_tls is not None:
            raise ValueError("origin_tls is for https:// URLs; this one is http://")
        resolve_target = False
        if self._socks is ProxyMode.SOCKS4:
            if ":" in host:
                raise ProxyError(
                    f"the SOCKS4 proxy {str(self._url)!r} cannot reach the IPv6 address "
                    f"[{host}]: SOCKS4 carries IPv4 addresses only (use socks5://)"
                )
            # socks4:// sends an address: a name is resolved by the client first.
            resolve_target = not self._remote_dns and not _is_ipv4(host)
        if self._socks is not None:
            # Every host a URL can hold fits a SOCKS5 or 4a request: the URL parser
            # refuses names over 253 bytes (DNS's limit; SOCKS carries 255) and zone ids.
            mode = self._socks
            key: Hashable = (mode.value, self._base_key, host, port, origin_tls)
        elif origin_tls is None and not tunnel:
            mode = ProxyMode.FORWARD
            key = self._forward_key
        else:
            mode = ProxyMode.TUNNEL
            key = ("tunnel", self._base_key, host, port, origin_tls)
        return ProxyPlan(
            mode=mode,
            key=key,
            host=self._host,
            port=self._port,
            proxy_tls=self._proxy_tls,
            target_host=host,
            target_port=port,
            origin_tls=origin_tls,
            proxy_url=self._url,
            headers=self._headers,
            has_credentials=self._has_credentials,
            socks_auth=self._socks_auth,
            remote_dns=self._remote_dns,
            resolve_target=resolve_target,
        )


def plan_proxy(
    url: URL, proxy: ProxyTypes, *, origin_tls: TLSConfig | None = None, trust_env: bool = True
) -> ProxyPlan:
    """`ProxyPlanner` for one request; a transport builds the planner once instead."""
    return ProxyPlanner(proxy, trust_env=trust_env).plan(url, origin_tls)


def connect_head(plan: ProxyPlan) -> RequestHead:
    """``CONNECT host:port HTTP/1.1`` with Host and the proxy's headers (credentials)."""
    if plan.mode is not ProxyMode.TUNNEL:
        raise ValueError(f"CONNECT is for tunnels, not {plan.mode.value} plans")
    target = plan.target
    return RequestHead(
        method=b"CONNECT",
        target=target,
        headers=[(b"Host", target), *plan.headers],
        authority=target,
        scheme=plan.proxy_url.raw_scheme,
    )


def forward_head(head: RequestHead, plan: ProxyPlan) -> RequestHead:
    """`head` as sent to a forwarding proxy: absolute-form target, the proxy's headers.

    A caller's header of the same name as one of the proxy's (Proxy-Authorization,
    typically) gives way to the proxy's, so it is never sent twice.
    """
    if plan.mode is not ProxyMode.FORWARD:
        raise ValueError(f"forwarding is for http:// targets, not {plan.mode.value} plans")
    target = head.scheme + b"://" + head.authority + head.target
    headers = head.headers
    if plan.headers:
        names = {name.lower() for name, _ in plan.headers}
        headers = [pair for pair in headers if pair[0].lower() not in names]
        headers += plan.headers
    return RequestHead(
        method=head.method,
        target=target,
        headers=headers,
        authority=head.authority,
        scheme=head.scheme,
    )


def inner_head(head: RequestHead) -> RequestHead:
    """`head` for the origin at the far end of a tunnel: no Proxy-Authorization at all."""
    headers = head.headers
    for name, _ in headers:
        if len(name) == 19 and name.lower() == _PROXY_AUTHORIZATION:
            break
    else:
        return head  # the usual case: nothing to strip, nothing copied
    return RequestHead(
        method=head.method,
        target=head.target,
        headers=[pair for pair in headers if pair[0].lower() != _PROXY_AUTHORIZATION],
        authority=head.authority,
        scheme=head.scheme,
    )


def request_head(head: RequestHead, plan: ProxyPlan) -> RequestHead:
    """The head to send for a request on `plan`: `forward_head` or `inner_head`."""
    if plan.mode is ProxyMode.FORWARD:
        return forward_head(head, plan)
    return inner_head(head)


def check_connect_response(head: ResponseHead, plan: ProxyPlan, trailing: bytes = b"") -> None:
    """Accept the proxy's answer to CONNECT (2xx: the tunnel is open) or raise `ProxyError`.

    ``trailing`` is `H1Connection.trailing_data`: bytes after a 2xx head. The client
    speaks first in HTTP and in TLS, so any such byte means the proxy misbehaved.
    """
    status = head.status_code
    where = f"{plan.target.decode('ascii')} through {str(plan.proxy_url)!r}"
    if 200 <= status < 300:
        if trailing:
            raise ProxyError(
                f"the proxy sent {len(trailing)} bytes after opening the tunnel to {where}, "
                "before conch had sent anything"
            )
        return
    reason = head.reason.decode("ascii", "replace")
    if status == 407:
        hint = (
            "it refused the credentials given"
            if plan.has_credentials
            else "give the proxy a username and password (http://user:password@host:port)"
        )
        raise ProxyError(f"407 {reason}: proxy authentication required to reach {where}; {hint}")
    raise ProxyError(f"{status} {reason}: the proxy would not open a tunnel to {where}")


def _is_ipv4(host: str) -> bool:
    parts = host.split(".")
    # The URL parser writes every IPv4 address in dotted-decimal form.
    return len(parts) == 4 and all(part.isascii() and part.isdigit() for part in parts)


def socks_handshake(
    plan: ProxyPlan, target_address: str | None = None
) -> Socks5Handshake | Socks4Handshake:
    """The SOCKS handshake machine for a new connection on `plan`.

    ``target_address`` is the IPv4 address the client resolved `ProxyPlan.target_host`
    to, when `ProxyPlan.resolve_target` asks for it; without it such a plan fails with
    `ProxyError`.
    """
    from .socks import Socks4Handshake, Socks5Handshake

    if plan.mode is ProxyMode.SOCKS5:
        return Socks5Handshake(
            plan.target_host, plan.target_port, plan.socks_auth, remote_dns=plan.remote_dns
        )
    if plan.mode is not ProxyMode.SOCKS4:
        raise ValueError(f"a SOCKS handshake is for SOCKS plans, not {plan.mode.value} plans")
    host = plan.target_host
    if plan.resolve_target:
        if target_address is None:
            raise ProxyError(
                f"the SOCKS4 proxy {str(plan.proxy_url)!r} needs {host!r} resolved to an "
                "IPv4 address by the client first (ProxyConnector(plan, target_address=...)),"
                " or use socks4a:// (the proxy resolves names) or socks5://"
            )
        if not _is_ipv4(target_address):
            raise ProxyError(
                f"{host!r} resolved to {target_address!r}, not an IPv4 address, which is "
                "all SOCKS4 can carry"
            )
        host = target_address
    user_id = plan.socks_auth[0] if plan.socks_auth is not None else b""
    return Socks4Handshake(host, plan.target_port, user_id, remote_dns=plan.remote_dns)


class ProxyConnector:
    """Everything said on a new connection before it carries requests: the CONNECT
    exchange of a tunnel, or the SOCKS handshake; nothing for forward proxying.

    Pull-style like the wire machines, so a shell's loop is the same everywhere::

        connector = ProxyConnector(plan)
        while (step := connector.next_step()) is not DONE:
            if step is SEND:
                stream.send_all(connector.data_to_send())
            else:                                   # RECEIVE
                connector.receive_data(stream.recv(65536))   # b"" = EOF

    Every failure is a `ProxyError` naming the proxy and the target. For a plan that
    says `ProxyPlan.resolve_target`, ``target_address`` is the IPv4 address the
    client resolved the target to.
    """

    __slots__ = ("_h1", "_plan", "_sid", "_socks")

    def __init__(self, plan: ProxyPlan, target_address: str | None = None) -> None:
        self._plan = plan
        self._h1: H1Connection | None = None
        self._socks: Socks5Handshake | Socks4Handshake | None = None
        self._sid = 0
        if plan.mode is ProxyMode.TUNNEL:
            self._h1 = H1Connection(validate_headers=False)
            self._sid = self._h1.start_request(connect_head(plan), has_body=False)
        elif plan.mode is ProxyMode.SOCKS5 or plan.mode is ProxyMode.SOCKS4:
            self._socks = socks_handshake(plan, target_address)

    def next_step(self) -> HandshakeStep:
        """SEND, RECEIVE or DONE (the connection now reaches the origin)."""
        socks = self._socks
        if socks is not None:
            step = socks.next_step()
            if step is DONE and socks.trailing_data():
                raise ProxyError(
                    f"the {self._plan.mode.value.upper()} proxy {str(self._plan.proxy_url)!r} "
                    "sent bytes after its handshake, before conch had sent anything"
                )
            return step
        h1 = self._h1
        if h1 is None:
            return DONE
        try:
            step_or_head = h1.next_step(self._sid)
        except RemoteProtocolError as exc:
            raise ProxyError(
                f"the proxy {str(self._plan.proxy_url)!r} answered CONNECT with a malformed "
                f"response: {exc}"
            ) from exc
        if isinstance(step_or_head, ResponseHead):
            check_connect_response(step_or_head, self._plan, h1.trailing_data())
            self._h1 = None
            return DONE
        # Before the head only SEND and RECEIVE occur for a body-less CONNECT.
        return SEND if step_or_head is _WIRE_SEND else RECEIVE

    def data_to_send(self) -> bytes:
        if self._socks is not None:
            return self._socks.data_to_send()
        return self._h1.data_to_send() if self._h1 is not None else b""

    def receive_data(self, data: bytes) -> None:
        """Bytes read from the proxy; ``b""`` means it closed the connection."""
        if self._socks is not None:
            self._socks.receive_data(data)
        elif self._h1 is not None:
            self._h1.receive_data(data)
