"""The SSRF guard of URL imports (chalicelib/providers/url_fetch.py): every refused address class, literal and behind a
DNS name (the guard's resolver is replaced, never the network), the scheme and credential rules, and fetches from a
real ``http.server`` on 127.0.0.1: refused with the production settings before any byte is sent to it, fetched with
``allow_private``/``allow_http``; a redirect to a refused address, DNS rebinding between the check and the connect,
the Host/SNI/certificate of the name, too many redirects, oversized bodies, non-2xx answers and timeouts."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chalicelib.local.environment import build_environment
from chalicelib.providers import url_fetch
from chalicelib.providers.url_fetch import (
    FetchPolicy,
    FetchTooLargeError,
    TooManyRedirectsError,
    UrlFetcher,
    UrlFetchError,
    UrlNotAllowedError,
    address_refusal,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
LOCAL = FetchPolicy(allow_http=True, allow_private=True, max_redirects=3, max_bytes=10_000, timeout_s=2.0)

# Every refused class: (address, reason, via).
REFUSED = [
    ("127.0.0.1", "loopback", None),
    ("127.8.9.10", "loopback", None),
    ("10.1.2.3", "private", None),
    ("172.16.0.1", "private", None),
    ("172.31.255.254", "private", None),
    ("192.168.1.1", "private", None),
    ("100.64.0.1", "cgnat", None),
    ("100.127.255.254", "cgnat", None),
    ("169.254.169.254", "link_local", None),
    ("169.254.1.1", "link_local", None),
    ("0.0.0.0", "unspecified", None),
    ("224.0.0.1", "multicast", None),
    ("239.255.255.250", "multicast", None),
    ("255.255.255.255", "reserved", None),
    ("192.0.2.10", "not_global", None),
    ("198.18.0.1", "not_global", None),
    ("::", "unspecified", None),
    ("::1", "loopback", None),
    ("fc00::1", "unique_local", None),
    ("fd12:3456::1", "unique_local", None),
    ("fe80::1", "link_local", None),
    ("fec0::1", "site_local", None),
    ("ff02::1", "multicast", None),
    ("::ffff:127.0.0.1", "loopback", "ipv4_mapped"),
    ("::ffff:10.0.0.1", "private", "ipv4_mapped"),
    ("::ffff:169.254.169.254", "link_local", "ipv4_mapped"),
    ("::ffff:100.64.0.1", "cgnat", "ipv4_mapped"),
    ("64:ff9b::7f00:1", "loopback", "nat64"),
    ("64:ff9b::a9fe:a9fe", "link_local", "nat64"),
    ("64:ff9b::c0a8:101", "private", "nat64"),
    ("64:ff9b:1::a00:1", "nat64", None),
    ("64:ff9b:1:ffff::808:808", "nat64", None),
    ("2002:7f00:1::1", "loopback", "6to4"),
    ("2002:a9fe:a9fe::1", "link_local", "6to4"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "teredo", None),
    ("::7f00:1", "ipv4_compatible", None),
    ("2001:db8::1", "not_global", None),
]
ALLOWED = ["8.8.8.8", "151.101.1.69", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"]


def literal_url(address: str, scheme: str = "https") -> str:
    host = f"[{address}]" if ":" in address else address
    return f"{scheme}://{host}/cover.jpg"


def resolver_to(*answers: str) -> Callable[[str, int], list[str]]:
    return lambda host, port: list(answers)


# -- the address rule -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("address", "reason", "via"), REFUSED)
def test_each_refused_address_class_is_named(address: str, reason: str, via: str | None) -> None:
    # Given an address of a class that is not on the public internet
    # When the guard judges it
    # Then it is refused with its class (and the IPv6 form that embedded it)
    assert address_refusal(ipaddress.ip_address(address)) == (reason, via)


@pytest.mark.parametrize("address", ALLOWED)
def test_globally_routable_addresses_pass(address: str) -> None:
    # Given public addresses, also inside the IPv6 forms that embed a public IPv4 address
    # Then none is refused
    assert address_refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(("address", "reason", "via"), REFUSED)
def test_a_literal_address_in_the_url_is_refused_at_once(address: str, reason: str, via: str | None) -> None:
    # Given the production policy and a URL naming a refused address literally (no DNS involved)
    fetcher = UrlFetcher(FetchPolicy(), resolver=resolver_to("8.8.8.8"))
    # When the URL is checked (the API's first look)
    with pytest.raises(UrlNotAllowedError) as caught:
        fetcher.check_url(literal_url(address))
    # Then it is refused with the address's class
    assert caught.value.code == "url_not_allowed"
    assert caught.value.details["reason"] == reason
    assert caught.value.details.get("via") == via


@pytest.mark.parametrize(("address", "reason", "via"), REFUSED)
def test_a_dns_name_resolving_to_a_refused_address_is_refused(address: str, reason: str, via: str | None) -> None:
    # Given a public-looking name whose DNS answer is a refused address (the resolver the guard uses is replaced)
    fetcher = UrlFetcher(FetchPolicy(), resolver=resolver_to(address))
    # When it is checked
    with pytest.raises(UrlNotAllowedError) as caught:
        fetcher.check_url("https://images.example.com/cover.jpg")
    # Then it is refused with the class of the address it resolves to (the address is logged, never answered)
    assert caught.value.details["reason"] == reason
    assert caught.value.details.get("via") == via
    assert address not in caught.value.message and address not in str(caught.value.details)


def test_one_refused_answer_among_public_ones_refuses_the_name() -> None:
    # Given a name resolving to two public addresses and one private one
    fetcher = UrlFetcher(FetchPolicy(), resolver=resolver_to("8.8.8.8", "2606:4700:4700::1111", "10.0.0.7"))
    # Then the name is refused: ANY answer not globally routable refuses it
    with pytest.raises(UrlNotAllowedError) as caught:
        fetcher.check_url("https://images.example.com/cover.jpg")
    assert caught.value.details["reason"] == "private"


def test_the_system_resolver_is_looked_up_at_each_call(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the default fetcher and the module's resolver replaced (the seam the integration tests use)
    asked: list[tuple[str, int]] = []
    monkeypatch.setattr(url_fetch, "resolve_host", lambda host, port: asked.append((host, port)) or ["10.9.9.9"])
    # When a name is checked
    with pytest.raises(UrlNotAllowedError):
        UrlFetcher(FetchPolicy()).check_url("https://images.example.com:8443/a.png")
    # Then the replaced resolver answered it, with the URL's port
    assert asked == [("images.example.com", 8443)]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://images.example.com/a.png", "scheme"),
        ("ftp://images.example.com/a.png", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://images.example.com/", "scheme"),
        ("/relative/a.png", "scheme"),
        ("https://user:secret@images.example.com/a.png", "credentials"),
        ("https://", "invalid_url"),
        ("https://[::1/a.png", "invalid_url"),
    ],
)
def test_static_rules(url: str, reason: str) -> None:
    # Given the production policy
    fetcher = UrlFetcher(FetchPolicy(), resolver=resolver_to("8.8.8.8"))
    # Then URLs that are not https, carry credentials or do not parse are refused
    with pytest.raises(UrlNotAllowedError) as caught:
        fetcher.check_url(url)
    assert caught.value.details["reason"] == reason


def test_an_unresolvable_name_is_refused() -> None:
    def no_answer(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(UrlNotAllowedError) as caught:
        UrlFetcher(FetchPolicy(), resolver=no_answer).check_url("https://nowhere.example/a.png")
    assert caught.value.details["reason"] == "unresolvable"


def test_http_and_private_addresses_pass_only_with_the_local_settings() -> None:
    # Given the local policy (allow_http, allow_private)
    fetcher = UrlFetcher(LOCAL, resolver=resolver_to("10.0.0.5"))
    # Then an http URL to a private address passes the check
    assert fetcher.check_url("http://minio.local:9000/a.png").host == "minio.local"


def test_the_local_stack_allows_http_and_private_imports_and_a_developer_can_turn_them_off(tmp_path: Path) -> None:
    # Given the project's .chalice/config.json (the local stage's variables)
    project = Path(__file__).resolve().parents[2]
    # When the local stack builds its environment
    env = build_environment(project, "local", "http://127.0.0.1:5000")
    shell = build_environment(project, "local", "http://127.0.0.1:5000", shell={"SLEEVE_IMPORT_ALLOW_PRIVATE": "false"})
    # Then imports may use http and private addresses there (the fake servers on loopback), unless the shell says no
    assert env["SLEEVE_IMPORT_ALLOW_HTTP"] == "true"
    assert env["SLEEVE_IMPORT_ALLOW_PRIVATE"] == "true"
    assert shell["SLEEVE_IMPORT_ALLOW_PRIVATE"] == "false"
    # And the deployed stages keep the production rules (neither variable is set for them)
    dev = build_environment(project, "dev", "http://127.0.0.1:5000")
    assert "SLEEVE_IMPORT_ALLOW_HTTP" not in dev and "SLEEVE_IMPORT_ALLOW_PRIVATE" not in dev


# -- a real server on loopback ----------------------------------------------------------------------------------------


@dataclass
class Route:
    status: int = 200
    body: bytes = PNG
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "image/png"})
    chunked: bool = False
    delay_s: float = 0.0


class Loopback:
    """A ``ThreadingHTTPServer`` on 127.0.0.1 serving ``routes`` by path and recording ``(path, Host)`` of each GET."""

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[tuple[str, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                owner.seen.append((self.path, self.headers.get("Host", "")))
                route = owner.routes.get(self.path, Route(status=404, body=b"not here", headers={}))
                time.sleep(route.delay_s)
                self.send_response(route.status)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                if route.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for start in range(0, len(route.body), 1000):
                        piece = route.body[start : start + 1000]
                        self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    self.wfile.write(b"0\r\n\r\n")
                    return
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if context is not None:
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str, host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server() -> Iterator[Loopback]:
    loopback = Loopback()
    yield loopback
    loopback.close()


def test_a_local_server_on_loopback_is_refused_with_the_production_settings(server: Loopback) -> None:
    # Given a real server on 127.0.0.1 serving an image
    server.routes["/cover.png"] = Route()
    # When it is fetched with the production rules, by address and by a name resolving to it
    for fetcher, url in (
        (UrlFetcher(FetchPolicy()), server.url("/cover.png")),
        (UrlFetcher(FetchPolicy(allow_http=True)), server.url("/cover.png")),
        (
            UrlFetcher(FetchPolicy(allow_http=True), resolver=resolver_to("127.0.0.1")),
            server.url("/cover.png", "a.test"),
        ),
    ):
        with pytest.raises(UrlNotAllowedError):
            fetcher.fetch(url)
    # Then the server never received a request: the refusal comes before the connection
    assert server.seen == []


def test_a_local_server_is_fetched_with_allow_private_and_allow_http(server: Loopback) -> None:
    # Given the local settings
    server.routes["/cover.png"] = Route()
    # When the loopback server is fetched
    fetched = UrlFetcher(LOCAL).fetch(server.url("/cover.png"))
    # Then its bytes arrive whole with the declared type
    assert fetched.data == PNG
    assert fetched.content_type == "image/png"
    assert fetched.redirects == 0


def test_the_connection_goes_to_the_checked_address_with_the_names_host_header(server: Loopback) -> None:
    # Given a name that only the guard's resolver knows, pointing at the loopback server
    server.routes["/cover.png"] = Route()
    fetcher = UrlFetcher(LOCAL, resolver=resolver_to("127.0.0.1"))
    # When it is fetched
    fetched = fetcher.fetch(server.url("/cover.png", "images.sleeve.test"))
    # Then the socket went to the checked address and the request still names the host
    assert fetched.data == PNG
    assert server.seen == [("/cover.png", f"images.sleeve.test:{server.port}")]


def test_dns_rebinding_after_the_check_is_refused_at_connect_time(server: Loopback) -> None:
    # Given a name that resolves to a public address when the API checks it, then to loopback (rebinding)
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    fetcher = UrlFetcher(FetchPolicy(allow_http=True), resolver=lambda host, port: next(answers))
    url = server.url("/cover.png", "rebind.example.com")
    server.routes["/cover.png"] = Route()
    fetcher.check_url(url)
    # When the worker fetches it
    with pytest.raises(UrlNotAllowedError) as caught:
        fetcher.fetch(url)
    # Then the connect-time check refuses the new answer and nothing reached the server
    assert caught.value.details["reason"] == "loopback"
    assert server.seen == []


def public_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let 127.0.0.1 (and only it) stand in for a public host, so a redirect from it can be judged."""
    real = url_fetch.address_refusal
    monkeypatch.setattr(url_fetch, "address_refusal", lambda a: None if str(a) == "127.0.0.1" else real(a))


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://127.0.0.2:{port}/cover.png", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link_local"),
        ("http://[::ffff:10.0.0.1]/x", "private"),
        ("http://[64:ff9b::a9fe:a9fe]/x", "link_local"),
        ("http://internal.corp.example/cover.png", "private"),
        ("file:///etc/passwd", "scheme"),
    ],
)
def test_a_redirect_to_a_refused_address_is_refused(
    server: Loopback, monkeypatch: pytest.MonkeyPatch, location: str, reason: str
) -> None:
    # Given a "public" server (see public_loopback) redirecting to a refused address; internal.corp.example resolves
    # to a private address
    public_loopback(monkeypatch)
    server.routes["/start"] = Route(status=302, body=b"", headers={"Location": location.format(port=server.port)})
    resolve = {"public.example.com": ["127.0.0.1"], "internal.corp.example": ["10.1.2.3"]}
    fetcher = UrlFetcher(FetchPolicy(allow_http=True), resolver=lambda host, port: resolve[host])
    # When it is fetched
    with pytest.raises(UrlNotAllowedError) as caught:
        fetcher.fetch(server.url("/start", "public.example.com"))
    # Then the redirect is refused and only the first request was made
    assert caught.value.details["reason"] == reason
    assert [path for path, _host in server.seen] == ["/start"]


def test_redirects_are_followed_up_to_the_limit(server: Loopback) -> None:
    # Given a chain of redirects /r0 → /r1 → … → /r5 → the image
    for hop in range(5):
        server.routes[f"/r{hop}"] = Route(status=301 + hop % 2, body=b"", headers={"Location": f"/r{hop + 1}"})
    server.routes["/r5"] = Route(status=307, body=b"", headers={"Location": server.url("/cover.png")})
    server.routes["/cover.png"] = Route()
    # When fetched with max_redirects 6 it arrives; with 5 it is refused
    allowed = UrlFetcher(FetchPolicy(allow_http=True, allow_private=True, max_redirects=6)).fetch(server.url("/r0"))
    assert allowed.data == PNG and allowed.redirects == 6
    with pytest.raises(TooManyRedirectsError) as caught:
        UrlFetcher(FetchPolicy(allow_http=True, allow_private=True, max_redirects=5)).fetch(server.url("/r0"))
    assert caught.value.code == "too_many_redirects"


def test_a_redirect_loop_ends_with_too_many_redirects(server: Loopback) -> None:
    server.routes["/loop"] = Route(status=302, body=b"", headers={"Location": "/loop"})
    with pytest.raises(TooManyRedirectsError):
        UrlFetcher(LOCAL).fetch(server.url("/loop"))
    assert len(server.seen) == LOCAL.max_redirects + 1


def test_a_declared_oversized_body_is_refused_before_reading(server: Loopback) -> None:
    server.routes["/big.png"] = Route(body=PNG + b"\x00" * 20_000)
    with pytest.raises(FetchTooLargeError) as caught:
        UrlFetcher(LOCAL).fetch(server.url("/big.png"))
    assert caught.value.code == "too_large"


def test_an_undeclared_oversized_body_is_abandoned_past_the_cap(server: Loopback) -> None:
    # Given a chunked body (no Content-Length) larger than the cap
    server.routes["/big.png"] = Route(body=PNG + b"\x00" * 20_000, chunked=True)
    # Then the stream is abandoned with too_large; a body within the cap streams whole
    with pytest.raises(FetchTooLargeError):
        UrlFetcher(LOCAL).fetch(server.url("/big.png"))
    server.routes["/small.png"] = Route(chunked=True)
    assert UrlFetcher(LOCAL).fetch(server.url("/small.png")).data == PNG


def test_a_non_2xx_answer_fails_the_fetch(server: Loopback) -> None:
    with pytest.raises(UrlFetchError) as caught:
        UrlFetcher(LOCAL).fetch(server.url("/missing.png"))
    assert caught.value.code == "fetch_failed"
    assert caught.value.details["status"] == 404


def test_a_slow_server_times_out(server: Loopback) -> None:
    server.routes["/slow.png"] = Route(delay_s=1.0)
    policy = FetchPolicy(allow_http=True, allow_private=True, timeout_s=0.2)
    with pytest.raises(UrlFetchError) as caught:
        UrlFetcher(policy).fetch(server.url("/slow.png"))
    assert caught.value.code == "fetch_failed"
    assert "timed out" in caught.value.message


# -- TLS: SNI and the certificate are the name's ------------------------------------------------------------------


def _tls_pair(tmp_path: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for ``name`` signed by a throwaway CA, and a client context trusting it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Sleeve test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)
    client_context = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return server_context, client_context


def test_tls_uses_the_names_sni_and_certificate_while_connecting_to_the_checked_address(tmp_path: Path) -> None:
    # Given an https server on loopback whose certificate names images.sleeve.test (a CA the client trusts)
    server_context, client_context = _tls_pair(tmp_path, "images.sleeve.test")
    server = Loopback(context=server_context)
    server.routes["/cover.png"] = Route()
    policy = FetchPolicy(allow_private=True, timeout_s=2.0)
    try:
        # When it is fetched by that name (resolved by the guard to 127.0.0.1)
        fetched = UrlFetcher(policy, resolver=resolver_to("127.0.0.1"), verify=client_context).fetch(
            server.url("/cover.png", "images.sleeve.test", scheme="https")
        )
        # Then the certificate of the name verified and the image arrived
        assert fetched.data == PNG
        # And by another name pointing at the same address, the certificate check fails the fetch
        with pytest.raises(UrlFetchError) as caught:
            UrlFetcher(policy, resolver=resolver_to("127.0.0.1"), verify=client_context).fetch(
                server.url("/cover.png", "other.sleeve.test", scheme="https")
            )
        assert caught.value.code == "fetch_failed"
    finally:
        server.close()


def test_an_https_to_http_redirect_is_refused_with_the_production_scheme_rule(tmp_path: Path) -> None:
    server_context, client_context = _tls_pair(tmp_path, "images.sleeve.test")
    server = Loopback(context=server_context)
    server.routes["/start"] = Route(status=302, body=b"", headers={"Location": "http://images.sleeve.test/x.png"})
    try:
        fetcher = UrlFetcher(FetchPolicy(allow_private=True), resolver=resolver_to("127.0.0.1"), verify=client_context)
        with pytest.raises(UrlNotAllowedError) as caught:
            fetcher.fetch(server.url("/start", "images.sleeve.test", scheme="https"))
        assert caught.value.details["reason"] == "scheme"
    finally:
        server.close()


def test_the_next_checked_address_is_tried_when_one_refuses_the_connection(server: Loopback) -> None:
    # Given a name resolving to a closed loopback port's address first (127.0.0.2 listens nowhere) and then the server
    server.routes["/cover.png"] = Route()
    fetcher = UrlFetcher(LOCAL, resolver=resolver_to("127.0.0.2", "127.0.0.1"))
    # When it is fetched, Then the second checked address serves it
    assert fetcher.fetch(server.url("/cover.png", "two.example.com")).data == PNG


def test_an_allowlist_refuses_other_hosts_before_any_lookup() -> None:
    # Given an allowlist of one CDN and a resolver that records every name it is asked for
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["8.8.8.8"]

    fetcher = UrlFetcher(FetchPolicy(allowed_hosts=frozenset({"images.example.com"})), resolver=resolver)
    # When another host is checked, it is refused (host_not_allowed) without a DNS lookup
    with pytest.raises(UrlNotAllowedError) as caught:
        fetcher.check_url("https://elsewhere.example.org/cover.jpg")
    assert caught.value.details["reason"] == "host_not_allowed"
    assert asked == []
    # Then the allowed host (any case, with or without the root dot) passes through the address rules
    fetcher.check_url("https://Images.Example.com./cover.jpg")
    assert [host.lower().rstrip(".") for host in asked] == ["images.example.com"]


def test_a_redirect_off_the_allowlist_is_refused(server: Loopback) -> None:
    # Given an allowed loopback server redirecting to a host that is not on the list
    server.routes["/start"] = Route(status=302, body=b"", headers={"Location": "http://localhost:1/cover.png"})
    policy = FetchPolicy(allow_http=True, allow_private=True, allowed_hosts=frozenset({"127.0.0.1"}))
    # When it is fetched
    with pytest.raises(UrlNotAllowedError) as caught:
        UrlFetcher(policy).fetch(server.url("/start"))
    # Then the redirect is refused before it is followed
    assert caught.value.details["reason"] == "host_not_allowed"
    assert [path for path, _host in server.seen] == ["/start"]


def test_the_allowlist_setting_is_comma_separated_and_lower_cased(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.config import Settings

    monkeypatch.setenv("SLEEVE_IMPORT_ALLOWED_HOSTS", " CoverArtArchive.org., is1-ssl.mzstatic.com ,")
    settings = Settings(bucket_name="b", jwt_secret="s")  # type: ignore[arg-type]
    assert FetchPolicy.from_settings(settings).allowed_hosts == {"coverartarchive.org", "is1-ssl.mzstatic.com"}
