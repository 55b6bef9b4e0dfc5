"""Which push services the server may post to, and which addresses it may reach.

A push subscription's endpoint is an address that an advisor's browser hands
the server, so whoever holds an advisor account chooses where the server
sends a POST. Left open, that makes the server a client inside its own
network (server-side request forgery): its loopback, the cloud metadata
address, the office LAN. So an endpoint must be one of the browsers' own push
services, over https on the default port, or an origin the operator listed in
``HAVEN_PUSH_SERVICES``; and a public push service's name must not resolve to
a private address (a DNS answer can lie). Only a listed origin may be
loopback or private: the operator chose it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

# The push services of the browsers advisors use. "*." means any name below.
PUBLIC_PUSH_HOSTS = (
    "fcm.googleapis.com",  # Chrome, Edge on Android, Samsung Internet, Opera (FCM)
    "updates.push.services.mozilla.com",  # Firefox
    "*.push.apple.com",  # Safari: web.push.apple.com and its regional names
    "*.notify.windows.com",  # Edge on Windows (WNS), e.g. wns2-par02p.notify.windows.com
)

DEFAULT_PORTS = {"https": 443, "http": 80}
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# Only letters, digits, dots, hyphens and a bracketed IPv6 literal: no user
# info, no percent-escapes, no backslashes, nothing two URL parsers could
# read as two different hosts.
_AUTHORITY = re.compile(
    rf"(?P<host>{_LABEL}(?:\.{_LABEL})*|\[[0-9a-f:.]+\])(?::(?P<port>[0-9]{{1,5}}))?"
)
# The 6to4 and NAT64 prefixes carry an IPv4 address that a relay would reach.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str  # lower case; an IPv6 literal keeps its brackets, as in a URL
    port: int

    def __str__(self) -> str:
        default = DEFAULT_PORTS[self.scheme] == self.port
        return f"{self.scheme}://{self.host}" + ("" if default else f":{self.port}")


def origin_of(url: str) -> Origin | None:
    """The origin of an http(s) URL written plainly, or None for anything else."""
    if not url.isascii() or not url.isprintable() or " " in url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    match = _AUTHORITY.fullmatch(parts.netloc.lower())
    if scheme not in DEFAULT_PORTS or match is None:
        return None
    host = match["host"]
    if host.startswith("["):
        try:
            host = f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        except ValueError:
            return None
    port = int(match["port"]) if match["port"] else DEFAULT_PORTS[scheme]
    if not 0 < port < 65536:
        return None
    return Origin(scheme, host, port)


def is_public_push_host(host: str) -> bool:
    for pattern in PUBLIC_PUSH_HOSTS:
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]):
                return True
        elif host == pattern:
            return True
    return False


def is_public_address(address: str) -> bool:
    """Whether an address is on the public internet: not private, loopback,
    link-local, reserved or multicast, and not one of those wrapped in IPv6."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        teredo = ip.teredo[1] if ip.teredo else None
        nat64 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None
        embedded = ip.ipv4_mapped or ip.sixtofour or teredo or nat64
        if embedded is not None and not is_public_address(str(embedded)):
            return False
    return ip.is_global and not ip.is_multicast


class PushServices:
    """The policy: the public push services, plus the origins the operator listed."""

    def __init__(self, listed: Iterable[str] = ()) -> None:
        self.listed = frozenset(
            origin for origin in (origin_of(item) for item in listed) if origin is not None
        )

    def allows(self, endpoint: str) -> bool:
        origin = origin_of(endpoint)
        if origin is None:
            return False
        if origin in self.listed:
            return True
        return origin.scheme == "https" and origin.port == 443 and is_public_push_host(origin.host)

    def is_listed_host(self, host: str, port: int) -> bool:
        """Whether the operator listed this host and port (which may then be private)."""
        return any(
            origin.host.strip("[]") == host.strip("[]").lower() and origin.port == port
            for origin in self.listed
        )
