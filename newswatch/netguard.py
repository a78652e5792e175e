"""SSRF guard: decide which URLs and IP addresses newswatch may connect to.

Feeds and article links come from sites we do not control. By default only http(s) URLs whose
host resolves exclusively to public (globally routable) addresses are fetched; loopback,
private, link-local (e.g. the cloud metadata service at 169.254.169.254), multicast and
reserved addresses are refused before any connection is made. Operators may allow-list host
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


def _kind(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address (None when it is)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
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
            article = "an" if kind[0] in "aeiou" else "a"
            raise BlockedAddress(
                f"refused {host}: {ip} is {article} {kind} address"
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
