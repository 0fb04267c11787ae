"""System checks for configuration that would make sessions unsafe, unlimited or hang.

Each message is a constant (as django/core/checks/security/sessions.py keeps them), so a
test can make each one fire.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from sessionadmin.conf import get_settings, parse_rate

ENGINE = "sessionadmin.backends.redis"
SESSION_MIDDLEWARE = "sessionadmin.middleware.SessionMiddleware"
AUTH_MIDDLEWARE = "sessionadmin.middleware.AuthenticationMiddleware"
DJANGO_SESSION_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
DJANGO_AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"
LIMIT_BACKEND = "sessionadmin.auth.backends.LoginLimitBackend"
# Either is the limit: the first counts for the backends after it, the second is Django's
# ModelBackend counting for itself.
LIMITED_BACKENDS = (LIMIT_BACKEND, "sessionadmin.auth.backends.LimitedModelBackend")

E001 = Error(
    "The sessions cache alias pickles values.",
    hint="Set OPTIONS['SERIALIZER'] to django_redis.serializers.json.JSONSerializer "
    "(or msgpack): a store that can be written to must not be a way to run code.",
    id="sessionadmin.E001",
)
E002 = Error(
    "The sessions cache alias is not a django-redis cache.",
    hint="Point SESSION_CACHE_ALIAS at a django_redis.cache.RedisCache alias.",
    id="sessionadmin.E002",
)
E003 = Error(
    "IGNORE_EXCEPTIONS is on for the sessions cache alias.",
    hint="A Redis outage must fail closed (503), never as a silent empty session.",
    id="sessionadmin.E003",
)
E004 = Error(
    f"SESSION_ENGINE is {ENGINE!r} but {SESSION_MIDDLEWARE!r} is not in MIDDLEWARE.",
    hint="Without it no timeout is enforced and no activity is recorded: put it where "
    "Django's SessionMiddleware was.",
    id="sessionadmin.E004",
)
E005 = Error(
    f"{SESSION_MIDDLEWARE!r} is in MIDDLEWARE but SESSION_ENGINE is not {ENGINE!r}.",
    hint=f"Set SESSION_ENGINE = {ENGINE!r}: the middleware only works with its own engine.",
    id="sessionadmin.E005",
)
E006 = Error(
    "Django's SessionMiddleware is in MIDDLEWARE beside sessionadmin's.",
    hint=f"Remove {DJANGO_SESSION_MIDDLEWARE!r}: {SESSION_MIDDLEWARE!r} replaces it.",
    id="sessionadmin.E006",
)
E007 = Error(
    "Django's AuthenticationMiddleware is in MIDDLEWARE with sessionadmin's engine.",
    hint=f"Replace {DJANGO_AUTH_MIDDLEWARE!r} with {AUTH_MIDDLEWARE!r}.",
    id="sessionadmin.E007",
)
E008 = Error(
    "LOGIN_RATE_LIMIT is not a rate like 5/15m.",
    hint="Give attempts per period: a whole number, '/', an optional whole number and "
    "one of s, m, h, d.",
    id="sessionadmin.E008",
)
E009 = Error(
    "SESSION_ON_SUSPICIOUS must be 'flag', 'end' or 'off'.",
    hint="'flag' marks a session whose network or browser changed mid-session, 'end' "
    "also signs it out, 'off' checks nothing.",
    id="sessionadmin.E009",
)
E010 = Error(
    "SESSIONADMIN_METRICS_NETWORKS holds something that is not an IP network.",
    hint="List networks such as '127.0.0.0/8' or '10.0.0.0/8'.",
    id="sessionadmin.E010",
)
E011 = Error(
    "SESSIONADMIN_SHARDS must be a whole number from 1 to 256.",
    hint="Shards spread the store over a Redis Cluster's masters; the default, 16, suits "
    "one server and clusters of up to 16 masters.",
    id="sessionadmin.E011",
)
W001 = Warning(
    "SESSION_TOUCH_INTERVAL is not shorter than SESSION_IDLE_TIMEOUT.",
    hint="Active sessions would expire between touches; keep it well below the timeout.",
    id="sessionadmin.W001",
)
W002 = Warning(
    "The sessions cache alias has no SOCKET_TIMEOUT or SOCKET_CONNECT_TIMEOUT.",
    hint="Without them a wedged Redis hangs every request.",
    id="sessionadmin.W002",
)
W003 = Warning(
    f"Neither {LIMITED_BACKENDS[0]!r} nor {LIMITED_BACKENDS[1]!r} is the first of "
    "AUTHENTICATION_BACKENDS.",
    hint="A backend before it checks passwords that no limit counted. With Django's "
    f"ModelBackend alone, use {LIMITED_BACKENDS[1]!r} in its place; with others, put "
    f"{LIMITED_BACKENDS[0]!r} first.",
    id="sessionadmin.W003",
)
W004 = Warning(
    "The sessions cache alias reaches Redis through Sentinel, and SENTINEL_KWARGS sets "
    "no 'retry'.",
    hint="redis-py then tries each sentinel that fails ten more times, with backoff: a "
    "sentinel that is down, or refuses the password, holds every new connection for "
    "seconds (about 20 s with three sentinels). Set SENTINEL_KWARGS['retry'] = "
    "redis.retry.Retry(redis.backoff.NoBackoff(), 0): the next sentinel is the retry.",
    id="sessionadmin.W004",
)


@register()
def check_session_store(app_configs: Any = None, **kwargs: Any) -> list:
    if settings.SESSION_ENGINE != ENGINE:
        return []  # the app installed beside another engine: its store is not in use
    conf = get_settings()
    alias = settings.CACHES.get(conf.cache_alias, {})
    options = alias.get("OPTIONS", {})
    problems = []
    if not str(alias.get("BACKEND", "")).startswith("django_redis."):
        problems.append(E002)
    elif "pickle" in str(options.get("SERIALIZER", "pickle")).lower():
        problems.append(E001)
    if options.get("IGNORE_EXCEPTIONS"):
        problems.append(E003)
    if not options.get("SOCKET_TIMEOUT") or not options.get("SOCKET_CONNECT_TIMEOUT"):
        problems.append(W002)
    if _through_sentinel(options) and "retry" not in (options.get("SENTINEL_KWARGS") or {}):
        problems.append(W004)
    if conf.touch_interval >= conf.idle_timeout:
        problems.append(W001)
    if not 1 <= conf.shards <= 256:  # a session id holds its shard in two hex digits
        problems.append(E011)
    return problems


def _through_sentinel(options: dict) -> bool:
    factory = options.get("CONNECTION_FACTORY") or getattr(
        settings, "DJANGO_REDIS_CONNECTION_FACTORY", ""
    )
    return "Sentinel" in str(factory)


@register()
def check_events(app_configs: Any = None, **kwargs: Any) -> list:
    conf = get_settings()
    problems = []
    if conf.on_suspicious not in ("flag", "end", "off"):
        problems.append(E009)
    try:
        for network in conf.metrics_networks:
            ipaddress.ip_network(network, strict=False)
    except (ValueError, TypeError):
        problems.append(E010)
    return problems


@register(Tags.compatibility)
def check_middleware(app_configs: Any = None, **kwargs: Any) -> list:
    middleware = list(settings.MIDDLEWARE)
    ours = settings.SESSION_ENGINE == ENGINE
    problems = []
    if ours and SESSION_MIDDLEWARE not in middleware:
        problems.append(E004)
    if SESSION_MIDDLEWARE in middleware and not ours:
        problems.append(E005)
    if SESSION_MIDDLEWARE in middleware and DJANGO_SESSION_MIDDLEWARE in middleware:
        problems.append(E006)
    if ours and DJANGO_AUTH_MIDDLEWARE in middleware:
        problems.append(E007)
    return problems


@register(Tags.security)
def check_login_limit(app_configs: Any = None, **kwargs: Any) -> list:
    problems = []
    try:
        parse_rate(get_settings().login_rate)
    except ValueError:
        problems.append(E008)
    backends = list(settings.AUTHENTICATION_BACKENDS)
    if not backends or backends[0] not in LIMITED_BACKENDS:
        problems.append(W003)
    return problems
