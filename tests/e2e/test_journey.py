"""A customer's journey in a real browser, and every page at desktop and phone widths."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import (
    NARROW,
    PASSWORD,
    PHONE_UA,
    WIDE,
    assert_anonymous,
    assert_signed_in,
    path_of,
    sign_in,
)

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]


def add_to_cart(page, product: str, quantity: int) -> None:
    item = page.locator("li.product").filter(has=page.get_by_role("heading", name=product))
    form = item.locator("form.inline")
    form.get_by_label("Quantity").fill(str(quantity))
    with page.expect_navigation():
        form.get_by_role("button", name="Add to cart").click()
    expect(page.locator("ul.messages")).to_contain_text(f"Added {quantity} × {product}")


def cart_row(page, product: str):
    return page.locator("table tbody tr").filter(has_text=product)


def test_register_sign_out_sign_in_shop_as_guest_then_check_out(
    redis, products, server, new_context
):
    context = new_context(server)
    page = context.new_page()

    # Register with the form: signed in at once.
    page.goto("/")
    assert_anonymous(page)
    page.get_by_role("link", name="Register").click()
    expect(page).to_have_url(re.compile(r"/accounts/register/$"))
    page.fill("#id_username", "walker")
    page.fill("#id_email", "walker@example.com")
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Register").click()
    assert path_of(page.url) == "/"
    expect(page.locator("ul.messages")).to_contain_text("Your account is ready")
    assert_signed_in(page, "walker")
    expect(page.locator("main")).to_contain_text("Signed in as walker.")

    # Sign out from the profile page.
    page.get_by_role("link", name="walker", exact=True).click()
    expect(page).to_have_url(re.compile(r"/accounts/profile/$"))
    expect(page.get_by_role("heading", name="walker", level=1)).to_be_visible()
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    assert urlsplit(page.url).path == "/"
    expect(page.locator("ul.messages")).to_contain_text("You have been signed out.")
    assert_anonymous(page)
    page.goto("/accounts/profile/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/accounts/profile/$"))

    # Sign in again with the registered password (hashed by the server).
    sign_in(page, "walker")
    assert path_of(page.url) == "/"

    # Browse the products.
    nav_products = page.get_by_role("navigation", name="Main").get_by_role("link", name="Products")
    nav_products.click()
    expect(page).to_have_url(re.compile(r"/products/$"))
    expect(page.get_by_role("heading", name="Blue mug")).to_be_visible()
    expect(page.get_by_role("heading", name="Tea towel")).to_be_visible()
    expect(page.locator("li.product").filter(has_text="Blue mug")).to_contain_text("9.50")

    # Sign out and shop as a guest.
    page.goto("/accounts/profile/")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    assert_anonymous(page)
    page.goto("/products/")
    add_to_cart(page, "Blue mug", 2)
    add_to_cart(page, "Tea towel", 1)
    page.goto("/cart/")
    expect(cart_row(page, "Blue mug").locator("input[name=quantity]")).to_have_value("2")
    expect(cart_row(page, "Tea towel").locator("input[name=quantity]")).to_have_value("1")
    expect(page.locator("p.total")).to_contain_text("3 items")
    expect(page.get_by_role("button", name="Check out")).to_have_count(0)

    # Signing in from the cart comes back to the same cart.
    page.get_by_role("link", name="Sign in to check out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/cart/$"))
    page.fill("#id_username", "walker")
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert path_of(page.url) == "/cart/"
    assert_signed_in(page, "walker")
    expect(cart_row(page, "Blue mug").locator("input[name=quantity]")).to_have_value("2")
    expect(cart_row(page, "Tea towel").locator("input[name=quantity]")).to_have_value("1")
    expect(page.locator("p.total")).to_contain_text("23.25")

    # Check out: the order is on the orders page, and the cart is empty.
    with page.expect_navigation():
        page.get_by_role("button", name="Check out").click()
    assert path_of(page.url) == "/orders/"
    expect(page.locator("ul.messages")).to_contain_text(re.compile(r"Order #\d+ is placed"))
    order = page.locator("article.order")
    expect(order).to_have_count(1)
    expect(order.get_by_role("heading")).to_contain_text("23.25")
    expect(order).to_contain_text("2 × Blue mug at 9.50 = 19.00")
    expect(order).to_contain_text("1 × Tea towel at 4.25 = 4.25")
    page.goto("/cart/")
    expect(page.locator("main")).to_contain_text("Your cart is empty.")
    context.close()


def test_pages_at_desktop_and_phone_widths(
    redis, make_account, products, server, new_context, screenshots
):
    make_account("admin", is_staff=True, is_superuser=True)
    phone = new_context(server, user_agent=PHONE_UA, viewport=NARROW)
    sign_in(phone.new_page(), "admin")  # a second session, listed on "Your sessions"

    context = new_context(server)
    page = context.new_page()
    sign_in(page, "admin")
    page.goto("/products/")
    add_to_cart(page, "Tea towel", 2)
    page.goto("/cart/")
    with page.expect_navigation():
        page.get_by_role("button", name="Check out").click()
    expect(page.locator("article.order")).to_have_count(1)
    page.goto("/products/")
    add_to_cart(page, "Blue mug", 3)

    pages = {
        "home": ("/", page.locator("p.counter")),
        "products": ("/products/", page.get_by_role("heading", name="Blue mug")),
        "cart": ("/cart/", cart_row(page, "Blue mug")),
        "sessions": ("/accounts/sessions/", page.locator("table tbody tr").nth(1)),
        "profile": ("/accounts/profile/", page.get_by_role("link", name="Your orders")),
        "orders": ("/orders/", page.locator("article.order")),
        "admin-sessions": (
            "/admin/sessionadmin/activesession/",
            page.locator("#result_list tbody tr").nth(1),
        ),
    }
    no_overflow = {"home", "products", "cart", "sessions"}
    overflowing = {}
    for viewport in (WIDE, NARROW):
        page.set_viewport_size(viewport)
        width = viewport["width"]
        for name, (url, landmark) in pages.items():
            page.goto(url)
            assert path_of(page.url) == url
            expect(landmark).to_be_visible()
            page.screenshot(path=screenshots / f"{name}-{width}.png", full_page=True)
            assert (screenshots / f"{name}-{width}.png").stat().st_size > 0
            if width == NARROW["width"] and name in no_overflow:
                scroll_width = page.evaluate("document.documentElement.scrollWidth")
                if scroll_width > width:
                    overflowing[name] = scroll_width
    assert overflowing == {}, f"pages wider than {NARROW['width']} px: {overflowing}"
    context.close()
    phone.close()
