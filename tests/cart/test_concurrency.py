"""The cart under real concurrency: real server processes, many threads, one session or many.

Each request of the racing threads is a fresh ``urllib`` request carrying the same Cookie
header, as parallel tabs of one browser would send it; no client-side cookie jar is shared.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.test import override_settings

from cart.models import Order, OrderItem, Product
from tests.servers import Browser, gunicorn, runserver

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse 9"
ARGON2 = "django.contrib.auth.hashers.Argon2PasswordHasher"
# The servers run with HTTPS=0 (tests.servers.server_env): plain cookie names.
SESSION_COOKIE = "sessionid"
CSRF_COOKIE = "csrftoken"


def call(
    method: str, url: str, cookie: str, token: str | None = None, body=None
) -> tuple[int, dict | None]:
    """One request with a fixed Cookie header, ignoring any Set-Cookie in the answer."""
    headers = {"Cookie": cookie}
    if token:
        headers["X-CSRFToken"] = token
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    return status, json.loads(raw) if raw else None


class Tab:
    """The cookies and CSRF token of one browser session, to be shared by many threads."""

    def __init__(self, base: str, browser: Browser) -> None:
        self.base = base
        self.browser = browser
        status, _, body = browser.request("GET", f"{base}/api/csrf")
        assert status == 200, body
        self.token = body["csrfToken"]

    @property
    def cookie(self) -> str:
        session = self.browser.cookie(SESSION_COOKIE)
        csrf = self.browser.cookie(CSRF_COOKIE)
        assert session and csrf, list(self.browser.jar)
        return f"{SESSION_COOKIE}={session}; {CSRF_COOKIE}={csrf}"

    def refresh_token(self) -> None:
        status, _, body = self.browser.request("GET", f"{self.base}/api/csrf")
        assert status == 200, body
        self.token = body["csrfToken"]

    def call(self, method: str, path: str, body=None) -> tuple[int, dict | None]:
        return call(method, f"{self.base}{path}", self.cookie, self.token, body)

    def cart(self) -> dict[int, int]:
        status, body = call("GET", f"{self.base}/api/cart", self.cookie)
        assert status == 200, body
        return {line["product_id"]: line["quantity"] for line in body["items"]}


def guest_tab(base: str) -> Tab:
    """A guest whose session exists before the race (GET /api/session saves one)."""
    tab = Tab(base, Browser())
    status, _, body = tab.browser.request("GET", f"{base}/api/session")
    assert status == 200 and body["views"] == 1, body
    return tab


def signed_in_tab(base: str, username: str) -> Tab:
    tab = Tab(base, Browser())
    status, _, body = tab.browser.request(
        "POST",
        f"{base}/api/login",
        {"username": username, "password": PASSWORD},
        headers={"X-CSRFToken": tab.token},
    )
    assert status == 200, body
    tab.refresh_token()  # login rotates the CSRF token
    return tab


def race(count: int, work) -> list:
    """Run ``work(n)`` for n in range(count) in as many threads, released together."""
    start = threading.Barrier(count)

    def run(n: int):
        start.wait(timeout=15)
        return work(n)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def make_argon2_user(django_user_model, username: str):
    # The server's hashers (sessionsite.settings) do not include the tests' MD5.
    with override_settings(PASSWORD_HASHERS=[ARGON2]):
        return django_user_model.objects.create_user(
            username=username, email=f"{username}@example.com", password=PASSWORD
        )


def preconnected_race(base: str, count: int, method: str, path: str, tab: Tab, body) -> list:
    """Open ``count`` connections first, then send one request on each, all at once.

    runserver listens with a backlog of 10 (django.core.servers.basehttp.WSGIServer):
    fifty simultaneous connects overflow it and some are reset before Django ever sees
    them. Connecting first (one at a time, each accepted into its own server thread) and
    then releasing the fifty requests together still has fifty requests in flight at once.
    """
    parts = urlsplit(base)
    connections = []
    try:
        for _ in range(count):
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
            connection.connect()
            connections.append(connection)
            time.sleep(0.005)  # let the server accept it before the next one
        data = json.dumps(body).encode()
        headers = {
            "Cookie": tab.cookie,
            "X-CSRFToken": tab.token,
            "Content-Type": "application/json",
        }

        def work(n: int) -> tuple[int, dict]:
            connections[n].request(method, path, body=data, headers=headers)
            response = connections[n].getresponse()
            return response.status, json.loads(response.read())

        return race(count, work)
    finally:
        for connection in connections:
            connection.close()


def check_fifty_adds(tab: Tab, product: Product, results: list) -> None:
    statuses = [status for status, _ in results]
    assert statuses == [200] * 50, Counter(statuses)
    # Every answer saw its own add: the quantities it reports are 50 distinct values.
    seen = sorted(body["items"][0]["quantity"] for _, body in results)
    assert seen == list(range(1, 51))
    assert tab.cart() == {product.pk: 50}
    product.refresh_from_db()
    assert product.stock == 100  # a cart reserves nothing


def test_fifty_concurrent_adds_from_one_session_under_gunicorn(redis):
    product = Product.objects.create(name="Mug", price=Decimal("12.50"), stock=100)
    with gunicorn(workers=2, threads=4) as (base, _log):
        tab = guest_tab(base)
        body = {"product_id": product.pk}
        results = race(50, lambda n: tab.call("POST", "/api/cart/items", body))
        check_fifty_adds(tab, product, results)


def test_fifty_concurrent_adds_from_one_session_under_runserver(redis):
    product = Product.objects.create(name="Mug", price=Decimal("12.50"), stock=100)
    with runserver() as base:
        tab = guest_tab(base)
        body = {"product_id": product.pk}
        results = preconnected_race(base, 50, "POST", "/api/cart/items", tab, body)
        check_fifty_adds(tab, product, results)


def test_a_concurrent_session_save_neither_overwrites_the_cart_nor_is_overwritten(redis):
    product = Product.objects.create(name="Mug", price=Decimal("12.50"), stock=100)
    with gunicorn(workers=2, threads=4) as (base, _log):
        tab = guest_tab(base)  # views == 1

        def work(n: int):
            if n % 2:
                return "add", tab.call("POST", "/api/cart/items", {"product_id": product.pk})
            return "session", call("GET", f"{base}/api/session", tab.cookie)

        results = race(60, work)
        assert Counter(kind for kind, _ in results) == {"add": 30, "session": 30}
        statuses = Counter((kind, status) for kind, (status, _) in results)
        assert statuses == {("add", 200): 30, ("session", 200): 30}
        # Every generic save read views >= 1 and wrote views + 1: none was lost entirely.
        assert all(body["views"] >= 2 for kind, (_, body) in results if kind == "session")
        assert tab.cart() == {product.pk: 30}
        status, body = call("GET", f"{base}/api/session", tab.cookie)
        assert status == 200
        assert body["views"] >= 3  # the same session, not a fresh one
        assert tab.cart() == {product.pk: 30}
        # The session still takes changes of both kinds.
        assert tab.call("POST", "/api/cart/items", {"product_id": product.pk})[0] == 200
        assert tab.cart() == {product.pk: 31}


def test_twenty_concurrent_checkouts_of_five_in_stock_sell_exactly_five(redis, django_user_model):
    make_argon2_user(django_user_model, "buyer")
    product = Product.objects.create(name="Limited tin", price=Decimal("19.00"), stock=5)
    # 20 sign-ins of one account race here; each in-flight attempt holds a slot of the
    # login limit until it succeeds, so the limit must allow that many at once.
    with gunicorn(workers=2, threads=4, SESSION_MAX_PER_USER="0", LOGIN_RATE_LIMIT="100/15m") as (
        base,
        _log,
    ):

        def prepare(_n: int) -> Tab:
            tab = signed_in_tab(base, "buyer")
            status, body = tab.call("POST", "/api/cart/items", {"product_id": product.pk})
            assert status == 200, body
            return tab

        with ThreadPoolExecutor(8) as pool:
            tabs = list(pool.map(prepare, range(20)))
        assert len({tab.cookie for tab in tabs}) == 20  # twenty distinct sessions

        results = race(20, lambda n: tabs[n].call("POST", "/api/checkout"))
        outcome = Counter(
            (status, body["code"] if status != 201 else "ok") for status, body in results
        )
        assert outcome == {(201, "ok"): 5, (409, "INSUFFICIENT_STOCK"): 15}, outcome
        product.refresh_from_db()
        assert product.stock == 0
        assert Order.objects.count() == 5
        assert OrderItem.objects.filter(product=product).count() == 5
        placed = sorted(body["order"]["id"] for status, body in results if status == 201)
        assert placed == sorted(Order.objects.values_list("pk", flat=True))
        for tab, (status, _) in zip(tabs, results, strict=True):
            # Refused carts were given back; the buyers' carts are empty.
            assert tab.cart() == ({} if status == 201 else {product.pk: 1})


def test_concurrent_checkouts_of_one_session_order_once(redis, django_user_model):
    make_argon2_user(django_user_model, "buyer")
    product = Product.objects.create(name="Mug", price=Decimal("12.50"), stock=10)
    with gunicorn(workers=2, threads=4) as (base, _log):
        tab = signed_in_tab(base, "buyer")
        status, body = tab.call(
            "POST", "/api/cart/items", {"product_id": product.pk, "quantity": 3}
        )
        assert status == 200, body
        results = race(10, lambda n: tab.call("POST", "/api/checkout"))
        outcome = Counter(
            (status, body["code"] if status != 201 else "ok") for status, body in results
        )
        assert outcome == {(201, "ok"): 1, (400, "CART_EMPTY"): 9}, outcome
        assert tab.cart() == {}
    assert Order.objects.count() == 1
    assert Order.objects.get().total == Decimal("37.50")
    product.refresh_from_db()
    assert product.stock == 7
