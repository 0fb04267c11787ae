"""Revoking a session from another browser: by its owner ("Your sessions") and by staff
(the dashboard in the admin). The revoked browser is a guest on its next navigation."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import (
    DESKTOP_UA,
    PHONE_UA,
    assert_anonymous,
    assert_signed_in,
    sign_in,
)
from tests.helpers import grant

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]


def assert_signed_out(page) -> None:
    """On its next navigation the page is a guest's, and private pages send it to login."""
    page.goto("/")
    assert_anonymous(page)
    expect(page.locator("main")).to_contain_text("You are browsing as a guest.")
    page.goto("/accounts/profile/")
    assert urlsplit(page.url).path == "/accounts/login/", page.url
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_signing_out_another_device_from_your_sessions(redis, make_account, server, new_context):
    make_account("alice")
    laptop = new_context(server, user_agent=DESKTOP_UA).new_page()
    phone = new_context(server, user_agent=PHONE_UA).new_page()
    sign_in(laptop, "alice")
    sign_in(phone, "alice")

    laptop.goto("/accounts/sessions/")
    rows = laptop.locator("table tbody tr")
    expect(rows).to_have_count(2)
    this_device = rows.filter(has_text="this device")
    expect(this_device).to_have_count(1)
    expect(this_device).to_contain_text("Linux")
    expect(this_device.get_by_role("button", name="Sign out")).to_have_count(0)
    other = rows.filter(has_not_text="this device")
    expect(other).to_contain_text("iOS")
    with laptop.expect_navigation():
        other.get_by_role("button", name="Sign out", exact=True).click()
    expect(laptop.locator("ul.messages")).to_contain_text("That session has been signed out.")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("this device")

    assert_signed_out(phone)
    # The device that did it is still signed in.
    laptop.goto("/accounts/profile/")
    assert urlsplit(laptop.url).path == "/accounts/profile/"
    assert_signed_in(laptop, "alice")


def test_staff_revokes_one_session_from_the_dashboard(redis, make_account, server, new_context):
    staff = make_account("sam", is_staff=True)
    grant(staff, "sessionadmin.view_activesession", "sessionadmin.revoke_activesession")
    make_account("alice")
    laptop = new_context(server, user_agent=DESKTOP_UA).new_page()
    phone = new_context(server, user_agent=PHONE_UA).new_page()
    sign_in(laptop, "alice")
    sign_in(phone, "alice")
    admin = new_context(server).new_page()
    sign_in(admin, "sam", next_url="/admin/sessionadmin/activesession/")
    assert urlsplit(admin.url).path == "/admin/sessionadmin/activesession/", admin.url

    rows = admin.locator("#result_list tbody tr")
    alice_rows = rows.filter(has=admin.get_by_role("link", name="alice", exact=True))
    expect(alice_rows).to_have_count(2)
    expect(alice_rows.locator("input.action-select")).to_have_count(2)
    phone_row = alice_rows.filter(has=admin.locator(f'td[title="{PHONE_UA}"]'))
    laptop_row = alice_rows.filter(has=admin.locator(f'td[title="{DESKTOP_UA}"]'))
    expect(phone_row).to_have_count(1)
    expect(laptop_row).to_have_count(1)
    session_id = phone_row.locator("input.action-select").get_attribute("value")
    assert session_id

    phone_row.get_by_role("link", name="Revoke", exact=True).click()
    expect(admin).to_have_url(re.compile(r"/admin/sessionadmin/activesession/.*revoke"))
    expect(admin.locator("#content")).to_contain_text("alice · Mobile Safari on iOS")
    expect(admin.locator("#content")).to_contain_text(f"session {session_id}")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Yes, revoke").click()
    assert urlsplit(admin.url).path == "/admin/sessionadmin/activesession/", admin.url
    expect(admin.locator("ul.messagelist")).to_contain_text("Revoked 1 session.")
    expect(alice_rows).to_have_count(1)
    expect(alice_rows.locator(f'td[title="{DESKTOP_UA}"]')).to_have_count(1)
    expect(admin.locator(f'input.action-select[value="{session_id}"]')).to_have_count(0)

    assert_signed_out(phone)
    laptop.goto("/accounts/profile/")
    assert urlsplit(laptop.url).path == "/accounts/profile/"
    assert_signed_in(laptop, "alice")
