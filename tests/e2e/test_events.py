"""Session events and hijack flags in the browser: the cookie of one browser replayed by
another (another browser family and OS) is flagged on "Your sessions" and on the staff
dashboard; staff follow "Recent events", filter it, and open the audit entry of their
own revocation."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DESKTOP_UA, sign_in
from tests.helpers import grant

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]

WINDOWS_EDGE_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0"
)


def test_a_replayed_cookie_is_flagged_and_staff_follow_the_events(
    redis, make_account, server, new_context
):
    staff = make_account("sam", is_staff=True)
    grant(staff, "sessionadmin.view_activesession", "sessionadmin.revoke_activesession")
    make_account("alice")
    laptop = new_context(server, user_agent=DESKTOP_UA).new_page()
    sign_in(laptop, "alice")

    # Someone else's browser, on another OS, with alice's cookies.
    thief = new_context(server, user_agent=WINDOWS_EDGE_UA)
    thief.add_cookies(laptop.context.cookies())
    intruder = thief.new_page()
    intruder.goto("/accounts/profile/")  # "flag" (the default): flagged, not signed out

    laptop.goto("/accounts/sessions/")
    this_device = laptop.locator("table tbody tr").filter(has_text="this device")
    expect(this_device.locator(".badge.warning")).to_have_text("agent changed")

    admin = new_context(server).new_page()
    sign_in(admin, "sam", next_url="/admin/sessionadmin/activesession/")
    alice_row = admin.locator("#result_list tbody tr").filter(
        has=admin.get_by_role("link", name="alice", exact=True)
    )
    expect(alice_row.locator("strong.suspicious")).to_have_text("agent changed")
    session_id = alice_row.locator("input.action-select").get_attribute("value")

    alice_row.get_by_role("link", name="Revoke", exact=True).click()
    with admin.expect_navigation():
        admin.get_by_role("button", name="Yes, revoke").click()

    admin.get_by_role("link", name="Recent events").click()
    assert urlsplit(admin.url).path == "/admin/sessionadmin/activesession/events/"
    rows = admin.locator("#result_list tbody tr")
    expect(rows.filter(has_text="suspicious")).to_contain_text(session_id)
    admin.select_option("#event-kind", "revoked")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("by staff")
    expect(rows).to_contain_text(session_id)
    rows.get_by_role("link", name="log entry").click()
    expect(admin.locator("dl.audit-entry")).to_contain_text("sam")
    expect(admin.locator("dl.audit-entry")).to_contain_text(session_id)
