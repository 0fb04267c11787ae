"""The CACHES setting for a REDIS_URL: one server, Sentinel or Redis Cluster.

Both aliases, the general cache ("default": rate limits, Django's cache) and the session
store ("sessions"), use the same Redis, under key prefixes of their own.
"""

from __future__ import annotations

from typing import Any

from redis.backoff import NoBackoff
from redis.retry import Retry

from sessionsite import env


def redis_options() -> dict[str, Any]:
    """django-redis options shared by every topology."""
    return {
        "CLIENT_CLASS": "django_redis.client.DefaultClient",
        # Never pickle: a store that can be written to must not be a way to run code.
        "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
        # Without these a dead or wedged Redis hangs every request.
        "SOCKET_CONNECT_TIMEOUT": 0.5,
        "SOCKET_TIMEOUT": 1.0,
        # One immediate retry replaces a pooled connection broken by a Redis restart; more
        # (redis-py's default is three with backoff) would delay the 503 when Redis is down.
        "CONNECTION_POOL_KWARGS": {"retry": Retry(NoBackoff(), 1), "max_connections": 100},
        "IGNORE_EXCEPTIONS": False,
    }


def redis_caches(url: str) -> dict[str, dict[str, Any]]:
    """Return CACHES for ``url`` (already checked by env.redis_url)."""
    options = redis_options()
    location: str | list[str] = url
    if url.startswith(env.SENTINEL_SCHEMES):
        # Sentinel: django-redis asks the sentinels for the primary on every new
        # connection, so after a failover the pool reconnects to the promoted replica.
        found = env.sentinel("REDIS_URL", url)
        location = f"redis://{found.auth + '@' if found.auth else ''}{found.service}/{found.db}"
        # No retry of a sentinel that fails (redis-py's default is ten, with backoff):
        # the next sentinel is the retry. With it, sentinels that refused the password,
        # or a first-listed one that was down, held each new connection for ~20 s.
        sentinel_kwargs = {
            "socket_timeout": 0.5, "socket_connect_timeout": 0.5, "retry": Retry(NoBackoff(), 0),
            **found.sentinel_auth,
        }  # fmt: skip
        if found.tls is not None:
            # TLS to the sentinels and to the data nodes. The data nodes' as pool options
            # on a redis:// location: redis-py's Sentinel pool then makes its connections
            # TLS ones (a rediss:// location would replace its sentinel-managed connection
            # class by a plain TLS one, which connects to the service's name).
            tls = {"ssl": True, **found.tls}
            sentinel_kwargs.update(tls)
            options["CONNECTION_POOL_KWARGS"] = {**options["CONNECTION_POOL_KWARGS"], **tls}
        options.update(
            CLIENT_CLASS="django_redis.client.SentinelClient",
            CONNECTION_FACTORY="django_redis.pool.SentinelConnectionFactory",
            SENTINELS=found.sentinels,
            SENTINEL_KWARGS=sentinel_kwargs,
        )
    elif url.startswith(env.CLUSTER_SCHEMES):
        # Redis Cluster through redis-py's RedisCluster. A list: django-redis would split
        # a string of several nodes into primary and replicas.
        location = [url]
        options["CLIENT_CLASS"] = "sessionadmin.store.cluster.ClusterClient"
    return {
        alias: {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": prefix,
            "OPTIONS": dict(options),
        }
        for alias, prefix in (("default", "c"), ("sessions", "s"))
    }
