"""Redis Cluster with real processes: three masters and three replicas started by the test
(tests/redis_topologies.py), created by redis-cli --cluster create.

- the session suite (Django's backend tests on our engine, the index and listings, the
  concurrency tests against gunicorn) runs again on ``REDIS_URL=redis+cluster://…``;
- 10,000 sessions of 1,000 users spread over the three masters;
- the master holding a signed-in session is killed (SIGKILL) mid-traffic: requests get
  only 503 or success, and the session works again from its promoted replica within 10 s.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter

import pytest
from django.test import override_settings

from cart.models import Product
from sessionadmin.backends.redis import SessionStore
from sessionadmin.store import keys
from sessionsite.redis_config import redis_caches
from tests.redis_topologies import (
    assert_session_survived,
    redis_cluster,
    ride_out_failover,
    signed_in_with_cart,
    wait_for,
)
from tests.servers import BASE_DIR, gunicorn, server_env

pytestmark = [pytest.mark.server]

PASSWORD = "correct horse 9"
ARGON2 = "django.contrib.auth.hashers.Argon2PasswordHasher"
# What proves the point on a cluster: the engine under Django's own session tests, the
# index and its listings, and the races against a real server.
SUITE = [
    "tests/sessionadmin/test_backend_django_suite.py",
    "tests/sessionadmin/test_index.py",
    "tests/sessionadmin/test_search.py",
    "tests/sessionadmin/test_shards.py",
    "tests/sessionadmin/test_admin_api.py",
    "tests/sessionadmin/test_revocation_final.py",
    "tests/cart/test_concurrency.py",
    "tests/accounts/test_concurrency.py",
]


@pytest.fixture
def cluster(tmp_path):
    with redis_cluster(tmp_path / "cluster") as found:
        yield found


def test_the_session_suite_passes_on_the_cluster(cluster, tmp_path):
    env = server_env(REDIS_URL=cluster.url, DJANGO_SETTINGS_MODULE="tests.settings")
    # A SQLite test database of its own: this run's stays in use meanwhile (PostgreSQL
    # names the nested one after this run's, test_test_…).
    env["TEST_SQLITE_NAME"] = str(tmp_path / "cluster-test-db.sqlite3")
    env.pop("PYTEST_XDIST_WORKER", None)
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
         *SUITE],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    summary = completed.stdout.strip().splitlines()[-1] if completed.stdout.strip() else ""
    print(f"\nthe session suite on a 3-master cluster: {summary}")
    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-3000:]
    assert " passed" in summary and "failed" not in summary


def test_ten_thousand_sessions_of_a_thousand_users_spread_over_the_masters(cluster):
    with override_settings(CACHES=redis_caches(cluster.url)):
        for number in range(10_000):
            session = SessionStore()
            session.update({"_auth_user_id": str(1 + number % 1000), "views": number})
            session.save()
        masters = cluster.masters()
        held = Counter()
        for node in masters:
            client = node.client(timeout=5)
            # A test may walk the keyspace; the app never does.
            held[node.port] = sum(1 for _ in client.scan_iter(match="{sa:*}:s:*", count=1000))
    total = sum(held.values())
    shares = {port: count / total for port, count in held.items()}
    print("\nsession keys per master:", {p: f"{s:.1%}" for p, s in shares.items()})
    assert total == 10_000
    assert len(shares) == 3
    assert all(0.25 <= share <= 0.42 for share in shares.values()), shares


@pytest.mark.django_db(transaction=True)
def test_a_master_killed_mid_traffic_fails_over_to_its_replica(cluster, django_user_model):
    with override_settings(PASSWORD_HASHERS=[ARGON2]):  # the server's own first hasher
        django_user_model.objects.create_user("alice", "alice@example.com", PASSWORD)
    product = Product.objects.create(name="Lamp", price="12.50", stock=50)
    with gunicorn(workers=2, threads=4, REDIS_URL=cluster.url) as (base, log):
        browser, csrf = signed_in_with_cart(base, product.pk)
        session_key = browser.cookie("sessionid")
        master = cluster.master_of(keys_name(session_key))
        # Replicated (asynchronously, well within a second) before the failure.
        assert master.client().execute_command("WAIT", 1, 2000) >= 1
        time.sleep(1.1)

        master.kill()
        killed = time.monotonic()
        recovery = ride_out_failover(browser, base, killed)
        print(f"\ncluster failover: {recovery.summary('its master')}")
        assert recovery.seconds <= 10
        assert recovery.slowest < 3  # bounded by the socket timeouts, never a hang
        wait_for(lambda: cluster.master_of(keys_name(session_key)) != master, 5, "no promotion")
        # The same session, its user and its cart, from the promoted node; writes too.
        assert_session_survived(browser, base, csrf, product.pk)
        assert "Traceback" not in log.read_text()


def keys_name(session_key: str) -> str:
    """The Redis key of a session, computed as the server does (same SECRET_KEY)."""
    return keys.session_key_name(keys.session_id(session_key))
