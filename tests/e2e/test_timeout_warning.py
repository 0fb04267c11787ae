"""The session timeout warning (static/js/session-timeout.js) against a server with short
timeouts: it counts down, "Stay signed in" extends the session in every tab, and ignoring
it ends on the login page with the reason."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import NARROW, assert_anonymous, assert_signed_in, serve, sign_in

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]

IDLE = {"SESSION_IDLE_TIMEOUT": "12", "SESSION_WARNING_BEFORE": "8", "SESSION_TOUCH_INTERVAL": "1"}
ABSOLUTE = {
    "SESSION_ABSOLUTE_TIMEOUT": "14",
    "SESSION_IDLE_TIMEOUT": "60",
    "SESSION_WARNING_BEFORE": "8",
    "SESSION_TOUCH_INTERVAL": "1",
}


def seconds_left(page) -> int:
    text = page.locator("#session-countdown").inner_text()
    match = re.fullmatch(r"(\d+) s", text.strip())
    assert match, f"countdown reads {text!r}"
    return int(match.group(1))


def idle_deadline(page) -> int:
    """The idle deadline the server rendered into the page (ms since the epoch)."""
    return int(page.locator("body").get_attribute("data-idle-expires"))


def login_query(page) -> dict[str, list[str]]:
    parts = urlsplit(page.url)
    assert parts.path == "/accounts/login/", page.url
    return parse_qs(parts.query)


def test_warning_counts_down_and_stay_signed_in_extends_the_session_in_every_tab(
    redis, make_account, new_context, screenshots
):
    make_account("ivy")
    with serve(**IDLE) as (base, _log):
        context = new_context(base)
        tab_a = context.new_page()
        sign_in(tab_a, "ivy")
        tab_a.goto("/accounts/profile/")
        tab_b = context.new_page()
        tab_b.set_viewport_size(NARROW)
        tab_b.goto("/products/")
        assert_signed_in(tab_b, "ivy")
        # The latest request (tab B's) set the deadline both tabs now count down to.
        original_deadline = max(idle_deadline(tab_a), idle_deadline(tab_b))
        assert original_deadline - time.time() * 1000 <= 12_500

        dialog_a, dialog_b = tab_a.locator("#session-warning"), tab_b.locator("#session-warning")
        expect(dialog_a).to_be_hidden()
        expect(dialog_a).to_be_visible(timeout=10_000)
        expect(dialog_b).to_be_visible(timeout=3_000)
        for tab in (tab_a, tab_b):
            assert tab.locator("#session-warning").get_attribute("data-kind") == "idle"
            expect(tab.locator("#session-warning-text")).to_contain_text(
                "signed out for inactivity"
            )
            expect(tab.get_by_role("button", name="Stay signed in")).to_be_visible()

        # A live countdown that goes down.
        first = seconds_left(tab_a)
        assert 0 < first <= 8
        expect(tab_a.locator("#session-countdown")).not_to_have_text(f"{first} s", timeout=3_000)
        second = seconds_left(tab_a)
        assert second < first
        tab_a.screenshot(path=screenshots / "warning-1280.png", full_page=True)
        tab_b.screenshot(path=screenshots / "warning-375.png", full_page=True)

        # "Stay signed in" in tab A closes the warning in both tabs.
        with tab_a.expect_response("**/api/session/keepalive") as keepalive:
            tab_a.get_by_role("button", name="Stay signed in").click()
        assert keepalive.value.status == 200
        expect(dialog_a).to_be_hidden(timeout=2_000)
        expect(dialog_b).to_be_hidden(timeout=2_500)

        # Past the original deadline (and the script's grace second) both tabs stay, and
        # the server still knows the user.
        wait = original_deadline + 1_800 - time.time() * 1000
        assert wait > 0
        tab_a.wait_for_timeout(wait)
        for tab, path in ((tab_a, "/accounts/profile/"), (tab_b, "/products/")):
            assert urlsplit(tab.url).path == path, tab.url
        tab_a.reload()
        assert urlsplit(tab_a.url).path == "/accounts/profile/", tab_a.url
        assert_signed_in(tab_a, "ivy")
        expect(tab_a.get_by_role("heading", name="ivy", level=1)).to_be_visible()
        context.close()


def test_ignored_warning_ends_on_the_login_page_with_reason_idle(redis, make_account, new_context):
    make_account("ida")
    with serve(**IDLE) as (base, _log):
        context = new_context(base)
        page = context.new_page()
        sign_in(page, "ida")
        page.goto("/accounts/profile/")
        dialog = page.locator("#session-warning")
        expect(dialog).to_be_visible(timeout=10_000)
        assert dialog.get_attribute("data-kind") == "idle"

        page.wait_for_url(re.compile(r"/accounts/login/\?reason=idle"), timeout=12_000)
        landing = page.url
        query = login_query(page)
        assert query["reason"] == ["idle"]
        expect(page.get_by_role("status")).to_have_text(
            "You were signed out after a period of inactivity. Please sign in again."
        )
        # The server ended the session: the login page is rendered for a guest.
        assert_anonymous(page)
        assert page.locator("body").get_attribute("data-idle-expires") is None
        # Signing in again leads back to the page the user was on.
        assert query["next"] == ["/accounts/profile/"], f"landed on {landing}"
        page.goto("/accounts/profile/")
        assert urlsplit(page.url).path == "/accounts/login/", page.url
        context.close()


def test_absolute_warning_has_no_stay_button_and_ends_with_reason_absolute(
    redis, make_account, new_context
):
    make_account("abe")
    with serve(**ABSOLUTE) as (base, _log):
        context = new_context(base)
        page = context.new_page()
        sign_in(page, "abe")
        page.goto("/cart/")
        dialog = page.locator("#session-warning")
        expect(dialog).to_be_visible(timeout=12_000)
        assert dialog.get_attribute("data-kind") == "absolute"
        expect(page.locator("#session-warning-text")).to_contain_text("maximum length")
        expect(page.locator("#session-stay")).to_be_hidden()
        expect(page.locator("#session-dismiss")).to_be_visible()
        first = seconds_left(page)
        assert 0 < first <= 8

        page.wait_for_url(re.compile(r"/accounts/login/\?reason=absolute"), timeout=12_000)
        query = login_query(page)
        assert query["reason"] == ["absolute"]
        assert query["next"] == ["/cart/"]
        expect(page.get_by_role("status")).to_have_text(
            "Your session reached its maximum length. Please sign in again."
        )
        assert_anonymous(page)
        page.goto("/accounts/profile/")
        assert urlsplit(page.url).path == "/accounts/login/", page.url
        context.close()
