"""A browser is told why its session ended: the cookie outlives the absolute deadline, so
the next request after it carries the cookie and gets the reason (a real server, a real
cookie jar that drops expired cookies)."""

from __future__ import annotations

import time

import pytest
from django.test import override_settings

from tests.servers import Browser, gunicorn

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse 9"
ARGON2 = "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_after_an_absolute_timeout_with_steady_activity_the_api_says_absolute(
    redis, django_user_model
):
    with override_settings(PASSWORD_HASHERS=[ARGON2]):
        django_user_model.objects.create_user("steady", "steady@example.com", PASSWORD)
    with gunicorn(
        workers=1, threads=2, SESSION_ABSOLUTE_TIMEOUT="2", SESSION_IDLE_TIMEOUT="60"
    ) as (base, _log):
        browser = Browser()
        _, _, body = browser.request("GET", f"{base}/api/csrf")
        status, _, body = browser.request(
            "POST",
            f"{base}/api/login",
            {"username": "steady", "password": PASSWORD},
            headers={"X-CSRFToken": body["csrfToken"]},
        )
        assert status == 200, body
        # The server's 2 s began before the sign-in's answer arrived here: the steady
        # activity stops short of them (a request in their last moments could already be
        # past the deadline), and the next request comes well after them.
        signed_in = time.monotonic()
        while time.monotonic() < signed_in + 1.4:  # well inside the idle timeout too
            status, _, body = browser.request("GET", f"{base}/api/profile")
            assert status == 200, body
            time.sleep(0.3)
        time.sleep(max(0.0, signed_in + 2.4 - time.monotonic()))
        assert browser.cookie("sessionid"), "the cookie must outlive the absolute deadline"
        status, _, body = browser.request("GET", f"{base}/api/profile")
        assert status == 401, body
        assert body["code"] == "SESSION_TIMEOUT"
        assert body["reason"] == "absolute"
