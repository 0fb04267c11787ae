"""The shop pages: plain HTML forms that work without JavaScript, over real sessions."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest
from django.test import Client

from cart.models import Order, Product
from sessionadmin import items

PASSWORD = "correct horse 9"
BAD_FORM_QUANTITIES = {
    "zero": "0",
    "negative": "-1",
    "fraction": "1.5",
    "text": "abc",
    "empty": "",
    "blank": " ",
    "over-max": "100",
    "huge": "99999999",
    "exponent": "1e9",
    # str.isdigit() is true for "²" but int() refuses it: must be an error message, not a 500.
    "superscript-two": "²",
}


def csrf_token_of(response) -> str:
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', response.content)
    assert match, "the page has no CSRF token in a form"
    return match.group(1).decode()


def text(response) -> str:
    return html.unescape(response.content.decode())


def messages_of(response) -> list[str]:
    block = re.search(r'<ul class="messages">(.*?)</ul>', text(response), re.S)
    return re.findall(r"<li[^>]*>(.*?)</li>", block.group(1), re.S) if block else []


def add_forms(response) -> dict[int, str]:
    """Product id -> the add form's HTML, for each add form on the page."""
    forms = re.findall(r'<form method="post" action="/cart/add/".*?</form>', text(response), re.S)
    found = {}
    for form in forms:
        pid = re.search(r'name="product_id" value="(\d+)"', form)
        assert pid, form
        found[int(pid.group(1))] = form
    return found


def browser() -> Client:
    return Client(enforce_csrf_checks=True)


def submit(client: Client, page: str, action: str, **data):
    """Load ``page`` as a browser would, then post one of its forms, following redirects."""
    token = csrf_token_of(client.get(page))
    return client.post(action, {"csrfmiddlewaretoken": token, **data}, follow=True)


def cart_of(client: Client) -> dict[int, int]:
    return {i["product_id"]: i["quantity"] for i in client.get("/api/cart").json()["items"]}


def page_login(client: Client, username: str = "alice"):
    token = csrf_token_of(client.get("/accounts/login/"))
    response = client.post(
        "/accounts/login/",
        {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302, response.content
    return response


@pytest.fixture
def products(db, redis):
    return {
        "mug": Product.objects.create(name="Ceramic mug", price=Decimal("12.50"), stock=10),
        "kettle": Product.objects.create(name="Pour-over kettle", price=Decimal("49.00"), stock=3),
        "empty": Product.objects.create(name="Sold-out tin", price=Decimal("19.00"), stock=0),
        "hidden": Product.objects.create(
            name="Retired grinder", price=Decimal("89.00"), stock=8, active=False
        ),
    }


@pytest.fixture
def alice(make_user, redis):
    return make_user("alice")


@pytest.fixture
def shopper(products) -> Client:
    """A guest with 2 mugs and 1 kettle in the cart, added through the forms."""
    client = browser()
    submit(client, "/products/", "/cart/add/", product_id=products["mug"].pk, quantity="2")
    submit(client, "/products/", "/cart/add/", product_id=products["kettle"].pk, quantity="1")
    assert cart_of(client) == {products["mug"].pk: 2, products["kettle"].pk: 1}
    return client


# --- Products ------------------------------------------------------------------------------
def test_products_page_lists_active_products_with_add_forms(products):
    response = browser().get("/products/")
    assert response.status_code == 200
    page = text(response)
    for name in ("Ceramic mug", "Pour-over kettle", "Sold-out tin"):
        assert name in page
    assert "Retired grinder" not in page
    assert "12.50" in page and "49.00" in page
    forms = add_forms(response)
    assert set(forms) == {products["mug"].pk, products["kettle"].pk}  # none when out of stock
    assert 'name="quantity"' in forms[products["mug"].pk]
    assert 'name="csrfmiddlewaretoken"' in forms[products["mug"].pk]


def test_add_form_works_without_javascript(products):
    client = browser()
    mug = products["mug"]
    response = submit(
        client, "/products/", "/cart/add/", product_id=mug.pk, quantity="2", back="/products/"
    )
    assert response.status_code == 200
    assert response.redirect_chain == [("/products/", 302)]
    assert "Added 2 × Ceramic mug to your cart." in messages_of(response)
    assert cart_of(client) == {mug.pk: 2}
    # Without a quantity field it adds one, and "back" can lead to the cart.
    response = submit(client, "/products/", "/cart/add/", product_id=mug.pk, back="/cart/")
    assert response.redirect_chain == [("/cart/", 302)]
    assert cart_of(client) == {mug.pk: 3}
    assert "Ceramic mug" in text(response)


def test_add_form_never_redirects_off_site(products):
    response = submit(
        browser(),
        "/products/",
        "/cart/add/",
        product_id=products["mug"].pk,
        back="https://evil.example/",
    )
    assert response.redirect_chain == [("/products/", 302)]


def test_add_form_without_the_csrf_token_is_refused(products):
    client = browser()
    response = client.post("/cart/add/", {"product_id": products["mug"].pk, "quantity": "1"})
    assert response.status_code == 403
    assert cart_of(client) == {}


@pytest.mark.parametrize("quantity", BAD_FORM_QUANTITIES.values(), ids=BAD_FORM_QUANTITIES.keys())
def test_add_form_with_a_bad_quantity_shows_an_error_and_changes_nothing(
    shopper, products, quantity
):
    response = submit(
        shopper, "/products/", "/cart/add/", product_id=products["mug"].pk, quantity=quantity
    )
    assert response.status_code == 200
    assert any("whole number" in m for m in messages_of(response)), messages_of(response)
    assert cart_of(shopper) == {products["mug"].pk: 2, products["kettle"].pk: 1}


@pytest.mark.parametrize("product", ["hidden", "unknown", "junk", "superscript-two"])
def test_add_form_for_a_product_not_sold_shows_an_error(shopper, products, product):
    pid = {"hidden": products["hidden"].pk, "unknown": 999_999, "junk": "x"}.get(product, "²")
    response = submit(shopper, "/products/", "/cart/add/", product_id=pid, quantity="1")
    assert response.status_code == 200
    assert messages_of(response) and "Added" not in " ".join(messages_of(response))
    assert cart_of(shopper) == {products["mug"].pk: 2, products["kettle"].pk: 1}


def test_add_form_over_the_stock_says_so_and_changes_nothing(shopper, products):
    response = submit(
        shopper, "/products/", "/cart/add/", product_id=products["kettle"].pk, quantity="3"
    )
    assert "Only 3 of Pour-over kettle in stock." in messages_of(response)
    assert cart_of(shopper) == {products["mug"].pk: 2, products["kettle"].pk: 1}


def test_add_form_answers_only_post(products):
    assert browser().get("/cart/add/").status_code == 405


# --- Cart ----------------------------------------------------------------------------------
def test_cart_page_shows_lines_and_totals(shopper):
    response = shopper.get("/cart/")
    assert response.status_code == 200
    page = text(response)
    assert "Ceramic mug" in page and "Pour-over kettle" in page
    assert "25.00" in page  # 2 x 12.50
    assert "74.00" in page  # the total
    assert "3 items" in page
    assert page.count('action="/cart/update/"') == 2
    assert page.count('action="/cart/remove/"') == 2
    assert 'action="/cart/clear/"' in page
    assert "Sign in to check out" in page  # a guest gets no checkout form
    assert 'action="/cart/checkout/"' not in page


def test_an_empty_cart_page_says_so(products):
    response = browser().get("/cart/")
    assert response.status_code == 200
    assert "Your cart is empty." in text(response)


def test_cart_page_marks_unavailable_lines(shopper, products):
    products["kettle"].active = False
    products["kettle"].save()
    page = text(shopper.get("/cart/"))
    assert "unavailable" in page
    assert "Remove the unavailable items before checking out." in page
    assert page.count('action="/cart/update/"') == 1  # only the mug can be changed
    assert "25.00" in page


def test_update_form_sets_the_quantity(shopper, products):
    response = submit(
        shopper, "/cart/", "/cart/update/", product_id=products["mug"].pk, quantity="5"
    )
    assert response.redirect_chain == [("/cart/", 302)]
    assert "Cart updated." in messages_of(response)
    assert cart_of(shopper) == {products["mug"].pk: 5, products["kettle"].pk: 1}
    assert "62.50" in text(response)  # 5 x 12.50 on the page it lands on


@pytest.mark.parametrize("quantity", BAD_FORM_QUANTITIES.values(), ids=BAD_FORM_QUANTITIES.keys())
def test_update_form_with_a_bad_quantity_shows_an_error_and_changes_nothing(
    shopper, products, quantity
):
    response = submit(
        shopper, "/cart/", "/cart/update/", product_id=products["mug"].pk, quantity=quantity
    )
    assert response.status_code == 200
    assert any("whole number" in m for m in messages_of(response)), messages_of(response)
    assert "Cart updated." not in messages_of(response)
    assert cart_of(shopper) == {products["mug"].pk: 2, products["kettle"].pk: 1}


def test_update_form_over_the_stock_shows_an_error_and_changes_nothing(shopper, products):
    response = submit(
        shopper, "/cart/", "/cart/update/", product_id=products["kettle"].pk, quantity="4"
    )
    assert "Only 3 of Pour-over kettle in stock." in messages_of(response)
    assert cart_of(shopper) == {products["mug"].pk: 2, products["kettle"].pk: 1}


def test_remove_form_removes_the_line(shopper, products):
    response = submit(shopper, "/cart/", "/cart/remove/", product_id=products["mug"].pk)
    assert response.redirect_chain == [("/cart/", 302)]
    assert cart_of(shopper) == {products["kettle"].pk: 1}
    assert "Ceramic mug" not in text(response)


def test_remove_form_removes_an_unavailable_line(shopper, products):
    kettle_id = products["kettle"].pk
    products["kettle"].delete()
    submit(shopper, "/cart/", "/cart/remove/", product_id=kettle_id)
    assert cart_of(shopper) == {products["mug"].pk: 2}


def test_clear_form_empties_the_cart(shopper):
    response = submit(shopper, "/cart/", "/cart/clear/")
    assert response.redirect_chain == [("/cart/", 302)]
    assert "Your cart is empty." in messages_of(response)
    assert cart_of(shopper) == {}


@pytest.mark.parametrize("action", ["/cart/update/", "/cart/remove/", "/cart/clear/"])
def test_cart_forms_without_the_csrf_token_are_refused(shopper, products, action):
    response = shopper.post(action, {"product_id": products["mug"].pk, "quantity": "9"})
    assert response.status_code == 403
    assert cart_of(shopper) == {products["mug"].pk: 2, products["kettle"].pk: 1}


# --- Checkout and the profile ------------------------------------------------------------------
def test_checkout_form_places_the_order_and_shows_it_on_the_orders_page(shopper, alice, products):
    page_login(shopper)
    assert cart_of(shopper) == {products["mug"].pk: 2, products["kettle"].pk: 1}  # kept
    assert 'action="/cart/checkout/"' in text(shopper.get("/cart/"))
    response = submit(shopper, "/cart/", "/cart/checkout/")
    assert response.redirect_chain == [("/orders/", 302)]
    order = Order.objects.get()
    assert order.user == alice
    assert order.total == Decimal("74.00")
    assert f"Thank you! Order #{order.pk} is placed (74.00)." in messages_of(response)
    page = text(response)
    assert f"Order #{order.pk}" in page
    assert "2 × Ceramic mug at 12.50 = 25.00" in page
    assert "1 × Pour-over kettle at 49.00 = 49.00" in page
    assert cart_of(shopper) == {}
    stock = dict(Product.objects.values_list("name", "stock"))
    assert (stock["Ceramic mug"], stock["Pour-over kettle"]) == (8, 2)


def test_checkout_form_of_a_guest_goes_to_the_login_page(shopper, products):
    token = csrf_token_of(shopper.get("/cart/"))
    response = shopper.post("/cart/checkout/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert Order.objects.count() == 0
    assert cart_of(shopper) == {products["mug"].pk: 2, products["kettle"].pk: 1}


def test_checkout_form_with_a_problem_returns_to_the_cart_with_the_reason(
    shopper, alice, products
):
    page_login(shopper)
    Product.objects.filter(pk=products["kettle"].pk).update(stock=0)
    response = submit(shopper, "/cart/", "/cart/checkout/")
    assert response.redirect_chain == [("/cart/", 302)]
    assert "Not enough Pour-over kettle left in stock." in messages_of(response)
    assert Order.objects.count() == 0
    assert cart_of(shopper) == {products["mug"].pk: 2, products["kettle"].pk: 1}


def test_checkout_form_of_an_empty_cart_says_so(alice, products):
    client = browser()
    page_login(client)
    assert 'action="/cart/checkout/"' not in text(client.get("/cart/"))  # no button, but:
    response = submit(client, "/products/", "/cart/checkout/")
    assert response.redirect_chain == [("/cart/", 302)]
    assert "Your cart is empty." in messages_of(response)
    assert Order.objects.count() == 0


def test_orders_page_lists_only_the_users_orders_newest_first(alice, make_user, products):
    bob = make_user("bob")
    mug = products["mug"]
    older = Order.objects.create(user=alice, total=Decimal("12.50"))
    older.items.create(
        product=mug, name="Ceramic mug", price=mug.price, quantity=1, line_total=mug.price
    )
    newer = Order.objects.create(user=alice, total=Decimal("25.00"))
    newer.items.create(
        product=mug, name="Ceramic mug", price=mug.price, quantity=2, line_total=Decimal("25.00")
    )
    bobs = Order.objects.create(user=bob, total=Decimal("1.00"))
    client = browser()
    page_login(client)
    assert 'href="/orders/"' in text(client.get("/accounts/profile/"))  # linked from there
    page = text(client.get("/orders/"))
    assert f"Order #{newer.pk}" in page and f"Order #{older.pk}" in page
    assert page.index(f"Order #{newer.pk}") < page.index(f"Order #{older.pk}")
    assert f"Order #{bobs.pk}" not in page


def test_orders_page_without_orders_says_so(alice, products):
    client = browser()
    page_login(client)
    assert "No orders yet." in text(client.get("/orders/"))


def test_orders_page_needs_a_signed_in_user(products):
    response = browser().get("/orders/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/orders/"


def test_the_cart_is_gone_after_signing_out_through_the_page(shopper, alice, products, redis):
    page_login(shopper)
    session = shopper.session
    assert items.get_items(session, "cart")
    token = csrf_token_of(shopper.get("/accounts/profile/"))
    assert shopper.post("/accounts/logout/", {"csrfmiddlewaretoken": token}).status_code == 302
    assert cart_of(shopper) == {}
    assert items.get_items(session, "cart") == {}


@pytest.mark.parametrize(
    "query",
    ["created_at__year=10000", "created_at__year=0", "created_at__year=99999999999",
     "created_at__year=x", "created_at__year__gt=10000", "created_at__year__lte=0",
     "created_at__iso_year__gte=99999"],
)  # fmt: skip
def test_an_order_list_filtered_by_a_year_out_of_range_is_400_not_500(make_user, query):
    staff = make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    assert client.get(f"/admin/cart/order/?{query}").status_code == 400
    assert client.get(f"/admin/cart/orderitem/?order__{query}").status_code == 400
    assert client.get("/admin/cart/order/?created_at__year=2026").status_code == 200
