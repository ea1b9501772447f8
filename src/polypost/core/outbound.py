"""The outbound (SSRF) guard for every fetch whose URL a client chose: media from URL,
webhook endpoints, platform media pulls.

A URL check alone is not enough: a name can resolve to a public address when checked
and to 127.0.0.1 when the HTTP client looks it up again (DNS rebinding). So, as Stripe's
smokescreen does, the host is resolved once, *every* returned address is classified,
and the connection is made to the address that was checked; `Host` and TLS SNI keep the
original name so virtual hosts and certificate checks still work. Redirects, when
followed, pass through the same transport and are checked hop by hop.

Host literals are normalised the way `inet_aton` (and so the system resolver) reads
them, so `2130706433`, `0x7f000001`, `017700000001` and `127.1` are all 127.0.0.1.

Tests replace `resolve` (the one DNS lookup this module makes) to simulate names.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}

# Addresses `is_global` misses or that deserve a precise reason in the message.
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_IPV6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_EC2_METADATA_V6 = ipaddress.IPv6Address("fd00:ec2::254")


class OutboundBlocked(Exception):
    """A URL the server refuses to fetch; the message says why.

    Deliberately not an `httpx.HTTPError`: a refused destination is a permanent
    client error, never a transient network failure worth retrying.
    """


async def resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver returns for `host` (tests patch this)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def parse_ipv4_literal(host: str) -> ipaddress.IPv4Address | None:
    """`host` read as `inet_aton` reads it (1-4 parts, decimal/octal/hex), else None."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers: list[int] = []
    for part in parts:
        try:
            if part[:2].lower() == "0x":
                number = int(part[2:], 16) if len(part) > 2 else 0
            elif len(part) > 1 and part.startswith("0"):
                number = int(part[1:], 8)
            else:
                number = int(part, 10) if part.isdigit() else -1
        except ValueError:
            return None
        if number < 0:
            return None
        numbers.append(number)
    # Every part but the last is one byte; the last fills the remaining bytes.
    *head, last = numbers
    if any(n > 0xFF for n in head) or last >= 1 << (8 * (4 - len(head))):
        return None
    value = 0
    for index, number in enumerate(head):
        value |= number << (8 * (3 - index))
    return ipaddress.IPv4Address(value | last)


def parse_ip_literal(host: str) -> IpAddress | None:
    """An IPv6 literal (brackets already stripped) or any IPv4 spelling, else None."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return None
    return parse_ipv4_literal(host)


def refusal_reason(address: IpAddress) -> str | None:
    """Why `address` must not be contacted, or None when it is public unicast."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = refusal_reason(embedded)
            return f"IPv6 embedding {inner} IPv4 {embedded}" if inner else None
        if address == _EC2_METADATA_V6:
            return "cloud metadata"
        if address not in _IPV6_GLOBAL_UNICAST:
            return _category(address) or "non-global IPv6"
    category = _category(address)
    if category is not None:
        return category
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "carrier-grade NAT"
    if not address.is_global:
        return "non-global"
    return None


def _category(address: IpAddress) -> str | None:
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if isinstance(address, ipaddress.IPv6Address) and address in ipaddress.IPv6Network("fc00::/7"):
        return "unique-local"
    if address.is_private:
        return "private"
    if address.is_reserved:
        return "reserved"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address carried by IPv4-mapped, 6to4, NAT64, Teredo or v4-compatible
    IPv6 forms: the packet ends up there, so that is what must be judged."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True)
class AllowList:
    """Exemptions from `POLYPOST_OUTBOUND_ALLOW`: host names, or addresses/CIDRs."""

    hosts: frozenset[str]
    networks: tuple[IpNetwork, ...]

    @classmethod
    def parse(cls, entries: Sequence[str]) -> AllowList:
        hosts: set[str] = set()
        networks: list[IpNetwork] = []
        for raw in entries:
            entry = raw.strip().lower().rstrip(".")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                hosts.add(entry)
        return cls(frozenset(hosts), tuple(networks))

    def allows_host(self, host: str) -> bool:
        return host in self.hosts

    def allows_address(self, address: IpAddress) -> bool:
        return any(address.version == n.version and address in n for n in self.networks)


@dataclass(frozen=True)
class Target:
    """A checked destination: the URL's host name and the addresses it may dial."""

    host: str
    port: int
    addresses: tuple[IpAddress, ...]


def _split_url(url: httpx.URL | str) -> tuple[str, str, int]:
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise OutboundBlocked(f"invalid URL: {exc}") from exc
    scheme = parsed.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise OutboundBlocked(f"scheme {scheme or '(none)'!r} is not allowed; use http or https")
    if parsed.userinfo:
        raise OutboundBlocked("credentials in the URL are not allowed")
    host = parsed.host.lower().rstrip(".")
    if not host:
        raise OutboundBlocked("the URL has no host")
    return host, scheme, parsed.port or DEFAULT_PORTS[scheme]


async def check_target(
    url: httpx.URL | str, allow: AllowList, *, dns_timeout: float | None = None
) -> Target:
    """Resolve `url`'s host once and return the addresses that may be dialled.

    Raises:
        OutboundBlocked: bad scheme, credentials, unresolvable host, or ANY address
            that is not public (a single private answer means the name is hostile).
    """
    host, _, port = _split_url(url)
    literal = parse_ip_literal(host)
    if literal is not None:
        addresses: list[IpAddress] = [literal]
    else:
        try:
            async with asyncio.timeout(dns_timeout):
                answers = await resolve(host, port)
        except (OSError, UnicodeError, TimeoutError) as exc:
            raise OutboundBlocked(f"{host} could not be resolved") from exc
        addresses = []
        for answer in answers:
            parsed = parse_ip_literal(answer)
            if parsed is None:
                raise OutboundBlocked(f"{host} resolved to an unreadable address {answer!r}")
            addresses.append(parsed)
        if not addresses:
            raise OutboundBlocked(f"{host} could not be resolved")
    if not allow.allows_host(host):
        for address in addresses:
            if allow.allows_address(address):
                continue
            reason = refusal_reason(address)
            if reason is not None:
                raise OutboundBlocked(f"{host} resolves to a private address ({address}: {reason})")
    unique = tuple(dict.fromkeys(addresses))
    return Target(host=host, port=port, addresses=unique)


async def check_url(url: str, allow: Sequence[str]) -> None:
    """Refuse `url` unless it is http(s) without credentials and every address its host
    resolves to is public (or exempted by `allow`).

    Raises:
        OutboundBlocked: with the reason.
    """
    await check_target(url, AllowList.parse(allow))


class GuardedTransport(httpx.AsyncBaseTransport):
    """Resolves and checks each request's host itself, then dials the checked address.

    Connections are not kept alive: the pool is keyed by the dialled address, and a
    connection opened with one host's SNI must never serve another host.
    """

    def __init__(self, allow: Sequence[str]) -> None:
        self._allow = AllowList.parse(allow)
        self._inner = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_keepalive_connections=0), trust_env=False
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        target = await check_target(request.url, self._allow, dns_timeout=timeouts.get("connect"))
        last_error: httpx.ConnectError | None = None
        for address in target.addresses:
            pinned = httpx.Request(
                request.method,
                request.url.copy_with(host=str(address)),
                headers=request.headers,  # keeps the original Host header
                stream=request.stream,
                extensions={**request.extensions, "sni_hostname": target.host},
            )
            try:
                return await self._inner.handle_async_request(pinned)
            except httpx.ConnectError as exc:
                # Nothing was sent: trying the next checked address is safe.
                last_error = exc
        assert last_error is not None
        raise last_error

    async def aclose(self) -> None:
        await self._inner.aclose()


def guarded_client(
    allow: Sequence[str],
    *,
    timeout: float = 10.0,
    follow_redirects: bool = False,
    max_redirects: int = 5,
) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` that only reaches public addresses.

    Every request, including each redirect hop, is resolved once, checked, and sent to
    the checked address. A refused destination raises `OutboundBlocked` from the
    client's `send`/`get`/`stream` unchanged (not wrapped in an httpx error).
    Environment proxies and `.netrc` are ignored.
    """
    return httpx.AsyncClient(
        transport=GuardedTransport(allow),
        timeout=timeout,
        follow_redirects=follow_redirects,
        max_redirects=max_redirects,
        trust_env=False,
    )
