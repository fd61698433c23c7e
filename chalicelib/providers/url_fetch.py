"""The SSRF guard of URL imports: fetch an image from a URL a user gave without reaching anything that is not on the
public internet.

Rules (issue 11, "Imports from URLs"; the settings are ``import_*`` in ``config.py``):

- ``https`` only; ``http`` too with ``import_allow_http`` (local work). No user name or password in the URL.
- Every address the host resolves to (``socket.getaddrinfo``, behind the replaceable ``resolve_host``) is checked,
  and the URL is refused when ANY of them is not globally routable (``address_refusal``): loopback, private, CGNAT,
  link-local (169.254.169.254 too), multicast, reserved, IPv6 unique-local, link-local and site-local, and the IPv6
  forms that embed an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64 ``64:ff9b::/96`` and ``64:ff9b:1::/48``,
  6to4 ``2002::/16``, Teredo ``2001::/32``). ``import_allow_private`` lifts this (local work only).
- The check happens where the connection is made: the httpx transport's network backend resolves the name, checks the
  answers and connects to one of the checked addresses, never to the name again, so a DNS answer that changes between
  the check and the connection (DNS rebinding) is never used. The URL keeps the name, so the ``Host`` header, TLS SNI
  and the certificate check are the name's.
- Redirects are followed by hand, each one checked again (scheme, credentials, and its addresses at connect time), at
  most ``import_max_redirects`` of them; the body is streamed and abandoned past ``import_max_bytes``; every connect
  and read has ``import_timeout_s`` and the whole fetch ``TOTAL_TIMEOUT_FACTOR`` times that. No proxy from the
  environment, no ``.netrc``, ``Accept-Encoding: identity`` (the cap counts the bytes on the wire).

``httpx-secure`` 2.0.0 was evaluated and not used: it protects ``httpx.AsyncClient`` only (the workers are
synchronous), picks one address by opening a TCP probe (to a denied address too) instead of checking every answer,
and relies on ``is_global``, which Python 3.12.1 answers True for ``64:ff9b::7f00:1``, ``64:ff9b:1::/48``, 6to4 of
loopback and multicast.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpcore
import httpx

from chalicelib.providers.base import ProviderFailure

if TYPE_CHECKING:
    from chalicelib.config import Settings

log = logging.getLogger(__name__)

SERVICE = "url_import"
#: The whole fetch (every hop, connect and body) must end within this many times ``import_timeout_s``.
TOTAL_TIMEOUT_FACTOR = 3
#: Bytes read per chunk of a streamed body.
CHUNK_BYTES = 64 * 1024
#: At most this many of a host's (checked) addresses are tried in turn, each within ``import_timeout_s``.
MAX_CONNECT_ATTEMPTS = 3
#: Statuses whose ``Location`` is followed (RFC 9110 section 15.4).
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "Sleeve-Import/1.0 (+https://github.com/sleeve-music/sleeve)"

type IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: ``(host, port) -> addresses`` as strings; raises ``OSError`` when the name does not resolve.
type Resolver = Callable[[str, int], Sequence[str]]


# -- errors ------------------------------------------------------------------------------------------------------------


class UrlFetchError(ProviderFailure):
    """A URL import failed: ``fetch_failed`` (a connection error, a timeout, a non-2xx answer), or a subclass's code.
    ``details``: ``service`` and, for an HTTP answer, ``status``."""

    default_code = "fetch_failed"

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None) -> None:
        super().__init__(SERVICE, message, code=code, details=details)


class UrlNotAllowedError(UrlFetchError):
    """The URL (or a redirect) is refused (422 ``url_not_allowed``); ``details.reason`` says why: ``invalid_url``,
    ``scheme``, ``credentials``, ``unresolvable``, or an address class of ``address_refusal`` (``loopback``,
    ``private``, ``cgnat``, ``link_local``…). ``details.via`` names an IPv6 form that embedded the address
    (``ipv4_mapped``, ``nat64``, ``6to4``) when one did. The refused address is logged, never answered."""

    status = 422
    default_code = "url_not_allowed"

    def __init__(self, message: str, *, reason: str, via: str | None = None) -> None:
        details: dict[str, Any] = {"reason": reason}
        if via is not None:
            details["via"] = via
        super().__init__(message, details=details)
        self.reason = reason


class FetchTooLargeError(UrlFetchError):
    """The body holds more than ``import_max_bytes`` (declared by ``Content-Length`` or counted while streaming)."""

    status = 422
    default_code = "too_large"


class TooManyRedirectsError(UrlFetchError):
    """More than ``import_max_redirects`` redirects."""

    status = 422
    default_code = "too_many_redirects"


# -- which addresses are refused -----------------------------------------------------------------------------------

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

#: IPv4 ranges refused by name (IANA IPv4 Special-Purpose Address Registry, RFC 6890); the first match names the
#: reason. Whatever else ``ipaddress`` does not call global is refused as ``not_global`` (documentation, benchmarking,
#: protocol assignments…).
_V4_REFUSED: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (_V4("0.0.0.0/8"), "unspecified"),
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("10.0.0.0/8"), "private"),
    (_V4("172.16.0.0/12"), "private"),
    (_V4("192.168.0.0/16"), "private"),
    (_V4("100.64.0.0/10"), "cgnat"),  # RFC 6598 shared address space (carrier-grade NAT)
    (_V4("169.254.0.0/16"), "link_local"),  # RFC 3927; 169.254.169.254 is the cloud metadata service
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("240.0.0.0/4"), "reserved"),  # 255.255.255.255 (broadcast) included
)
#: IPv6 ranges refused outright (IANA IPv6 Special-Purpose Address Registry).
_V6_REFUSED: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_V6("::/128"), "unspecified"),
    (_V6("::1/128"), "loopback"),
    (_V6("::/96"), "ipv4_compatible"),  # deprecated IPv4-compatible form (RFC 4291 section 2.5.5.1)
    (_V6("64:ff9b:1::/48"), "nat64"),  # local-use NAT64 prefix (RFC 8215): a translator inside the network
    (_V6("2001::/32"), "teredo"),  # RFC 4380; the client's IPv4 address is obfuscated in it
    (_V6("fc00::/7"), "unique_local"),  # RFC 4193
    (_V6("fe80::/10"), "link_local"),
    (_V6("fec0::/10"), "site_local"),  # deprecated (RFC 3879), still routed by some stacks
    (_V6("ff00::/8"), "multicast"),
)
_NAT64_WELL_KNOWN = _V6("64:ff9b::/96")  # RFC 6052: the last 32 bits are the IPv4 destination
_SIX_TO_FOUR = _V6("2002::/16")  # RFC 3056: bits 16-48 are the IPv4 address


def _embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 address stands for and the form's name, or None."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped, "ipv4_mapped"
    if address in _NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(address.packed[-4:]), "nat64"
    if address.sixtofour is not None:
        return address.sixtofour, "6to4"
    return None


def _v4_refusal(address: ipaddress.IPv4Address) -> str | None:
    for network, reason in _V4_REFUSED:
        if address in network:
            return reason
    return None if address.is_global else "not_global"


def address_refusal(address: IPAddress) -> tuple[str, str | None] | None:
    """Why ``address`` must not be fetched from: ``(reason, via)``, or None when it is globally routable.

    ``reason`` is an address class (``loopback``, ``private``, ``cgnat``, ``link_local``, ``multicast``,
    ``reserved``, ``unspecified``, ``unique_local``, ``site_local``, ``ipv4_compatible``, ``nat64``, ``teredo``,
    ``not_global``); ``via`` is the IPv6 form that embedded a refused IPv4 address (``ipv4_mapped``, ``nat64``,
    ``6to4``), None otherwise. An IPv6 form embedding a global IPv4 address is judged by that address. Pure.
    """
    if isinstance(address, ipaddress.IPv4Address):
        reason = _v4_refusal(address)
        return None if reason is None else (reason, None)
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        inner, via = embedded
        reason = _v4_refusal(inner)
        return None if reason is None else (reason, via)
    for network, name in _V6_REFUSED:
        if address in network:
            return name, None
    return None if address.is_global else ("not_global", None)


def parse_address(text: str) -> IPAddress | None:
    """``text`` as an IP address (an IPv6 zone ``%eth0`` dropped), or None when it is not one."""
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to for a TCP connection (``socket.getaddrinfo``), in the resolver's order,
    without duplicates. Raises ``OSError`` (``socket.gaierror``) when it does not resolve. The one place the guard
    asks DNS: tests replace it (``monkeypatch.setattr(url_fetch, "resolve_host", …)``), never the network."""
    answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[str, None] = {}
    for _family, _type, _proto, _name, sockaddr in answers:
        seen.setdefault(str(sockaddr[0]), None)
    return list(seen)


# -- the policy -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchPolicy:
    """What a fetch may do: ``allow_http``, ``allow_private`` (both local work only), only the ``allowed_hosts`` when
    that is not empty (lower-case names; checked before any DNS lookup, and on every redirect), at most
    ``max_redirects`` redirects and ``max_bytes`` bytes, ``timeout_s`` seconds per connect/read
    (``TOTAL_TIMEOUT_FACTOR`` times it in all)."""

    allow_http: bool = False
    allow_private: bool = False
    allowed_hosts: frozenset[str] = frozenset()
    max_redirects: int = 5
    max_bytes: int = 25_000_000
    timeout_s: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchPolicy:
        """The policy of the ``import_*`` settings."""
        return cls(
            allow_http=settings.import_allow_http,
            allow_private=settings.import_allow_private,
            allowed_hosts=frozenset(settings.import_allowed_hosts),
            max_redirects=settings.import_max_redirects,
            max_bytes=settings.import_max_bytes,
            timeout_s=settings.import_timeout_s,
        )


@dataclass(frozen=True)
class FetchedBody:
    """A fetched body: ``data`` (at most ``max_bytes``), the ``content_type`` the server declared (not trusted: sniff
    ``data``), the ``final_url`` after ``redirects`` redirects."""

    data: bytes
    content_type: str | None
    final_url: str
    redirects: int


# -- the fetcher ------------------------------------------------------------------------------------------------------


class UrlFetcher:
    """Checks and fetches URLs under a ``FetchPolicy``. ``resolver`` defaults to this module's ``resolve_host`` (looked
    up at each call, so tests can replace it); ``verify`` is httpx's (an ``ssl.SSLContext`` in tests with their own
    CA). One ``httpx.Client`` per fetch, closed at its end."""

    def __init__(
        self,
        policy: FetchPolicy,
        *,
        resolver: Resolver | None = None,
        verify: ssl.SSLContext | bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._policy = policy
        self._resolver = resolver
        self._verify = verify
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> UrlFetcher:
        """The fetcher of the ``import_*`` settings, resolving with ``resolve_host``."""
        return cls(FetchPolicy.from_settings(settings))

    @property
    def policy(self) -> FetchPolicy:
        """The rules this fetcher applies."""
        return self._policy

    def check_url(self, url: str, *, resolve: bool = True) -> httpx.URL:
        """``url`` parsed as httpx will request it, after the static rules (a valid absolute URL, the scheme, no
        credentials) and, with ``resolve``, the address rule on every DNS answer (or on the literal address).

        Raises ``UrlNotAllowedError`` (reasons ``invalid_url``, ``scheme``, ``credentials``, ``unresolvable`` or an
        address class). The fetch checks the addresses again when it connects: this answer is only a first look.
        """
        try:
            target = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError):
            raise UrlNotAllowedError("The URL is not a valid absolute URL.", reason="invalid_url") from None
        self._check_static(target)
        if resolve:
            self.checked_addresses(target.host, target.port or (443 if target.scheme == "https" else 80))
        return target

    def _check_static(self, target: httpx.URL) -> None:
        allowed = ("https", "http") if self._policy.allow_http else ("https",)
        if target.scheme not in allowed:
            raise UrlNotAllowedError(
                f"Only {' and '.join(allowed)} URLs are imported (not {target.scheme or 'a relative URL'}).",
                reason="scheme",
            )
        if not target.host:
            raise UrlNotAllowedError("The URL names no host.", reason="invalid_url")
        if target.userinfo:
            raise UrlNotAllowedError("The URL carries a user name or password.", reason="credentials")
        if self._policy.allowed_hosts and target.host.lower().rstrip(".") not in self._policy.allowed_hosts:
            raise UrlNotAllowedError(
                f"Imports are allowed from {', '.join(sorted(self._policy.allowed_hosts))} only.",
                reason="host_not_allowed",
            )

    def checked_addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for ``host``: the literal address, or every DNS answer, each one allowed.

        Raises ``UrlNotAllowedError``: ``unresolvable`` (no answer), or the class of the first refused answer (unless
        ``allow_private``)."""
        literal = parse_address(host.strip("[]"))
        if literal is not None:
            addresses = [str(literal)]
        else:
            resolver = self._resolver or resolve_host
            try:
                addresses = list(resolver(host, port))
            except (OSError, UnicodeError):
                raise UrlNotAllowedError(f"The host {host} does not resolve.", reason="unresolvable") from None
            if not addresses:
                raise UrlNotAllowedError(f"The host {host} does not resolve.", reason="unresolvable")
        if self._policy.allow_private:
            return addresses
        for text in addresses:
            address = parse_address(text)
            refusal = ("not_global", None) if address is None else address_refusal(address)
            if refusal is not None:
                reason, via = refusal
                log.warning("url import refused: %s resolves to %s (%s)", host, text, reason)
                raise UrlNotAllowedError(
                    f"The host {host} resolves to an address that is not on the public internet ({reason}).",
                    reason=reason,
                    via=via,
                )
        return addresses

    def fetch(self, url: str) -> FetchedBody:
        """GET ``url`` under the policy, following redirects by hand.

        Raises ``UrlNotAllowedError`` (the URL, a redirect, or an address at connect time), ``TooManyRedirectsError``,
        ``FetchTooLargeError``, ``UrlFetchError`` (``fetch_failed``: a non-2xx answer, a redirect without
        ``Location``, a connection error, a timeout, the total deadline).
        """
        target = self.check_url(url, resolve=False)
        deadline = self._clock() + self._policy.timeout_s * TOTAL_TIMEOUT_FACTOR
        with self._client() as client:
            for hop in range(self._policy.max_redirects + 1):
                if self._clock() > deadline:
                    raise UrlFetchError("The import took too long.")
                try:
                    with client.stream("GET", target) as response:
                        if response.status_code in REDIRECT_STATUSES:
                            target = self._redirect_target(target, response)
                            continue
                        return self._body(target, response, hop, deadline)
                except httpx.TimeoutException as exc:
                    raise UrlFetchError(f"{target.host} timed out ({type(exc).__name__}).") from None
                except httpx.TransportError as exc:
                    raise UrlFetchError(f"{target.host} could not be reached ({type(exc).__name__}).") from None
        raise TooManyRedirectsError(f"More than {self._policy.max_redirects} redirects.")

    def _redirect_target(self, current: httpx.URL, response: httpx.Response) -> httpx.URL:
        location = response.headers.get("Location")
        if not location:
            raise UrlFetchError(f"{current.host} answered {response.status_code} without a Location.")
        try:
            following = current.join(location)
        except (httpx.InvalidURL, ValueError):
            raise UrlNotAllowedError("A redirect names an invalid URL.", reason="invalid_url") from None
        self._check_static(following)
        return following

    def _body(self, target: httpx.URL, response: httpx.Response, hop: int, deadline: float) -> FetchedBody:
        cap = self._policy.max_bytes
        if not response.is_success:
            raise UrlFetchError(
                f"{target.host} answered {response.status_code}.", details={"status": response.status_code}
            )
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > cap:
            raise FetchTooLargeError(f"The file holds {declared} bytes; at most {cap} are imported.")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_raw(CHUNK_BYTES):
            size += len(chunk)
            if size > cap:
                raise FetchTooLargeError(f"The file holds more than {cap} bytes; at most {cap} are imported.")
            if self._clock() > deadline:
                raise UrlFetchError("The import took too long.")
            chunks.append(chunk)
        log.info("url import: %d bytes from %s after %d redirects", size, target.host, hop)
        return FetchedBody(
            data=b"".join(chunks),
            content_type=response.headers.get("Content-Type"),
            final_url=str(target),
            redirects=hop,
        )

    def _client(self) -> httpx.Client:
        timeout = self._policy.timeout_s
        return httpx.Client(
            transport=GuardedTransport(self.checked_addresses, verify=self._verify),
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": USER_AGENT, "Accept": "image/*", "Accept-Encoding": "identity"},
        )


# -- the pinned connection ----------------------------------------------------------------------------------------


class _CheckedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, connecting only to addresses ``check(host, port)`` allowed (the first
    ``MAX_CONNECT_ATTEMPTS`` of them, tried in order)."""

    def __init__(self, check: Callable[[str, int], list[str]]) -> None:
        self._check = check

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        failure: Exception | None = None
        for address in self._check(host, port)[:MAX_CONNECT_ATTEMPTS]:
            try:
                return super().connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None, "checked_addresses returns at least one address"
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are never used by URL imports")


class GuardedTransport(httpx.HTTPTransport):
    """An ``httpx.HTTPTransport`` whose connections go through ``_CheckedBackend``: each new connection resolves the
    request's host, refuses it unless every answer is allowed (``check`` raises ``UrlNotAllowedError``) and connects
    to a checked address. httpcore still performs TLS with the URL's host as SNI and checks the certificate against
    it. HTTP/1.1 only, no retries, no proxy (httpx 0.28 / httpcore 1.0, pinned in requirements.txt)."""

    def __init__(self, check: Callable[[str, int], list[str]], *, verify: ssl.SSLContext | bool = True) -> None:
        super().__init__(verify=verify, trust_env=False)
        ssl_context = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify=verify)
        # HTTPTransport takes no network backend: its pool is rebuilt with the checking one.
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            http1=True,
            http2=False,
            retries=0,
            network_backend=_CheckedBackend(check),
        )
