"""SSRF guard: decide which URLs and IP addresses newswatch may connect to.

Feeds and article links come from sites we do not control. By default only http(s) URLs whose
host resolves exclusively to public (globally routable) addresses are fetched; loopback,
private, unique-local, site-local, link-local (e.g. the cloud metadata service at
169.254.169.254), multicast, unspecified and reserved addresses are refused before any
connection is made, and so are IPv6 addresses that carry such an IPv4 address (IPv4-mapped,
IPv4-compatible, 6to4, Teredo, NAT64). Operators may allow-list host
names, addresses or networks (``settings.http.allow_hosts``) for feeds on an intranet.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from newswatch.errors import BlockedAddress

if TYPE_CHECKING:  # only named in annotations: configuration loading does not import httpx
    import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
ALLOWED_SCHEMES = frozenset({"http", "https"})


def check_allow_entry(entry: str) -> None:
    """Raise ValueError unless ``entry`` is a host name, an IP address or a network (CIDR)."""
    if "/" in entry:
        ipaddress.ip_network(entry, strict=False)
        return
    try:
        ipaddress.ip_address(entry)
    except ValueError:
        labels = entry.rstrip(".").split(".")
        if not entry or not all(label and len(label) <= 63 and label.replace("-", "").isalnum() for label in labels):
            raise ValueError(f"{entry!r} is not a host name, IP address or network") from None


_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64, compatible)."""
    if ip.ipv4_mapped:
        return ip.ipv4_mapped, "IPv4-mapped"
    if ip.sixtofour:
        return ip.sixtofour, "6to4"
    if ip.teredo:
        return ip.teredo[1], "Teredo"
    if any(ip in network for network in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64"
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:  # not :: nor ::1
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "IPv4-compatible"
    return None


def _a(word: str) -> str:
    """The indefinite article for ``word`` (as read aloud: "an IPv4-mapped", "an NAT64")."""
    return "an" if word[0] in "aeiouAEIOU" or word.startswith("NAT") else "a"


def _kind(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address (None when it is), e.g. ``"loopback"`` or
    ``"loopback (127.0.0.1 inside a 6to4 address)"``.

    An IPv6 address that carries an IPv4 address (IPv4-mapped, IPv4-compatible, 6to4, Teredo,
    NAT64) is judged by that IPv4 address first, as that is where a packet may end up.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded and (inner := _kind(embedded[0])):
            return f"{inner} ({embedded[0]} inside {_a(embedded[1])} {embedded[1]} address)"
        if ip.is_site_local:
            return "site-local"
    for kind in ("loopback", "link_local", "unspecified", "multicast", "private", "reserved"):
        if getattr(ip, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if ip.is_global else "non-public"


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Allow-listed host names and networks; everything else must be public."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    def check_url(self, url: httpx.URL) -> None:
        """Refuse non-http(s) URLs and IP-literal hosts that are not public (no DNS lookup)."""
        if url.scheme not in ALLOWED_SCHEMES:
            raise BlockedAddress(f"refused {url.scheme or 'relative'}: URL {str(url)[:200]!r} (only http and https)")
        host = url.host.lower().rstrip(".")
        if not host:
            raise BlockedAddress(f"refused URL without a host: {str(url)[:200]!r}")
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return  # a host name: checked after resolution, when connecting
        self.check_ip(host, ip)

    def check_ip(self, host: str, ip: IPAddress) -> None:
        """Raise :class:`BlockedAddress` if ``host``'s address ``ip`` may not be contacted."""
        if host in self.hosts or any(ip in network for network in self.networks if ip.version == network.version):
            return
        kind = _kind(ip)
        if kind:
            name, _, detail = kind.partition(" ")
            raise BlockedAddress(
                f"refused {host}: {ip} is {_a(name)} {name} address{' ' + detail if detail else ''}"
                " (add it to settings.http.allow_hosts to allow it)"
            )

    def resolve(self, host: str, port: int) -> list[str]:
        """The addresses of ``host``; every one must be allowed, or :class:`BlockedAddress` is raised.

        Connecting only to addresses returned here closes the DNS-rebinding gap between a
        check and the connection.
        """
        name = host.lower().rstrip(".")
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))
        for address in addresses:
            self.check_ip(name, ipaddress.ip_address(address))
        return addresses


@cache
def address_policy(allow_hosts: tuple[str, ...]) -> AddressPolicy:
    """The policy for ``settings.http.allow_hosts`` (entries already validated)."""
    hosts, networks = set(), []
    for entry in allow_hosts:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.add(entry.lower().rstrip("."))
    return AddressPolicy(frozenset(hosts), tuple(networks))
