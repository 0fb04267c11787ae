"""Redis down and back: 503 in the API's shape, quickly, then service resumes by itself."""

from __future__ import annotations

import copy
import time
from functools import partial

import pytest
from django.conf import settings
from django.test import override_settings

from sessionsite.embedded import EmbeddedRedis
from sessionsite.redis_config import redis_caches
from tests.helpers import refused_pttl_is_a_503
from tests.redis_topologies import APP_PASSWORD, redis_node
from tests.servers import free_port

PASSWORD = "correct horse 9"


@pytest.fixture
def own_redis(tmp_path):
    """A Redis server this test starts and stops, holding the sessions."""
    server = EmbeddedRedis(tmp_path / "r")
    server.start()
    caches = copy.deepcopy(settings.CACHES)
    for alias in caches.values():
        alias["LOCATION"] = server.url
    with override_settings(CACHES=caches):
        yield server
    server.stop()


def test_store_down_gives_503_quickly_and_service_resumes(client, own_redis, db):
    assert client.get("/api/session").json()["views"] == 1
    assert client.get("/api/session").json()["views"] == 2
    own_redis.stop()

    started = time.monotonic()
    response = client.get("/api/session")
    assert time.monotonic() - started < 1.5
    assert response.status_code == 503
    assert response.json()["code"] == "SESSION_STORE_UNAVAILABLE"
    assert response["Retry-After"]

    page = client.get("/")
    assert page.status_code == 503
    assert b"Temporarily unavailable" in page.content
    assert b"Traceback" not in page.content

    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.json()["checks"] == {"redis": "unavailable", "database": "ok"}

    # A first visit (no cookie) needs a new session: also 503, never a silent anonymous 200.
    fresh = client.__class__()
    assert fresh.get("/api/session").status_code == 503

    own_redis.start()
    # Sessions written before the outage are still there (append-only file), and the
    # pooled connections broken by the restart are replaced without an error.
    response = client.get("/api/session")
    assert response.status_code == 200
    assert response.json()["views"] == 3
    assert client.get("/healthz").json()["status"] == "ok"


def test_store_down_during_save_still_answers_503(client, own_redis, db):
    client.get("/api/session")
    own_redis.stop()
    response = client.post("/api/session/keepalive")
    assert response.status_code == 503
    assert response.json()["code"] == "SESSION_STORE_UNAVAILABLE"


def test_metrics_count_the_503s_and_say_the_store_is_down(client, own_redis, db):
    from prometheus_client.parser import text_string_to_metric_families

    def scrape() -> dict[str, float]:
        response = client.__class__().get("/metrics")  # no cookie: needs no session
        assert response.status_code == 200
        families = text_string_to_metric_families(response.content.decode())
        return {s.name: s.value for f in families for s in f.samples if not s.labels}

    client.get("/api/session")
    before = scrape()
    assert before["sessionadmin_store_up"] == 1
    own_redis.stop()
    for _ in range(3):
        assert client.get("/api/session").status_code == 503
    during = scrape()
    assert during["sessionadmin_store_up"] == 0  # the scrape itself still answers
    assert "sessionadmin_sessions_active" not in during
    unavailable = "sessionadmin_store_unavailable_total"
    assert during[unavailable] - before[unavailable] == 3  # once per request
    own_redis.start()
    assert scrape()["sessionadmin_store_up"] == 1


def test_a_command_the_redis_user_may_not_run_is_a_503_that_says_which(
    client, tmp_path, db, caplog, monkeypatch, django_user_model
):
    # A managed Redis's user whose ACL lacks a command the store sends (here PTTL, part of
    # every read): a 503 in the API's shape, logged with Redis's reason, never a 500.
    node = redis_node(tmp_path / "acl", free_port())
    try:
        node.client().execute_command("ACL", "SETUSER", "app", "-pttl")
        url = f"redis://app:{APP_PASSWORD}@127.0.0.1:{node.port}/0"
        with override_settings(CACHES=redis_caches(url)):
            alice = partial(django_user_model.objects.create_user, "alice", "", PASSWORD)
            refused_pttl_is_a_503(client, caplog, monkeypatch, alice, node.refused)
    finally:
        node.stop()


@pytest.mark.parametrize("json", [True, False], ids=["api", "page"])
def test_store_down_in_another_middlewares_sign_in_is_a_503_not_a_500(own_redis, db, json):
    # Django's RemoteUserMiddleware (after ours) signs the user in itself: with Redis down,
    # login() fails inside a middleware, where no process_exception() sees it; Django then
    # answers 500 before SessionMiddleware's response step.
    from django.test import Client

    middleware = list(settings.MIDDLEWARE)
    at = middleware.index("sessionadmin.middleware.AuthenticationMiddleware") + 1
    middleware.insert(at, "django.contrib.auth.middleware.RemoteUserMiddleware")
    # As the README installs it: the limit counts every attempt first, RemoteUserBackend's
    # too, so the outage is raised before anything is written to the session.
    backends = [
        "sessionadmin.auth.backends.LoginLimitBackend",
        "django.contrib.auth.backends.RemoteUserBackend",
    ]
    with override_settings(MIDDLEWARE=middleware, AUTHENTICATION_BACKENDS=backends):
        client = Client(REMOTE_USER="remote-alice", raise_request_exception=False)
        assert client.get("/api/session").status_code == 200  # signed in, Redis up
        own_redis.stop()
        fresh = Client(REMOTE_USER="remote-bob", raise_request_exception=False)
        response = fresh.get("/api/session" if json else "/")
        assert response.status_code == 503, response.content[:300]
        assert response["Retry-After"]
        if json:
            assert response.json()["code"] == "SESSION_STORE_UNAVAILABLE"
        else:
            assert b"Temporarily unavailable" in response.content


@pytest.mark.urls("tests.urls_plain")
@pytest.mark.parametrize("path", ["/api/visits", "/visits"], ids=["api", "page"])
def test_an_outage_raised_in_a_middleware_below_ours_is_a_503(db, path):
    # Django turns an exception of a middleware into a 500 (the project's handler500, here
    # Django's own) before SessionMiddleware's response step sees it: no process_exception()
    # runs for it.
    from django.test import Client

    middleware = list(settings.MIDDLEWARE)
    at = middleware.index("sessionadmin.middleware.AuthenticationMiddleware") + 1
    middleware.insert(at, "tests.helpers.StoreFailsInHere")
    with override_settings(MIDDLEWARE=middleware):
        client = Client(raise_request_exception=False)
        assert client.get(path).status_code == 200
        response = client.get(path, HTTP_X_STORE_FAILS="1")
        assert response.status_code == 503, response.content[:300]
        assert response["Retry-After"] == "5"
        assert client.get(path).status_code == 200


@pytest.mark.urls("tests.urls_plain")
def test_an_outage_raised_in_a_middleware_below_ours_is_a_503_under_asgi(db):
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    middleware = list(settings.MIDDLEWARE)
    at = middleware.index("sessionadmin.middleware.AuthenticationMiddleware") + 1
    middleware.insert(at, "tests.helpers.StoreFailsInHere")

    async def visit(**headers):
        client = AsyncClient(raise_request_exception=False)
        return await client.get("/api/visits", headers=headers)

    with override_settings(MIDDLEWARE=middleware):
        assert async_to_sync(visit)().status_code == 200
        response = async_to_sync(visit)(**{"X-Store-Fails": "1"})
        assert response.status_code == 503, response.content[:300]
