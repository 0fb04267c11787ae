"""A django-redis client for Redis Cluster, through redis-py's ``RedisCluster``.

django-redis 7 has no cluster client (jazzband/django-redis#208). This one connects with
``RedisCluster``, which routes each command (and each of the store's scripts, by its
declared keys) to the master of its slot and follows the cluster through a failover. Set
it as ``CLIENT_CLASS`` with ``LOCATION = ["redis+cluster://HOST:PORT[,HOST:PORT...]"]``
(a list: django-redis splits a string on commas). Every cache operation works: the
multi-key ones (``get_many``, ``delete_many``) are split by slot.

``rediss+cluster://`` talks TLS to every node, with redis-py's ``ssl_*`` options as the
URL's query (``?ssl_ca_certs=/path/ca.crt``), as ``rediss://`` takes them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Any, NamedTuple
from urllib.parse import unquote

from django_redis.client import DefaultClient
from django_redis.exceptions import ConnectionInterrupted
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException
from redis.retry import Retry

from sessionadmin.store.client import STORE_DOWN

_URL = re.compile(
    r"^(?P<scheme>rediss?)\+cluster://(?:(?P<auth>[^@/?]*)@)?(?P<hosts>[^/@?]+)/?"
    r"(?:\?(?P<query>.*))?$"
)
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")
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


class ClusterURL(NamedTuple):
    nodes: list[tuple[str, int]]
    username: str
    password: str
    tls: dict[str, Any] | None  # RedisCluster's ssl_* options; None: in clear


def _path(value: str) -> str:
    if not value.strip():
        raise ValueError("a file option is empty")
    return value


def _choice(value: str, allowed: tuple[str, ...]) -> str:
    if value.lower() not in allowed:
        raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
    return value.lower()


# redis-py's TLS options a rediss+cluster:// (or rediss+sentinel://) URL may set, and how
# each is read: a bad value stops start-up. A file is not looked for then (a build step
# may run without it): a missing one is an outage, logged with redis-py's reason, as a
# wrong password is.
TLS_OPTIONS: dict[str, Callable[[str], Any]] = {
    "ssl_ca_certs": _path,
    "ssl_certfile": _path,
    "ssl_keyfile": _path,
    "ssl_cert_reqs": lambda v: _choice(v, ("none", "optional", "required")),
    "ssl_check_hostname": lambda v: _choice(v, _TRUE + _FALSE) in _TRUE,
}


def parse_options(query: str, known: dict[str, Callable[[str], Any]]) -> dict[str, Any]:
    """Return the options of a URL's query ("name=value&..."), each value percent-decoded
    ("+" kept: a password may hold one) and read by its reader in ``known``; raise
    ValueError for an unknown option, one given twice, or a value its reader refuses."""
    found: dict[str, Any] = {}
    for part in filter(None, query.split("&")):  # (an empty part, as a trailing "&": none)
        name, _, value = part.partition("=")
        if name not in known:
            # Named only when it looks like an option: the rest of a password holding "&"
            # or "?" ends up here.
            shown = repr(name) if re.fullmatch(r"(ssl|sentinel)_\w{1,40}", name) else "(not shown)"
            raise ValueError(f"unknown option {shown} (known: {', '.join(known)})")
        if name in found:
            raise ValueError(f"{name} is given twice")
        found[name] = known[name](unquote(value))
    return found


def tls_options(found: dict[str, Any]) -> dict[str, Any]:
    """The TLS options among a URL's options (parse_options's), checked as a set."""
    tls = {name: value for name, value in found.items() if name in TLS_OPTIONS}
    if "ssl_keyfile" in tls and "ssl_certfile" not in tls:
        raise ValueError("ssl_keyfile needs ssl_certfile")
    return tls


def parse_cluster_url(url: str) -> ClusterURL:
    """Parse ``redis[s]+cluster://[user:pass@]HOST:PORT[,...][?ssl_option=value&...]``;
    raise ValueError if it is not one."""
    match = _URL.match(url)
    if match is None:
        raise ValueError("expected redis+cluster://HOST:PORT[,HOST:PORT...]")
    nodes = parse_nodes(match.group("hosts"))
    # "user:password" split at its first colon, then decoded (as redis-py reads a URL): a
    # password may hold a colon; a lone value is the password.
    auth = match.group("auth") or ""
    user, _, password = auth.partition(":") if ":" in auth else ("", "", auth)
    user, password = unquote(user), unquote(password)
    query = match.group("query") or ""
    if match.group("scheme") == "redis":
        if query:
            raise ValueError("TLS options need rediss+cluster://")
        return ClusterURL(nodes, user, password, None)
    return ClusterURL(nodes, user, password, tls_options(parse_options(query, TLS_OPTIONS)))


class ClusterClient(DefaultClient):
    """django-redis's client over ``RedisCluster`` (one connection object per process,
    holding a pool per node)."""

    def connect(self, index: int = 0) -> RedisCluster:
        url = parse_cluster_url(self._server[index])
        options = self._options
        pool = options.get("CONNECTION_POOL_KWARGS", {})
        try:
            return self._cluster(url, options, pool)
        except RedisClusterException as exc:
            # No node answered (the cluster down, or not up yet as a worker starts): an
            # outage like any other (a 503), and the next request tries again.
            raise RedisConnectionError(str(exc)) from exc

    @staticmethod
    def _cluster(url: ClusterURL, options: dict, pool: dict) -> RedisCluster:
        return RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in url.nodes],
            username=url.username or None,
            password=url.password or None,
            ssl=url.tls is not None,
            **(url.tls or {}),
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
