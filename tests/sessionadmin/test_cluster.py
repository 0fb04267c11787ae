"""Redis Cluster with real processes: three masters and three replicas started by the test
(tests/redis_topologies.py), created by redis-cli --cluster create.

- the session suite (Django's backend tests on our engine, the index and listings, the
  concurrency tests against gunicorn) runs again on ``REDIS_URL=redis+cluster://…``;
- 10,000 sessions of 1,000 users spread over the three masters;
- the master holding a signed-in session is killed (SIGKILL) mid-traffic: requests get
  only 503 or success, and the session works again from its promoted replica within 10 s;
- a master lost with its replica: its sessions answer 503, another master's are served;
  then, full coverage required, every node answers CLUSTERDOWN (a reply in place, not a
  connection error): a 503 for everybody, and service again once it is served.
"""

from __future__ import annotations

import time
from collections import Counter
from functools import partial
from urllib.parse import quote

import pytest
from django.conf import settings
from django.test import override_settings
from django_redis.pool import ConnectionFactory

from cart.models import Product
from sessionadmin.backends.redis import SessionStore
from sessionadmin.store import keys
from sessionadmin.store.cluster import ClusterURL, parse_cluster_url
from sessionsite.redis_config import redis_caches
from tests.helpers import refused_pttl_is_a_503
from tests.redis_topologies import (
    assert_session_survived,
    redis_cluster,
    ride_out_failover,
    signed_in_with_cart,
    wait_for,
)
from tests.servers import free_port, gunicorn, run_suite, signed_in_browser

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
    summary = run_suite(SUITE, cluster.url, tmp_path / "cluster-test-db.sqlite3", timeout=1200)
    print(f"\nthe session suite on a 3-master cluster: {summary}")


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
    with gunicorn(workers=2, threads=4, REDIS_URL=cluster.app_url) as (base, log):
        browser, csrf = signed_in_with_cart(base, product.pk)
        session_key = browser.cookie("sessionid")
        master = cluster.master_of(keys_name(session_key))
        # Replicated (asynchronously, well within a second) before the failure.
        assert master.client().execute_command("WAIT", 1, 2000) >= 1
        time.sleep(1.1)
        assert cluster.refused() == []  # the killed master's log goes with it
        assert "app" in master.users()

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
    # The servers ran as the nodes' locked-down user: never refused a command.
    assert cluster.refused() == []


def test_a_rediss_cluster_url_gives_redis_py_its_tls_options(tmp_path):
    ca = tmp_path / "ca+1.crt"  # a "+" in a query is a space unless encoded
    found = parse_cluster_url(
        f"rediss+cluster://app:p%40s:s@h1:7000,[::1]:7001/?ssl_ca_certs={quote(str(ca))}"
        "&ssl_cert_reqs=REQUIRED&ssl_check_hostname=no"
    )
    assert found == ClusterURL(
        [("h1", 7000), ("::1", 7001)], "app", "p@s:s",  # split at the first colon
        {"ssl_ca_certs": str(ca), "ssl_cert_reqs": "required", "ssl_check_hostname": False},
    )  # fmt: skip
    for bad in ("ssl_ca_certs=", "ssl_ca_certs=%20", f"ssl_keyfile={ca}",
                f"ssl_ca_certs={ca}&ssl_ca_certs={ca}", "ssl_check_hostname=maybe"):  # fmt: skip
        with pytest.raises(ValueError):
            parse_cluster_url(f"rediss+cluster://h1:7000?{bad}")
    assert parse_cluster_url("redis+cluster://h1:7000").tls is None  # in clear
    assert parse_cluster_url("rediss+cluster://h1:7000").tls == {}  # TLS, redis-py's defaults


@pytest.mark.django_db
def test_a_cluster_no_node_of_which_answers_is_a_503(client):
    # As when the whole cluster is down, or not up yet as a worker starts: redis-py's
    # RedisCluster cannot even read the slot map. A 500 before.
    with override_settings(CACHES=redis_caches(f"redis+cluster://127.0.0.1:{free_port()}")):
        for path in ("/api/session", "/api/cart"):
            client.cookies[settings.SESSION_COOKIE_NAME] = keys.draw_key(0)  # one to read
            response = client.get(path)
            assert response.status_code == 503, (path, response.content)
            assert response.json()["code"] == "SESSION_STORE_UNAVAILABLE"
        health = client.get("/healthz")
        assert health.status_code == 503 and health.json()["checks"]["redis"] == "unavailable"


@pytest.mark.django_db
def test_a_command_the_redis_user_may_not_run_is_a_503_on_the_cluster(
    cluster, client, caplog, monkeypatch, django_user_model
):
    # As on one server (test_outage.py): the cluster's ``app`` user lacks PTTL, part of
    # every read, sent through redis-py's cluster pipeline; and a script's refusal comes
    # wrapped in the script's error: a 503 in the API's shape either way, never a 500.
    for node in cluster.nodes:
        node.client().execute_command("ACL", "SETUSER", "app", "-pttl")
    monkeypatch.setattr(ConnectionFactory, "_pools", {})  # no client of another test's
    with override_settings(CACHES=redis_caches(cluster.app_url)):
        alice = partial(django_user_model.objects.create_user, "alice", "", PASSWORD)
        refused_pttl_is_a_503(client, caplog, monkeypatch, alice, cluster.refused)


def keys_name(session_key: str) -> str:
    """The Redis key of a session, computed as the server does (same SECRET_KEY)."""
    return keys.session_key_name(keys.session_id(session_key))


@pytest.mark.django_db(transaction=True)
def test_a_slot_lost_with_its_replica_is_a_503_and_the_other_slots_serve(
    cluster, django_user_model
):
    # A master and its replica both gone: no failover can come, and the cluster (full
    # coverage not required) answers for the slots it still has. Every request of a
    # session in the lost slot must be a 503 in the API's shape, never a 500, whatever
    # redis-py makes of it (a connection error, then CLUSTERDOWN or an uncovered slot);
    # a user whose sessions live on another master goes on as if nothing happened.
    with override_settings(PASSWORD_HASHERS=[ARGON2]):
        alice = django_user_model.objects.create_user("alice", "alice@example.com", PASSWORD)
        alice_master = cluster.master_of(keys.user_index(str(alice.pk)))
        # Another user, whose shard another master serves (one of three, most likely).
        for number in range(40):
            other = django_user_model.objects.create_user(f"user{number}", "", PASSWORD)
            if cluster.master_of(keys.user_index(str(other.pk))) != alice_master:
                break
    product = Product.objects.create(name="Lamp", price="12.50", stock=50)
    with gunicorn(workers=2, threads=4, REDIS_URL=cluster.app_url) as (base, log):
        alice, alice_csrf = signed_in_with_cart(base, product.pk)
        bob, _ = signed_in_browser(base, other.username, PASSWORD)
        lost = cluster.master_of(keys_name(alice.cookie("sessionid")))
        assert lost == alice_master
        assert cluster.master_of(keys_name(bob.cookie("sessionid"))) != lost
        assert cluster.refused() == []  # the killed nodes' logs go with them
        for node in [lost, *cluster.replicas_of(lost)]:
            node.kill()

        answers: Counter = Counter()
        deadline = time.monotonic() + 6  # the node timeout (1 s) and the slot map's refresh
        while time.monotonic() < deadline:
            for path in ("/api/profile", "/api/cart"):
                status, _, body = alice.request("GET", f"{base}{path}")
                assert status == 503, (path, status, body)
                assert body["code"] == "SESSION_STORE_UNAVAILABLE"
                answers["alice 503"] += 1
            status, _, body = alice.request(
                "POST", f"{base}/api/cart/items", {"product_id": product.pk}, headers=alice_csrf
            )
            assert status == 503 and body["code"] == "SESSION_STORE_UNAVAILABLE", body
            status, _, body = bob.request("GET", f"{base}/api/profile")
            assert status in (200, 503), (status, body)
            answers[f"bob {status}"] += 1
            time.sleep(0.1)
        print(f"\nslot lost with its replica: {dict(answers)}")
        # Once the cluster has settled, the other master's user is served every time,
        # scripts too, even by a master that lost them (as a promoted replica has never
        # had them): it alone is sent the script again, not the lost master as well.
        assert_served(bob, base, other.username)
        cluster.master_of(keys_name(bob.cookie("sessionid"))).client().script_flush()
        status, _, body = bob.request("GET", f"{base}/api/sessions")
        assert status == 200 and len(body["results"]) == 1, body

        # Full coverage required: every node now answers CLUSTERDOWN, for every slot (a
        # reply in place in a pipeline, not a connection error): a 503 for everybody. (A
        # node's state is judged again on a cluster event: another replica's loss.)
        live = [node for node in cluster.nodes if node.process.poll() is None]
        for node in live:
            node.client().config_set("cluster-require-full-coverage", "yes")
        spare = cluster.replicas_of(cluster.master_of(keys_name(bob.cookie("sessionid"))))[0]
        spare.kill()
        live.remove(spare)
        wait_for(lambda: all(cluster_state(n) == "fail" for n in live), 10, "no fail state")
        for path in ("/api/profile", "/api/cart", "/api/sessions"):
            status, _, body = bob.request("GET", f"{base}{path}")
            assert status == 503 and body["code"] == "SESSION_STORE_UNAVAILABLE", (path, body)
        for node in live:
            node.client().config_set("cluster-require-full-coverage", "no")
        wait_for(lambda: all(cluster_state(n) == "ok" for n in live), 10, "no ok state")
        assert_served(bob, base, other.username)
        assert "Traceback" not in log.read_text()
    assert cluster.refused() == []


def cluster_state(node) -> str:
    return node.client().cluster("info").get("cluster_state")


def assert_served(browser, base: str, username: str) -> None:
    for _ in range(5):
        status, _, body = browser.request("GET", f"{base}/api/profile")
        assert status == 200 and body["user"]["username"] == username, body
