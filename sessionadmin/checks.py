"""System checks for configuration that would make sessions unsafe or hang."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Warning, register

from sessionadmin.conf import get_settings

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


@register()
def check_session_store(app_configs=None, **kwargs) -> list:
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
    if conf.touch_interval >= conf.idle_timeout:
        problems.append(W001)
    return problems
