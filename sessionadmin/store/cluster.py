"""A django-redis client for Redis Cluster, through redis-py's ``RedisCluster``.

django-redis 7 has no cluster client (jazzband/django-redis#208). This one connects with
``RedisCluster``, which routes each command (and each of the store's scripts, by its
declared keys) to the master of its slot and follows the cluster through a failover. Set
it as ``CLIENT_CLASS`` with ``LOCATION = ["redis+cluster://HOST:PORT[,HOST:PORT...]"]``
(a list: django-redis splits a string on commas). Every cache operation works: the
multi-key ones (``get_many``, ``delete_many``) are split by slot.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any
from urllib.parse import unquote

from django_redis.client import DefaultClient
from django_redis.exceptions import ConnectionInterrupted
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry

from sessionadmin.store.client import STORE_DOWN

_URL = re.compile(r"^redis\+cluster://(?:(?P<auth>[^@/]*)@)?(?P<hosts>[^/@]+)/?$")
_HOST_PORT = re.compile(r"^(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(?P<port>\d{1,5})$")


def parse_nodes(hosts: str) -> list[tuple[str, int]]:
    """Return the (host, port) pairs of "HOST:PORT[,HOST:PORT...]" (IPv6 in brackets);
    raise ValueError unless every part is one. Also read by sessionsite's Sentinel URLs."""
    nodes = []
    for part in hosts.split(","):
        found = _HOST_PORT.match(part.strip())
        if found is None or not 0 < int(found.group("port")) < 65536:
            raise ValueError("each node must be HOST:PORT")
        nodes.append((found.group("host").strip("[]"), int(found.group("port"))))
    return nodes


def parse_cluster_url(url: str) -> tuple[list[tuple[str, int]], str, str]:
    """Return (nodes, username, password) of ``redis+cluster://[user:pass@]HOST:PORT[,...]``;
    raise ValueError if it is not one."""
    match = _URL.match(url)
    if match is None:
        raise ValueError("expected redis+cluster://HOST:PORT[,HOST:PORT...]")
    nodes = parse_nodes(match.group("hosts"))
    auth = unquote(match.group("auth") or "")
    user, _, password = auth.rpartition(":") if ":" in auth else ("", "", auth)
    return nodes, user, password


class ClusterClient(DefaultClient):
    """django-redis's client over ``RedisCluster`` (one connection object per process,
    holding a pool per node)."""

    def connect(self, index: int = 0) -> RedisCluster:
        nodes, user, password = parse_cluster_url(self._server[index])
        options = self._options
        pool = options.get("CONNECTION_POOL_KWARGS", {})
        return RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in nodes],
            username=user or None,
            password=password or None,
            socket_timeout=options.get("SOCKET_TIMEOUT"),
            socket_connect_timeout=options.get("SOCKET_CONNECT_TIMEOUT"),
            max_connections=pool.get("max_connections", 100),
            # A master that died is replaced by its replica in a few seconds: each request
            # meanwhile fails fast (a 503), and the next one finds the new layout.
            retry=pool.get("retry") or Retry(NoBackoff(), 1),
        )

    def get_many(
        self, keys: Collection[str], version: int | None = None, client: Any = None
    ) -> dict:
        client = client or self.get_client(write=False)
        named = {self.make_key(k, version=version): k for k in keys}
        if not named:
            return {}
        try:
            values = client.mget_nonatomic(list(named))  # split by slot
        except STORE_DOWN as exc:
            raise ConnectionInterrupted(connection=client) from exc
        return {
            named[key]: self.decode(value)
            for key, value in zip(named, values, strict=True)
            if value is not None
        }
