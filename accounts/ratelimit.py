"""Failed-login limits per client IP and per username, on the shared Redis cache.

Only failures count (``record_failure``); the check before the password is read-only, so
a limited client never reaches the hasher. The counters live in Redis, so the limit holds
across workers and servers, and a Redis outage fails closed (503), never open.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sessionadmin.client import client_ip
from sessionadmin.exceptions import SessionStoreUnavailable
from sessionadmin.http import RateLimited

IP_GROUP = "accounts.login.ip"
USERNAME_GROUP = "accounts.login.username"


def normalise_username(username: str) -> str:
    return username.strip().casefold()


def _usages(request: HttpRequest, username: str, *, increment: bool) -> list[dict | None]:
    name = normalise_username(username)
    keys = [(IP_GROUP, lambda group, req: client_ip(req))]
    if name:
        keys.append((USERNAME_GROUP, lambda group, req: name))
    try:
        return [
            get_usage(
                request,
                group=group,
                key=key,
                rate=settings.LOGIN_RATE_LIMIT,
                method=get_usage.ALL,
                increment=increment,
            )
            for group, key in keys
        ]
    # django-redis re-raises the redis-py error itself (not ConnectionInterrupted) when
    # IGNORE_EXCEPTIONS is off, as here: catch both.
    except (ConnectionInterrupted, RedisConnectionError, RedisTimeoutError) as exc:
        raise SessionStoreUnavailable(str(exc)) from exc


def check_login_allowed(request: HttpRequest, username: str) -> None:
    """Raise RateLimited if this IP or this username has used up its failed attempts."""
    for usage in _usages(request, username, increment=False):
        if usage is None:
            continue
        if usage["should_limit"] or usage["count"] >= usage["limit"]:
            raise RateLimited(
                retry_after=max(int(usage["time_left"]), 1),
                message="Too many failed sign-in attempts; try again later.",
            )


def record_failure(request: HttpRequest, username: str) -> None:
    """Count one failed attempt against the IP and the username."""
    _usages(request, username, increment=True)
