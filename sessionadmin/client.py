"""What the session layer takes from a request: the client IP and the user agent."""

from __future__ import annotations

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
    return str(request.META.get("HTTP_USER_AGENT", ""))
