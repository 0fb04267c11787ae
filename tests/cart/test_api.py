"""The cart JSON API (API.md): catalogue, cart lines, validation, checkout, orders, admin.

In-process over real Redis sessions and the real database; the races are in
test_concurrency.py against real server processes.
"""

from __future__ import annotations

import io
import json
import time
from datetime import datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.management.commands.seed_demo import DEMO_USERS
from cart.management.commands.seed_products import DEMO_PRODUCTS
from cart.models import Order, OrderItem, Product
from cart.services import MAX_LINES, MAX_QUANTITY
from sessionadmin.store import keys

PASSWORD = "correct horse 9"
BAD_QUANTITIES = {
    "zero": b"0",
    "negative": b"-1",
    "fraction": b"1.5",
    "text": b'"abc"',
    "numeric-text": b'"2"',
    "true": b"true",
    "null": b"null",
    "list": b"[1]",
    "exponent": b"1e9",
    "over-max": str(MAX_QUANTITY + 1).encode(),
}


# --- helpers ------------------------------------------------------------------------------
def send(client: Client, method: str, path: str, data=None, **extra):
    """Send ``data`` as JSON (bytes are sent as they are)."""
    body = data if isinstance(data, bytes) else json.dumps({} if data is None else data)
    return getattr(client, method.lower())(path, body, content_type="application/json", **extra)


def add(client: Client, product_id, quantity=None, **extra):
    data = {"product_id": product_id}
    if quantity is not None:
        data["quantity"] = quantity
    return send(client, "POST", "/api/cart/items", data, **extra)


def put(client: Client, product_id, quantity, **extra):
    return send(client, "PUT", f"/api/cart/items/{product_id}", {"quantity": quantity}, **extra)


def get_cart(client: Client) -> dict:
    response = client.get("/api/cart")
    assert response.status_code == 200, response.content
    return response.json()


def quantities(client: Client) -> dict[int, int]:
    return {line["product_id"]: line["quantity"] for line in get_cart(client)["items"]}


def login(client: Client, username: str, password: str = PASSWORD):
    return send(client, "POST", "/api/login", {"username": username, "password": password})


def session_key(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def session_hash(key: str) -> str:
    return keys.session_key_name(keys.session_id(key))


def cart_fields_in_redis(redis) -> list[tuple[bytes, bytes]]:
    """Every ``i:cart:`` field of every hash in the tests' Redis database."""
    found = []
    for name in redis.scan_iter(count=1000):
        if redis.type(name) == b"hash":
            found += [(name, f) for f in redis.hkeys(name) if f.startswith(b"i:cart:")]
    return found


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["error"], str) and body["error"]
    return body


@pytest.fixture
def api(redis, db):
    return Client()


@pytest.fixture
def make_product(db):
    def make(name="Ceramic mug", price="12.50", stock=10, active=True, **extra) -> Product:
        return Product.objects.create(
            name=name, price=Decimal(price), stock=stock, active=active, **extra
        )

    return make


@pytest.fixture
def mug(make_product):
    return make_product()


@pytest.fixture
def alice(make_user, redis):
    return make_user("alice")


@pytest.fixture
def alice_client(alice, api):
    assert login(api, "alice").status_code == 200
    return api


# --- Catalogue ----------------------------------------------------------------------------
def test_products_lists_active_products_with_decimal_prices(api, make_product):
    kettle = make_product("Kettle", "49.00", 3)
    mug = make_product("Mug", "12.50", 0)
    make_product("Old stock", "1.00", 9, active=False)
    response = api.get("/api/products")
    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {"id": kettle.pk, "name": "Kettle", "price": "49.00", "stock": 3},
            {"id": mug.pk, "name": "Mug", "price": "12.50", "stock": 0},
        ]
    }


def test_seed_products_is_idempotent(db):
    call_command("seed_products", stdout=io.StringIO())
    first = sorted(Product.objects.values_list("name", "price", "stock"))
    assert len(first) == len(DEMO_PRODUCTS)
    out = io.StringIO()
    call_command("seed_products", stdout=out)
    assert sorted(Product.objects.values_list("name", "price", "stock")) == first
    assert "0 created" in out.getvalue()


def test_seed_demo_also_creates_the_products(db, settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=io.StringIO())
    assert set(Product.objects.values_list("name", flat=True)) == {p[0] for p in DEMO_PRODUCTS}
    call_command("seed_demo", stdout=io.StringIO())
    assert Product.objects.count() == len(DEMO_PRODUCTS)
    assert set(get_user_model().objects.values_list("username", flat=True)) == {
        u["username"] for u in DEMO_USERS
    }


# --- Cart basics ----------------------------------------------------------------------------
def test_a_new_visitor_has_an_empty_cart_and_no_session_is_made_for_reading_it(api, redis):
    response = api.get("/api/cart")
    assert response.status_code == 200
    assert response.json() == {"items": [], "total_items": 0, "total_price": "0.00"}
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert cart_fields_in_redis(redis) == []


def test_add_defaults_to_one_and_adds_to_the_line(api, mug):
    response = add(api, mug.pk)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "items": [
            {
                "product_id": mug.pk,
                "name": "Ceramic mug",
                "price": "12.50",
                "quantity": 1,
                "line_total": "12.50",
                "available": True,
            }
        ],
        "total_items": 1,
        "total_price": "12.50",
    }
    assert add(api, mug.pk, 2).json()["items"][0]["quantity"] == 3
    assert get_cart(api)["items"][0] == {
        "product_id": mug.pk,
        "name": "Ceramic mug",
        "price": "12.50",
        "quantity": 3,
        "line_total": "37.50",
        "available": True,
    }
    mug.refresh_from_db()
    assert mug.stock == 10  # a cart reserves nothing


def test_put_sets_the_line(api, mug, make_product):
    kettle = make_product("Kettle", "49.00", 5)
    add(api, mug.pk, 4)
    response = put(api, mug.pk, 2)
    assert response.status_code == 200, response.content
    assert {i["product_id"]: i["quantity"] for i in response.json()["items"]} == {mug.pk: 2}
    # PUT also creates a line that was not there.
    assert put(api, kettle.pk, 1).status_code == 200
    assert quantities(api) == {mug.pk: 2, kettle.pk: 1}


def test_delete_removes_a_line_and_delete_cart_clears(api, mug, make_product):
    kettle = make_product("Kettle", "49.00", 5)
    add(api, mug.pk, 2)
    add(api, kettle.pk, 1)
    response = api.delete(f"/api/cart/items/{mug.pk}")
    assert response.status_code == 200
    assert [i["product_id"] for i in response.json()["items"]] == [kettle.pk]
    assert api.delete(f"/api/cart/items/{mug.pk}").status_code == 200  # absent: no error
    assert quantities(api) == {kettle.pk: 1}
    response = api.delete("/api/cart")
    assert response.status_code == 200
    assert response.json() == {"items": [], "total_items": 0, "total_price": "0.00"}
    assert get_cart(api) == {"items": [], "total_items": 0, "total_price": "0.00"}


def test_the_cart_belongs_to_the_session(api, mug, redis):
    add(api, mug.pk, 2)
    other = Client()
    assert get_cart(other)["items"] == []
    add(other, mug.pk, 1)
    assert quantities(api) == {mug.pk: 2}
    assert quantities(other) == {mug.pk: 1}
    # Kept as a field of the session's own Redis hash, not in the payload.
    assert redis.hget(session_hash(session_key(api)), f"i:cart:{mug.pk}") == b"2"


def test_totals_are_exact_decimal_strings(api, make_product):
    dime = make_product("Dime sticker", "0.10", 50)
    odd = make_product("Odd thing", "19.99", 50)
    add(api, dime.pk, 3)
    body = add(api, odd.pk, 3).json()
    lines = {i["product_id"]: i for i in body["items"]}
    assert lines[dime.pk]["line_total"] == "0.30"  # not 0.30000000000000004
    assert lines[odd.pk]["line_total"] == "59.97"
    assert body["total_price"] == "60.27"
    assert body["total_items"] == 6
    assert all(isinstance(i["price"], str) for i in body["items"])


def test_names_and_prices_come_from_the_catalogue(api, mug):
    add(api, mug.pk, 2)
    mug.price, mug.name = Decimal("15.00"), "Big mug"
    mug.save()  # as the admin does: this process reads the row again at once
    body = get_cart(api)
    assert body["items"][0]["name"] == "Big mug"
    assert body["items"][0]["price"] == "15.00"
    assert body["items"][0]["line_total"] == "30.00"
    assert body["total_price"] == "30.00"


def test_a_change_no_signal_reports_shows_within_the_catalogue_max_age(api, mug, settings):
    settings.CART_CATALOG_MAX_AGE = 0.5
    add(api, mug.pk, 2)
    with CaptureQueriesContext(connection) as queries:
        assert get_cart(api)["items"][0]["price"] == "12.50"
    assert not [q for q in queries if "cart_product" in q["sql"]], "read from the cache"
    # Another process's change (or a QuerySet.update()): no signal reaches this process.
    Product.objects.filter(pk=mug.pk).update(price=Decimal("15.00"))
    assert get_cart(api)["items"][0]["price"] == "12.50"
    time.sleep(0.6)
    assert get_cart(api)["items"][0]["price"] == "15.00"


def test_checkout_charges_the_databases_price_not_the_cached_one(alice_client, mug):
    add(alice_client, mug.pk, 2)
    assert get_cart(alice_client)["total_price"] == "25.00"  # now cached in this process
    Product.objects.filter(pk=mug.pk).update(price=Decimal("20.00"))
    order = send(alice_client, "POST", "/api/checkout").json()["order"]
    assert (order["items"][0]["price"], order["total"]) == ("20.00", "40.00")


def test_a_client_cannot_send_a_price_or_a_name(api, mug):
    response = send(
        api,
        "POST",
        "/api/cart/items",
        {"product_id": mug.pk, "quantity": 2, "price": "0.01", "name": "Free", "total": "0"},
    )
    assert response.status_code == 200
    line = response.json()["items"][0]
    assert (line["name"], line["price"], line["line_total"]) == ("Ceramic mug", "12.50", "25.00")
    assert response.json()["total_price"] == "25.00"


def test_a_deactivated_product_stays_in_the_cart_as_unavailable(api, mug, make_product):
    kettle = make_product("Kettle", "49.00", 5)
    add(api, mug.pk, 2)
    add(api, kettle.pk, 1)
    kettle.active = False
    kettle.save()
    body = get_cart(api)
    lines = {i["product_id"]: i for i in body["items"]}
    assert lines[mug.pk]["available"] is True
    assert lines[kettle.pk]["available"] is False
    assert lines[kettle.pk]["quantity"] == 1
    assert Decimal(lines[kettle.pk]["line_total"]) == 0
    assert body["total_items"] == 2
    assert body["total_price"] == "25.00"
    # It can be neither added to nor set, only removed.
    assert_error(add(api, kettle.pk), 404, "NOT_FOUND")
    assert_error(put(api, kettle.pk, 2), 404, "NOT_FOUND")
    assert api.delete(f"/api/cart/items/{kettle.pk}").status_code == 200
    assert quantities(api) == {mug.pk: 2}


def test_a_deleted_product_shows_as_unavailable(api, mug, make_product):
    kettle = make_product("Kettle", "49.00", 5)
    add(api, mug.pk, 1)
    add(api, kettle.pk, 2)
    kettle_id = kettle.pk
    kettle.delete()
    body = get_cart(api)
    lines = {i["product_id"]: i for i in body["items"]}
    assert lines[kettle_id]["available"] is False
    assert lines[kettle_id]["quantity"] == 2
    assert Decimal(lines[kettle_id]["line_total"]) == 0
    assert body["total_items"] == 1
    assert body["total_price"] == "12.50"
    assert api.delete(f"/api/cart/items/{kettle_id}").status_code == 200
    assert quantities(api) == {mug.pk: 1}


# --- Validation ----------------------------------------------------------------------------
def test_unknown_and_inactive_products_are_404(api, make_product):
    gone = make_product("Gone", "1.00", 5, active=False)
    assert_error(add(api, 999_999), 404, "NOT_FOUND")
    assert_error(add(api, gone.pk), 404, "NOT_FOUND")
    assert_error(put(api, 999_999, 1), 404, "NOT_FOUND")
    assert_error(put(api, gone.pk, 1), 404, "NOT_FOUND")
    assert get_cart(api)["items"] == []


@pytest.mark.parametrize("raw", BAD_QUANTITIES.values(), ids=BAD_QUANTITIES.keys())
def test_a_quantity_that_is_not_a_whole_number_from_1_to_99_is_400(api, mug, raw):
    add(api, mug.pk, 2)
    body = b'{"product_id": %d, "quantity": %s}' % (mug.pk, raw)
    response = api.post("/api/cart/items", body, content_type="application/json")
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert error["fields"]["quantity"]
    response = api.put(
        f"/api/cart/items/{mug.pk}", b'{"quantity": %s}' % raw, content_type="application/json"
    )
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert error["fields"]["quantity"]
    assert quantities(api) == {mug.pk: 2}


def test_put_without_a_quantity_is_400(api, mug):
    add(api, mug.pk, 2)
    error = assert_error(
        send(api, "PUT", f"/api/cart/items/{mug.pk}", {}), 400, "VALIDATION_ERROR"
    )
    assert error["fields"]["quantity"]
    assert quantities(api) == {mug.pk: 2}


@pytest.mark.parametrize(
    "product_id", ["1", 1.5, "abc", None, True, [1], {"id": 1}, -1, 0], ids=repr
)
def test_a_product_id_that_is_not_a_positive_int_is_400(api, mug, product_id):
    if product_id == "1":
        product_id = str(mug.pk)
    error = assert_error(add(api, product_id), 400, "VALIDATION_ERROR")
    assert error["fields"]["product_id"]
    assert get_cart(api)["items"] == []


def test_a_missing_product_id_is_400(api):
    error = assert_error(
        send(api, "POST", "/api/cart/items", {"quantity": 1}), 400, "VALIDATION_ERROR"
    )
    assert error["fields"]["product_id"]


@pytest.mark.parametrize("segment", ["abc", "1.5", "-1", "0x1"])
def test_a_product_id_in_the_path_that_is_not_an_int_is_an_error_not_a_crash(api, segment):
    assert_error(put(api, segment, 1), 404, "NOT_FOUND")
    assert_error(api.delete(f"/api/cart/items/{segment}"), 404, "NOT_FOUND")


def test_more_than_the_stock_is_409_and_the_line_keeps_what_it_had(api, make_product):
    tin = make_product("Tin", "19.00", 5)
    add(api, tin.pk, 3)
    error = assert_error(add(api, tin.pk, 3), 409, "INSUFFICIENT_STOCK")
    assert "5" in error["error"]
    assert quantities(api) == {tin.pk: 3}
    assert_error(put(api, tin.pk, 6), 409, "INSUFFICIENT_STOCK")
    assert quantities(api) == {tin.pk: 3}
    assert add(api, tin.pk, 2).status_code == 200  # exactly the stock is fine
    assert quantities(api) == {tin.pk: 5}
    empty = make_product("Sold out", "1.00", 0)
    assert_error(add(api, empty.pk), 409, "INSUFFICIENT_STOCK")
    assert quantities(api) == {tin.pk: 5}


def test_at_most_99_of_one_product(api, make_product):
    beans = make_product("Beans", "24.90", 500)
    assert add(api, beans.pk, 60).status_code == 200
    error = assert_error(add(api, beans.pk, 40), 400, "VALIDATION_ERROR")
    assert "99" in " ".join(error["fields"]["quantity"])
    assert quantities(api) == {beans.pk: 60}
    assert put(api, beans.pk, MAX_QUANTITY).status_code == 200
    error = assert_error(add(api, beans.pk, 1), 400, "VALIDATION_ERROR")
    assert "99" in " ".join(error["fields"]["quantity"])
    assert quantities(api) == {beans.pk: 99}


def test_at_most_50_distinct_products(api):
    products = Product.objects.bulk_create(
        Product(name=f"Thing {n:02}", price=Decimal("1.00"), stock=10)
        for n in range(MAX_LINES + 1)
    )
    assert MAX_LINES == 50
    for product in products[:MAX_LINES]:
        assert add(api, product.pk).status_code == 200
    error = assert_error(add(api, products[-1].pk), 400, "VALIDATION_ERROR")
    assert "50" in " ".join(error["fields"]["product_id"])
    assert_error(put(api, products[-1].pk, 1), 400, "VALIDATION_ERROR")
    body = get_cart(api)
    assert len(body["items"]) == MAX_LINES
    assert products[-1].pk not in {i["product_id"] for i in body["items"]}
    # A line already there can still grow; removing one frees a place.
    assert add(api, products[0].pk).status_code == 200
    assert api.delete(f"/api/cart/items/{products[1].pk}").status_code == 200
    assert add(api, products[-1].pk).status_code == 200
    assert len(get_cart(api)["items"]) == MAX_LINES


@pytest.mark.parametrize("raw", [b"{", b"[1]", b'"text"', b"null", b"42", b"\xff{}"], ids=repr)
def test_a_body_that_is_not_a_json_object_is_400_bad_json(api, mug, raw):
    add(api, mug.pk, 1)
    response = api.post("/api/cart/items", raw, content_type="application/json")
    assert_error(response, 400, "BAD_JSON")
    response = api.put(f"/api/cart/items/{mug.pk}", raw, content_type="application/json")
    assert_error(response, 400, "BAD_JSON")
    assert quantities(api) == {mug.pk: 1}


def test_an_oversized_body_is_413(api, mug):
    padding = "a" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)
    big = json.dumps({"product_id": mug.pk, "quantity": 1, "note": padding}).encode()
    assert_error(
        api.post("/api/cart/items", big, content_type="application/json"), 413, "PAYLOAD_TOO_LARGE"
    )
    big = json.dumps({"quantity": 1, "note": padding}).encode()
    assert_error(
        api.put(f"/api/cart/items/{mug.pk}", big, content_type="application/json"),
        413,
        "PAYLOAD_TOO_LARGE",
    )
    assert get_cart(api)["items"] == []


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("post", "/api/products", "GET"),
        ("post", "/api/cart", "DELETE, GET"),
        ("put", "/api/cart", "DELETE, GET"),
        ("get", "/api/cart/items", "POST"),
        ("delete", "/api/cart/items", "POST"),
        ("get", "/api/cart/items/1", "DELETE, PUT"),
        ("post", "/api/cart/items/1", "DELETE, PUT"),
        ("patch", "/api/cart/items/1", "DELETE, PUT"),
        ("get", "/api/checkout", "POST"),
        ("post", "/api/orders", "GET"),
    ],
)
def test_wrong_method_is_405(api, method, path, allowed):
    response = getattr(api, method)(path)
    body = assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert response["Allow"] == allowed, body


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("post", "/api/cart/items", {"product_id": "PID", "quantity": 1}),
        ("put", "/api/cart/items/PID", {"quantity": 1}),
        ("delete", "/api/cart/items/PID", None),
        ("delete", "/api/cart", None),
        ("post", "/api/checkout", None),
    ],
)
def test_unsafe_methods_without_a_csrf_token_are_403(redis, alice, mug, method, path, data):
    browser = Client(enforce_csrf_checks=True)
    token = browser.get("/api/csrf").json()["csrfToken"]
    assert login(browser, "alice").status_code == 403  # the login needs one too
    response = send(
        browser,
        "POST",
        "/api/login",
        {"username": "alice", "password": PASSWORD},
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 200
    token = browser.get("/api/csrf").json()["csrfToken"]
    assert add(browser, mug.pk, 2, HTTP_X_CSRFTOKEN=token).status_code == 200
    path = path.replace("PID", str(mug.pk))
    if data and data.get("product_id") == "PID":
        data = {**data, "product_id": mug.pk}
    assert_error(send(browser, method, path, data), 403, "CSRF_FAILED")
    assert_error(send(browser, method, path, data, HTTP_X_CSRFTOKEN="x" * 64), 403, "CSRF_FAILED")
    assert quantities(browser) == {mug.pk: 2}
    assert Order.objects.count() == 0
    # The same request with the token goes through.
    response = send(browser, method, path, data, HTTP_X_CSRFTOKEN=token)
    assert response.status_code in (200, 201), response.content


# --- Cart across login and logout ------------------------------------------------------------
def test_the_cart_survives_login_under_the_new_key_and_the_old_cookie_is_dead(
    api, alice, mug, redis
):
    add(api, mug.pk, 2)
    guest_key = session_key(api)
    assert login(api, "alice").status_code == 200
    new_key = session_key(api)
    assert new_key != guest_key
    assert quantities(api) == {mug.pk: 2}
    assert redis.hget(session_hash(new_key), f"i:cart:{mug.pk}") == b"2"
    assert not redis.exists(session_hash(guest_key))
    # Someone holding the pre-login cookie gets nothing: not the cart, not the user.
    thief = Client()
    thief.cookies[settings.SESSION_COOKIE_NAME] = guest_key
    assert get_cart(thief)["items"] == []
    assert thief.get("/api/session").json()["authenticated"] is False
    assert not redis.exists(session_hash(guest_key))
    # ...and the signed-in cart is untouched by that.
    assert quantities(api) == {mug.pk: 2}


def test_logout_ends_the_cart(api, alice, mug, redis):
    assert login(api, "alice").status_code == 200
    add(api, mug.pk, 3)
    signed_in_key = session_key(api)
    assert cart_fields_in_redis(redis) == [
        (session_hash(signed_in_key).encode(), f"i:cart:{mug.pk}".encode())
    ]
    assert send(api, "POST", "/api/logout").status_code == 200
    assert not redis.exists(session_hash(signed_in_key))
    assert cart_fields_in_redis(redis) == []
    assert get_cart(api)["items"] == []
    old = Client()
    old.cookies[settings.SESSION_COOKIE_NAME] = signed_in_key
    assert get_cart(old)["items"] == []
    assert cart_fields_in_redis(redis) == []


# --- Checkout -------------------------------------------------------------------------------
def test_checkout_needs_a_signed_in_user(api, mug):
    add(api, mug.pk, 1)
    assert_error(send(api, "POST", "/api/checkout"), 401, "AUTH_REQUIRED")
    assert quantities(api) == {mug.pk: 1}
    mug.refresh_from_db()
    assert mug.stock == 10
    assert Order.objects.count() == 0


def test_checkout_of_an_empty_cart_is_400_cart_empty(alice_client):
    assert_error(send(alice_client, "POST", "/api/checkout"), 400, "CART_EMPTY")
    assert Order.objects.count() == 0


def test_checkout_places_the_order_decrements_stock_and_empties_the_cart(
    alice_client, alice, mug, make_product
):
    kettle = make_product("Kettle", "49.00", 5)
    add(alice_client, mug.pk, 3)
    add(alice_client, kettle.pk, 1)
    before = timezone.now()
    response = send(alice_client, "POST", "/api/checkout")
    assert response.status_code == 201, response.content
    order = response.json()["order"]
    assert set(order) == {"id", "items", "total", "created_at"}
    assert order["total"] == "86.50"
    assert sorted(order["items"], key=lambda i: i["product_id"]) == sorted(
        [
            {
                "product_id": mug.pk,
                "name": "Ceramic mug",
                "price": "12.50",
                "quantity": 3,
                "line_total": "37.50",
            },
            {
                "product_id": kettle.pk,
                "name": "Kettle",
                "price": "49.00",
                "quantity": 1,
                "line_total": "49.00",
            },
        ],
        key=lambda i: i["product_id"],
    )
    created = datetime.fromisoformat(order["created_at"])
    assert created.utcoffset() is not None
    assert before <= created <= timezone.now()
    mug.refresh_from_db()
    kettle.refresh_from_db()
    assert (mug.stock, kettle.stock) == (7, 4)
    assert get_cart(alice_client) == {"items": [], "total_items": 0, "total_price": "0.00"}
    stored = Order.objects.get()
    assert stored.pk == order["id"] and stored.user == alice
    assert stored.total == Decimal("86.50")
    assert OrderItem.objects.filter(order=stored).count() == 2


def test_an_order_keeps_its_prices_when_the_catalogue_changes(alice_client, mug):
    add(alice_client, mug.pk, 2)
    order_id = send(alice_client, "POST", "/api/checkout").json()["order"]["id"]
    Product.objects.filter(pk=mug.pk).update(price=Decimal("99.00"), name="Renamed")
    order = alice_client.get("/api/orders").json()["results"][0]
    assert order["id"] == order_id
    assert order["items"][0]["name"] == "Ceramic mug"
    assert order["items"][0]["price"] == "12.50"
    assert order["total"] == "25.00"
    mug.delete()
    item = alice_client.get("/api/orders").json()["results"][0]["items"][0]
    assert (item["product_id"], item["name"], item["line_total"]) == (None, "Ceramic mug", "25.00")


def test_a_retried_checkout_finds_the_cart_empty_and_orders_once(alice_client, mug):
    add(alice_client, mug.pk, 2)
    assert send(alice_client, "POST", "/api/checkout").status_code == 201
    assert_error(send(alice_client, "POST", "/api/checkout"), 400, "CART_EMPTY")
    assert Order.objects.count() == 1
    mug.refresh_from_db()
    assert mug.stock == 8


def test_checkout_with_an_unavailable_line_is_409_and_touches_nothing(
    alice_client, mug, make_product
):
    kettle = make_product("Kettle", "49.00", 5)
    add(alice_client, mug.pk, 2)
    add(alice_client, kettle.pk, 1)
    Product.objects.filter(pk=kettle.pk).update(active=False)
    assert_error(send(alice_client, "POST", "/api/checkout"), 409, "CONFLICT")
    assert quantities(alice_client) == {mug.pk: 2, kettle.pk: 1}
    assert sorted(Product.objects.values_list("stock", flat=True)) == [5, 10]
    assert Order.objects.count() == 0 and OrderItem.objects.count() == 0
    # Deleted instead of deactivated: the same.
    kettle_id = kettle.pk
    kettle.delete()
    assert_error(send(alice_client, "POST", "/api/checkout"), 409, "CONFLICT")
    assert quantities(alice_client) == {mug.pk: 2, kettle_id: 1}
    mug.refresh_from_db()
    assert mug.stock == 10
    assert Order.objects.count() == 0
    # Once the line is removed, checkout goes through.
    alice_client.delete(f"/api/cart/items/{kettle_id}")
    assert send(alice_client, "POST", "/api/checkout").status_code == 201
    mug.refresh_from_db()
    assert mug.stock == 8


def test_checkout_when_stock_ran_out_meanwhile_is_409_and_gives_the_cart_back(
    alice_client, mug, make_product
):
    kettle = make_product("Kettle", "49.00", 5)
    add(alice_client, mug.pk, 2)
    add(alice_client, kettle.pk, 3)
    Product.objects.filter(pk=kettle.pk).update(stock=2)  # someone else bought some
    assert_error(send(alice_client, "POST", "/api/checkout"), 409, "INSUFFICIENT_STOCK")
    assert quantities(alice_client) == {mug.pk: 2, kettle.pk: 3}
    mug.refresh_from_db()
    kettle.refresh_from_db()
    assert (mug.stock, kettle.stock) == (10, 2)  # the mug's decrement was rolled back
    assert Order.objects.count() == 0 and OrderItem.objects.count() == 0


# --- Orders --------------------------------------------------------------------------------
def test_orders_are_the_callers_own_newest_first(alice_client, make_user, mug, make_product):
    kettle = make_product("Kettle", "49.00", 5)
    make_user("bob")
    bob = Client()
    assert login(bob, "bob").status_code == 200
    add(bob, kettle.pk, 1)
    bobs = send(bob, "POST", "/api/checkout").json()["order"]["id"]
    add(alice_client, mug.pk, 1)
    first = send(alice_client, "POST", "/api/checkout").json()["order"]["id"]
    add(alice_client, kettle.pk, 2)
    second = send(alice_client, "POST", "/api/checkout").json()["order"]["id"]
    response = alice_client.get("/api/orders")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [o["id"] for o in results] == [second, first]
    assert results[0]["total"] == "98.00"
    assert results[0]["items"][0]["quantity"] == 2
    assert [o["id"] for o in bob.get("/api/orders").json()["results"]] == [bobs]


def test_orders_need_a_signed_in_user(api):
    assert_error(api.get("/api/orders"), 401, "AUTH_REQUIRED")


# --- Admin ---------------------------------------------------------------------------------
@pytest.fixture
def admin_client(make_user, redis):
    make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    assert login(client, "root").status_code == 200
    return client


@pytest.fixture
def two_orders(make_user, make_product):
    mug = make_product("Ceramic mug", "12.50", 10)
    kettle = make_product("Kettle", "49.00", 5)
    orders = {}
    for name, product in (("alice", mug), ("bob", kettle)):
        user = make_user(name)
        order = Order.objects.create(user=user, total=product.price)
        OrderItem.objects.create(
            order=order,
            product=product,
            name=product.name,
            price=product.price,
            quantity=1,
            line_total=product.price,
        )
        orders[name] = order
    return orders


def test_admin_product_changelist_searches_and_filters(admin_client, make_product):
    mug = make_product("Ceramic mug", "12.50", 10)
    old = make_product("Ceramic mug, old model", "9.00", 1, active=False)
    kettle = make_product("Kettle", "49.00", 5)
    response = admin_client.get("/admin/cart/product/", {"q": "mug", "active__exact": "1"})
    assert response.status_code == 200
    shown = {p.pk for p in response.context["cl"].result_list}
    assert shown == {mug.pk}
    assert b'id="changelist-filter"' in response.content
    response = admin_client.get("/admin/cart/product/", {"active__exact": "0"})
    assert {p.pk for p in response.context["cl"].result_list} == {old.pk}
    assert kettle.pk not in {p.pk for p in response.context["cl"].result_list}
    assert admin_client.get(f"/admin/cart/product/{mug.pk}/change/").status_code == 200


def test_admin_order_changelist_searches_and_filters(admin_client, two_orders):
    # What the admin's "Today" filter link sends: the aware start of today.
    today = str(timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0))
    response = admin_client.get("/admin/cart/order/", {"q": "alice", "created_at__gte": today})
    assert response.status_code == 200
    assert {o.pk for o in response.context["cl"].result_list} == {two_orders["alice"].pk}
    assert b'id="changelist-filter"' in response.content
    response = admin_client.get("/admin/cart/order/", {"q": "Kettle"})  # by item name
    assert {o.pk for o in response.context["cl"].result_list} == {two_orders["bob"].pk}
    response = admin_client.get(f"/admin/cart/order/{two_orders['alice'].pk}/change/")
    assert response.status_code == 200
    assert b"Ceramic mug" in response.content  # the items inline


def test_admin_orderitem_changelist_searches_and_filters(admin_client, two_orders):
    from django.contrib import admin

    model_admin = admin.site._registry.get(OrderItem)
    assert model_admin is not None, "OrderItem is not registered in the admin"
    assert list(model_admin.list_display) != ["__str__"]
    assert model_admin.search_fields
    assert model_admin.list_filter
    response = admin_client.get("/admin/cart/orderitem/", {"q": "Kettle"})
    assert response.status_code == 200
    shown = {i.pk for i in response.context["cl"].result_list}
    assert shown == {two_orders["bob"].items.get().pk}
    assert b'id="changelist-filter"' in response.content


@pytest.mark.parametrize("path", ["/admin/cart/product/", "/admin/cart/order/"])
def test_the_admin_is_for_staff_only(alice_client, path):
    for client in (Client(), alice_client):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
