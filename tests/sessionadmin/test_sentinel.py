"""Redis Sentinel with real processes: a primary, a replica and three sentinels started by
the test (tests/redis_topologies.py), the project under gunicorn on
``REDIS_URL=redis+sentinel://…``, and the primary killed with SIGKILL mid-traffic.

Requests meanwhile get only 503 or success, never a 500 or a hang; the signed-in session
works again from the promoted replica within 10 s, with no restart of the app server.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.test import override_settings
from django_redis.pool import ConnectionFactory

from cart.models import Product
from sessionadmin import errors
from sessionadmin.store import keys
from sessionsite.redis_config import redis_caches
from tests.redis_topologies import (
    SENTINEL_PASSWORD,
    assert_session_survived,
    ride_out_failover,
    sentinel_set,
    signed_in_with_cart,
    wait_for,
)
from tests.servers import BASE_DIR, gunicorn, server_env

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse 9"
ARGON2 = "django.contrib.auth.hashers.Argon2PasswordHasher"
SECRET = "Tr0ub4dor3"


@pytest.fixture(params=["clear", "tls"])
def topology(request, tmp_path):
    # Sentinels with a password of their own; "tls": every node speaks TLS only.
    with sentinel_set(tmp_path / "sentinel", tls=request.param == "tls") as found:
        yield found


@pytest.fixture
def alice(redis, django_user_model):
    with override_settings(PASSWORD_HASHERS=[ARGON2]):  # the server's own first hasher
        return django_user_model.objects.create_user("alice", "alice@example.com", PASSWORD)


def test_a_bad_sentinel_or_cluster_url_stops_start_up_naming_the_variable():
    bad = [
        "redis+sentinel://127.0.0.1/svc", "redis+sentinel://h:1,h:x/svc",
        "redis+sentinel://127.0.0.1:26379", "redis+cluster://127.0.0.1",
        "redis+cluster://h:1,h:x", "redis+cluster://h:1/0", "redis+clustr://h:1",
        "rediss+cluster://h:1?ssl_bogus=1", "rediss+cluster://h:1?ssl_cert_reqs=maybe",
        "redis+cluster://h:1?ssl_ca_certs=/ca.crt",
        "redis+sentinel://h:1/svc?ssl_ca_certs=/ca.crt", "redis+sentinel://h:1/svc?bogus=1",
        "redis+sentinel://h:1/svc?sentinel_password=a&sentinel_password=b",
        "rediss+sentinel://h:1/svc?ssl_keyfile=/k.key", "rediss+sentinel://h:1/svc?ssl_cert_reqs=x",
        # A password's "&" or "?" unencoded: never shown, not even its second half.
        f"redis+sentinel://h:1/svc?sentinel_password=hunter2&{SECRET}",
        f"redis+sentinel://app:{SECRET}?x@h:1/svc", f"redis+sentinel://app:x#{SECRET}@h:1/svc",
        "redis+sentinel://h:1/MyMaster",  # django-redis would look for "mymaster"
    ]  # fmt: skip
    for url in bad:
        completed = subprocess.run(
            [sys.executable, "-c", "import sessionsite.settings"],
            cwd=BASE_DIR, env=server_env(REDIS_URL=url), capture_output=True, text=True,
            timeout=60, check=False,
        )  # fmt: skip
        assert completed.returncode == 1, url
        assert completed.stderr.strip().splitlines() == [
            completed.stderr.strip().splitlines()[-1]
        ], completed.stderr
        assert "configuration error: REDIS_URL" in completed.stderr, completed.stderr
        assert SECRET not in completed.stderr


def test_sentinels_that_refuse_or_do_not_answer_fail_fast(topology, client, caplog, monkeypatch):
    # django-redis keeps a pool per location for the life of the process, and a Sentinel
    # location names only the service: each case below gets pools of its own.
    monkeypatch.setattr(ConnectionFactory, "_pools", {})

    def answers(url: str) -> list[tuple[int, float]]:
        ConnectionFactory._pools.clear()
        monkeypatch.setattr(errors, "_last_outage_log", float("-inf"))  # logged each time
        found = []
        with override_settings(CACHES=redis_caches(url)):
            client.cookies[settings.SESSION_COOKIE_NAME] = keys.draw_key(0)  # one to read
            for path in ("/api/session", "/healthz"):
                started = time.monotonic()
                response = client.get(path)
                found.append((response.status_code, time.monotonic() - started))
                if response.status_code == 503:
                    assert response.json()["code"] == "SESSION_STORE_UNAVAILABLE", path
        return found

    # Sentinels with a password of their own that the URL lacks, or gets wrong, name no
    # primary: every request that reads the store answers 503 at once (each sentinel is
    # asked once: redis-py's default retries with backoff held a request ~20 s), and no
    # log shows the password.
    url = topology.app_url
    without = re.sub(r"sentinel_password=[^&]*&?", "", url)
    wrong = url.replace("sentinel_password=", "sentinel_password=wrong", 1)
    for bad in (without, wrong):
        caplog.clear()
        for status, seconds in answers(bad):
            assert status == 503 and seconds < 2, (bad, status, seconds)
        assert caplog.text.count("auth:AuthenticationError") == len(topology.sentinels)
        assert SENTINEL_PASSWORD not in caplog.text
    # The first-listed sentinel down: the next one answers, at once.
    topology.sentinels[0].kill()
    for status, seconds in answers(url):
        assert status == 200 and seconds < 2, (status, seconds)


def test_the_site_runs_on_sentinel_and_survives_a_primary_failover(topology, alice):
    Product.objects.create(name="Lamp", price="12.50", stock=50)
    product = Product.objects.get(name="Lamp")
    with gunicorn(workers=2, threads=4, REDIS_URL=topology.app_url) as (base, log):
        browser, csrf = signed_in_with_cart(base, product.pk)
        status, _, body = browser.request("GET", f"{base}/api/profile")
        assert status == 200 and body["user"]["username"] == "alice"
        old_primary = topology.primary_port()
        assert old_primary == topology.primary.port
        # Replicated (asynchronously, well within a second) before the failure.
        wait_for(
            lambda: topology.replica.client().dbsize() == topology.primary.client().dbsize(),
            5, "the replica did not catch up",
        )  # fmt: skip
        time.sleep(1.1)
        assert topology.primary.refused() == []  # its log goes with it
        assert "app" in topology.primary.users()

        topology.primary.kill()
        killed = time.monotonic()
        recovery = ride_out_failover(browser, base, killed)
        print(f"\nSentinel failover: {recovery.summary('the primary')}")
        assert recovery.seconds <= 10
        assert recovery.slowest < 3  # bounded by the socket timeouts, never a hang
        assert topology.primary_port() == topology.replica.port  # the replica was promoted
        # The same session, its user and its cart, from the promoted node; writes too.
        assert_session_survived(browser, base, csrf, product.pk)
        assert "Traceback" not in log.read_text()
    # The servers ran as the data nodes' locked-down user: never refused a command.
    assert topology.replica.refused() == []
