"""The project on a locked-down Redis, as managed services give one: a Redis user that
may not run ``KEYS``, ``SCAN`` or any ``@dangerous`` command (``INFO``, ``CONFIG``,
``FLUSHDB``, ``CLIENT``, ``DEBUG``...), reached with a password, and over TLS.

"No keyspace scan on a request path" is a rule of the store; here Redis enforces it. The
project is served by gunicorn as that user and driven over HTTP through every kind of
request it serves: guest pages and cart, registration, each sign-in path (the JSON API,
the login page, the admin's login, a token), the signed-in reads, the user's own
sessions, a password change, a checkout, the staff dashboard and API, the metrics, a
timeout, sign-outs. The ``sessions`` command runs as that user too. Redis's ``ACL LOG``
(every command it refused, with the user) must then be empty, and no answer a 5xx.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pytest
import redis as redis_py
from django.test import override_settings

from cart.models import Product
from sessionsite.embedded import redis_server_binary
from tests.redis_topologies import (
    ACL_USERS,
    APP_PASSWORD,
    Node,
    cluster_port,
    listen_lines,
    make_certificates,
    start_node,
    wait_for,
)
from tests.servers import BASE_DIR, Browser, free_port, gunicorn, server_env, signed_in_browser

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse 9"
IDLE = 5  # the server's idle timeout (s): long enough for each session's gaps below


@dataclass
class LockedRedis:
    """Redis servers (one, or a cluster's three masters) whose ``app`` user is locked
    down; ``admins`` are the test's own unrestricted connections (the default user)."""

    ports: list[int]
    tls: Path | None  # the folder of the CA and server certificates, when over TLS
    cluster: bool

    def url(self) -> str:
        scheme = "rediss" if self.tls else "redis"
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.ports)
        query = ""
        if self.tls:
            ca = {"ssl_cert_reqs": "required", "ssl_ca_certs": str(self.tls / "ca.crt")}
            query = "?" + urllib.parse.urlencode(ca)
        if self.cluster:
            return f"{scheme}+cluster://app:{APP_PASSWORD}@{hosts}{query}"
        return f"{scheme}://app:{APP_PASSWORD}@{hosts}/0{query}"

    def _tls(self) -> dict:
        return {"ssl": True, "ssl_ca_certs": str(self.tls / "ca.crt")} if self.tls else {}

    @cached_property  # one connection each: CLIENT LIST then tells the test's own apart
    def admins(self) -> list[redis_py.Redis]:
        return [redis_py.Redis(port=port, socket_timeout=5, **self._tls()) for port in self.ports]

    def app(self) -> redis_py.Redis:
        """One server's connection as the app user."""
        return redis_py.Redis(
            port=self.ports[0], username="app", password=APP_PASSWORD, **self._tls()
        )


def _config(folder: Path, port: int, tls: Path | None, cluster: bool) -> str:
    lines = [
        *listen_lines(port, tls), "bind 127.0.0.1", f"dir {folder}", 'save ""',
        "appendonly no", f"logfile {folder / 'redis.log'}", *ACL_USERS,
    ]  # fmt: skip
    if tls:
        lines.append("tls-cluster yes")
    if cluster:
        lines += ["cluster-enabled yes", f"cluster-config-file {folder / 'nodes.conf'}"]
    return "\n".join(lines) + "\n"


@pytest.fixture(params=["password", "tls", "cluster-tls"])
def locked(request, tmp_path):
    tls, cluster = None, request.param == "cluster-tls"
    if request.param != "password":
        tls = make_certificates(tmp_path)
    ports = [cluster_port() for _ in range(3)] if cluster else [free_port()]
    nodes: list[Node] = []
    try:
        for port in ports:
            folder = tmp_path / f"redis-{port}"
            config = _config(folder, port, tls, cluster)
            nodes.append(start_node(redis_server_binary(), folder, "redis", config, port, tls=tls))
        server = LockedRedis(ports, tls, cluster)
        for admin in server.admins:
            wait_for(admin.ping, 10, f"Redis did not start: {tmp_path}")
        if cluster:  # three masters, no replicas: what this test needs of a cluster
            cli = str(Path(redis_server_binary()).with_name("redis-cli"))
            secure = ["--tls", "--cacert", str(tls / "ca.crt")]
            addresses = [f"127.0.0.1:{port}" for port in ports]
            subprocess.run([cli, *secure, "--cluster", "create", *addresses, "--cluster-yes"],
                           check=True, capture_output=True, timeout=60)  # fmt: skip
            wait_for(
                lambda: all(a.cluster("info")["cluster_state"] == "ok" for a in server.admins),
                30, "the cluster did not come up",
            )  # fmt: skip
        yield server
    finally:
        for node in nodes:
            node.stop()


@pytest.fixture
def people(django_user_model):
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.Argon2PasswordHasher"]):
        django_user_model.objects.create_user("alice", "alice@example.com", PASSWORD)
        django_user_model.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    return Product.objects.create(name="Lamp", price="12.50", stock=50)


def _form(browser: Browser, base: str, path: str, fields: dict[str, str]) -> tuple[int, str]:
    """GET a page, then POST its form with the CSRF token it carries; return the status
    and the final URL (redirects followed)."""
    status, _, page = browser.request("GET", f"{base}{path}")
    assert status == 200, (path, status)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"csrfmiddlewaretoken": token, **fields}).encode()
    request = urllib.request.Request(f"{base}{path}", data=data, method="POST")
    with browser.opener.open(request, timeout=10) as response:
        return response.status, response.geturl()


def _journey(base: str, product: Product) -> list[str]:
    """Every kind of request the project serves; return what answered otherwise than
    expected (method, path, status)."""
    wrong: list[str] = []

    def call(browser, method, path, expected, body=None, headers=None):
        status, _, answer = browser.request(method, f"{base}{path}", body, headers)
        if status != expected:
            wrong.append(f"{method} {path}: {status} (expected {expected}): {answer!r:.300}")
        return answer

    guest = Browser()
    for path in ("/", "/products/", "/cart/", "/accounts/login/", "/accounts/register/"):
        call(guest, "GET", path, 200)
    csrf = {"X-CSRFToken": call(guest, "GET", "/api/csrf", 200)["csrfToken"]}
    call(guest, "GET", "/api/session", 200)
    call(guest, "POST", "/api/cart/items", 200, {"product_id": product.pk}, csrf)
    call(guest, "PUT", f"/api/cart/items/{product.pk}", 200, {"quantity": 3}, csrf)
    call(guest, "GET", "/api/cart", 200)
    # Registration signs the new user in (cycle_key: the guest's cart moves along).
    carol = {"username": "carol", "email": "carol@example.com", "password": PASSWORD}
    call(guest, "POST", "/api/register", 201, carol, csrf)
    call(guest, "GET", "/api/cart", 200)
    call(guest, "POST", "/api/login", 401, {"username": "carol", "password": "wrong"},
         {"X-CSRFToken": guest.request("GET", f"{base}/api/csrf")[2]["csrfToken"]})  # fmt: skip

    alice, csrf = signed_in_browser(base)
    other, other_csrf = signed_in_browser(base)
    for path in ("/api/profile", "/api/cart", "/api/sessions", "/api/orders", "/api/session"):
        call(alice, "GET", path, 200)
    for path in ("/", "/accounts/profile/", "/accounts/sessions/", "/cart/", "/orders/"):
        call(alice, "GET", path, 200)
    call(alice, "POST", "/api/session/keepalive", 200, None, csrf)
    call(alice, "POST", "/api/cart/items", 200, {"product_id": product.pk, "quantity": 2}, csrf)
    call(alice, "POST", "/api/checkout", 201, None, csrf)
    call(alice, "DELETE", "/api/cart", 200, None, csrf)
    sessions = call(alice, "GET", "/api/sessions", 200)["results"]
    theirs = next(s["id"] for s in sessions if not s.get("current"))
    call(alice, "DELETE", f"/api/sessions/{theirs}", 204, None, csrf)
    call(other, "GET", "/api/profile", 401)  # revoked: signed out
    call(alice, "POST", "/api/sessions/revoke-others", 200, None, csrf)
    call(alice, "POST", "/api/password", 200,
         {"old_password": PASSWORD, "new_password": "another horse 10"}, csrf)  # fmt: skip
    # Sign-outs (the second of a revoked session), then a gone session's cookie.
    call(alice, "POST", "/api/logout", 200, None, csrf)
    call(alice, "GET", "/api/profile", 401)
    call(other, "POST", "/api/logout", 200, None, other_csrf)

    # The login page, then a token (no cookie), then the admin's login and dashboard.
    page = Browser()
    status, url = _form(
        page, base, "/accounts/login/", {"username": "carol", "password": PASSWORD}
    )
    if status != 200 or url.endswith("/accounts/login/"):
        wrong.append(f"POST /accounts/login/: {status}, at {url}")
    call(page, "GET", "/accounts/profile/", 200)
    carol_id = call(page, "GET", "/api/profile", 200)["user"]["id"]
    asked = {"username": "carol", "password": PASSWORD, "name": "script"}
    token = call(Browser(), "POST", "/api/tokens", 201, asked)["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    call(Browser(), "GET", "/api/profile", 200, None, bearer)
    call(Browser(), "DELETE", "/api/tokens/current", 204, None, bearer)
    call(Browser(), "GET", "/api/profile", 401, None, bearer)

    staff = Browser()
    status, url = _form(staff, base, "/admin/login/?next=/admin/",
                        {"username": "boss", "password": PASSWORD})  # fmt: skip
    if status != 200 or "/login/" in url:
        wrong.append(f"POST /admin/login/: {status}, at {url}")
    for path in ("/admin/", "/admin/sessionadmin/activesession/",
                 "/admin/sessionadmin/activesession/?q=carol", "/metrics"):  # fmt: skip
        call(staff, "GET", path, 200)
    for path in ("/api/admin/sessions", "/api/admin/sessions/stats",
                 "/api/admin/sessions/events", "/api/admin/sessions?user=carol"):  # fmt: skip
        call(staff, "GET", path, 200)
    staff_csrf = {"X-CSRFToken": call(staff, "GET", "/api/csrf", 200)["csrfToken"]}
    call(staff, "POST", f"/api/admin/users/{carol_id}/revoke-sessions", 200, None, staff_csrf)
    answer = call(page, "GET", "/api/profile", 401)  # revoked by staff, not timed out
    if not isinstance(answer, dict) or answer.get("code") != "AUTH_REQUIRED":
        wrong.append(f"the revoked session answered {answer!r}")

    # An idle timeout (the server's is IDLE seconds).
    call(Browser(), "GET", "/healthz", 200)
    idle, _ = signed_in_browser(base, "carol", PASSWORD)
    time.sleep(IDLE + 0.5)
    answer = call(idle, "GET", "/api/profile", 401)
    if not isinstance(answer, dict) or answer.get("reason") != "idle":
        wrong.append(f"the idle session answered {answer!r}")
    return wrong


def _sessions_command(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "sessions", *args], cwd=BASE_DIR,
        env=server_env(REDIS_URL=url), capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip


def test_the_project_runs_on_a_locked_down_redis_user_and_is_never_refused(locked, people):
    app = locked.app()
    with pytest.raises(redis_py.exceptions.NoPermissionError):
        app.keys("*")  # the user really is locked down
    with pytest.raises(redis_py.exceptions.NoPermissionError):
        app.scan(0)
    with pytest.raises(redis_py.exceptions.NoPermissionError):
        app.info()
    app.close()
    for admin in locked.admins:
        admin.acl_log_reset()

    env = {
        "REDIS_URL": locked.url(),
        "SESSION_IDLE_TIMEOUT": str(IDLE),
        "SESSION_TOUCH_INTERVAL": "0",
    }
    with gunicorn(workers=2, threads=2, **env) as (base, log):
        wrong = _journey(base, people)
        served = log.read_text()
        # The site's connections are the app user's: a default user without a password
        # (the test's own) would take any that sent no user name, and refuse nothing.
        users = [
            found["user"]
            for admin in locked.admins
            for found in admin.client_list()
            if found["id"] != str(admin.client_id())
        ]
        assert users and set(users) == {"app"}, users
    for args in (
        ["list"],
        ["stats"],
        ["events"],
        ["prune"],
        ["revoke", "--user", "alice"],
        ["revoke", "--all-anonymous"],
    ):
        done = _sessions_command(locked.url(), *args)
        if done.returncode != 0:
            wrong.append(f"manage.py sessions {' '.join(args)}: {done.stderr[-800:]}")

    refused = [
        (e["username"], e["object"], e["reason"])
        for admin in locked.admins
        for e in admin.acl_log(count=100)
    ]
    assert refused == [], f"Redis refused the app user: {refused}"
    assert wrong == [], "\n".join(wrong) + "\n" + served[-3000:]
    assert " 500 " not in served and " 503 " not in served, served[-3000:]
    # The requests went to these servers (sessions' hashes, scripts), not elsewhere.
    stats = [admin.info("commandstats") for admin in locked.admins]
    for command in ("cmdstat_evalsha", "cmdstat_hgetall"):
        assert sum(found.get(command, {}).get("calls", 0) for found in stats) > 10
