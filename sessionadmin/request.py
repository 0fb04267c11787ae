"""What the session layer takes from a request: the client IP and the user agent."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.http import HttpRequest

from sessionadmin.conf import get_settings


def client_ip(request: HttpRequest) -> str:
    """Return the client's IP: REMOTE_ADDR, or the proxy's view if TRUST_X_FORWARDED_FOR.

    With a trusted proxy the right-most X-Forwarded-For entry is used: it is the one the
    proxy itself appended, while the entries left of it are whatever the client sent.
    """
    if get_settings().trust_x_forwarded_for:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last[:64]
    return str(request.META.get("REMOTE_ADDR", ""))[:64]


def user_agent(request: HttpRequest) -> str:
    """Return the request's User-Agent header ("" when absent)."""
    return str(request.META.get("HTTP_USER_AGENT", ""))


@lru_cache(maxsize=4096)  # parsed once per address: every sign-in and new guest asks
def ip_network(ip: str) -> str:
    """Return the network a client IP is limited by: itself for IPv4, its /64 for IPv6.

    One IPv6 host usually holds a whole /64, so counting addresses would give it billions
    of buckets (django-ratelimit masks the same way). "" for an empty or unparsable
    address, which then has no IP bucket rather than one shared by every such request.
    """
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d is that IPv4 client
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
