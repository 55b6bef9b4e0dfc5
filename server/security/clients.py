"""Who a request comes from: its address, and the client it is counted as.

A client is an IPv4 address, or an IPv6 /64: one household, phone or server
is usually given a whole /64, and counting each of its 2**64 addresses on its
own would let it change address and start afresh at every request. Nothing
here is kept: rate limits and sign-in budgets hash what they count.
"""

from __future__ import annotations

import ipaddress

from starlette.requests import HTTPConnection


def client_key(address: str | None) -> str | None:
    """The client an address is counted as: itself for IPv4, its /64 for IPv6.

    An IPv4-mapped IPv6 address (``::ffff:192.0.2.1``, from a dual-stack
    socket) is the IPv4 client it maps; anything that is not an address (no
    address, a test client's name) is passed through as it is.
    """
    if address is None:
        return None
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def client_address(connection: HTTPConnection) -> str | None:
    """The address the request came from (the proxy's forwarded one when trusted)."""
    return connection.client.host if connection.client else None


def client_of(connection: HTTPConnection) -> str | None:
    """The client a request is counted as by every rate limit and sign-in budget."""
    return client_key(client_address(connection))
